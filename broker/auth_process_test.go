package broker

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/internal/longtest"
)

func connectAs(user, password string) []byte {
	p := &codec.Connect{ProtocolName: []byte("MQTT"), ProtocolLevel: 4, CleanSession: true, ClientID: []byte("c-" + user)}
	if user != "" {
		p.UsernameFlag, p.Username = true, []byte(user)
	}
	if password != "" {
		p.PasswordFlag, p.Password = true, []byte(password)
	}
	return codec.AppendConnect(nil, p)
}

// TestAuthEndToEnd runs the real binary with a password file made by
// "glassmq passwd" and an ACL file: anonymous clients get CONNACK 0x05, bad
// credentials 0x04; the ACL refuses SUBSCRIBE filters with 0x80 and drops
// denied PUBLISHes (still acknowledged); SIGHUP reloads the files without
// dropping connections, and a bad file keeps the rules in force.
func TestAuthEndToEnd(t *testing.T) {
	longtest.Skip(t, "starts the broker binary")
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	pw, acl := filepath.Join(dir, "passwd"), filepath.Join(dir, "acl")
	for _, u := range []string{"alice", "bob"} {
		cmd := exec.Command(bin, "passwd", pw, u)
		cmd.Stdin = strings.NewReader(u + "-secret\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("glassmq passwd %s: %v\n%s", u, err, out)
		}
	}
	writeACL := func(text string) {
		if err := os.WriteFile(acl, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeACL("allow pubsub user alice sensors/#\nallow subscribe user bob sensors/#\n")
	p := startProcess(t, filepath.Join(dir, "data"), "-password-file", pw, "-acl-file", acl)

	anon := dialAddr(t, p.addr)
	anon.send(connectAs("", ""))
	anon.expectPacket("20 02 00 05") // not authorized: anonymous refused once a password file is given
	anon.expectClosed(2 * time.Second)
	for _, bad := range [][2]string{{"alice", "wrong"}, {"carol", "carol-secret"}, {"alice", ""}} {
		c := dialAddr(t, p.addr)
		c.send(connectAs(bad[0], bad[1]))
		c.expectPacket("20 02 00 04") // bad user name or password
		c.expectClosed(2 * time.Second)
	}

	alice := dialAddr(t, p.addr)
	alice.send(connectAs("alice", "alice-secret"))
	alice.expectPacket("20 02 00 00")
	alice.subscribe(1, "sensors/#", 1)
	alice.send(codec.AppendSubscribe(nil, 2, []codec.Subscription{{TopicFilter: []byte("other/#"), QoS: 0}}))
	alice.expectPacket("90 03 0002 80")
	resp, err := http.Get("http://" + p.admin + "/api/v1/clients/c-alice")
	if err != nil {
		t.Fatal(err)
	}
	var info struct {
		Username      string `json:"username"`
		Authenticated bool   `json:"authenticated"`
	}
	json.NewDecoder(resp.Body).Decode(&info)
	resp.Body.Close()
	if info.Username != "alice" || !info.Authenticated {
		t.Fatalf("admin shows %+v, want alice authenticated", info)
	}
	bob := dialAddr(t, p.addr)
	bob.send(connectAs("bob", "bob-secret"))
	bob.expectPacket("20 02 00 00")
	bob.subscribe(1, "sensors/#", 1)

	bob.publish("sensors/bob", "denied", 1, false, 1)
	bob.expectPacket("40 02 0001") // acknowledged, not delivered
	alice.publish("sensors/alice", "allowed", 0, false, 0)
	if m := bob.readPublish(); string(m.Payload) != "allowed" {
		t.Fatalf("bob got %q, want alice's message", m.Payload)
	}
	if m := alice.readPublish(); string(m.Payload) != "allowed" { // her own, back: bob's denied one came before it if at all
		t.Fatalf("alice got %q, want only her own message", m.Payload)
	}

	writeACL("allow pubsub user alice sensors/#\nallow pubsub user bob sensors/#\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "reload logged", func() bool { return strings.Contains(p.stderr.String(), "files reloaded\" generation=2") })
	bob.publish("sensors/bob", "now allowed", 0, false, 0)
	if m := alice.readPublish(); string(m.Payload) != "now allowed" {
		t.Fatalf("after reload alice got %q", m.Payload)
	}
	bob.readPublish() // his own

	writeACL("allow pubsub user alice sensors/#\nallow publsh user bob sensors/#\n")
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitFor(t, "bad file logged", func() bool { return strings.Contains(p.stderr.String(), "keeping the rules in force") })
	if !strings.Contains(p.stderr.String(), acl+":2") {
		t.Fatalf("log does not name %s:2: %s", acl, p.stderr.String())
	}
	bob.publish("sensors/bob", "still allowed", 0, false, 0)
	if m := alice.readPublish(); string(m.Payload) != "still allowed" {
		t.Fatalf("after a bad reload alice got %q", m.Payload)
	}
}

// TestAdminHTTPS: with -admin-tls the admin port speaks HTTPS with the
// certificate of -tls-cert, and plain HTTP gets no answer.
func TestAdminHTTPS(t *testing.T) {
	longtest.Skip(t, "starts the broker binary")
	certs := makeCerts(t, "unused")
	p := startProcess(t, t.TempDir(), "-tls-cert", certs.serverCert, "-tls-key", certs.serverKey, "-admin-tls")
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: certs.pool}}, Timeout: 5 * time.Second}
	var resp *http.Response
	var err error
	waitFor(t, "admin over HTTPS", func() bool {
		resp, err = c.Get("https://" + p.admin + "/healthz")
		return err == nil
	})
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.TLS == nil {
		t.Fatalf("got %d (TLS %v), want 200 over TLS", resp.StatusCode, resp.TLS != nil)
	}
	if r, err := (&http.Client{Timeout: 2 * time.Second}).Get("http://" + p.admin + "/healthz"); err == nil && r.StatusCode == 200 {
		t.Fatal("plain HTTP answered 200 on the HTTPS admin port")
	}
}
