package codec

import (
	"errors"
	"strconv"
)

// ReasonCode is an MQTT 5.0 reason code [MQTT5-2.4]: the outcome carried by
// CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and
// AUTH. Codes below 0x80 report success, 0x80 and above failure. Which codes
// a packet may carry depends on its type (ValidReason).
type ReasonCode byte

// The MQTT 5.0 reason codes. Some values have one name per packet: 0x00 is
// Success, Normal disconnection (DISCONNECT) and Granted QoS 0 (SUBACK).
const (
	ReasonSuccess                             ReasonCode = 0x00
	ReasonNormalDisconnection                 ReasonCode = 0x00 // DISCONNECT
	ReasonGrantedQoS0                         ReasonCode = 0x00 // SUBACK
	ReasonGrantedQoS1                         ReasonCode = 0x01
	ReasonGrantedQoS2                         ReasonCode = 0x02
	ReasonDisconnectWithWill                  ReasonCode = 0x04
	ReasonNoMatchingSubscribers               ReasonCode = 0x10
	ReasonNoSubscriptionExisted               ReasonCode = 0x11
	ReasonContinueAuthentication              ReasonCode = 0x18
	ReasonReAuthenticate                      ReasonCode = 0x19
	ReasonUnspecifiedError                    ReasonCode = 0x80
	ReasonMalformedPacket                     ReasonCode = 0x81
	ReasonProtocolError                       ReasonCode = 0x82
	ReasonImplementationSpecificError         ReasonCode = 0x83
	ReasonUnsupportedProtocolVersion          ReasonCode = 0x84
	ReasonClientIdentifierNotValid            ReasonCode = 0x85
	ReasonBadUserNameOrPassword               ReasonCode = 0x86
	ReasonNotAuthorized                       ReasonCode = 0x87
	ReasonServerUnavailable                   ReasonCode = 0x88
	ReasonServerBusy                          ReasonCode = 0x89
	ReasonBanned                              ReasonCode = 0x8A
	ReasonServerShuttingDown                  ReasonCode = 0x8B
	ReasonBadAuthenticationMethod             ReasonCode = 0x8C
	ReasonKeepAliveTimeout                    ReasonCode = 0x8D
	ReasonSessionTakenOver                    ReasonCode = 0x8E
	ReasonTopicFilterInvalid                  ReasonCode = 0x8F
	ReasonTopicNameInvalid                    ReasonCode = 0x90
	ReasonPacketIdentifierInUse               ReasonCode = 0x91
	ReasonPacketIdentifierNotFound            ReasonCode = 0x92
	ReasonReceiveMaximumExceeded              ReasonCode = 0x93
	ReasonTopicAliasInvalid                   ReasonCode = 0x94
	ReasonPacketTooLarge                      ReasonCode = 0x95
	ReasonMessageRateTooHigh                  ReasonCode = 0x96
	ReasonQuotaExceeded                       ReasonCode = 0x97
	ReasonAdministrativeAction                ReasonCode = 0x98
	ReasonPayloadFormatInvalid                ReasonCode = 0x99
	ReasonRetainNotSupported                  ReasonCode = 0x9A
	ReasonQoSNotSupported                     ReasonCode = 0x9B
	ReasonUseAnotherServer                    ReasonCode = 0x9C
	ReasonServerMoved                         ReasonCode = 0x9D
	ReasonSharedSubscriptionsNotSupported     ReasonCode = 0x9E
	ReasonConnectionRateExceeded              ReasonCode = 0x9F
	ReasonMaximumConnectTime                  ReasonCode = 0xA0
	ReasonSubscriptionIdentifiersNotSupported ReasonCode = 0xA1
	ReasonWildcardSubscriptionsNotSupported   ReasonCode = 0xA2
)

var reasonNames = [256]string{
	0x00: "Success", 0x01: "Granted QoS 1", 0x02: "Granted QoS 2",
	0x04: "Disconnect with Will Message", 0x10: "No matching subscribers",
	0x11: "No subscription existed", 0x18: "Continue authentication", 0x19: "Re-authenticate",
	0x80: "Unspecified error", 0x81: "Malformed Packet", 0x82: "Protocol Error",
	0x83: "Implementation specific error", 0x84: "Unsupported Protocol Version",
	0x85: "Client Identifier not valid", 0x86: "Bad User Name or Password",
	0x87: "Not authorized", 0x88: "Server unavailable", 0x89: "Server busy", 0x8A: "Banned",
	0x8B: "Server shutting down", 0x8C: "Bad authentication method", 0x8D: "Keep Alive timeout",
	0x8E: "Session taken over", 0x8F: "Topic Filter invalid", 0x90: "Topic Name invalid",
	0x91: "Packet Identifier in use", 0x92: "Packet Identifier not found",
	0x93: "Receive Maximum exceeded", 0x94: "Topic Alias invalid", 0x95: "Packet too large",
	0x96: "Message rate too high", 0x97: "Quota exceeded", 0x98: "Administrative action",
	0x99: "Payload format invalid", 0x9A: "Retain not supported", 0x9B: "QoS not supported",
	0x9C: "Use another server", 0x9D: "Server moved", 0x9E: "Shared Subscriptions not supported",
	0x9F: "Connection rate exceeded", 0xA0: "Maximum connect time",
	0xA1: "Subscription Identifiers not supported", 0xA2: "Wildcard Subscriptions not supported",
}

// String returns the standard's name of c, such as "Packet too large" (for
// 0x00 the generic "Success"), or "reason 0xNN" for a value the standard does
// not define. Use Name for the name a given packet gives a code.
func (c ReasonCode) String() string {
	if s := reasonNames[c]; s != "" {
		return s
	}
	return "reason 0x" + strconv.FormatUint(uint64(c), 16)
}

// Name returns the standard's name of c in a packet of type t: "Normal
// disconnection" for 0x00 in DISCONNECT, "Granted QoS 0" in SUBACK, String
// otherwise.
func (c ReasonCode) Name(t Type) string {
	if c == 0 {
		switch t {
		case TypeDisconnect:
			return "Normal disconnection"
		case TypeSuback:
			return "Granted QoS 0"
		}
	}
	return c.String()
}

// Failure reports whether c reports a failure: 0x80 or above [MQTT5-2.4].
func (c ReasonCode) Failure() bool { return c >= 0x80 }

// reasonSet is a set of reason codes, one bit per value.
type reasonSet [4]uint64

func reasons(codes ...ReasonCode) (s reasonSet) {
	for _, c := range codes {
		s[c>>6] |= 1 << (c & 63)
	}
	return s
}

func (s *reasonSet) has(c ReasonCode) bool { return s[c>>6]&(1<<(c&63)) != 0 }

// validReasons holds, per packet type, the reason codes that packet may carry
// (the tables of sections 3.2.2.2, 3.4.2.1, 3.5.2.1, 3.6.2.1, 3.7.2.1, 3.9.3,
// 3.11.3, 3.14.2.1 and 3.15.2.1 of the 5.0 standard).
var validReasons = func() (v [16]reasonSet) {
	v[TypeConnack] = reasons(0x00, 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89,
		0x8A, 0x8C, 0x90, 0x95, 0x97, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9F)
	v[TypePuback] = reasons(0x00, 0x10, 0x80, 0x83, 0x87, 0x90, 0x91, 0x97, 0x99)
	v[TypePubrec] = v[TypePuback]
	v[TypePubrel] = reasons(0x00, 0x92)
	v[TypePubcomp] = v[TypePubrel]
	v[TypeSuback] = reasons(0x00, 0x01, 0x02, 0x80, 0x83, 0x87, 0x8F, 0x91, 0x97, 0x9E, 0xA1, 0xA2)
	v[TypeUnsuback] = reasons(0x00, 0x11, 0x80, 0x83, 0x87, 0x8F, 0x91)
	v[TypeDisconnect] = reasons(0x00, 0x04, 0x80, 0x81, 0x82, 0x83, 0x87, 0x89, 0x8B, 0x8D, 0x8E,
		0x8F, 0x90, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9A, 0x9B, 0x9C, 0x9D, 0x9E, 0x9F,
		0xA0, 0xA1, 0xA2)
	v[TypeAuth] = reasons(0x00, 0x18, 0x19)
	return v
}()

// reasonRules names the rule requiring a packet's reason codes to be its own.
var reasonRules = [16]string{TypeConnack: "MQTT5-3.2.2-8", TypePuback: "MQTT5-3.4.2-1",
	TypePubrec: "MQTT5-3.5.2-1", TypePubrel: "MQTT5-3.6.2-1", TypePubcomp: "MQTT5-3.7.2-1",
	TypeSuback: "MQTT5-3.9.3-2", TypeUnsuback: "MQTT5-3.11.3-2", TypeDisconnect: "MQTT5-3.14.2-1",
	TypeAuth: "MQTT5-3.15.2-1"}

// ValidReason reports whether a packet of type t may carry reason code c in
// MQTT 5.0. It is false for every code of a type without reason codes.
func ValidReason(t Type, c ReasonCode) bool { return validReasons[t&0x0f].has(c) }

// ReasonFor returns the reason code the server sends (in CONNACK before the
// connection is accepted, in DISCONNECT after) when it closes a connection
// because of err: the *Error's Reason when a decoder set one (0x90 Topic Name
// invalid, 0x94 Topic Alias invalid, 0x84 Unsupported Protocol Version, ...),
// else 0x95 Packet too large for ErrTooLarge, 0x81 Malformed Packet for
// ErrMalformed, 0x82 Protocol Error for ErrProtocol, and 0x80 Unspecified
// error for anything else, nil included. Safe for concurrent use.
func ReasonFor(err error) ReasonCode {
	var e *Error
	if errors.As(err, &e) && e.Reason != 0 {
		return e.Reason
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		return ReasonPacketTooLarge
	case errors.Is(err, ErrMalformed):
		return ReasonMalformedPacket
	case errors.Is(err, ErrProtocol):
		return ReasonProtocolError
	}
	return ReasonUnspecifiedError
}
