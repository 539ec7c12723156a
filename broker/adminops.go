package broker

import (
	"errors"
	"fmt"

	"github.com/glassmq/glassmq/session"
)

// This file holds what the admin API's newer actions do to the broker:
// publish as the broker, change a session's subscriptions, read a will,
// delete a session. Each works through the engine's own functions, on the
// loop that owns the state it touches, and is held to the server's
// capabilities as a client's packet would be: QoS at most -max-qos, no
// retained message without -retain-available, no wildcard or shared
// subscription without -wildcard-subscriptions or -shared-subscriptions.
// CheckPublish and CheckSubscribe say why an action would be refused, for
// the admin API to answer with.

// Errors refusing an operator's action for a capability the server has
// off, from CheckPublish and CheckSubscribe. Each is wrapped with the
// request's topic or filter: test for it with errors.Is.
var (
	ErrRetainUnavailable   = errors.New("retained messages are off (-retain-available false)")
	ErrWildcardUnavailable = errors.New("wildcard subscriptions are off (-wildcard-subscriptions false)")
	ErrSharedUnavailable   = errors.New("shared subscriptions are off (-shared-subscriptions false)")
	ErrSharedInvalid       = errors.New("malformed shared subscription filter, want $share/GROUP/FILTER with a group without '+' or '#'")
)

// CheckPublish returns the error refusing an operator's Publish to topic,
// nil when Publish takes it: a retained message while -retain-available
// is off is ErrRetainUnavailable, as a 5.0 client's is refused
// [MQTT5-3.2.2-14]. The admin API asks it first, to answer with the
// reason. Safe for concurrent use.
func (e *Engine) CheckPublish(topic string, retain bool) error {
	if retain && !e.cfg.RetainAvailable {
		return fmt.Errorf("broker: retained message on %s: %w", quote(topic), ErrRetainUnavailable)
	}
	return nil
}

// CheckSubscribe returns the error refusing an operator's Subscribe to
// filter, nil when Subscribe takes it: ErrSharedUnavailable or
// ErrSharedInvalid for a shared subscription filter a SUBSCRIBE would
// have refused (shared.go), ErrWildcardUnavailable for a wildcard one
// while -wildcard-subscriptions is off [MQTT5-3.2.2.3.12]. Safe for
// concurrent use.
func (e *Engine) CheckSubscribe(filter string) error {
	switch {
	case e.shareRefused(filter) && !e.cfg.SharedSubscriptions:
		return fmt.Errorf("broker: topic filter %s: %w", quote(filter), ErrSharedUnavailable)
	case e.shareRefused(filter):
		return fmt.Errorf("broker: topic filter %s: %w", quote(filter), ErrSharedInvalid)
	case e.filterRefusal([]byte(filter)) != 0:
		return fmt.Errorf("broker: topic filter %s: %w", quote(filter), ErrWildcardUnavailable)
	}
	return nil
}

// Publish publishes a message as the broker, as a will or $SYS message is
// published: routed to every matching subscription at qos, at most
// -max-qos (as a 3.1.1 client's PUBLISH is), and stored as the retained
// message of topic when retain is set. It returns the message's trace ID
// (0 when it is not traced), the one its trace events carry. A message
// CheckPublish refuses is not published. Safe for concurrent use.
func (e *Engine) Publish(topic string, payload []byte, qos byte, retain bool) (traceID uint64) {
	if e.CheckPublish(topic, retain) != nil {
		return 0
	}
	m := session.NewMessage([]byte(topic), payload, e.routeQoS(qos), retain)
	e.withForeignLoop(func(ls *loopState) {
		m.TraceID = ls.tracePublishAPI(m.QoS)
		e.publishMessage(ls, m)
	})
	return m.TraceID
}

// PublishTo queues a message for clientID's session alone, at qos capped
// by -max-qos but at least 1 (a session's queue holds QoS 1 and 2 only),
// and reports false when there is no session; traceID is as Publish's.
// Safe for concurrent use.
func (e *Engine) PublishTo(clientID, topic string, payload []byte, qos byte) (traceID uint64, ok bool) {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return 0, false
	}
	m := session.NewMessage([]byte(topic), payload, max(e.routeQoS(qos), 1), false)
	e.withForeignLoop(func(ls *loopState) {
		m.TraceID = ls.tracePublishAPI(m.QoS)
		ls.enqueue(s, session.Queued{Msg: m, QoS: m.QoS})
	})
	return m.TraceID, true
}

// Subscribe adds filter at qos to clientID's session as a SUBSCRIBE would:
// on the connection's loop when the client is connected (sending the
// retained messages the filter matches), at once for an offline session.
// The QoS granted is at most -max-qos [MQTT5-3.2.2-10], and
// -max-subscriptions applies. It reports false when there is no session,
// and for a filter CheckSubscribe refuses. A shared one gets no retained
// messages. Safe for concurrent use.
func (e *Engine) Subscribe(clientID, filter string, qos byte) bool {
	if e.CheckSubscribe(filter) != nil {
		return false
	}
	return e.changeSubscription(clientID, filter, min(qos, e.maxQoS()), true)
}

// Unsubscribe removes filter from clientID's session, like Subscribe. Safe
// for concurrent use.
func (e *Engine) Unsubscribe(clientID, filter string) bool {
	return e.changeSubscription(clientID, filter, 0, false)
}

func (e *Engine) changeSubscription(clientID, filter string, qos byte, add bool) bool {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return false
	}
	if c := s.Owner(); c != nil {
		c.ls.loop.Execute(func() {
			if c.state != stateConnected || c.sess != s {
				return // closed meanwhile: the session is offline or gone
			}
			if e.applySubscription(s, filter, qos, add) {
				s.Save()
				if add && !isShared(filter) { // none for a shared subscription [MQTT5-4.8.2]
					c.sendRetained(filter, qos)
				}
			}
			c.ls.touch(c)
			c.ls.flush()
		})
		return true
	}
	// Offline: no loop owns the session; change it while no CONNECT can
	// attach it. If one is attaching, it is as if the request came just
	// before it.
	s.WhileOffline(func() { e.applySubscription(s, filter, qos, add) })
	return true
}

// applySubscription changes s and the router, and reports whether anything
// changed. Loop-only (the loop owning s), or inside s.WhileOffline.
func (e *Engine) applySubscription(s *clientSession, filter string, qos byte, add bool) bool {
	if !add {
		if !s.Unsubscribe(filter) {
			return false
		}
		e.router.remove(filter, s)
		e.stats.Subscriptions.Add(-1)
		return true
	}
	subs := s.Subscriptions()
	if len(subs) >= e.cfg.MaxSubscriptions && !hasFilter(subs, filter) {
		return false
	}
	if s.Subscribe(session.Subscription{TopicFilter: filter, QoS: qos}) {
		e.stats.Subscriptions.Add(1)
	}
	e.router.add(filter, s, qos, nil) // an operator's subscription: no ACL applies
	return true
}

// Will returns the will message of clientID's current connection, nil when
// it has none; connected is false when the client is not connected. It
// reads the connection's published description and never waits on a loop.
// Safe for concurrent use.
func (e *Engine) Will(clientID string) (w *session.Message, connected bool) {
	s := e.reg.Lookup(clientID)
	if s == nil || s.Owner() == nil {
		return nil, false
	}
	m := s.Meta()
	if m == nil {
		return nil, false
	}
	return m.Will, true // the Message is immutable: safe to share
}

// DeleteSession closes clientID's connection, if any, with reason kicked
// (publishing its will), then deletes the session with its subscriptions
// and queued messages. It reports false when there is no session. Safe for
// concurrent use.
func (e *Engine) DeleteSession(clientID string) bool {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return false
	}
	if c := s.Owner(); c != nil {
		c.closeReason.CompareAndSwap(0, uint32(session.ReasonKicked))
		c.ls.loop.Execute(func() {
			c.closeWith(session.ReasonKicked, "", true)
			c.ls.flush()
			if s.EndIfIdle() {
				e.dropSession(s)
			}
		})
		return true
	}
	if s.EndIfIdle() {
		e.dropSession(s)
	}
	return true
}
