package broker

// Transport is one network connection as the Engine drives it. gnet is one
// implementation (gnet.go); listeners on Go's net package are others.
type Transport interface {
	// Peek returns all input buffered so far, valid until Discard or the
	// return from the callback that called it. Loop-only.
	Peek() []byte
	// Discard drops the first n buffered input bytes. Loop-only.
	Discard(n int)
	// Write writes b, buffering what the socket does not take now; b may be
	// reused when Write returns. Loop-only.
	Write(b []byte) error
	// OutboundBuffered returns the bytes written but not yet sent. Loop-only.
	OutboundBuffered() int
	// Close closes the connection; the transport then calls Conn.OnClose on
	// the connection's loop. Safe for concurrent use.
	Close()
	// RemoteAddr returns the peer's ip:port. Safe for concurrent use.
	RemoteAddr() string
}

// Loop runs functions on one event loop's goroutine, in the order given.
type Loop interface {
	// Execute runs fn later on the loop's goroutine. Safe for concurrent use.
	Execute(fn func())
}
