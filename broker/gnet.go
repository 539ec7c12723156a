package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/panjf2000/gnet/v2"
	"golang.org/x/sys/unix"
)

// Server runs an Engine behind a gnet TCP listener with one event loop per
// configured loop.
type Server struct {
	e      *Engine
	h      *gnetHandler
	addr   chan net.Addr
	done   chan error
	runErr error
}

// gnetHandler adapts gnet's callbacks to the Engine.
type gnetHandler struct {
	gnet.BuiltinEventEngine
	e     *Engine
	eng   gnet.Engine
	boot  chan struct{}
	mu    sync.Mutex
	loops map[gnet.EventLoop]*LoopHandle
}

// gnetLoop is a gnet event loop as the Engine's Loop.
type gnetLoop struct{ el gnet.EventLoop }

func (l gnetLoop) Execute(fn func()) {
	if err := l.el.Execute(context.Background(), gnet.RunnableFunc(func(context.Context) error {
		fn()
		return nil
	})); err != nil {
		// Only fails once the engine is stopping; the work is moot then.
		return
	}
}

// gnetLogger passes gnet's warnings and errors to slog's default logger at
// the same levels and drops its debug and informational lines. A fatal
// line is logged at level Error and ends the process, as gnet expects.
type gnetLogger struct{}

func (gnetLogger) Debugf(string, ...any)          {}
func (gnetLogger) Infof(string, ...any)           {}
func (gnetLogger) Warnf(format string, a ...any)  { slog.Warn("gnet: " + fmt.Sprintf(format, a...)) }
func (gnetLogger) Errorf(format string, a ...any) { slog.Error("gnet: " + fmt.Sprintf(format, a...)) }
func (gnetLogger) Fatalf(format string, a ...any) {
	slog.Error("gnet: " + fmt.Sprintf(format, a...))
	os.Exit(1)
}

// gnetTransport is a gnet connection as the Engine's Transport: 16 bytes,
// allocated with its Conn (gnetConn; the address lives in Conn.addr only).
type gnetTransport struct{ c gnet.Conn }

// gnetConn is a gnet connection's Conn and transport in one allocation:
// 224 bytes, the size class Conn alone needs, where two objects took 224
// and 16. Conn.t points into it, so the two live and die together.
type gnetConn struct {
	Conn
	tr gnetTransport
}

func (t *gnetTransport) Peek() []byte {
	b, _ := t.c.Peek(-1)
	return b
}
func (t *gnetTransport) Discard(n int) {
	if n > 0 {
		_, _ = t.c.Discard(n)
	}
}
func (t *gnetTransport) Write(b []byte) error {
	_, err := t.c.Write(b)
	return err
}
func (t *gnetTransport) OutboundBuffered() int { return t.c.OutboundBuffered() }
func (t *gnetTransport) Close()                { _ = t.c.Close() }

// RemoteAddr formats gnet's address of the peer as ip:port, allocating
// only the string (net.TCPAddr.String builds the IP's text first); the
// engine asks once, in Open, on the connection's loop.
func (t *gnetTransport) RemoteAddr() string {
	switch ra := t.c.RemoteAddr().(type) {
	case nil:
		return ""
	case *net.TCPAddr:
		ap := ra.AddrPort()
		if !ap.IsValid() {
			return ra.String()
		}
		var b [64]byte
		return string(netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()).AppendTo(b[:0]))
	default:
		return ra.String()
	}
}

// NewServer returns a server for e; Start begins listening on e's
// Config.Listen.
func NewServer(e *Engine) *Server {
	return &Server{e: e, h: &gnetHandler{e: e, boot: make(chan struct{}), loops: map[gnet.EventLoop]*LoopHandle{}},
		done: make(chan error, 1)}
}

// Start starts the engine and the listener, and returns once the listener is
// accepting connections (or failed to start).
func (s *Server) Start() error {
	s.e.Start()
	addr := "tcp://" + s.e.cfg.Listen
	go func() {
		s.done <- gnet.Run(s.h, addr,
			gnet.WithMulticore(true),
			gnet.WithNumEventLoop(s.e.cfg.loops()),
			gnet.WithTCPNoDelay(gnet.TCPNoDelay),
			gnet.WithReuseAddr(true),
			// With one loop, SO_REUSEPORT lets that loop accept by itself: no
			// separate acceptor goroutine blocking in epoll_wait beside it,
			// which on one core makes the two hand the processor back and
			// forth and delays CONNACKs by milliseconds.
			gnet.WithReusePort(s.e.cfg.loops() == 1),
			gnet.WithLockOSThread(false),
			gnet.WithLogger(gnetLogger{}),
		)
	}()
	select {
	case <-s.h.boot:
		return nil
	case err := <-s.done:
		if err == nil {
			err = errors.New("engine stopped")
		}
		return fmt.Errorf("broker: -listen %q: %w", s.e.cfg.Listen, err)
	}
}

// Addr returns the address the listener is bound to (useful with port 0).
func (s *Server) Addr() net.Addr {
	fd, err := s.h.eng.Dup()
	if err != nil {
		return nil
	}
	defer unix.Close(fd)
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return nil
	}
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	case *unix.SockaddrInet6:
		return &net.TCPAddr{IP: net.IP(a.Addr[:]), Port: a.Port}
	}
	return nil
}

// Engine returns the server's engine.
func (s *Server) Engine() *Engine { return s.e }

// Shutdown closes every client, then stops the listener and event loops.
func (s *Server) Shutdown(timeout time.Duration) error {
	s.e.Shutdown(timeout)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err := s.h.eng.Stop(ctx); err != nil {
		return fmt.Errorf("broker: stopping listener: %w", err)
	}
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (h *gnetHandler) OnBoot(eng gnet.Engine) gnet.Action {
	h.eng = eng
	deferAccept(eng)
	close(h.boot)
	return gnet.None
}

// deferAccept asks the kernel to hand over a connection only once its first
// bytes (the CONNECT) have arrived (TCP_DEFER_ACCEPT, as nginx's "deferred").
// An MQTT client always speaks first, so nothing waits longer; what changes
// is that the loop wakes once per new client instead of twice (once for the
// accept, once for the CONNECT), and finds the CONNECT already there. A
// client that connects and stays silent is handed over after about a second
// (one SYN-ACK retransmission) and then meets -connect-timeout as before.
// Linux only; elsewhere the option is absent and this does nothing.
func deferAccept(eng gnet.Engine) {
	fd, err := eng.Dup()
	if err != nil {
		return
	}
	defer unix.Close(fd)
	_ = setDeferAccept(fd)
}

func (h *gnetHandler) loop(el gnet.EventLoop) *LoopHandle {
	h.mu.Lock()
	defer h.mu.Unlock()
	lh := h.loops[el]
	if lh == nil {
		lh = h.e.BindLoop(gnetLoop{el})
		h.loops[el] = lh
	}
	return lh
}

func (h *gnetHandler) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	if !h.e.Admit() {
		return nil, gnet.Close // at -max-connections, or shutting down
	}
	gc := &gnetConn{tr: gnetTransport{c: c}}
	conn := h.e.openIn(&gc.Conn, &gc.tr, h.loop(c.EventLoop()))
	dropPeerAddr(c) // Open has formatted it into conn.addr (gnetaddr.go)
	c.SetContext(conn)
	return nil, gnet.None
}

func (h *gnetHandler) OnTraffic(c gnet.Conn) gnet.Action {
	conn, _ := c.Context().(*Conn)
	if conn == nil || conn.OnTraffic() || conn.holdsTooMuch(c.InboundBuffered()) {
		return gnet.Close
	}
	return gnet.None
}

func (h *gnetHandler) OnClose(c gnet.Conn, err error) gnet.Action {
	if conn, _ := c.Context().(*Conn); conn != nil {
		conn.OnClose(err)
	}
	return gnet.None
}
