package broker

import (
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// v5Flags is a connection's MQTT 5.0 state, one byte in Conn. Loop-owned.
type v5Flags uint8

const (
	v5On       v5Flags = 1 << iota // the CONNECT was level 5: frame, decode and encode with 5.0 rules
	v5Assigned                     // the server chose the client ID: CONNACK tells it [MQTT5-3.2.2-16]
	v5Expiry0                      // the CONNECT's Session Expiry Interval was 0 [MQTT5-3.14.2-2]
	v5Quiet                        // Request Problem Information 0: reason strings on CONNACK and DISCONNECT only [MQTT5-3.1.2-29]
	v5MaxSize                      // the client set a Maximum Packet Size (in ConnMeta) [MQTT5-3.1.2-24]

	// Whether a session has subscriptions with identifiers is not a flag
	// here: SUBSCRIBE changes it on the connection's loop while other loops
	// route to the connection, so deliveries ask the session
	// (HasSubscriptionIDs, safe for concurrent use).
)

// level returns the protocol level the connection's packets are framed and
// decoded at: 5 for MQTT 5.0, else 4 (3.1 and 3.1.1 share their framing).
func (f v5Flags) level() byte {
	if f&v5On != 0 {
		return codec.ProtocolLevel5
	}
	return 4
}

// connackV5 maps a 3.1.1 CONNACK return code to the MQTT 5.0 reason code
// saying the same [MQTT5-3.2.2.2].
func connackV5(code byte) codec.ReasonCode {
	switch code {
	case connAccepted:
		return codec.ReasonSuccess
	case connBadProtocol:
		return codec.ReasonUnsupportedProtocolVersion
	case connIdentifierRejects:
		return codec.ReasonClientIdentifierNotValid
	case connServerUnavailable:
		return codec.ReasonServerUnavailable
	case 4:
		return codec.ReasonBadUserNameOrPassword
	case 5:
		return codec.ReasonNotAuthorized
	}
	return codec.ReasonUnspecifiedError
}

// maxSessionExpiry returns the longest Session Expiry Interval granted to
// a 5.0 client, in seconds.
func (e *Engine) maxSessionExpiry() int64 {
	d := e.cfg.MaxSessionExpiry
	if d <= 0 {
		d = e.cfg.SessionExpiry
	}
	return int64(d / time.Second)
}

// receiveMaximum returns the unacknowledged QoS 1/2 PUBLISHes a 5.0 client
// may send [MQTT5-3.2.2.3.3].
func (e *Engine) receiveMaximum() uint16 {
	if e.cfg.ReceiveMaximum <= 0 || e.cfg.ReceiveMaximum > 65535 {
		return 65535
	}
	return uint16(e.cfg.ReceiveMaximum)
}

// connectV5 reads the 5.0 properties of the CONNECT in p into c.meta and
// c.v5. Loop-only.
func (c *Conn) connectV5(p *codec.Connect, assigned bool) {
	c.v5 = v5On
	if assigned {
		c.v5 |= v5Assigned
	}
	pr := &p.Props
	exp := int64(0) // absent means 0: the session ends with the connection [MQTT5-3.1.2-11]
	if pr.Has(codec.PropSessionExpiry) {
		exp = min(int64(pr.SessionExpiry), c.e.maxSessionExpiry())
	}
	if exp == 0 {
		c.v5 |= v5Expiry0
	}
	c.meta.SessionExpiry = exp
	if pr.Has(codec.PropReceiveMaximum) {
		c.meta.ReceiveMaximum = pr.ReceiveMaximum // [MQTT5-3.3.4-9]
	}
	if pr.Has(codec.PropMaximumPacketSize) {
		c.meta.MaxPacketSize = pr.MaximumPacketSize // [MQTT5-3.1.2-24]
		c.v5 |= v5MaxSize
	}
	if pr.Has(codec.PropRequestProblemInfo) && pr.RequestProblemInfo == 0 {
		c.v5 |= v5Quiet
	}
	c.connectAliases(pr)
}

// connackExtras adds to the accepting CONNACK properties pr the Topic
// Alias Maximum (absent means 0: no aliases) [MQTT5-3.2.2-17] and the
// Server Keep Alive the client must use instead of its own
// [MQTT5-3.2.2-21]. Loop-only.
func (c *Conn) connackExtras(pr *codec.Properties) {
	if max := c.e.topicAliasMaximum(); max > 0 {
		pr.TopicAliasMaximum = max
		pr.Set(codec.PropTopicAliasMaximum)
	}
	if ka := c.e.cfg.ServerKeepAlive; ka > 0 {
		pr.ServerKeepAlive = uint16(ka)
		pr.Set(codec.PropServerKeepAlive)
	}
}

// keepAliveOf returns the keep-alive in seconds that the connection is
// held to: -server-keep-alive for a 5.0 client when set, which CONNACK
// announces [MQTT5-3.2.2-21], else the CONNECT's own [MQTT5-3.2.2-22].
// Loop-only.
func (c *Conn) keepAliveOf(sent uint16) uint16 {
	if ka := c.e.cfg.ServerKeepAlive; ka > 0 && c.v5&v5On != 0 {
		return uint16(ka)
	}
	return sent
}

// writeConnackV5 appends an MQTT 5.0 CONNACK. An acceptance announces what
// the server enforces: Receive Maximum, Maximum Packet Size, the
// capabilities switched off, Shared Subscription Available, the assigned
// client ID, a capped Session Expiry Interval, Topic Alias Maximum and
// Server Keep Alive [MQTT5-3.2.2.3]; a refusal carries a reason string.
// Loop-only.
func (c *Conn) writeConnackV5(present bool, code byte) {
	n := len(c.out)
	rc := connackV5(code)
	if rc != codec.ReasonSuccess {
		c.out = c.appendWithReason(c.out, codec.TypeConnack, reasonText(rc), func(dst []byte, pr *codec.Properties) []byte {
			return codec.AppendConnackV5(dst, false, rc, pr)
		})
		c.countSent(codec.TypeConnack, 0, len(c.out)-n)
		return
	}
	var pr codec.Properties
	pr.ReceiveMaximum = c.e.receiveMaximum()
	pr.MaximumPacketSize = uint32(c.e.cfg.MaxPacketSize)
	pr.SharedSubAvailable = c.sharedSubAvailable() // shared.go
	pr.Set(codec.PropReceiveMaximum)
	pr.Set(codec.PropMaximumPacketSize)
	pr.Set(codec.PropSharedSubAvailable)
	// Maximum QoS, Retain, Wildcard and Subscription Identifier Available (capabilities.go).
	c.e.capabilityProps(&pr)
	if c.v5&v5Assigned != 0 && c.sess != nil { // [MQTT5-3.2.2-16]
		pr.AssignedClientID = []byte(c.sess.ClientID)
		pr.Set(codec.PropAssignedClientID)
	}
	if max := c.e.maxSessionExpiry(); c.meta != nil && c.meta.SessionExpiry == max && max > 0 {
		// Granted the cap: the client asked for it or for more [MQTT5-3.2.2.3.2].
		pr.SessionExpiry = uint32(max)
		pr.Set(codec.PropSessionExpiry)
	}
	c.connackAuth(&pr)   // enhanced authentication (enhauth.go)
	c.connackExtras(&pr) // topic aliases, server keep-alive
	c.out = codec.AppendConnackV5(c.out, present, rc, &pr)
	c.countSent(codec.TypeConnack, 0, len(c.out)-n)
}

// disconnectV5 appends a server DISCONNECT with reason code rc to a
// connected 5.0 client, before the connection closes [MQTT5-4.13.1-1], with
// why as its Reason String ("" for reasonText's); it does nothing on a
// 3.1.1 connection, which has no such packet. Loop-only.
func (c *Conn) disconnectV5(rc codec.ReasonCode, why string) {
	if c.v5&v5On == 0 || c.state != stateConnected {
		return
	}
	if why == "" {
		why = reasonText(rc)
	}
	n := len(c.out)
	c.out = c.appendWithReason(c.out, codec.TypeDisconnect, why, func(dst []byte, pr *codec.Properties) []byte {
		return codec.AppendDisconnectV5(dst, rc, pr)
	})
	c.countSent(codec.TypeDisconnect, 0, len(c.out)-n)
}

// disconnectReason returns the DISCONNECT reason code the server sends a
// 5.0 client it closes for reason r [MQTT5-3.14.2.1], or 0 when it sends
// none: the client left, the network failed, or fail already sent one.
func disconnectReason(r session.Reason) codec.ReasonCode {
	switch r {
	case session.ReasonTakenOver:
		return codec.ReasonSessionTakenOver
	case session.ReasonKeepAlive:
		return codec.ReasonKeepAliveTimeout
	case session.ReasonKicked:
		return codec.ReasonAdministrativeAction
	case session.ReasonShutdown:
		return codec.ReasonServerShuttingDown
	case session.ReasonSlowConsumer:
		return codec.ReasonQuotaExceeded
	case session.ReasonStoreError:
		return codec.ReasonUnspecifiedError
	}
	return 0
}

// connectLevel returns the protocol level byte of the CONNECT frame b, or 0
// when b is too short to hold one. The frame is whole (Frame accepted it).
func connectLevel(b []byte) byte {
	i := 1
	for i < len(b) && i < 5 && b[i]&0x80 != 0 { // remaining length [MQTT5-1.5.5]
		i++
	}
	i++
	if i+2 > len(b) {
		return 0
	}
	i += 2 + int(b[i])<<8 | int(b[i+1]) // protocol name
	if i >= len(b) {
		return 0
	}
	return b[i]
}

// handleDisconnectV5 takes a 5.0 DISCONNECT: a Session Expiry Interval in
// it replaces the CONNECT's, unless that was 0 [MQTT5-3.14.2-2], and reason
// 0x04 publishes the will [MQTT5-3.14.4-3]. Loop-only.
func (c *Conn) handleDisconnectV5(frame []byte) {
	var d codec.Disconnect
	if _, err := d.DecodeV(frame, codec.ProtocolLevel5); err != nil {
		c.fail(codec.TypeDisconnect, err)
		return
	}
	if d.Props.Has(codec.PropSessionExpiry) {
		if c.v5&v5Expiry0 != 0 && d.Props.SessionExpiry != 0 { // [MQTT5-3.14.2-2]
			c.fail(codec.TypeDisconnect, &codec.Error{Type: codec.TypeDisconnect, Field: "session expiry interval",
				Detail: "non-zero after a CONNECT with 0 [MQTT5-3.14.2-2]", Err: codec.ErrProtocol, Reason: codec.ReasonProtocolError})
			return
		}
		c.sess.SetExpiry(min(int64(d.Props.SessionExpiry), c.e.maxSessionExpiry()))
	}
	c.closeWith(session.ReasonClient, "", d.ReasonCode == codec.ReasonDisconnectWithWill)
}

// subackFail returns the SUBACK code refusing one filter: 0x80 to a 3.1.1
// client [MQTT-3.9.3], rc to a 5.0 client [MQTT5-3.9.3]. Loop-only.
func (c *Conn) subackFail(rc codec.ReasonCode) byte {
	if c.v5&v5On != 0 {
		return byte(rc)
	}
	return subackFailure
}

// subscriptionOf returns the session subscription for filter at qos with
// f's 5.0 options and the SUBSCRIBE's subscription identifier
// [MQTT5-3.8.3.1], [MQTT5-3.8.2.1.2]; at 3.1.1 they are all zero.
func subscriptionOf(filter string, qos byte, f *codec.Subscription, pr *codec.Properties) session.Subscription {
	sub := session.Subscription{TopicFilter: filter, QoS: qos, NoLocal: f.NoLocal,
		RetainAsPublished: f.RetainAsPublished, RetainHandling: f.RetainHandling}
	if len(pr.SubscriptionIDs) > 0 {
		sub.ID = pr.SubscriptionIDs[0]
	}
	return sub
}

// forwardDrop is the set of received PUBLISH properties that are per
// delivery, not forwarded as they came [MQTT5-3.3.2-6], [MQTT5-3.3.2.3.4].
var forwardDrop = codec.SetOf(codec.PropTopicAlias, codec.PropSubscriptionID, codec.PropMessageExpiry)

// publishV5 appends to c.out a PUBLISH of m for a 5.0 client at qos with
// the flags retain and dup and the packet identifier id (QoS 1 and 2), with
// the forwardable properties m.Props, the seconds left until m.Expires
// (epoch ms, 0 for never) [MQTT5-3.3.2-6] and the identifiers of the
// subscriptions via names. A message past its expiry is not sent, unless
// it is a resend (sent before, so never expired) [MQTT5-4.3.3-7];
// nor is one over the client's Maximum Packet Size, which is counted
// [MQTT5-3.1.2-25]. It returns the bytes appended, 0 for none. m is only
// read, never kept. Loop-only.
func (c *Conn) publishV5(m *session.Message, qos byte, retain, dup bool, id uint16, via session.Via) int {
	if c.plain5(c.sess, m.Expires) && c.alias == nil { // nothing per delivery: as 3.1.1 plus the properties
		size := codec.PublishSizeV5(qos, len(m.Topic), len(m.Props), len(m.Payload))
		c.reserve(size)
		c.out = codec.AppendPublishForwardParts(c.out, dup, qos, retain, m.Topic, id, nil, m.Props, m.Payload)
		return size
	}
	var f codec.Forward
	if c.sess.HasSubscriptionIDs() {
		f.SubscriptionIDs = subscriptionIDs(c.sess, m.Topic, via, c.ls.ids[:0]) // [MQTT5-3.3.4-3]
		c.ls.ids = f.SubscriptionIDs[:0]
	}
	if m.Expires != 0 {
		switch left := m.Expires - c.e.nowMillis(); {
		case left > 0:
			f.HasExpiry, f.MessageExpiry = true, uint32((left+999)/1000)
		case !dup:
			return 0
		} // a resend (DUP 1) has started its delivery: it is not expired [MQTT5-4.3.3-7], [MQTT5-3.3.2-5]
	}
	topic, name := m.Topic, m.Topic
	a, known := c.outAlias(topic) // [MQTT5-3.3.2-11]
	if known {
		name = nil // the client has the alias: the name is left out
	}
	f.TopicAlias = a
	size := codec.PublishForwardSize(qos, len(name), &f, len(m.Props), len(m.Payload))
	if c.v5&v5MaxSize != 0 {
		max := int(c.meta.MaxPacketSize)
		if size > max && a != 0 && !known { // a new alias costs 3 bytes: without it the name may fit
			f.TopicAlias, a = 0, 0
			size = codec.PublishForwardSize(qos, len(name), &f, len(m.Props), len(m.Payload))
		}
		if size > max {
			c.ls.st.DroppedTooLarge.Add(1)
			return 0
		}
	}
	c.reserve(size)
	n := len(c.out)
	c.out = codec.AppendPublishForwardParts(c.out, dup, qos, retain, name, id, &f, m.Props, m.Payload)
	if a != 0 && !known {
		c.keepAlias(topic, a)
	}
	return len(c.out) - n
}

// notSentV5 completes the QoS 1/2 delivery id that publishV5 did not send,
// as if the client had acknowledged it: the server behaves as though it
// was sent [MQTT5-3.1.2-25]. Loop-only.
func (c *Conn) notSentV5(qos byte, id uint16) {
	s := c.sess
	if qos == 1 {
		s.Ack(codec.TypePuback, id)
	} else {
		s.Ack(codec.TypePubrec, id)
		s.Ack(codec.TypePubcomp, id)
	}
	c.needPump = true
}

// route5 delivers a QoS 0 message to the 5.0 subscriber c, which may be on
// another loop, when the delivery needs a look at c: c has a Maximum
// Packet Size or its session subscription identifiers, the message expires
// or was published retained. route delivers the others inline, with the one
// 5.0 encoding per message that route5 shares (encoded), as one 3.1.1
// encoding serves the 3.1.1 subscribers; retain (Retain As Published of a
// retained message) takes an encoding of its own, as do the subscription
// identifiers of the subscriptions via names. c.v5 and c.meta are written at
// CONNECT before the session's owner is published, so reading them after
// Owner() is safe from any loop. Loop-only (ls's loop).
func (ls *loopState) route5(c *Conn, s *clientSession, topic, payload, props []byte, expires int64, retain bool, via session.Via, encoded *bool) {
	var ids []uint32
	if s.HasSubscriptionIDs() {
		ids = subscriptionIDs(s, topic, via, ls.ids[:0])
		ls.ids = ids[:0]
	}
	if retain || len(ids) > 0 { // Retain As Published, subscription identifiers: an encoding of its own
		ls.route5Own(c, topic, payload, props, expires, retain, via, ids)
		return
	}
	if !*encoded {
		var f codec.Forward
		if expires != 0 {
			left := expires - ls.e.nowMillis()
			if left <= 0 {
				return // expired: not delivered [MQTT5-3.3.2-5]
			}
			f.HasExpiry, f.MessageExpiry = true, uint32((left+999)/1000)
		}
		ls.enc5 = codec.AppendPublishForwardParts(ls.enc5[:0], false, 0, false, topic, 0, &f, props, payload)
		*encoded = true
	}
	if c.v5&v5MaxSize != 0 && len(ls.enc5) > int(c.meta.MaxPacketSize) { // [MQTT5-3.1.2-25]
		ls.st.DroppedTooLarge.Add(1)
		return
	}
	if c.ls == ls {
		c.writeQoS0(ls.enc5)
		return
	}
	ls.handOff5(c)
}

// plain5 reports whether a 5.0 delivery to c through the session s of a
// message expiring at expires (epoch ms, 0 for never) can take the
// message's 5.0 encoding as it is: no Maximum Packet Size to check, no
// expiry to count down, no subscription identifiers to add. Safe from any
// loop: c.v5 is written at CONNECT only (see route5).
func (c *Conn) plain5(s *clientSession, expires int64) bool {
	return c.v5&v5MaxSize == 0 && expires == 0 && !s.HasSubscriptionIDs()
}

// handOff5 hands the message's 5.0 encoding ls.enc5 to c on another loop:
// copied into that loop's batch once per message, however many of its
// connections take it. Loop-only (ls's loop).
func (ls *loopState) handOff5(c *Conn) {
	b := ls.batchFor(c.ls)
	if b.lastSq5 != ls.pubSeq {
		b.lastSq5, b.lastAt5 = ls.pubSeq, len(b.buf)
		b.buf = append(b.buf, ls.enc5...)
		b.lastN5 = len(ls.enc5)
	}
	b.items = append(b.items, batchItem{conn: c, off: b.lastAt5, n: b.lastN5})
}

// publishCarries reports whether the 5.0 PUBLISH p has anything for
// publishV5In to read: properties, or an expiry that -max-message-expiry
// gives every message. Most have neither, and route then finds ls.props5
// empty and ls.expires 0, as every PUBLISH leaves them. Loop-only.
func (c *Conn) publishCarries(p *codec.Publish) bool {
	return len(p.Props.Raw) != 0 || c.e.cfg.MaxMessageExpiry != 0
}

// publishV5In reads the 5.0 properties of the client PUBLISH p into ls for
// route: the topic alias resolved (resolveAlias), the payload checked
// against its format indicator (payloadFormatOK), the forwardable
// properties encoded once, the expiry made absolute [MQTT5-3.3.2-5] and
// capped by -max-message-expiry, which a message without one gets too. It
// reports false when the PUBLISH goes no further: resolveAlias closed c, or
// payloadFormatOK refused it. Loop-only.
func (c *Conn) publishV5In(p *codec.Publish) bool {
	ls := c.ls
	if p.Props.Has(codec.PropTopicAlias) && !c.resolveAlias(p) {
		return false
	}
	if !c.payloadFormatOK(p) {
		return false
	}
	ls.props5 = codec.AppendPropsWithout(ls.props5[:0], p.Props.Raw, forwardDrop)
	ls.expires = 0
	limit := int64(c.e.cfg.MaxMessageExpiry / time.Second) // 0: no cap
	if p.Props.Has(codec.PropMessageExpiry) {
		secs := int64(p.Props.MessageExpiry)
		if limit > 0 {
			secs = min(secs, limit)
		}
		ls.expires = c.e.nowMillis() + secs*1000
	} else if limit > 0 {
		ls.expires = c.e.nowMillis() + limit*1000
	}
	return true
}

// ownQoS returns the QoS at which the publisher's session s gets its own
// message on topic: the highest of its matching subscriptions without No
// Local [MQTT5-3.8.3-3] and of the shared one whose group picked it
// (shared: 1 + its QoS, 0 for none; No Local cannot be set on a shared
// subscription [MQTT5-3.8.3-4]). ok is false when none of them delivers.
func ownQoS(s *clientSession, shared byte, topic []byte) (qos byte, ok bool) {
	qos, ok = matchQoS(s, topic, true, nil)
	if shared > 0 && (!ok || shared-1 > qos) {
		qos, ok = shared-1, true
	}
	return qos, ok
}

// matchQoS returns the highest QoS of the subscriptions of s, not shared
// ones, that match topic: without those with No Local when the message is
// the session's own [MQTT5-3.8.3-3], and those keep refuses (nil keeps
// all). ok is false when none matches.
func matchQoS(s *clientSession, topic []byte, own bool, keep func(sub *session.Subscription) bool) (qos byte, ok bool) {
	subs := s.Subscriptions()
	for i := range subs {
		sub := &subs[i]
		if (own && sub.NoLocal) || isShared(sub.TopicFilter) || (ok && sub.QoS <= qos) {
			continue
		}
		if codec.MatchTopic(sub.TopicFilter, topic) && (keep == nil || keep(sub)) {
			qos, ok = sub.QoS, true
		}
	}
	return qos, ok
}

// receiveMaximumExceeded closes a 5.0 client that has more unacknowledged
// QoS 2 PUBLISHes than the Receive Maximum the CONNACK announced, with
// DISCONNECT 0x93 [MQTT5-3.3.4-9]. Loop-only.
func (c *Conn) receiveMaximumExceeded() {
	c.ls.props5, c.ls.expires = c.ls.props5[:0], 0
	c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "packet identifier",
		Detail: "more unacknowledged QoS 2 PUBLISHes than -receive-maximum [MQTT5-3.3.4-9]", Err: codec.ErrProtocol,
		Reason: codec.ReasonReceiveMaximumExceeded})
}

// route5Own delivers a QoS 0 message to the 5.0 subscriber c in an
// encoding of its own: with RETAIN 1 (Retain As Published) or with the
// identifiers ids of the subscriptions via names. Loop-only (ls's loop).
func (ls *loopState) route5Own(c *Conn, topic, payload, props []byte, expires int64, retain bool, via session.Via, ids []uint32) {
	if c.ls == ls {
		m := session.Message{Topic: topic, Payload: payload, Props: props, Expires: expires}
		if n := c.publishV5(&m, 0, retain, false, 0, via); n > 0 {
			c.countSent0(n)
			c.ls.touch(c)
		}
		return
	}
	f := codec.Forward{SubscriptionIDs: ids}
	if expires != 0 {
		left := expires - ls.e.nowMillis()
		if left <= 0 {
			return
		}
		f.HasExpiry, f.MessageExpiry = true, uint32((left+999)/1000)
	}
	if max := c.meta.MaxPacketSize; max != 0 &&
		codec.PublishForwardSize(0, len(topic), &f, len(props), len(payload)) > int(max) {
		ls.st.DroppedTooLarge.Add(1)
		return
	}
	b := ls.batchFor(c.ls)
	at := len(b.buf)
	b.buf = codec.AppendPublishForwardParts(b.buf, false, 0, retain, topic, 0, &f, props, payload)
	b.items = append(b.items, batchItem{conn: c, off: at, n: len(b.buf) - at})
}

// retainAsPublished reports whether a subscription of s matching topic has
// Retain As Published [MQTT5-3.3.1-12].
func retainAsPublished(s *clientSession, topic []byte) bool {
	subs := s.Subscriptions()
	for i := range subs {
		if subs[i].RetainAsPublished && codec.MatchTopic(matchFilter(subs[i].TopicFilter), topic) {
			return true
		}
	}
	return false
}

// subscriptionIDs appends to dst the subscription identifiers of the
// subscriptions of s that match topic and that via says caused the
// delivery: a shared one only when its group picked s, a No Local one
// never for s's own message [MQTT5-3.3.4-3]; and returns it.
func subscriptionIDs(s *clientSession, topic []byte, via session.Via, dst []uint32) []uint32 {
	subs := s.Subscriptions()
	for i := range subs {
		sub := &subs[i]
		if sub.ID == 0 {
			continue
		}
		if isShared(sub.TopicFilter) {
			if via&session.ViaNotShared != 0 {
				continue // its group gave the message to another member
			}
		} else if sub.NoLocal && via&session.ViaOwn != 0 {
			continue // [MQTT5-3.8.3-3]
		}
		if codec.MatchTopic(matchFilter(sub.TopicFilter), topic) {
			dst = append(dst, sub.ID)
		}
	}
	return dst
}
