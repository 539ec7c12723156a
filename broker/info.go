package broker

import (
	"github.com/glassmq/glassmq/session"
)

// SessionInfo fills dst with the session of clientID and reports whether
// there is one. It never blocks on an event loop. Safe for concurrent use.
func (e *Engine) SessionInfo(clientID string, dst *session.Info) bool {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return false
	}
	s.Info(dst)
	if c := s.Owner(); c != nil {
		dst.RetainedBacklog = c.RetainedBacklog()
	}
	return true
}

// RangeSessions calls fn for every session until fn returns false; order
// unspecified. Safe for concurrent use.
func (e *Engine) RangeSessions(fn func(clientID string, connected bool) bool) {
	e.reg.Range(func(s *clientSession) bool { return fn(s.ClientID, s.IsConnected()) })
}

// Kick closes the client's connection with reason kicked, publishing its
// will when publishWill is true. It reports false when the client is not
// connected. Safe for concurrent use.
func (e *Engine) Kick(clientID string, publishWill bool) bool {
	s := e.reg.Lookup(clientID)
	if s == nil {
		return false
	}
	c := s.Owner()
	if c == nil || !c.closeReason.CompareAndSwap(0, uint32(session.ReasonKicked)) {
		return false
	}
	c.ls.loop.Execute(func() {
		c.closeWith(session.ReasonKicked, "", publishWill)
		c.ls.flush()
	})
	return true
}
