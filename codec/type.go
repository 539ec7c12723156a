package codec

// Type is an MQTT control packet type, the high nibble of the first byte.
//
// The constants carry a Type prefix because the bare names (Connect, Publish,
// Subscribe, ...) are the packet structs of this package.
type Type byte

// Control packet types [MQTT-2.2.1].
const (
	TypeReserved    Type = 0 // forbidden
	TypeConnect     Type = 1
	TypeConnack     Type = 2
	TypePublish     Type = 3
	TypePuback      Type = 4
	TypePubrec      Type = 5
	TypePubrel      Type = 6
	TypePubcomp     Type = 7
	TypeSubscribe   Type = 8
	TypeSuback      Type = 9
	TypeUnsubscribe Type = 10
	TypeUnsuback    Type = 11
	TypePingreq     Type = 12
	TypePingresp    Type = 13
	TypeDisconnect  Type = 14
	TypeReserved15  Type = 15 // forbidden in MQTT 3.1.1
	// TypeAuth is MQTT 5.0's AUTH [MQTT5-3.15], the type that 3.1.1 reserves.
	TypeAuth Type = 15
)

var typeNames = [16]string{"RESERVED", "CONNECT", "CONNACK", "PUBLISH", "PUBACK", "PUBREC",
	"PUBREL", "PUBCOMP", "SUBSCRIBE", "SUBACK", "UNSUBSCRIBE", "UNSUBACK", "PINGREQ",
	"PINGRESP", "DISCONNECT", "AUTH"}

// String returns the spec's upper-case name of t, such as "PUBLISH"; 15 is
// "AUTH", its MQTT 5.0 name, and 0 "RESERVED".
func (t Type) String() string { return typeNames[t&0x0f] }
