package broker

import (
	"bytes"
	"fmt"

	"github.com/glassmq/glassmq/codec"
)

// Topic aliases [MQTT5-3.3.2.3.4] replace a topic name by a two-byte number
// on one network connection. Each direction has its own table:
//
//   - Inbound, the client chooses: a PUBLISH with a topic name and an alias
//     sets (or changes) the alias; one with an empty topic name and the
//     alias uses it. Aliases run from 1 to the Topic Alias Maximum the
//     CONNACK announced (-topic-alias-maximum).
//   - Outbound, the broker chooses, for a client whose CONNECT allowed
//     aliases: the first delivery of a topic carries the topic name and a
//     new alias, later ones an empty topic name and the alias. Aliases are
//     never above the client's maximum, nor above -topic-alias-maximum, so
//     the table of one connection stays small. When the table is full,
//     the aliases given so far are kept and other topics go by name: a
//     mapping never changes while the connection lives, so no packet
//     already written, and no DUP resend, can reach the client with an
//     alias that now means another topic.
//
// Both tables belong to the connection and die with it: a new connection
// starts with none, so resends of a resumed session carry full topic names
// [MQTT5-3.3.2-7].

// minAliasTopic is the shortest topic name given an outbound alias: a
// name of 3 bytes or fewer is no longer than the alias property itself.
const minAliasTopic = 4

// aliases is one 5.0 connection's topic aliases. A connection has one only
// once a direction is in use (nil otherwise), and its maps are made when
// the first alias is set, so clients without aliases pay one nil pointer.
// Loop-owned.
type aliases struct {
	in     map[uint16][]byte // the client's: alias → topic name, a copy the map owns
	inHeld int               // bytes in holds: capacity of its names plus aliasEntryCost each, at most maxInAliasBytes
	out    map[string]uint16 // the broker's: topic name → alias, 1..outMax, never changed
	outMax uint16            // outbound aliases allowed: the client's maximum capped by ours; 0 for none
}

// maxInAliasBytes bounds the memory one connection's inbound aliases
// hold: the capacity of their topic names plus aliasEntryCost per alias.
// Topic Alias Maximum alone would let a client make the broker keep that
// many names of up to 64 KiB each, 4 GiB per connection at 65535; with
// the bound it is 64 KiB, room for about 500 aliases of 80-byte topics. A
// PUBLISH setting an alias past it closes the connection with DISCONNECT
// 0x97 Quota exceeded: the alias itself is valid (0x94 Topic Alias invalid
// means one above the maximum [MQTT5-3.3.2-9]), it is the broker's own
// limit that is reached, which is what 0x97 says [MQTT5-3.14.2.1]. A
// connection is closed rather than the alias ignored because the client
// would go on using it, with an empty topic name, for a topic the broker
// does not know.
const (
	maxInAliasBytes = 64 << 10
	aliasEntryCost  = 48 // one map entry: key, slice header, share of its bucket
)

// topicAliasMaximum returns the Topic Alias Maximum announced in CONNACK,
// 0 when aliases are off [MQTT5-3.2.2.3.8].
func (e *Engine) topicAliasMaximum() uint16 {
	if e.cfg.TopicAliasMaximum <= 0 {
		return 0
	}
	return uint16(min(e.cfg.TopicAliasMaximum, 65535))
}

// connectAliases prepares outbound aliases for a 5.0 client whose CONNECT
// announced a Topic Alias Maximum above 0; absent or 0, the broker sends
// none [MQTT5-3.1.2-27]. Loop-only.
func (c *Conn) connectAliases(pr *codec.Properties) {
	c.alias = nil // a new connection never inherits aliases [MQTT5-3.3.2-7]
	ours := c.e.topicAliasMaximum()
	if !pr.Has(codec.PropTopicAliasMaximum) || pr.TopicAliasMaximum == 0 || ours == 0 {
		return
	}
	c.alias = &aliases{outMax: min(pr.TopicAliasMaximum, ours)} // [MQTT5-3.1.2-26]
}

// resolveAlias applies the topic alias of the client PUBLISH p: with a
// topic name it sets the alias, with an empty one it puts the aliased name
// in p.TopicName, a view valid until the next PUBLISH of the connection.
// It reports false, having closed c with a DISCONNECT, for an alias above
// our maximum (0x94) [MQTT5-3.3.2-12], an empty topic name with an alias
// never set on this connection (0x82), or a name that would take the
// aliases past maxInAliasBytes (0x97). Loop-only.
func (c *Conn) resolveAlias(p *codec.Publish) bool {
	a, max := p.Props.TopicAlias, c.e.topicAliasMaximum()
	if a > max { // 0 was refused by the codec [MQTT5-3.3.2-8]
		c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "topic alias",
			Detail: fmt.Sprintf("topic alias %d above the Topic Alias Maximum %d [MQTT5-3.3.2-9]", a, max),
			Err:    codec.ErrProtocol, Reason: codec.ReasonTopicAliasInvalid})
		return false
	}
	t := c.alias
	if len(p.TopicName) > 0 {
		if t == nil {
			t = &aliases{}
			c.alias = t
		}
		if t.in == nil {
			t.in = make(map[uint16][]byte, min(int(max), 16))
		}
		old, had := t.in[a]
		if had && bytes.Equal(old, p.TopicName) {
			return true
		}
		held := t.inHeld
		if had {
			held -= cap(old) + aliasEntryCost
		}
		grown := cap(old) // old is reused when the new name fits, else the copy is exact
		if grown < len(p.TopicName) {
			grown = len(p.TopicName)
		}
		if held+grown+aliasEntryCost > maxInAliasBytes {
			c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "topic alias",
				Detail: fmt.Sprintf("topic alias %d would make this connection's aliases hold %d bytes, above %d",
					a, held+grown+aliasEntryCost, maxInAliasBytes),
				Err: codec.ErrProtocol, Reason: codec.ReasonQuotaExceeded})
			return false
		}
		if cap(old) < len(p.TopicName) {
			old = make([]byte, 0, len(p.TopicName))
		}
		name := append(old[:0], p.TopicName...) // views of an old name died with the PUBLISH that used them
		t.in[a] = name
		t.inHeld = held + cap(name) + aliasEntryCost
		return true
	}
	var topic []byte
	if t != nil {
		topic = t.in[a]
	}
	if topic == nil {
		c.fail(codec.TypePublish, &codec.Error{Type: codec.TypePublish, Field: "topic alias",
			Detail: fmt.Sprintf("empty topic name with topic alias %d, which this connection never set [MQTT5-3.3.2.3.4]", a),
			Err:    codec.ErrProtocol, Reason: codec.ReasonProtocolError})
		return false
	}
	p.TopicName = topic
	return true
}

// outAlias returns the outbound alias for topic: known reports that the
// client already has it, so the topic name may be left out; a non-zero
// alias with known false is a free one that keepAlias must record once the
// packet carrying it, with the topic name, is written. 0 means send the
// topic name alone. It does not allocate. Loop-only.
func (c *Conn) outAlias(topic []byte) (alias uint16, known bool) {
	t := c.alias
	if t == nil || t.outMax == 0 || len(topic) < minAliasTopic {
		return 0, false
	}
	if a, ok := t.out[string(topic)]; ok {
		return a, true
	}
	if n := len(t.out); n < int(t.outMax) { // full: the first outMax topics keep theirs
		return uint16(n + 1), false
	}
	return 0, false
}

// keepAlias records outbound alias a, from outAlias, for topic after a
// PUBLISH with both was written. Loop-only.
func (c *Conn) keepAlias(topic []byte, a uint16) {
	t := c.alias
	if t.out == nil {
		t.out = make(map[string]uint16, min(int(t.outMax), 16))
	}
	t.out[string(topic)] = a
}

// writeQoS0Alias writes the QoS 0 PUBLISH pkt, encoded once for many
// subscribers without a topic alias, to a client that takes aliases, with
// the topic's alias put in. It reports false, writing nothing, when the
// topic gets no alias or the packet with it would pass the client's
// Maximum Packet Size [MQTT5-3.1.2-24]; the caller then writes pkt as it
// is. pkt comes from AppendPublishForward: a whole 5.0 PUBLISH at QoS 0.
// Loop-only.
func (c *Conn) writeQoS0Alias(pkt []byte) bool {
	if c.alias.outMax == 0 { // the client's own aliases only
		return false
	}
	i := 1
	for i < len(pkt) && pkt[i]&0x80 != 0 { // remaining length
		i++
	}
	i++
	if i+2 > len(pkt) {
		return false
	}
	end := i + 2 + (int(pkt[i])<<8 | int(pkt[i+1]))
	if end > len(pkt) {
		return false
	}
	topic := pkt[i+2 : end]
	a, known := c.outAlias(topic)
	if a == 0 {
		return false
	}
	plen, k := 0, 0 // property length, a variable byte integer [MQTT5-1.5.5]
	for shift := 0; end+k < len(pkt) && k < 4; shift += 7 {
		b := pkt[end+k]
		plen |= int(b&0x7f) << shift
		k++
		if b&0x80 == 0 {
			break
		}
	}
	if end+k+plen > len(pkt) {
		return false
	}
	props, payload := pkt[end+k:end+k+plen], pkt[end+k+plen:]
	name := topic
	if known {
		name = nil
	}
	f := codec.Forward{TopicAlias: a}
	size := codec.PublishForwardSize(0, len(name), &f, len(props), len(payload))
	if max := c.meta.MaxPacketSize; !known && max != 0 && size > int(max) {
		return false // the name alone still fits: route checked it
	}
	if len(c.out)+c.t.OutboundBuffered()+size > c.e.cfg.MaxOutbound {
		c.ls.st.DroppedQoS0.Add(1) // dropped: the alias stays free
		return true
	}
	c.reserve(size)
	n := len(c.out)
	c.out = codec.AppendPublishForwardParts(c.out, false, 0, pkt[0]&0x01 != 0, name, 0, &f, props, payload)
	if !known {
		c.keepAlias(topic, a)
	}
	c.countSent0(len(c.out) - n)
	c.ls.touch(c)
	return true
}
