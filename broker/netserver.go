package broker

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// NetServer serves MQTT over TLS and over WebSocket (plain and secure) with
// Go's net package, feeding the same Engine as the gnet listener. Create it
// with NewNetServer and start listeners with Start.
type NetServer struct {
	e      *Engine
	loops  []*netLoop
	next   atomic.Uint32
	mu     sync.Mutex
	closes []io.Closer
	conns  sync.WaitGroup
	addrs  map[string]net.Addr
}

// NewNetServer binds one goroutine-backed loop per core to e.
func NewNetServer(e *Engine) *NetServer {
	s := &NetServer{e: e, addrs: map[string]net.Addr{}}
	for i := 0; i < e.cfg.loops(); i++ {
		l := newNetLoop()
		l.h = e.BindLoop(l)
		s.loops = append(s.loops, l)
		go l.run()
	}
	return s
}

// TLSConfig builds the server TLS configuration from -tls-cert, -tls-key and
// -tls-client-ca.
func TLSConfig(c Config) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(c.TLSCert, c.TLSKey)
	if err != nil {
		return nil, fmt.Errorf("broker: -tls-cert %q / -tls-key %q: %w", c.TLSCert, c.TLSKey, err)
	}
	tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if c.TLSClientCA != "" {
		pem, err := os.ReadFile(c.TLSClientCA)
		if err != nil {
			return nil, fmt.Errorf("broker: -tls-client-ca %q: %w", c.TLSClientCA, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("broker: -tls-client-ca %q: no PEM certificates found", c.TLSClientCA)
		}
		tc.ClientCAs, tc.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return tc, nil
}

// Start opens the listeners the configuration names (-tls-listen,
// -ws-listen, -wss-listen).
func (s *NetServer) Start() error {
	c := s.e.cfg
	var tc *tls.Config
	if c.TLSListen != "" || c.WSSListen != "" {
		var err error
		if tc, err = TLSConfig(c); err != nil {
			return err
		}
	}
	if c.TLSListen != "" {
		ln, err := tls.Listen("tcp", c.TLSListen, tc)
		if err != nil {
			return fmt.Errorf("broker: -tls-listen %q: %w", c.TLSListen, err)
		}
		s.track("tls", ln.Addr(), ln)
		go s.acceptTLS(ln)
	}
	for _, w := range []struct {
		name, addr string
		tls        *tls.Config
	}{{"ws", c.WSListen, nil}, {"wss", c.WSSListen, tc}} {
		if w.addr == "" {
			continue
		}
		ln, err := net.Listen("tcp", w.addr)
		if err != nil {
			return fmt.Errorf("broker: -%s-listen %q: %w", w.name, w.addr, err)
		}
		if w.tls != nil {
			ln = tls.NewListener(ln, w.tls)
		}
		srv := &http.Server{Handler: s.wsHandler(w.name), ReadHeaderTimeout: 10 * time.Second}
		s.track(w.name, ln.Addr(), srv)
		go srv.Serve(ln)
	}
	return nil
}

func (s *NetServer) track(name string, a net.Addr, c io.Closer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.addrs[name] = a
	s.closes = append(s.closes, c)
}

// Addr returns the bound address of listener "tls", "ws" or "wss", or nil.
func (s *NetServer) Addr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[name]
}

func (s *NetServer) loop() *netLoop {
	return s.loops[int(s.next.Add(1))%len(s.loops)]
}

func (s *NetServer) acceptTLS(ln net.Listener) {
	for {
		raw, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			time.Sleep(10 * time.Millisecond) // e.g. EMFILE: do not spin
			continue
		}
		if !s.e.Admit() {
			raw.Close()
			continue
		}
		s.conns.Add(1)
		go func() {
			defer s.conns.Done()
			tc := raw.(*tls.Conn)
			tc.SetDeadline(time.Now().Add(s.e.cfg.ConnectTimeout))
			if err := tc.Handshake(); err != nil {
				tc.Close()
				s.e.Release()
				return
			}
			tc.SetDeadline(time.Time{})
			t := &netTransport{s: tc, loop: s.loop(), addr: raw.RemoteAddr().String(), listener: "tls", cn: peerCN(tc)}
			t.serve(s.e)
		}()
	}
}

func peerCN(tc *tls.Conn) string {
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 {
		return certs[0].Subject.CommonName
	}
	return ""
}

// wsHandler upgrades GET /mqtt to a WebSocket speaking subprotocol "mqtt"
// (or "mqttv3.1" for MQTT 3.1 clients) and serves MQTT over its binary
// messages.
func (s *NetServer) wsHandler(name string) http.Handler {
	up := websocket.Upgrader{
		Subprotocols:    []string{"mqtt", "mqttv3.1"},
		CheckOrigin:     func(*http.Request) bool { return true }, // browsers connect from any page; MQTT authenticates
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 16 << 10,
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/mqtt", func(w http.ResponseWriter, r *http.Request) {
		if !s.e.Admit() {
			http.Error(w, "broker: not accepting connections", http.StatusServiceUnavailable)
			return
		}
		ws, err := up.Upgrade(w, r, nil)
		if err != nil {
			s.e.Release()
			return // Upgrade has answered the client
		}
		if ws.Subprotocol() == "" {
			ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseProtocolError, "subprotocol mqtt required"), time.Now().Add(time.Second))
			ws.Close()
			s.e.Release()
			return
		}
		cn := ""
		if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
			cn = r.TLS.PeerCertificates[0].Subject.CommonName
		}
		s.conns.Add(1)
		defer s.conns.Done()
		t := &netTransport{s: &wsStream{ws: ws}, loop: s.loop(), addr: r.RemoteAddr, listener: name, cn: cn}
		t.serve(s.e)
	})
	return mux
}

// Shutdown closes the listeners, has the Engine close every client (its
// Shutdown is idempotent, and needs these loops running), waits up to
// timeout for connection goroutines, and stops the loops.
func (s *NetServer) Shutdown(timeout time.Duration) {
	s.e.Shutdown(timeout)
	s.mu.Lock()
	for _, c := range s.closes {
		c.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.conns.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(timeout):
	}
	for _, l := range s.loops {
		close(l.stop)
		<-l.done
	}
}

// wsStream is a byte stream over WebSocket binary messages: MQTT packets
// may span or share messages [MQTT-6.0.0-2/3].
type wsStream struct {
	ws       *websocket.Conn
	cur      io.Reader
	wmu      sync.Mutex
	deadline atomic.Int64 // unix ns write deadline, 0 for none
}

func (w *wsStream) Read(p []byte) (int, error) {
	for {
		if w.cur != nil {
			n, err := w.cur.Read(p)
			if err == io.EOF {
				w.cur = nil
				if n > 0 {
					return n, nil
				}
				continue
			}
			return n, err
		}
		mt, r, err := w.ws.NextReader()
		if err != nil {
			return 0, err
		}
		if mt != websocket.BinaryMessage { // [MQTT-6.0.0-1]
			return 0, errors.New("broker: websocket text message; MQTT needs binary messages")
		}
		w.cur = r
	}
}

func (w *wsStream) Write(p []byte) (int, error) {
	w.wmu.Lock()
	defer w.wmu.Unlock()
	if d := w.deadline.Load(); d != 0 {
		w.ws.SetWriteDeadline(time.Unix(0, d))
	}
	if err := w.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

// SetWriteDeadline bounds later writes and one in progress. Safe beside
// Write (gorilla's own SetWriteDeadline is not).
func (w *wsStream) SetWriteDeadline(t time.Time) error {
	w.deadline.Store(t.UnixNano())
	return w.ws.NetConn().SetWriteDeadline(t)
}

// Close sends a WebSocket close frame (normal closure), then closes the
// connection.
func (w *wsStream) Close() error {
	w.wmu.Lock()
	w.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""),
		time.Now().Add(closeGrace))
	w.wmu.Unlock()
	return w.ws.Close()
}
