package broker

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/glassmq/glassmq/auth"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
	"github.com/xdg-go/scram"
)

// scramAuth is what cmd/glassmq passes to SetEnhancedAuth: SCRAM-SHA-256
// against an auth.Checker's password file.
type scramAuth struct{ *auth.Checker }

func (a scramAuth) Start(method string) AuthExchange {
	if method != auth.SCRAMSHA256 {
		return nil
	}
	if s := a.StartSCRAM(); s != nil {
		return s
	}
	return nil
}

// Users of the password file the SCRAM tests write with glassmq passwd.
const (
	daveSCRAM  = "d4ve-pw"  // dave: SCRAM-SHA-256 entry
	aliceBcryp = "alice-pw" // alice: bcrypt entry, which SCRAM cannot use
)

// setPassword runs "glassmq passwd" on file, as an operator would.
func setPassword(t testing.TB, file, user, password string, args ...string) {
	t.Helper()
	var out, errOut bytes.Buffer
	args = append(args, file, user)
	if code := auth.RunPasswd(args, strings.NewReader(password+"\n"), &out, &errOut); code != 0 {
		t.Fatalf("glassmq passwd %q: status %d: %s", args, code, errOut.String())
	}
}

// startSCRAMBroker starts a broker whose password file on disk holds dave
// (SCRAM-SHA-256) and alice (bcrypt), offering SCRAM-SHA-256 to 5.0
// clients as cmd/glassmq does. It returns the checker, for Reload, and the
// file's path.
func startSCRAMBroker(t testing.TB, mod func(*Config)) (*Server, *auth.Checker, string) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "passwd")
	setPassword(t, file, "dave", daveSCRAM, "-hash", "scram-sha-256")
	setPassword(t, file, "alice", aliceBcryp, "-cost", "4")
	checker, err := auth.Load(auth.Options{PasswordFile: file})
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.Loops = 2
	cfg.DataDir = t.TempDir()
	cfg.SysInterval = 0
	cfg.LogInterval = time.Hour
	if mod != nil {
		mod(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("config: %v", err)
	}
	e := NewEngine(cfg)
	e.SetAuthorizer(checkerAuth{checker})
	e.SetEnhancedAuth(scramAuth{checker})
	s := NewServer(e)
	if err := s.Start(); err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Shutdown(5 * time.Second); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return s, checker, file
}

// read5 reads one whole packet framed at level 5, where type 15 is AUTH.
func (r *rawClient) read5() []byte {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if n, err := codec.FrameV(r.buf, 0, 5); err != nil {
			r.t.Fatalf("frame % x: %v", r.buf, err)
		} else if n > 0 {
			p := append([]byte(nil), r.buf[:n]...)
			r.buf = r.buf[n:]
			return p
		}
		r.c.SetReadDeadline(deadline)
		tmp := make([]byte, 4096)
		n, err := r.c.Read(tmp)
		r.buf = append(r.buf, tmp[:n]...)
		if err != nil && n == 0 {
			r.t.Fatalf("read packet: %v", err)
		}
	}
}

// readAuth reads an AUTH and checks its reason code and that it names
// SCRAM-SHA-256 [MQTT5-4.12.0-5]; it returns the Authentication Data.
func (r *rawClient) readAuth(rc codec.ReasonCode) string {
	r.t.Helper()
	b := r.read5()
	var a codec.Auth
	if _, err := a.Decode(b); err != nil || a.ReasonCode != rc {
		r.t.Fatalf("got % x (err %v), want AUTH %#02x", b, err, byte(rc))
	}
	if string(a.Props.AuthMethod) != auth.SCRAMSHA256 { // [MQTT5-4.12.0-5]
		r.t.Fatalf("AUTH method %q, want SCRAM-SHA-256 [MQTT5-4.12.0-5]", a.Props.AuthMethod)
	}
	return string(a.Props.AuthData)
}

// readConnack5 reads a CONNACK in 5.0 form.
func (r *rawClient) readConnack5() codec.Connack {
	r.t.Helper()
	b := r.read5()
	var ack codec.Connack
	if _, err := ack.DecodeV(b, 5); err != nil {
		r.t.Fatalf("got % x, want a 5.0 CONNACK: %v", b, err)
	}
	ack.Props = ack.Props.Clone()
	return ack
}

// readDisconnect5 reads a server DISCONNECT and returns its reason code.
func (r *rawClient) readDisconnect5() codec.ReasonCode {
	r.t.Helper()
	b := r.read5()
	var d codec.Disconnect
	if _, err := d.DecodeV(b, 5); err != nil || codec.PacketType(b) != codec.TypeDisconnect {
		r.t.Fatalf("got % x (err %v), want DISCONNECT", b, err)
	}
	return d.ReasonCode
}

// sendAuth sends an AUTH with reason rc, method and data.
func (r *rawClient) sendAuth(rc codec.ReasonCode, method, data string) {
	r.t.Helper()
	var pr codec.Properties
	pr.AuthMethod = []byte(method)
	pr.Set(codec.PropAuthMethod)
	if data != "" {
		pr.AuthData = []byte(data)
		pr.Set(codec.PropAuthData)
	}
	r.send(codec.AppendAuth(nil, rc, &pr))
}

// sendConnectAuth sends a 5.0 CONNECT for id with Authentication Method
// method and data, and user as User Name when not "".
func (r *rawClient) sendConnectAuth(id, method, data, user string) {
	r.t.Helper()
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte(id), KeepAlive: 60}
	p.Props.AuthMethod = []byte(method)
	p.Props.Set(codec.PropAuthMethod)
	if data != "" {
		p.Props.AuthData = []byte(data)
		p.Props.Set(codec.PropAuthData)
	}
	if user != "" {
		p.UsernameFlag, p.Username = true, []byte(user)
	}
	r.send(codec.AppendConnect(nil, p))
}

// scramClient is the client side of one SCRAM-SHA-256 conversation, by
// the library the broker's side uses too.
func scramClient(t testing.TB, user, password string) *scram.ClientConversation {
	t.Helper()
	c, err := scram.SHA256.NewClient(user, password, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.NewConversation()
}

// step is conv.Step failing the test on error.
func step(t testing.TB, conv *scram.ClientConversation, in string) string {
	t.Helper()
	out, err := conv.Step(in)
	if err != nil {
		t.Fatalf("SCRAM client step on %q: %v", in, err)
	}
	return out
}

// scramConnect runs CONNECT, AUTH 0x18 from the server, AUTH 0x18 from the
// client, and returns the CONNACK and the client conversation.
func (r *rawClient) scramConnect(id, user, password string) (codec.Connack, *scram.ClientConversation) {
	r.t.Helper()
	conv := scramClient(r.t, user, password)
	r.sendConnectAuth(id, auth.SCRAMSHA256, step(r.t, conv, ""), "")
	serverFirst := r.readAuth(codec.ReasonContinueAuthentication) // [MQTT5-4.12.0-2]
	r.sendAuth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, step(r.t, conv, serverFirst))
	return r.readConnack5(), conv
}

// reauth runs a re-authentication from AUTH 0x19 up to the client-final
// message and returns the conversation; the server's answer is next.
func (r *rawClient) reauth(user, password string) *scram.ClientConversation {
	r.t.Helper()
	conv := scramClient(r.t, user, password)
	r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, step(r.t, conv, ""))
	serverFirst := r.readAuth(codec.ReasonContinueAuthentication)
	r.sendAuth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, step(r.t, conv, serverFirst))
	return conv
}

func TestEnhancedAuthSCRAM(t *testing.T) {
	s, _, _ := startSCRAMBroker(t, nil)
	t.Run("success: CONNACK 0x00 with the method and server-final [MQTT5-4.12.0-5]", func(t *testing.T) {
		r := dialRaw(t, s)
		ack, conv := r.scramConnect("scram-ok", "dave", daveSCRAM)
		if ack.ReturnCode != 0 || string(ack.Props.AuthMethod) != auth.SCRAMSHA256 {
			t.Fatalf("CONNACK %#02x, method %q; want 0x00, SCRAM-SHA-256", ack.ReturnCode, ack.Props.AuthMethod)
		}
		// The client checks the server's signature: the broker holds dave's keys.
		if _, err := conv.Step(string(ack.Props.AuthData)); err != nil || !conv.Valid() {
			t.Fatalf("server-final %q: %v, want a valid server signature", ack.Props.AuthData, err)
		}
		r.sendHex("c0 00") // PINGREQ: the client is connected
		r.expectPacket("d0 00")
		var info session.Info
		if !s.Engine().SessionInfo("scram-ok", &info) {
			t.Fatal("no session")
		}
		if info.Username != "dave" || !info.Authenticated || info.AuthMethod != auth.SCRAMSHA256 {
			t.Fatalf("info: user %q, authenticated %v, method %q; want dave, true, SCRAM-SHA-256",
				info.Username, info.Authenticated, info.AuthMethod)
		}
		// AUTH packets are counted like every other type, the exchange's too.
		if got, want := info.Received.String(), "CONNECT/0:1 PINGREQ/0:1 AUTH/0:1"; got != want {
			t.Errorf("received %q, want %q", got, want)
		}
		if got, want := info.Sent.String(), "CONNACK/0:1 PINGRESP/0:1 AUTH/0:1"; got != want {
			t.Errorf("sent %q, want %q", got, want)
		}
	})
	for _, tc := range []struct{ name, user, password string }{
		{"MQTT5-4.12.0-4 wrong password gets CONNACK 0x86", "dave", "wrong"},
		{"MQTT5-4.12.0-4 unknown user gets CONNACK 0x86 after the whole exchange", "mallory", "x"},
		{"MQTT5-4.12.0-4 bcrypt entry cannot use SCRAM: CONNACK 0x86", "alice", aliceBcryp},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, s)
			ack, _ := r.scramConnect("scram-bad", tc.user, tc.password)
			if ack.ReturnCode != byte(codec.ReasonBadUserNameOrPassword) || ack.Props.Has(codec.PropAuthData) {
				t.Fatalf("CONNACK %#02x with data %q, want 0x86 without", ack.ReturnCode, ack.Props.AuthData)
			}
			r.expectClosed(5 * time.Second)
			if s.Engine().SessionInfo("scram-bad", new(session.Info)) {
				t.Fatal("a refused client has a session")
			}
		})
	}
	t.Run("MQTT5-4.12.0-1 unknown method gets CONNACK 0x8C and close", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendConnectAuth("scram-method", "SCRAM-SHA-1", "n,,n=dave,r=abc", "")
		if ack := r.readConnack5(); ack.ReturnCode != byte(codec.ReasonBadAuthenticationMethod) {
			t.Fatalf("CONNACK %#02x, want 0x8C", ack.ReturnCode)
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("CONNECT User Name other than the proven user gets 0x86", func(t *testing.T) {
		r := dialRaw(t, s)
		conv := scramClient(t, "dave", daveSCRAM)
		r.sendConnectAuth("scram-names", auth.SCRAMSHA256, step(t, conv, ""), "alice")
		first := r.readAuth(codec.ReasonContinueAuthentication)
		r.sendAuth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, step(t, conv, first))
		if ack := r.readConnack5(); ack.ReturnCode != byte(codec.ReasonBadUserNameOrPassword) {
			t.Fatalf("CONNACK %#02x, want 0x86", ack.ReturnCode)
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("malformed client-first gets 0x86", func(t *testing.T) {
		r := dialRaw(t, s)
		r.sendConnectAuth("scram-garbage", auth.SCRAMSHA256, "garbage", "")
		if ack := r.readConnack5(); ack.ReturnCode != byte(codec.ReasonBadUserNameOrPassword) {
			t.Fatalf("CONNACK %#02x, want 0x86", ack.ReturnCode)
		}
		r.expectClosed(5 * time.Second)
	})
}

// TestEnhancedAuthDuringExchange: until CONNACK the client may send AUTH
// 0x18 with the CONNECT's method, or DISCONNECT; anything else closes the
// connection with CONNACK 0x82.
func TestEnhancedAuthDuringExchange(t *testing.T) {
	s, _, _ := startSCRAMBroker(t, nil)
	started := func(t *testing.T) (*rawClient, *scram.ClientConversation, string) {
		r := dialRaw(t, s)
		conv := scramClient(t, "dave", daveSCRAM)
		r.sendConnectAuth("scram-x", auth.SCRAMSHA256, step(t, conv, ""), "")
		return r, conv, r.readAuth(codec.ReasonContinueAuthentication)
	}
	refused := func(t *testing.T, r *rawClient, want codec.ReasonCode) {
		t.Helper()
		if ack := r.readConnack5(); ack.ReturnCode != byte(want) {
			t.Fatalf("CONNACK %#02x, want %#02x", ack.ReturnCode, byte(want))
		}
		r.expectClosed(5 * time.Second)
	}
	t.Run("MQTT5-3.1.2-30 PINGREQ before CONNACK gets 0x82", func(t *testing.T) {
		r, _, _ := started(t)
		r.sendHex("c0 00")
		refused(t, r, codec.ReasonProtocolError)
	})
	t.Run("MQTT5-3.1.2-30 SUBSCRIBE before CONNACK gets 0x82", func(t *testing.T) {
		r, _, _ := started(t)
		r.send(codec.AppendSubscribeV5(nil, 1, &codec.Properties{}, []codec.Subscription{{TopicFilter: []byte("a")}}))
		refused(t, r, codec.ReasonProtocolError)
	})
	t.Run("MQTT5-4.12.0-5 another method in AUTH gets 0x82", func(t *testing.T) {
		r, conv, first := started(t)
		r.sendAuth(codec.ReasonContinueAuthentication, "SCRAM-SHA-1", step(t, conv, first))
		refused(t, r, codec.ReasonProtocolError)
	})
	t.Run("MQTT5-4.12.0-3 AUTH 0x19 before CONNACK gets 0x82", func(t *testing.T) {
		r, conv, first := started(t)
		r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, step(t, conv, first))
		refused(t, r, codec.ReasonProtocolError)
	})
	t.Run("MQTT5-3.15.1-1 AUTH with bad flags gets 0x81", func(t *testing.T) {
		r, _, _ := started(t)
		r.sendHex("f1 00")
		refused(t, r, codec.ReasonMalformedPacket)
	})
	t.Run("DISCONNECT ends the exchange", func(t *testing.T) {
		r, _, _ := started(t)
		r.sendHex("e0 00")
		r.expectClosed(5 * time.Second)
	})
}

// TestEnhancedAuthConnectTimeout: -connect-timeout covers the whole
// exchange, not only the CONNECT: a client that stops after the server's
// first AUTH is closed.
func TestEnhancedAuthConnectTimeout(t *testing.T) {
	s, _, _ := startSCRAMBroker(t, func(c *Config) { c.ConnectTimeout = 200 * time.Millisecond })
	r := dialRaw(t, s)
	conv := scramClient(t, "dave", daveSCRAM)
	r.sendConnectAuth("scram-slow", auth.SCRAMSHA256, step(t, conv, ""), "")
	r.readAuth(codec.ReasonContinueAuthentication)
	r.expectClosed(20 * time.Second)
}

func TestEnhancedAuthReauth(t *testing.T) {
	s, _, _ := startSCRAMBroker(t, nil)
	connected := func(t *testing.T, id string) *rawClient {
		r := dialRaw(t, s)
		if ack, _ := r.scramConnect(id, "dave", daveSCRAM); ack.ReturnCode != 0 {
			t.Fatalf("CONNACK %#02x, want 0x00", ack.ReturnCode)
		}
		return r
	}
	t.Run("MQTT5-4.12.1-1 success gets AUTH 0x00 with server-final", func(t *testing.T) {
		r := connected(t, "reauth-ok")
		conv := scramClient(t, "dave", daveSCRAM)
		r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, step(t, conv, ""))
		first := r.readAuth(codec.ReasonContinueAuthentication)
		r.sendHex("c0 00") // other packets flow during a re-authentication
		r.expectPacket("d0 00")
		r.sendAuth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, step(t, conv, first))
		final := r.readAuth(codec.ReasonSuccess)
		if _, err := conv.Step(final); err != nil || !conv.Valid() {
			t.Fatalf("server-final %q: %v", final, err)
		}
		r.sendHex("c0 00")
		r.expectPacket("d0 00")
		var info session.Info
		s.Engine().SessionInfo("reauth-ok", &info)
		if got, want := info.Received.String(), "CONNECT/0:1 PINGREQ/0:2 AUTH/0:3"; got != want {
			t.Errorf("received %q, want %q", got, want)
		}
		if got, want := info.Sent.String(), "CONNACK/0:1 PINGRESP/0:2 AUTH/0:3"; got != want {
			t.Errorf("sent %q, want %q", got, want)
		}
	})
	t.Run("MQTT5-4.12.1-2 wrong password gets DISCONNECT 0x87", func(t *testing.T) {
		r := connected(t, "reauth-bad")
		r.reauth("dave", "wrong")
		if rc := r.readDisconnect5(); rc != codec.ReasonNotAuthorized {
			t.Fatalf("DISCONNECT %#02x, want 0x87", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-4.12.1-2 another user gets DISCONNECT 0x87", func(t *testing.T) {
		r := connected(t, "reauth-other")
		r.reauth("alice", aliceBcryp) // alice cannot prove herself by SCRAM either
		if rc := r.readDisconnect5(); rc != codec.ReasonNotAuthorized {
			t.Fatalf("DISCONNECT %#02x, want 0x87", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("MQTT5-4.12.1-1 another method gets DISCONNECT 0x82", func(t *testing.T) {
		r := connected(t, "reauth-method")
		r.sendAuth(codec.ReasonReAuthenticate, "SCRAM-SHA-1", "n,,n=dave,r=abc")
		if rc := r.readDisconnect5(); rc != codec.ReasonProtocolError {
			t.Fatalf("DISCONNECT %#02x, want 0x82", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("AUTH 0x19 during a re-authentication gets DISCONNECT 0x82", func(t *testing.T) {
		r := connected(t, "reauth-twice")
		conv := scramClient(t, "dave", daveSCRAM)
		first := step(t, conv, "")
		r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, first)
		r.readAuth(codec.ReasonContinueAuthentication)
		r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, first)
		if rc := r.readDisconnect5(); rc != codec.ReasonProtocolError {
			t.Fatalf("DISCONNECT %#02x, want 0x82", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("AUTH 0x00 from a client gets DISCONNECT 0x82", func(t *testing.T) {
		r := connected(t, "reauth-success")
		r.sendAuth(codec.ReasonSuccess, auth.SCRAMSHA256, "")
		if rc := r.readDisconnect5(); rc != codec.ReasonProtocolError {
			t.Fatalf("DISCONNECT %#02x, want 0x82", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("AUTH 0x18 without a re-authentication gets DISCONNECT 0x82", func(t *testing.T) {
		r := connected(t, "reauth-continue")
		r.sendAuth(codec.ReasonContinueAuthentication, auth.SCRAMSHA256, "c=biws,r=x,p=AAAA")
		if rc := r.readDisconnect5(); rc != codec.ReasonProtocolError {
			t.Fatalf("DISCONNECT %#02x, want 0x82", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
}

// TestEnhancedAuthNotUsed: a client that connected without an
// Authentication Method gets no AUTH and no method in CONNACK
// [MQTT5-4.12.0-6], and its AUTH is a protocol error [MQTT5-4.12.0-7]; a
// plain password is checked against a SCRAM entry by deriving its keys.
func TestEnhancedAuthNotUsed(t *testing.T) {
	s, _, _ := startSCRAMBroker(t, nil)
	plain := func(t *testing.T, id, user, password string) (*rawClient, codec.Connack) {
		r := dialRaw(t, s)
		p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 5, CleanSession: true, ClientID: []byte(id),
			UsernameFlag: true, Username: []byte(user), PasswordFlag: true, Password: []byte(password)}
		r.send(codec.AppendConnect(nil, p))
		return r, r.readConnack5()
	}
	t.Run("MQTT5-4.12.0-7 AUTH without a method at CONNECT gets DISCONNECT 0x82", func(t *testing.T) {
		r, ack := plain(t, "plain-auth", "dave", daveSCRAM)
		if ack.ReturnCode != 0 || ack.Props.Has(codec.PropAuthMethod) { // [MQTT5-4.12.0-6]
			t.Fatalf("CONNACK %#02x, method %q; want 0x00 without a method", ack.ReturnCode, ack.Props.AuthMethod)
		}
		r.sendAuth(codec.ReasonReAuthenticate, auth.SCRAMSHA256, "n,,n=dave,r=abc")
		if rc := r.readDisconnect5(); rc != codec.ReasonProtocolError {
			t.Fatalf("DISCONNECT %#02x, want 0x82", byte(rc))
		}
		r.expectClosed(5 * time.Second)
	})
	t.Run("plain password against a SCRAM entry", func(t *testing.T) {
		r, ack := plain(t, "plain-ok", "dave", daveSCRAM)
		if ack.ReturnCode != 0 {
			t.Fatalf("CONNACK %#02x, want 0x00", ack.ReturnCode)
		}
		r.sendHex("c0 00")
		r.expectPacket("d0 00")
		if _, ack := plain(t, "plain-bad", "dave", daveSCRAM+"x"); ack.ReturnCode != byte(codec.ReasonBadUserNameOrPassword) {
			t.Fatalf("wrong password: CONNACK %#02x, want 0x86", ack.ReturnCode)
		}
		r3 := dialRaw(t, s) // 3.1.1 too
		r3.send(codec.AppendConnect(nil, &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4, CleanSession: true,
			ClientID: []byte("plain-311"), UsernameFlag: true, Username: []byte("dave"), PasswordFlag: true, Password: []byte(daveSCRAM)}))
		r3.expectPacket("20 02 00 00")
	})
	t.Run("MQTT5-4.12.0-1 without a password file every method gets 0x8C", func(t *testing.T) {
		plainBroker := startBroker(t, nil)
		r := dialRaw(t, plainBroker)
		r.sendConnectAuth("no-file", auth.SCRAMSHA256, "n,,n=dave,r=abc", "")
		if ack := r.readConnack5(); ack.ReturnCode != byte(codec.ReasonBadAuthenticationMethod) {
			t.Fatalf("CONNACK %#02x, want 0x8C", ack.ReturnCode)
		}
		r.expectClosed(5 * time.Second)
	})
}

// TestEnhancedAuthReload: a reload of the password file (what SIGHUP
// does) applies to the SCRAM conversations that start after it.
func TestEnhancedAuthReload(t *testing.T) {
	s, checker, file := startSCRAMBroker(t, nil)
	setPassword(t, file, "dave", "n3w-pw", "-hash", "scram-sha-256", "-iterations", "8192")
	if err := checker.Reload(); err != nil {
		t.Fatal(err)
	}
	r := dialRaw(t, s)
	if ack, _ := r.scramConnect("reload-old", "dave", daveSCRAM); ack.ReturnCode != byte(codec.ReasonBadUserNameOrPassword) {
		t.Fatalf("old password after reload: CONNACK %#02x, want 0x86", ack.ReturnCode)
	}
	r = dialRaw(t, s)
	ack, conv := r.scramConnect("reload-new", "dave", "n3w-pw")
	if ack.ReturnCode != 0 {
		t.Fatalf("new password after reload: CONNACK %#02x, want 0x00", ack.ReturnCode)
	}
	if _, err := conv.Step(string(ack.Props.AuthData)); err != nil {
		t.Fatalf("server-final after reload: %v", err)
	}
}
