//go:build unix

package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/session"
)

// TestCtl runs glassmq ctl's commands against a real broker's admin port
// (with credentials) while a real client is connected.
func TestCtl(t *testing.T) {
	b := startDashBroker(t)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.mqtt).SetClientID("ctl-1").SetUsername("bob").SetAutoReconnect(false))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	if tok := cl.Publish("ctl/state", 1, true, "ready"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	ctl := func(args ...string) (string, string, int) {
		var out, errOut bytes.Buffer
		code := runCtl(append([]string{"-admin", b.admin, "-token", dashSecret}, args...), &out, &errOut)
		return out.String(), errOut.String(), code
	}

	out, errOut, code := ctl("-o", "json", "clients")
	var list admin.ClientList
	if code != 0 || json.Unmarshal([]byte(out), &list) != nil || len(list.Clients) != 1 ||
		list.Clients[0].ClientID != "ctl-1" || list.Clients[0].Username != "bob" || list.Clients[0].Status != "online" {
		t.Errorf("clients -o json: %d %q %q; want ctl-1 of bob, online", code, out, errOut)
	}
	if out, _, code := ctl("clients", "-status", "offline"); code != 0 || strings.Contains(out, "ctl-1") || !strings.HasPrefix(out, "CLIENT ID") {
		t.Errorf("clients -status offline: %d %q; want a header and no ctl-1", code, out)
	}
	if out, _, code := ctl("client", "ctl-1"); code != 0 || !strings.Contains(out, "user name") || !strings.Contains(out, "PUBLISH QoS 1: 1") {
		t.Errorf("client ctl-1: %d\n%s\nwant the fields and one PUBLISH QoS 1 received", code, out)
	}
	if out, _, code := ctl("retained", "ctl/"); code != 0 || !strings.Contains(out, `ctl/state  1    5      "ready"`) {
		t.Errorf("retained ctl/: %d\n%s", code, out)
	}
	if out, _, code := ctl("-o", "json", "top", "-n", "5", "-interval", "100ms", "-count", "2"); code != 0 || strings.Count(out, "\n") != 2 || !strings.Contains(out, `"client_id":"ctl-1"`) {
		t.Errorf("top -count 2 -o json: %d %q; want two lines naming ctl-1", code, out)
	}
	if _, errOut, code := ctl("client", "nobody"); code != 1 || !strings.Contains(errOut, `no session with client ID "nobody"`) {
		t.Errorf("client nobody: %d %q; want 1 and the API's message", code, errOut)
	}
	var wrong bytes.Buffer
	if code := runCtl([]string{"-admin", b.admin, "-token", "wrong", "clients"}, &wrong, &wrong); code != 1 || !strings.Contains(wrong.String(), "GLASSMQ_TOKEN") {
		t.Errorf("wrong token: %d %q; want 1 and a hint about the token", code, wrong.String())
	}
	for _, args := range [][]string{{"frobnicate"}, {"-o", "yaml", "clients"}, {"client"}, {"kick"}, {"top", "-n", "0"}} {
		if _, _, code := ctl(args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}

	if out, errOut, code := ctl("kick", "ctl-1", "-will=false"); code != 0 || out != "kicked ctl-1 (will published: false)\n" {
		t.Errorf("kick: %d %q %q", code, out, errOut)
	}
	var info session.Info
	deadline := time.Now().Add(5 * time.Second)
	for b.eng.SessionInfo("ctl-1", &info) && info.Connected && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if b.eng.SessionInfo("ctl-1", &info) && info.Connected {
		t.Error("ctl-1 still connected after kick")
	}
}
