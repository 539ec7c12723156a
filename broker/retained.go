package broker

import (
	"sync"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// retainedStore holds the last retained message of each topic.
type retainedStore struct {
	mu sync.RWMutex
	m  map[string]*session.Message
}

// set stores m for its topic, or deletes the topic's retained message when
// m's payload is empty [MQTT-3.3.1-10]. It reports the change in count.
// persist, when not nil, is called under the lock, so the store sees changes
// to one topic in the order they happen. Safe for concurrent use.
func (r *retainedStore) set(m *session.Message, persist func(*session.Message)) (delta int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if persist != nil {
		persist(m)
	}
	_, had := r.m[string(m.Topic)]
	if len(m.Payload) == 0 {
		if had {
			delete(r.m, string(m.Topic))
			return -1
		}
		return 0
	}
	if r.m == nil {
		r.m = make(map[string]*session.Message)
	}
	r.m[string(m.Topic)] = m
	if had {
		return 0
	}
	return 1
}

// matching appends the retained messages whose topic matches filter.
// Safe for concurrent use.
func (r *retainedStore) matching(filter string, out []*session.Message) []*session.Message {
	r.mu.RLock()
	defer r.mu.RUnlock()
	for topic, m := range r.m {
		if codec.MatchTopic(filter, topic) {
			out = append(out, m)
		}
	}
	return out
}
