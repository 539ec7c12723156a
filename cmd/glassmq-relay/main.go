// Command glassmq-relay is the loopback baseline of glassmq-bench: a trivial
// gnet TCP forwarder that copies what "publisher" connections send to the
// "subscriber" connections of the same channel, doing no MQTT work beyond
// cutting the stream at packet boundaries (so that several publishers'
// packets do not interleave mid-packet). What it moves is what loopback and
// gnet can move; a broker cannot beat it.
//
// A client opens with one line, "RELAY PUB <channel>\n" or
// "RELAY SUB <channel>\n", and the relay answers "OK\n". After that a
// publisher's bytes go to every subscriber of its channel and a subscriber's
// bytes are discarded.
//
//	glassmq-relay -listen 127.0.0.1:1884 -loops 1
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/panjf2000/gnet/v2"
)

// channel is the subscribers of one channel name. subs is copy-on-write:
// registrations replace the slice, forwards read it without a lock.
type channel struct {
	subs atomic.Pointer[[]gnet.Conn]
}

// peer is a connection's state, owned by its event loop.
type peer struct {
	ch  *channel // nil until the hello line
	pub bool
}

type relay struct {
	gnet.BuiltinEventEngine
	mu       sync.Mutex // guards channels
	channels map[string]*channel
	eng      gnet.Engine
}

func (r *relay) OnBoot(eng gnet.Engine) gnet.Action {
	r.eng = eng
	return gnet.None
}

func (r *relay) OnOpen(c gnet.Conn) ([]byte, gnet.Action) {
	c.SetContext(&peer{})
	return nil, gnet.None
}

func (r *relay) OnClose(c gnet.Conn, _ error) gnet.Action {
	p, _ := c.Context().(*peer)
	if p == nil || p.ch == nil || p.pub {
		return gnet.None
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	old := *p.ch.subs.Load()
	subs := make([]gnet.Conn, 0, len(old))
	for _, s := range old {
		if s != c {
			subs = append(subs, s)
		}
	}
	p.ch.subs.Store(&subs)
	return gnet.None
}

func (r *relay) OnTraffic(c gnet.Conn) gnet.Action {
	p := c.Context().(*peer)
	if p.ch == nil {
		buf, _ := c.Peek(-1)
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if len(buf) > 1024 {
				return gnet.Close
			}
			return gnet.None
		}
		f := strings.Fields(string(buf[:i]))
		if len(f) != 3 || f[0] != "RELAY" || (f[1] != "PUB" && f[1] != "SUB") {
			c.Write([]byte("ERR want RELAY PUB|SUB <channel>\n"))
			return gnet.Close
		}
		_, _ = c.Discard(i + 1)
		p.pub = f[1] == "PUB"
		p.ch = r.join(f[2], c, !p.pub)
		_, _ = c.Write([]byte("OK\n"))
	}
	buf, _ := c.Peek(-1)
	if !p.pub {
		_, _ = c.Discard(len(buf))
		return gnet.None
	}
	n := 0 // whole packets only
	for n < len(buf) {
		size, err := codec.Frame(buf[n:], 0)
		if err != nil {
			return gnet.Close
		}
		if size == 0 {
			break
		}
		n += size
	}
	if n == 0 {
		return gnet.None
	}
	for _, s := range *p.ch.subs.Load() {
		if s.EventLoop() == c.EventLoop() {
			_, _ = s.Write(buf[:n])
		} else {
			_ = s.AsyncWrite(bytes.Clone(buf[:n]), nil)
		}
	}
	_, _ = c.Discard(n)
	return gnet.None
}

// join returns the channel called name, adding c to its subscribers when sub.
func (r *relay) join(name string, c gnet.Conn, sub bool) *channel {
	r.mu.Lock()
	defer r.mu.Unlock()
	ch := r.channels[name]
	if ch == nil {
		ch = &channel{}
		ch.subs.Store(&[]gnet.Conn{})
		r.channels[name] = ch
	}
	if sub {
		subs := append(append([]gnet.Conn{}, *ch.subs.Load()...), c)
		ch.subs.Store(&subs)
	}
	return ch
}

func main() {
	listen := flag.String("listen", "127.0.0.1:1884", "TCP `host:port` to listen on")
	loops := flag.Int("loops", 0, "event loops; 0 means one per CPU (GOMAXPROCS)")
	flag.Parse()
	r := &relay{channels: map[string]*channel{}}
	opts := []gnet.Option{gnet.WithMulticore(*loops != 1), gnet.WithReuseAddr(true),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay), gnet.WithReadBufferCap(256 << 10)}
	if *loops > 0 {
		opts = append(opts, gnet.WithNumEventLoop(*loops))
	}
	done := make(chan error, 1)
	go func() { done <- gnet.Run(r, "tcp://"+*listen, opts...) }()
	slog.Info("glassmq-relay listening", "addr", *listen)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	select {
	case err := <-done:
		fmt.Fprintf(os.Stderr, "glassmq-relay: %v\n", err)
		os.Exit(1)
	case <-sig:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = r.eng.Stop(ctx)
}
