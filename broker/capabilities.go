package broker

import (
	"flag"
	"unicode/utf8"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Server capabilities: what an operator may switch off, and how each
// client learns of it. A 5.0 client reads them in CONNACK (a property is
// sent only when it differs from what the standard assumes when it is
// absent) and is refused with the matching reason code when it asks for
// more. A 3.1.1 client has no way to be told, so it gets what the 3.1.1
// standard allows: a lower granted QoS in SUBACK, SUBACK 0x80 for a
// wildcard filter, and RETAIN and QoS above -max-qos quietly lowered on
// what it publishes (its own acknowledgement flow still completes at the
// QoS it chose), rather than a close it could not understand and would
// retry forever.

// registerCapabilityFlags registers the server capability flags in fs,
// with c's values as defaults.
func registerCapabilityFlags(fs *flag.FlagSet, c *Config) {
	fs.IntVar(&c.MaxQoS, "max-qos", c.MaxQoS, "highest QoS (0, 1 or 2) the broker takes: subscriptions are granted at most it; "+
		"an MQTT 5.0 PUBLISH above it gets DISCONNECT 0x9B and a will above it CONNACK 0x9B; "+
		"3.1.1 PUBLISHes and wills above it are acknowledged as sent and forwarded at it")
	fs.BoolVar(&c.RetainAvailable, "retain-available", c.RetainAvailable, "keep retained messages; false: an MQTT 5.0 PUBLISH with RETAIN "+
		"gets DISCONNECT 0x9A and a will with RETAIN CONNACK 0x9A, a 3.1.1 client's RETAIN is ignored (forwarded, not kept)")
	fs.BoolVar(&c.WildcardSubscriptions, "wildcard-subscriptions", c.WildcardSubscriptions, "allow '+' and '#' in topic filters; "+
		"false: such a filter gets SUBACK 0xA2 (MQTT 5.0) or 0x80 (3.1.1)")
	fs.BoolVar(&c.SubscriptionIdentifiers, "subscription-identifiers", c.SubscriptionIdentifiers, "MQTT 5.0: allow a Subscription "+
		"Identifier in SUBSCRIBE; false: such a SUBSCRIBE gets DISCONNECT 0xA1")
}

// validateCapabilities reports the bad capability settings of c to bad.
func (c *Config) validateCapabilities(bad func(flag string, v any, valid string)) {
	if c.MaxQoS < 0 || c.MaxQoS > 2 {
		bad("max-qos", c.MaxQoS, "must be 0, 1 or 2")
	}
}

// maxQoS returns -max-qos. Safe for concurrent use.
func (e *Engine) maxQoS() byte {
	if e.cfg.MaxQoS < 0 || e.cfg.MaxQoS > 2 {
		return 2 // not validated: the standard's assumption
	}
	return byte(e.cfg.MaxQoS)
}

// capabilityProps adds to the CONNACK properties pr each capability the
// server lacks; what it has is left out, as absence means supported
// [MQTT5-3.2.2.3].
func (e *Engine) capabilityProps(pr *codec.Properties) {
	if q := e.maxQoS(); q < 2 { // [MQTT5-3.2.2-9]
		pr.MaximumQoS = q
		pr.Set(codec.PropMaximumQoS)
	}
	if !e.cfg.RetainAvailable { // [MQTT5-3.2.2.3.5]
		pr.RetainAvailable = 0
		pr.Set(codec.PropRetainAvailable)
	}
	if !e.cfg.WildcardSubscriptions { // [MQTT5-3.2.2.3.12]
		pr.WildcardSubAvailable = 0
		pr.Set(codec.PropWildcardSubAvailable)
	}
	if !e.cfg.SubscriptionIdentifiers { // [MQTT5-3.2.2.3.13]
		pr.SubIDAvailable = 0
		pr.Set(codec.PropSubIDAvailable)
	}
}

// willRefusal returns the CONNACK reason code refusing the will of the
// 5.0 CONNECT p, or 0 to accept it: a will QoS above -max-qos
// [MQTT5-3.2.2-12], RETAIN without -retain-available [MQTT5-3.2.2-13], or
// a payload that is not UTF-8 while its Payload Format Indicator says it
// is [MQTT5-3.1.3.2.3].
func (e *Engine) willRefusal(p *codec.Connect) (codec.ReasonCode, string) {
	switch {
	case !p.WillFlag:
		return 0, ""
	case p.WillQoS > e.maxQoS():
		return codec.ReasonQoSNotSupported, "will QoS above -max-qos [MQTT5-3.2.2-12]"
	case p.WillRetain && !e.cfg.RetainAvailable:
		return codec.ReasonRetainNotSupported, "will retain with -retain-available false [MQTT5-3.2.2-13]"
	case p.WillProps.Has(codec.PropPayloadFormat) && p.WillProps.PayloadFormat == 1 && !utf8.Valid(p.WillMessage):
		return codec.ReasonPayloadFormatInvalid, "will payload is not UTF-8 though its payload format indicator is 1 [MQTT5-3.1.3.2.3]"
	}
	return 0, ""
}

// rejectConnectV5 answers a 5.0 CONNECT with CONNACK reason rc and closes
// [MQTT5-3.2.2.2]. Loop-only.
func (c *Conn) rejectConnectV5(rc codec.ReasonCode, why string) {
	n := len(c.out)
	c.out = codec.AppendConnackV5(c.out, false, rc, nil)
	c.countSent(codec.TypeConnack, 0, len(c.out)-n)
	c.traceRefused(byte(rc))
	c.ls.st.ProtocolErrors.Add(1)
	c.e.log.clientError(c.addr, codec.TypeConnect, &codec.Error{Type: codec.TypeConnect, Field: "will",
		Detail: why, Err: codec.ErrProtocol, Reason: rc})
	c.closeWith(session.ReasonProtocolError, why, false)
}

// publishCapable checks the client PUBLISH p against the server's
// capabilities. A 5.0 client asking for more than CONNACK announced is
// closed with DISCONNECT 0x9B (QoS) [MQTT5-3.2.2-11] or 0x9A (RETAIN)
// [MQTT5-3.2.2-14], and publishCapable reports false. A 3.1.1 client's
// RETAIN is dropped when retained messages are off; its QoS is lowered
// where the message is routed (routeQoS). Loop-only.
func (c *Conn) publishCapable(p *codec.Publish) bool {
	if c.v5&v5On == 0 {
		if p.Retain && !c.e.cfg.RetainAvailable {
			p.Retain = false // forwarded as a live message, never kept
		}
		return true
	}
	switch {
	case p.QoS > c.e.maxQoS(): // [MQTT5-3.2.2-11]
		c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "QoS",
			Detail: "QoS above the Maximum QoS of CONNACK (-max-qos) [MQTT5-3.2.2-11]", Err: codec.ErrProtocol,
			Reason: codec.ReasonQoSNotSupported})
		return false
	case p.Retain && !c.e.cfg.RetainAvailable: // [MQTT5-3.2.2-14]
		c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "retain",
			Detail: "RETAIN 1 with Retain Available 0 (-retain-available false) [MQTT5-3.2.2-14]", Err: codec.ErrProtocol,
			Reason: codec.ReasonRetainNotSupported})
		return false
	}
	return true
}

// routeQoS returns the QoS a client's PUBLISH at qos is routed and
// retained at: at most -max-qos. Only a 3.1.1 client's can be higher (a
// 5.0 client's is refused). Safe for concurrent use.
func (e *Engine) routeQoS(qos byte) byte { return min(qos, e.maxQoS()) }

// subscribeCapable checks a 5.0 SUBSCRIBE's properties pr: a Subscription
// Identifier without -subscription-identifiers closes the connection with
// DISCONNECT 0xA1 [MQTT5-3.2.2.3.13], and subscribeCapable reports false.
// Loop-only.
func (c *Conn) subscribeCapable(pr *codec.Properties) bool {
	if c.v5&v5On == 0 || c.e.cfg.SubscriptionIdentifiers || len(pr.SubscriptionIDs) == 0 {
		return true
	}
	c.fail(codec.TypeSubscribe, &codec.Error{Type: codec.TypeSubscribe, Field: "subscription identifier",
		Detail: "with Subscription Identifiers Available 0 (-subscription-identifiers false) [MQTT5-3.2.2.3.13]",
		Err:    codec.ErrProtocol, Reason: codec.ReasonSubscriptionIdentifiersNotSupported})
	return false
}

// filterRefusal returns the reason code refusing topic filter f for lack of
// a capability, 0 when the server takes it: a wildcard filter without
// -wildcard-subscriptions gets 0xA2 [MQTT5-3.2.2.3.12] (0x80 at 3.1.1,
// through subackFail).
func (e *Engine) filterRefusal(f []byte) codec.ReasonCode {
	if e.cfg.WildcardSubscriptions {
		return 0
	}
	for _, b := range f {
		if b == '+' || b == '#' {
			return codec.ReasonWildcardSubscriptionsNotSupported
		}
	}
	return 0
}
