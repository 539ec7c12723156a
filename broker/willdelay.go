package broker

import (
	"container/heap"
	"sync"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// Wills of MQTT 5.0 clients carry properties and may wait.
//
// A will's properties are kept with it and forwarded as they came, in
// their order (payload format, content type, response topic, correlation
// data, user properties) [MQTT5-3.1.3-10]; its Message Expiry Interval
// starts when the will is published [MQTT5-3.1.3.2.4], and its Will Delay
// Interval holds it back after the connection ends: it is published when
// the delay passes or the session ends, whichever comes first
// [MQTT5-3.1.2-8], [MQTT5-3.1.3-9]. A CONNECT for the session before then
// cancels it (Clean Start 0), or publishes it at once (Clean Start 1 ends
// the old session) [MQTT5-3.1.3-9].
//
// Waiting wills live in memory only, in delayedWills, which the ticker
// reads; no event loop waits for them. They are not written to the store,
// so a broker restart forgets them: a will reports the failure of one
// network connection, a restart ends every connection by the server's
// doing, and a will published minutes after a restart would report the
// wrong thing. A clean shutdown publishes no will either.

// willDrop is the set of will properties the server acts on instead of
// forwarding: the delay is the server's, and the expiry is sent as what is
// left of it.
var willDrop = codec.SetOf(codec.PropWillDelay, codec.PropMessageExpiry)

// newWill returns the will message of the CONNECT p, recording its delay
// and expiry in c.meta. A 3.1.1 will's QoS is lowered to -max-qos and its
// RETAIN dropped without -retain-available (a 5.0 CONNECT asking for more
// was refused, see willRefusal). Loop-only.
func (c *Conn) newWill(p *codec.Connect) *session.Message {
	if c.v5&v5On == 0 {
		return session.NewMessage(p.WillTopic, p.WillMessage, c.e.routeQoS(p.WillQoS), p.WillRetain && c.e.cfg.RetainAvailable)
	}
	pr := &p.WillProps
	if pr.Has(codec.PropWillDelay) {
		c.meta.WillDelay = pr.WillDelay
	}
	if pr.Has(codec.PropMessageExpiry) {
		c.meta.WillExpires, c.meta.WillExpiry = true, pr.MessageExpiry
	}
	props := codec.AppendPropsWithout(nil, pr.Raw, willDrop)
	return session.NewMessageProps(p.WillTopic, p.WillMessage, props, p.WillQoS, p.WillRetain, 0)
}

// willAt returns the will w of a connection described by m as published at
// now (epoch ms): with its expiry counted from now. Safe for concurrent use.
func willAt(w *session.Message, m *session.ConnMeta, now int64) *session.Message {
	if m == nil || !m.WillExpires {
		return w
	}
	return session.NewMessageProps(w.Topic, w.Payload, w.Props, w.QoS, w.Retain, now+int64(m.WillExpiry)*1000)
}

// sendWill publishes the will w of c now, or holds it for its Will Delay
// Interval, shortened to what is left of the session: a session that
// ends with the connection publishes at once [MQTT5-3.1.2-8]. Loop-only.
func (c *Conn) sendWill(w *session.Message) {
	now := c.e.nowMillis()
	delay := int64(0)
	if c.meta != nil && c.meta.WillDelay > 0 && c.sess != nil {
		delay = min(int64(c.meta.WillDelay), c.sess.Expiry())
	}
	if delay <= 0 {
		c.e.publishMessage(c.ls, willAt(w, c.meta, now))
		return
	}
	if old := c.e.wills.hold(&pendingWill{sess: c.sess, msg: w, meta: c.meta, due: now + delay*1000}); old != nil {
		c.e.publishMessage(c.ls, willAt(old.msg, old.meta, now)) // cannot happen: a session has one connection at a time
	}
}

// resumeWill settles the will held for s when c attaches to it: dropped
// when c resumes the session (Clean Start 0), published now when c starts
// afresh, which ends the session the will belonged to [MQTT5-3.1.3-9].
// Loop-only.
func (c *Conn) resumeWill(s *clientSession) {
	pw := c.e.wills.take(s)
	if pw == nil {
		return
	}
	if c.meta.CleanSession {
		c.e.publishMessage(c.ls, willAt(pw.msg, pw.meta, c.e.nowMillis()))
	}
}

// fireWills publishes the held wills that are due at now: their delay
// passed, or their session ended. Called by the ticker.
func (e *Engine) fireWills(now time.Time) {
	ms := now.UnixMilli()
	due := e.wills.due(ms)
	if len(due) == 0 {
		return
	}
	e.withForeignLoop(func(ls *loopState) {
		for _, pw := range due {
			e.publishMessage(ls, willAt(pw.msg, pw.meta, ms))
		}
	})
}

// pendingWill is a will waiting for its delay or its session's end.
type pendingWill struct {
	sess *clientSession
	msg  *session.Message // immutable; without its expiry, which starts at publication
	meta *session.ConnMeta
	due  int64 // epoch ms; 0 once its session ended
	at   int   // index in delayedWills.order
}

// delayedWills holds the wills waiting for their Will Delay Interval, at
// most one per session, ordered by when they are due. Safe for concurrent
// use: loops add and take, the ticker and session ends make them due.
type delayedWills struct {
	mu     sync.Mutex
	bySess map[*clientSession]*pendingWill // guarded by mu
	order  willHeap                        // guarded by mu
}

// hold adds pw, returning the will it replaced for the same session (nil
// for none).
func (d *delayedWills) hold(pw *pendingWill) (old *pendingWill) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.bySess == nil {
		d.bySess = make(map[*clientSession]*pendingWill)
	}
	if old = d.bySess[pw.sess]; old != nil {
		heap.Remove(&d.order, old.at)
	}
	d.bySess[pw.sess] = pw
	heap.Push(&d.order, pw)
	return old
}

// take removes and returns the will held for s, nil for none.
func (d *delayedWills) take(s *clientSession) *pendingWill {
	d.mu.Lock()
	defer d.mu.Unlock()
	pw := d.bySess[s]
	if pw != nil {
		delete(d.bySess, s)
		heap.Remove(&d.order, pw.at)
	}
	return pw
}

// sessionEnded makes the will held for s due now: a session's end
// publishes its will whatever the delay left [MQTT5-3.1.2-8].
func (d *delayedWills) sessionEnded(s *clientSession) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if pw := d.bySess[s]; pw != nil {
		pw.due = 0
		heap.Fix(&d.order, pw.at)
	}
}

// due removes and returns the wills due at now (epoch ms), oldest first.
func (d *delayedWills) due(now int64) []*pendingWill {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []*pendingWill
	for len(d.order) > 0 && d.order[0].due <= now {
		pw := heap.Pop(&d.order).(*pendingWill)
		delete(d.bySess, pw.sess)
		out = append(out, pw)
	}
	return out
}

// len returns the number of wills held.
func (d *delayedWills) len() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.order)
}

// willHeap orders held wills by due time, for container/heap.
type willHeap []*pendingWill

func (h willHeap) Len() int           { return len(h) }
func (h willHeap) Less(i, j int) bool { return h[i].due < h[j].due }
func (h willHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].at, h[j].at = i, j
}
func (h *willHeap) Push(x any) {
	pw := x.(*pendingWill)
	pw.at = len(*h)
	*h = append(*h, pw)
}
func (h *willHeap) Pop() any {
	old := *h
	pw := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return pw
}

// PendingWills returns the number of wills waiting for their Will Delay
// Interval. Safe for concurrent use.
func (e *Engine) PendingWills() int { return e.wills.len() }
