package admin

import (
	"github.com/glassmq/glassmq/session"
)

// Operations is what the newer cloud actions change in the broker, beyond
// the reads of Broker. A Broker passed to New that also implements
// Operations serves them; otherwise those actions answer the vendor's
// internal error. Safe for concurrent use.
type Operations interface {
	// Publish publishes a message as the broker, routed to every matching
	// subscription; retain also stores (or, with an empty payload, clears)
	// the topic's retained message. topic must be a valid topic name. It
	// returns the message's trace ID, the one its trace events carry (0
	// when -message-trace does not trace it).
	Publish(topic string, payload []byte, qos byte, retain bool) (traceID uint64)
	// PublishTo queues a message for clientID's session alone, at qos (QoS 0
	// is sent at QoS 1: one client's queue is the only way to it), whether
	// or not the client is connected. It reports false when there is no
	// session; traceID is as Publish's.
	PublishTo(clientID, topic string, payload []byte, qos byte) (traceID uint64, ok bool)
	// Subscribe adds filter at qos to clientID's session (or changes the
	// QoS of an existing one), as a SUBSCRIBE from the client would, and
	// sends the matching retained messages if it is connected. It reports
	// false when there is no session. The change is made on the client's
	// event loop and may land just after Subscribe returns.
	Subscribe(clientID, filter string, qos byte) bool
	// Unsubscribe removes filter from clientID's session, like Subscribe.
	// It reports false when there is no session.
	Unsubscribe(clientID, filter string) bool
	// Will returns the will message of clientID's current connection (nil
	// when it has none; the Message is immutable); connected is false when
	// the client is not connected. It never waits on an event loop.
	Will(clientID string) (w *session.Message, connected bool)
	// DeleteSession closes the client's connection if it has one (reason
	// kicked, will published) and deletes its session: subscriptions and
	// queued messages are gone. It reports false when there is no session.
	DeleteSession(clientID string) bool
}

// Capabilities is implemented by an Operations whose broker refuses some
// operations for a capability it has off: a retained message, a wildcard
// or a shared subscription. The actions ask it before they act and answer
// a refusal with the vendor's "operation denied" and the error's text; the
// broker refuses such an operation anyway. Safe for concurrent use.
type Capabilities interface {
	CheckPublish(topic string, retain bool) error
	CheckSubscribe(filter string) error
}

// refusedByBroker returns the failure answering an operation that check
// says the broker refuses (see Capabilities), or the zero failure when it
// takes it or cannot say.
func (s *Server) refusedByBroker(check func(Capabilities) error) failure {
	c, ok := s.ops.(Capabilities)
	if !ok {
		return failure{}
	}
	if err := check(c); err != nil {
		return failure{code: tcOperationDenied, msg: "The broker refused the operation: " + err.Error() + "."}
	}
	return failure{}
}
