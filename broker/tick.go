package broker

import (
	"errors"
	"strconv"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/glassmq/glassmq/stats"
)

// tickInterval is how often the ticker checks keep-alives, connect timeouts
// and session expiry. A keep-alive close therefore happens between 1.5 x
// keep-alive and 1.5 x keep-alive + tickInterval after the last packet.
const tickInterval = 100 * time.Millisecond

func (e *Engine) tickLoop() {
	defer close(e.tickDone)
	ticks, stop := e.clock.NewTicker(tickInterval)
	defer stop()
	var lastSys, lastExpiry time.Time
	for {
		select {
		case <-e.stop:
			return
		case now := <-ticks:
			e.checkConns(now)
			if now.Sub(lastExpiry) >= time.Second {
				lastExpiry = now
				e.expireSessions(now)
				e.trimPools()
			}
			e.fireWills(now) // after expiry: an ended session's will goes out in the same tick
			if e.cfg.SysInterval > 0 && now.Sub(lastSys) >= e.cfg.SysInterval {
				lastSys = now
				e.publishSys(now)
			}
		}
	}
}

// trimPools asks every loop to drop the output buffers it has not used for
// a second.
func (e *Engine) trimPools() {
	e.loopsMu.Lock()
	loops := e.loops
	e.loopsMu.Unlock()
	for _, ls := range loops {
		ls.loop.Execute(ls.trimPool)
	}
}

// checkConns closes connections whose keep-alive ran out (1.5 x keep-alive
// with no packet [MQTT-3.1.2-24]) or that sent no CONNECT in time.
func (e *Engine) checkConns(now time.Time) {
	n := now.UnixNano()
	e.conns.each(func(c *Conn) {
		ka, gotConnect := c.keepAliveState()
		idle := n - c.lastActivity.Load()
		switch {
		case ka > 0 && idle > ka*3/2:
			c.requestClose(session.ReasonKeepAlive)
		case !gotConnect && n-c.openedAt > int64(e.cfg.ConnectTimeout):
			c.requestClose(session.ReasonProtocolError) // no CONNECT, or no end to its AUTH exchange, in time
		}
	})
}

// requestClose asks c's loop to close c with reason r, publishing its will.
// Safe for concurrent use.
func (c *Conn) requestClose(r session.Reason) {
	if !c.closeReason.CompareAndSwap(0, uint32(r)) {
		return
	}
	c.ls.loop.Execute(func() {
		if r == session.ReasonProtocolError {
			c.connectTimedOut()
		} else {
			c.closeWith(r, "", true)
		}
		c.ls.flush()
	})
}

// connectTimedOut closes c, which did not complete its CONNECT within
// -connect-timeout, and logs why as a client error: no CONNECT came, or
// the CONNECT's enhanced authentication exchange (AUTH packets) did not
// finish. Loop-only.
func (c *Conn) connectTimedOut() {
	if c.state == stateClosed {
		return
	}
	t, detail := codec.TypeConnect, "no CONNECT within -connect-timeout"
	if c.state == stateAuthenticating {
		t, detail = codec.TypeAuth, "the CONNECT's authentication exchange did not finish within -connect-timeout"
	}
	c.e.log.clientError(c.addr, t, errors.New("broker: "+detail))
	c.closeWith(session.ReasonProtocolError, detail, true)
}

// expireSessions removes offline persistent sessions idle past the expiry.
func (e *Engine) expireSessions(now time.Time) {
	ms := now.UnixMilli()
	e.reg.Range(func(s *clientSession) bool {
		if s.Expire(ms) {
			e.dropSession(s)
		}
		return true
	})
}

// publishSys publishes the $SYS/broker/... counters as retained QoS 0
// messages.
func (e *Engine) publishSys(now time.Time) {
	var st stats.BrokerSnapshot
	e.stats.Snapshot(&st)
	u := func(v uint64) []byte { return strconv.AppendUint(nil, v, 10) }
	i := func(v int64) []byte { return strconv.AppendInt(nil, v, 10) }
	topics := []struct {
		topic string
		value []byte
	}{
		{"$SYS/broker/version", []byte("glassmq " + Version)},
		{"$SYS/broker/uptime", []byte(strconv.Itoa(int(now.Sub(e.started).Seconds())) + " seconds")},
		{"$SYS/broker/clients/connected", i(st.Connections)},
		{"$SYS/broker/clients/total", i(st.Sessions)},
		{"$SYS/broker/messages/received", u(st.MessagesReceived)},
		{"$SYS/broker/messages/sent", u(st.MessagesSent)},
		{"$SYS/broker/messages/dropped", u(st.DroppedQoS0 + st.DroppedQueue + st.DroppedHandoff)},
		{"$SYS/broker/bytes/received", u(st.Received.Bytes)},
		{"$SYS/broker/bytes/sent", u(st.Sent.Bytes)},
		{"$SYS/broker/subscriptions/count", i(st.Subscriptions)},
		{"$SYS/broker/retained messages/count", i(st.Retained)},
		{"$SYS/broker/store/messages/count", i(st.QueuedNow)},
	}
	e.withForeignLoop(func(ls *loopState) {
		for _, t := range topics {
			e.publishMessage(ls, &session.Message{Topic: []byte(t.topic), Payload: t.value, Retain: true})
		}
	})
}
