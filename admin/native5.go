package admin

import (
	"fmt"

	"github.com/glassmq/glassmq/session"
)

// MQTT5 is what GET /api/v1/clients/{id} adds for an MQTT 5.0 client: the
// limits and properties of its CONNECT, as the client sent them (the
// granted Session Expiry Interval is Client.SessionExpiry).
type MQTT5 struct {
	ReceiveMaximum          int                  `json:"receive_maximum"`           // QoS 1/2 deliveries the client takes at once; 0 when it sent none (65535 applies)
	TopicAliasMaximum       int                  `json:"topic_alias_maximum"`       // topic aliases the client accepts from the server; 0 for none
	MaximumPacketSize       int                  `json:"maximum_packet_size"`       // largest packet the client accepts, in bytes; 0 when it sent none (no limit)
	AuthenticationMethod    string               `json:"authentication_method"`     // "" for none
	UserProperties          []NativeUserProperty `json:"user_properties"`           // the CONNECT's, in order; at most 1 KiB of them
	UserPropertiesTruncated bool                 `json:"user_properties_truncated"` // the CONNECT had more than user_properties shows
}

// NativeUserProperty is one MQTT 5.0 user property of the native API, a name and a value.
type NativeUserProperty struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ReasonCode is the MQTT 5.0 DISCONNECT that ended a connection: who sent
// it, its reason code as a number and in hex, and the standard's name for
// it, such as {"by":"server","code":141,"hex":"0x8D","name":"Keep Alive timeout"}.
type ReasonCode struct {
	By   string `json:"by"` // "client" or "server"
	Code int    `json:"code"`
	Hex  string `json:"hex"`
	Name string `json:"name"`
}

// reasonCode converts d, nil when no DISCONNECT was exchanged.
func reasonCode(d session.DisconnectCode) *ReasonCode {
	if d.By == session.SentByNobody {
		return nil
	}
	return &ReasonCode{By: d.By.String(), Code: int(d.Code), Hex: fmt.Sprintf("0x%02X", byte(d.Code)), Name: d.Name()}
}

// nativeMQTT5 returns the 5.0 part of info's native form, nil for a client
// whose last connection was not 5.0.
func nativeMQTT5(info *session.Info) *MQTT5 {
	if info.ProtocolVersion != 5 {
		return nil
	}
	m := &MQTT5{
		ReceiveMaximum:          info.ReceiveMaximum,
		TopicAliasMaximum:       info.TopicAliasMax,
		MaximumPacketSize:       info.MaxPacketSize,
		AuthenticationMethod:    info.AuthMethod,
		UserProperties:          make([]NativeUserProperty, 0, len(info.UserProperties)),
		UserPropertiesTruncated: info.UserPropsCut,
	}
	for _, u := range info.UserProperties {
		m.UserProperties = append(m.UserProperties, NativeUserProperty{Name: u.Name, Value: u.Value})
	}
	return m
}
