package broker

import (
	"sync/atomic"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Retained messages sent on SUBSCRIBE are paced by the connection: a
// SUBSCRIBE gives the connection a retainedCursor per granted filter, and
// the cursors are advanced a bounded slice at a time, only while the
// connection has room: QoS 0 while its output waiting to be sent is under
// paceHighWater, QoS 1/2 while its in-flight window has room (straight into
// the window, not through the session's bounded queue, so -max-queued never
// cuts them). Nothing is dropped: a cursor that meets a full buffer or
// window just stops where it is.
//
// What resumes a cursor:
//   - the SUBSCRIBE itself, right after its SUBACK [MQTT-3.3.1-6];
//   - every pump of the connection (an acknowledgement freed the window);
//   - the loop's pacer: while any connection of the loop has a cursor, the
//     loop runs resume again, at once (Execute) after a round that sent
//     something, or after pacePoll when every connection was full, since
//     no transport tells us when its socket drained.
//
// Each resume sends at most paceConnSlice messages per connection and
// paceLoopSlice in all, so retained work holds a loop for a bounded slice
// and the loop's other connections are served between slices.
const (
	paceConnSlice = 1024
	paceLoopSlice = 4096
	pacePoll      = 500 * time.Microsecond
)

// paceHighWater is the output (buffered in the transport plus not yet
// written) below which a connection takes more retained QoS 0 messages:
// half of -max-outbound, so live QoS 0 messages still find room.
func (e *Engine) paceHighWater() int { return e.cfg.MaxOutbound / 2 }

// retainedPace is one connection's retained messages still to send.
// Loop-only, except backlog.
type retainedPace struct {
	cursors []*retainedCursor // in SUBSCRIBE order; the first is being sent
	listed  bool              // in the loop's pacer list
	backlog atomic.Int64      // estimate of messages still to send, for introspection
}

// loopPace is a loop's list of connections with retained messages to send,
// and the state of its self-scheduled resume. Loop-only.
type loopPace struct {
	conns     []*Conn
	next      int         // where the next resume starts, for round robin
	scheduled bool        // a resume is posted or its timer armed
	timer     *time.Timer // posts resume after pacePoll; created once
	resume    func()      // ls.resumeRetained, allocated once
}

// sendRetained starts sending the retained messages matching filter, with
// RETAIN 1, after the SUBACK [MQTT-3.3.1-6]: what fits now goes at once,
// the rest as the connection drains. Loop-only.
func (c *Conn) sendRetained(filter string, granted byte) {
	cur := c.e.retained.newCursor(filter, granted)
	if p := c.permissions(); p != nil {
		if _, filtered := p.CanSubscribe(filter); filtered {
			cur.only = p // withholds the topics the ACL denies, as route does
		}
	}
	if cur.peek(&c.e.retained) == nil {
		return // nothing matches: no cursor kept
	}
	p := c.pace.Load()
	if p == nil {
		p = &retainedPace{}
		c.pace.Store(p)
	}
	p.cursors = append(p.cursors, cur)
	c.stepRetained(paceConnSlice)
	if len(p.cursors) > 0 && !p.listed {
		p.listed = true
		c.ls.pace.conns = append(c.ls.pace.conns, c)
		c.ls.schedulePace(true)
	}
	c.ls.touch(c)
}

// stepRetained sends up to budget retained messages from the connection's
// cursors while it has room, and returns how many it sent. Loop-only.
func (c *Conn) stepRetained(budget int) (sent int) {
	p := c.pace.Load()
	if p == nil || c.state != stateConnected {
		return 0
	}
	defer func() { p.backlog.Store(int64(p.pendingCount())) }()
	high := c.e.paceHighWater()
	for len(p.cursors) > 0 && sent < budget {
		cur := p.cursors[0]
		m := cur.peek(&c.e.retained)
		if m == nil {
			p.cursors[0] = nil
			p.cursors = p.cursors[1:]
			continue
		}
		if cur.only != nil && !cur.only.CanReceive(m.Topic) {
			cur.advance()
			continue
		}
		q := min(m.QoS, cur.qos)
		if q == 0 && c.v5&v5On != 0 {
			if len(c.out)+c.t.OutboundBuffered() > high {
				return sent // full: resumed when the socket drains
			}
			if n := c.publishV5(m, 0, true, false, 0, 0); n > 0 {
				c.countSent0(n)
			}
		} else if q == 0 {
			size := codec.PublishSize(0, len(m.Topic), len(m.Payload))
			waiting := len(c.out) + c.t.OutboundBuffered()
			if waiting > 0 && waiting+size > high {
				return sent // full: resumed when the socket drains
			}
			c.reserve(size)
			c.out = codec.AppendPublishParts(c.out, false, 0, true, m.Topic, 0, m.Payload)
			c.countSent0(size)
		} else {
			f, ok := c.sess.SendNow(session.Queued{Msg: m, QoS: q, Retain: true})
			if !ok {
				return sent // window full: resumed by the next acknowledgement
			}
			c.writePublish(f.Msg, f.QoS, true, false, f.PacketID, 0) // first delivery: DUP 0 [MQTT-3.3.1-1]
		}
		cur.advance()
		sent++
	}
	return sent
}

// pendingCount estimates the messages still to send over every cursor.
// Loop-only.
func (p *retainedPace) pendingCount() int {
	n := 0
	for _, cur := range p.cursors {
		n += cur.backlog()
	}
	return n
}

// RetainedBacklog estimates the retained messages this connection still
// has to send for its SUBSCRIBEs: 0 when none. Safe for concurrent use.
func (c *Conn) RetainedBacklog() int {
	if p := c.pace.Load(); p != nil {
		return int(p.backlog.Load())
	}
	return 0
}

// schedulePace makes sure resumeRetained runs again: now (through the
// loop's queue) when now is true, else after pacePoll. Loop-only.
func (ls *loopState) schedulePace(now bool) {
	lp := &ls.pace
	if lp.scheduled || ls.loop == nil {
		return
	}
	lp.scheduled = true
	if lp.resume == nil {
		lp.resume = ls.resumeRetained
	}
	if now {
		ls.loop.Execute(lp.resume)
		return
	}
	if lp.timer == nil {
		lp.timer = time.AfterFunc(pacePoll, func() { ls.loop.Execute(lp.resume) })
		return
	}
	lp.timer.Reset(pacePoll)
}

// resumeRetained advances the cursors of the loop's connections, round
// robin, at most paceConnSlice messages each and paceLoopSlice in all,
// then flushes and schedules itself again while any remain. Loop-only.
func (ls *loopState) resumeRetained() {
	lp := &ls.pace
	lp.scheduled = false
	budget := paceLoopSlice
	sent := 0
	n := len(lp.conns)
	for k := 0; k < n && sent < budget; k++ {
		c := lp.conns[(lp.next+k)%n]
		s := c.stepRetained(min(paceConnSlice, budget-sent))
		if s > 0 {
			sent += s
			ls.touch(c)
		}
	}
	if n > 0 {
		lp.next = (lp.next + 1) % n
	}
	// Drop connections that finished or closed.
	k := 0
	for _, c := range lp.conns {
		p := c.pace.Load()
		if c.state == stateConnected && len(p.cursors) > 0 {
			lp.conns[k] = c
			k++
			continue
		}
		p.listed = false
		clear(p.cursors)
		p.cursors = p.cursors[:0]
		p.backlog.Store(0)
	}
	clear(lp.conns[k:])
	lp.conns = lp.conns[:k]
	ls.flush()
	if len(lp.conns) > 0 {
		ls.schedulePace(sent > 0)
	}
}
