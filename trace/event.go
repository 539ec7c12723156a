package trace

import (
	"fmt"
	"strconv"
	"time"
)

// Kind is what happened: the Alibaba Cloud trace action of an event.
type Kind uint8

// Kinds of events. Connection events carry a ClientID and a Channel;
// message events a MsgID and the ClientID of the publisher or receiver.
const (
	KindConnect     Kind = iota + 1 // a CONNECT was accepted ("connect")
	KindClose                       // the network connection closed, or a CONNECT was refused ("close")
	KindDisconnect                  // the client sent DISCONNECT ("disconnect")
	KindPublish                     // a client published a traced message ("pub_mqtt")
	KindPublishAPI                  // the admin API published a traced message ("pub_mq")
	KindPush                        // a traced message was sent to a connected subscriber ("sub")
	KindPushOffline                 // a message queued while the subscriber was offline was sent on its return ("push_offline")
	numKinds
)

var kindActions = [numKinds]string{
	KindConnect:     "connect",
	KindClose:       "close",
	KindDisconnect:  "disconnect",
	KindPublish:     "pub_mqtt",
	KindPublishAPI:  "pub_mq",
	KindPush:        "sub",
	KindPushOffline: "push_offline",
}

var kindCodes = [numKinds]string{
	KindConnect:     "mqtt.trace.action.connect",
	KindClose:       "mqtt.trace.action.close",
	KindDisconnect:  "mqtt.trace.action.disconnect",
	KindPublish:     "mqtt.trace.action.msg.pub.mqtt",
	KindPublishAPI:  "mqtt.trace.action.msg.pub.mq",
	KindPush:        "mqtt.trace.action.msg.sub",
	KindPushOffline: "mqtt.trace.action.msg.push.offline",
}

// Action returns the cloud's name of k ("connect", "pub_mqtt", ...), ""
// for an unknown kind.
func (k Kind) Action() string {
	if k < numKinds {
		return kindActions[k]
	}
	return ""
}

// Code returns the cloud's ActionCode of k ("mqtt.trace.action.connect",
// ...), "" for an unknown kind.
func (k Kind) Code() string {
	if k < numKinds {
		return kindCodes[k]
	}
	return ""
}

// Message reports whether k is a message event.
func (k Kind) Message() bool { return k >= KindPublish && k < numKinds }

// Delivery reports whether k is a push to a subscriber.
func (k Kind) Delivery() bool { return k == KindPush || k == KindPushOffline }

// Info says why: the cloud's ActionInfo of an event.
type Info uint8

// Infos. The texts of those the cloud documents are the cloud's own.
const (
	InfoNone                 Info = iota
	InfoAccepted                  // CONNECT accepted
	InfoNotAuthorized             // CONNECT refused: bad user name, password or signature, or not allowed
	InfoInvalidParam              // CONNECT refused or connection closed: bad packet, protocol level or client ID
	InfoClientIDConflict          // closed: another CONNECT took the client ID over
	InfoNoHeart                   // closed: keep-alive expired
	InfoClosedByClient            // closed: the client closed the network connection
	InfoDisconnectedByClient      // the client sent DISCONNECT
	InfoSocketIOException         // closed: a read or write failed
	InfoKicked                    // closed by the admin API
	InfoSlowConsumer              // closed: output piled up past the bound
	InfoShutdown                  // closed: the broker shut down
	InfoStoreError                // closed: the store failed to write what the client sent
	InfoPubFromClient             // pub_mqtt
	InfoPubFromAPI                // pub_mq
	InfoPushToClient              // sub
	InfoPushOffline               // push_offline
	numInfos
)

var infoTexts = [numInfos]string{
	InfoAccepted:             "accepted",
	InfoNotAuthorized:        "not authorized",
	InfoInvalidParam:         "invalid param",
	InfoClientIDConflict:     "clientId conflict",
	InfoNoHeart:              "no heart",
	InfoClosedByClient:       "closed by client",
	InfoDisconnectedByClient: "disconnected by client",
	InfoSocketIOException:    "Socket IOException",
	InfoKicked:               "kicked by admin",
	InfoSlowConsumer:         "slow consumer",
	InfoShutdown:             "server shutdown",
	InfoStoreError:           "store error",
	InfoPubFromClient:        "Pub From Mqtt Client",
	InfoPubFromAPI:           "Pub From Admin API",
	InfoPushToClient:         "Push To Mqtt Client",
	InfoPushOffline:          "Push Offline Msg To Mqtt Client",
}

// String returns the cloud's ActionInfo text, "" for InfoNone.
func (i Info) String() string {
	if i < numInfos {
		return infoTexts[i]
	}
	return ""
}

// Event is one trace entry. It holds no pointer but ClientID's, which
// the broker keeps anyway (a session's immutable client ID), so recording
// one does not allocate.
type Event struct {
	Time     int64  // epoch microseconds, so events of one millisecond on two loops keep their order
	MsgID    uint64 // message events: the message's ID within this broker run (see Tracer.FormatMsgID)
	Channel  uint64 // connection events: the network connection's ID (see FormatChannel)
	ClientID string // connection events: the client; messages: the publisher or the receiver
	Kind     Kind
	Info     Info
}

// TimeLayout is the cloud's layout of trace times, in the broker's local
// time zone: "2021-05-21 15:51:54.867".
const TimeLayout = "2006-01-02 15:04:05.000"

// FormatTime renders us (epoch microseconds, as Event.Time) in TimeLayout.
func FormatTime(us int64) string { return time.UnixMicro(us).Format(TimeLayout) }

// FormatChannel renders a channel ID as 16 lower-case hex digits.
func FormatChannel(ch uint64) string { return fmt.Sprintf("%016x", ch) }

// ParseChannel is the inverse of FormatChannel.
func ParseChannel(s string) (uint64, bool) {
	if len(s) != 16 {
		return 0, false
	}
	v, err := strconv.ParseUint(s, 16, 64)
	return v, err == nil
}
