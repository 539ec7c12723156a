package broker

import (
	"github.com/glassmq/glassmq/session"
)

// This file is the engine's seam to the messages a cluster kept for the
// sessions of a node that died (cluster/orphan.go): while nobody held
// those sessions, messages matching them were kept apart; whoever rebuilds
// such a session delivers them to it alone, since every other local
// subscriber had them already.

// adoptWatcher is a Cluster that wants to know when the subscriptions of a
// session another node handed over, or that was rebuilt from the
// cluster's replica, enter the router: Adopting is called right before,
// and the function it returns right after. cluster.Router implements it.
type adoptWatcher interface {
	Adopting(clientID string) (done func())
}

// adopting tells the cluster that the subscriptions of clientID's adopted
// session are about to enter the router; call the returned function once
// they have. Safe for concurrent use.
func (e *Engine) adopting(clientID string) (done func()) {
	if w, ok := e.cluster.(adoptWatcher); ok {
		return w.Adopting(clientID)
	}
	return func() {}
}

// DeliverTo delivers messages to clientID's session alone: each calls
// deliver once per message, and the engine queues it on the session
// through the session's own subscriptions that match its topic (the
// highest QoS of them, downgraded as usual; not a shared one, whose group
// had the message through another member; not a No Local one for the
// session's own message [MQTT5-3.8.3-3]; only where the ACL lets the
// client receive the topic), as if routed to it. An expired message is
// left out. It returns how many messages it queued. The slices need stay
// valid only during deliver. Safe for concurrent use.
func (e *Engine) DeliverTo(clientID string, each func(deliver func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte))) int {
	n := 0
	e.withForeignLoop(func(ls *loopState) {
		s := e.reg.Lookup(clientID)
		if s == nil {
			return
		}
		var perms Permissions
		if e.auth != nil {
			perms = e.auth.For(s.Meta().Username, s.ClientID)
		}
		now := e.nowMillis()
		each(func(topic, payload, props []byte, qos byte, retain bool, expires int64, from []byte) {
			if expires != 0 && expires <= now {
				return
			}
			var keep func(sub *session.Subscription) bool
			if perms != nil {
				keep = func(sub *session.Subscription) bool {
					granted, filtered := perms.CanSubscribe(sub.TopicFilter)
					return granted && !filtered || perms.CanReceive(topic) // the ACL withholds the topic from a filtered subscription
				}
			}
			best, ok := matchQoS(s, topic, string(from) == clientID, keep) // v5.go
			if !ok {
				return
			}
			q := min(qos, best)
			if q == 0 {
				return // QoS 0 is not kept for anyone
			}
			msg := session.NewMessageProps(topic, payload, props, qos, false, expires)
			ls.enqueue(s, session.Queued{Msg: msg, QoS: q, Retain: retain && retainAsPublished(s, topic), Via: session.ViaNotShared})
			n++
		})
	})
	done := make(chan struct{})
	e.WhenRemoteDurable(func() { close(done) }) // -fsync always: in the store before the replay counts it
	<-done
	return n
}
