package broker

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// netLoop is a Loop on a goroutine of its own, for connections served with
// Go's net package (TLS, WebSocket). Execute never blocks the caller.
type netLoop struct {
	mu    sync.Mutex
	queue []func()
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}
	h     *LoopHandle
}

func newNetLoop() *netLoop {
	return &netLoop{wake: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
}

func (l *netLoop) Execute(fn func()) {
	l.mu.Lock()
	l.queue = append(l.queue, fn)
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *netLoop) run() {
	defer close(l.done)
	var batch []func()
	for {
		select {
		case <-l.wake:
		case <-l.stop:
			return
		}
		l.mu.Lock()
		batch, l.queue = l.queue, batch[:0]
		l.mu.Unlock()
		for i, fn := range batch {
			fn()
			batch[i] = nil
		}
	}
}

// stream is the byte stream under a net transport: a TCP or TLS connection,
// or a WebSocket carrying MQTT in binary messages.
type stream interface {
	io.ReadWriteCloser
}

// netTransport is a Transport over a stream. A reader goroutine hands input
// to the loop and waits until the loop has taken it (so a slow loop slows
// the reader, not memory); a writer goroutine drains output, so a slow
// socket never blocks the loop.
type netTransport struct {
	s        stream
	loop     *netLoop
	addr     string
	listener string // "tls", "ws" or "wss"
	cn       string // verified TLS client certificate common name

	in []byte // loop-owned

	mu      sync.Mutex
	out     []byte // pending output, guarded by mu
	writing atomic.Int64
	wake    chan struct{}
	closed  atomic.Bool
	once    sync.Once
}

func (t *netTransport) Peek() []byte { return t.in }

func (t *netTransport) Discard(n int) {
	t.in = t.in[n:]
	if len(t.in) == 0 {
		t.in = t.in[:0:0] // let a large read buffer go
	}
}

func (t *netTransport) Write(b []byte) error {
	if t.closed.Load() {
		return net.ErrClosed
	}
	t.mu.Lock()
	t.out = append(t.out, b...)
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default:
	}
	return nil
}

func (t *netTransport) OutboundBuffered() int {
	t.mu.Lock()
	n := len(t.out)
	t.mu.Unlock()
	return n + int(t.writing.Load())
}

// closeGrace bounds how long a closing connection may take to send what was
// written before Close (a CONNACK refusal code, a last ack).
const closeGrace = time.Second

// Close stops accepting writes; the writer sends what is pending (within
// closeGrace) and then closes the stream, which ends the reader.
func (t *netTransport) Close() {
	t.once.Do(func() {
		t.closed.Store(true)
		if d, ok := t.s.(interface{ SetWriteDeadline(time.Time) error }); ok {
			d.SetWriteDeadline(time.Now().Add(closeGrace))
		}
		select {
		case t.wake <- struct{}{}:
		default:
		}
	})
}

func (t *netTransport) RemoteAddr() string { return t.addr }

// Listener implements transportInfo.
func (t *netTransport) Listener() string { return t.listener }

// TLSCommonName implements transportInfo.
func (t *netTransport) TLSCommonName() string { return t.cn }

// transportInfo is implemented by transports that know more than bytes.
type transportInfo interface {
	Listener() string      // "tcp", "tls", "ws", "wss"
	TLSCommonName() string // verified client certificate CN, or ""
}

// serve runs the connection until it closes. It returns when the loop has
// been told.
func (t *netTransport) serve(e *Engine) {
	t.wake = make(chan struct{}, 1)
	opened := make(chan *Conn, 1)
	t.loop.Execute(func() { opened <- e.Open(t, t.loop.h) })
	c := <-opened
	go t.writer()
	buf := make([]byte, 32<<10)
	taken := make(chan struct{}, 1)
	for {
		n, err := t.s.Read(buf)
		if n > 0 {
			data := buf[:n]
			t.loop.Execute(func() {
				t.in = append(t.in, data...)
				if c.OnTraffic() || c.holdsTooMuch(len(t.in)) {
					t.Close()
				}
				taken <- struct{}{}
			})
			<-taken
		}
		if err != nil {
			t.Close()
			done := make(chan struct{})
			t.loop.Execute(func() {
				if errors.Is(err, io.EOF) || t.closed.Load() {
					err = nil // a peer's close, or ours: the reason is already known
				}
				c.OnClose(err)
				close(done)
			})
			<-done
			return
		}
	}
}

// writer sends output until Close, then drains what is left and closes the
// stream (which unblocks the reader).
func (t *netTransport) writer() {
	defer t.s.Close()
	var b []byte
	for range t.wake {
		for {
			t.mu.Lock()
			b, t.out = t.out, b[:0]
			t.writing.Store(int64(len(b)))
			t.mu.Unlock()
			if len(b) == 0 {
				break
			}
			if _, err := t.s.Write(b); err != nil {
				t.closed.Store(true)
				t.writing.Store(0)
				return
			}
		}
		t.writing.Store(0)
		if t.closed.Load() {
			return
		}
	}
}
