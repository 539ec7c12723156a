//go:build unix

package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/codec"
	"github.com/glassmq/glassmq/session"
)

// screenshots, when set, is the directory TestDashboardChromium writes a
// PNG of each page to (make screenshots).
var screenshots = flag.String("ui.screenshots", "", "write dashboard screenshots into this `directory`")

const dashSecret = "dashboard-test-secret-0123456789"

// dashBroker is a real engine with the MQTT port and the admin port (with
// credentials, so the dashboard must log in) on loopback.
type dashBroker struct {
	eng   *broker.Engine
	mqtt  string // host:port
	admin string // http://host:port
}

func startDashBroker(t *testing.T) *dashBroker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.Persistence, cfg.SysInterval, cfg.Loops = "127.0.0.1:0", t.TempDir(), "off", 0, 2
	eng := broker.NewEngine(cfg)
	srv := broker.NewServer(eng)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(5 * time.Second) })
	acfg := admin.DefaultConfig()
	acfg.Listen = "127.0.0.1:0"
	acfg.TencentSecretID, acfg.TencentSecretKey = "AKIDdashboardtest", dashSecret
	adm, err := admin.New(acfg, eng, eng.Stats())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	t.Cleanup(func() { adm.Shutdown() })
	return &dashBroker{eng: eng, mqtt: srv.Addr().String(), admin: "http://" + ln.Addr().String()}
}

// TestDashboardChromium drives the dashboard in Debian's headless Chromium
// against a real broker: log in with the admin secret, see the overview,
// find a connected paho client in the list, watch its received PUBLISH
// count rise on its page while it publishes, kick it through the
// confirmation, and browse the retained messages. No page may write an
// error or warning to the console, nor fail a request.
func TestDashboardChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed; run make browser-deps")
	}
	b := startDashBroker(t)

	const id = "dash-1"
	lost := make(chan error, 1)
	opts := mqtt.NewClientOptions().AddBroker("tcp://"+b.mqtt).SetClientID(id).SetUsername("alice").
		SetAutoReconnect(false).SetCleanSession(false).SetKeepAlive(30*time.Second).
		SetWill("dash/1/status", "gone", 1, false).
		SetConnectionLostHandler(func(_ mqtt.Client, err error) { lost <- err })
	cl := mqtt.NewClient(opts)
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok := cl.Subscribe("dash/1/cmd", 1, nil); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}
	if tok := cl.Publish("dash/1/state", 1, true, `{"firmware":"1.4.2","mode":"auto"}`); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish retained: %v", tok.Error())
	}
	stop := make(chan struct{})
	var pubs sync.WaitGroup
	pubs.Add(1)
	go func() { // the client publishes at QoS 1 until kicked
		defer pubs.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if !cl.IsConnectionOpen() {
				return
			}
			cl.Publish("dash/1/temp", 1, false, fmt.Sprintf(`{"seq":%d,"celsius":21.5}`, i)).WaitTimeout(time.Second)
		}
	}()
	defer func() { close(stop); pubs.Wait(); cl.Disconnect(0) }()

	watchdog, stopWatchdog := context.WithTimeout(context.Background(), 3*time.Minute) // ends the browser if the test hangs
	defer stopWatchdog()
	actx, cancelAlloc := chromedp.NewExecAllocator(watchdog,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.NoFirstRun, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 1000),
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true), chromedp.Flag("disable-sync", true))
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start chromium: %v", err)
	}
	var mu sync.Mutex
	var console []chromedp.ConsoleMessage
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			mu.Lock()
			console = append(console, m)
			mu.Unlock()
		}
	}()
	step := func(what string, timeout time.Duration, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, body)
		}
	}
	shot := func(name string) {
		t.Helper()
		if *screenshots == "" {
			return
		}
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		if err := os.WriteFile(filepath.Join(*screenshots, name), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	number := func(expr string) int {
		t.Helper()
		n, err := chromedp.Run(ctx, chromedp.Evaluate[int](expr))
		if err != nil {
			t.Fatalf("%s: %v", expr, err)
		}
		return n
	}

	// Logged out, the page shows the login form and nothing else.
	step("login form", 20*time.Second, chromedp.Navigate(b.admin+"/ui/"), chromedp.WaitVisible("#secret"))
	if n := number(`document.querySelectorAll('#stats, #client-table').length`); n != 0 {
		t.Errorf("before login the page shows %d data elements, want 0", n)
	}
	shot("login.png")
	step("wrong secret", 30*time.Second, chromedp.SendKeys("#secret", "not-the-secret"), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#login-error"))
	step("log in", 30*time.Second, chromedp.SetValue("#secret", dashSecret), chromedp.Click(`#login button[type="submit"]`),
		chromedp.WaitVisible("#stat-connections"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#stat-connections').dataset.value === '1'`),
		chromedp.Poll[chromedp.Void](`Number(document.querySelector('#stat-in').dataset.value) > 0`))
	fill := 2 * time.Second // for the charts to draw some history
	if *screenshots != "" {
		fill = 20 * time.Second
	}
	step("overview charts", fill+5*time.Second, chromedp.Sleep(fill))
	shot("overview.png")

	step("client list", 30*time.Second, chromedp.Click(`#nav a[data-page="clients"]`),
		chromedp.WaitVisible(`#client-table tr[data-id="dash-1"]`))
	if got := number(`document.querySelectorAll('#client-table tbody tr[data-id]').length`); got != 1 {
		t.Errorf("client list shows %d clients, want 1", got)
	}
	step("filter by prefix", 30*time.Second, chromedp.SendKeys("#f-prefix", "nobody"),
		chromedp.WaitNotPresent(`#client-table tr[data-id="dash-1"]`),
		chromedp.Evaluate[chromedp.Void](`{const e = document.querySelector('#f-prefix'); e.value = ''; e.dispatchEvent(new Event('input'))}`),
		chromedp.SendKeys("#f-prefix", "dash"),
		chromedp.WaitVisible(`#client-table tr[data-id="dash-1"]`))
	shot("clients.png")

	const count = `Number(document.querySelector('[data-count="received PUBLISH q1"]')?.dataset.value || 0)`
	step("client page", 30*time.Second, chromedp.Click(`#client-table tr[data-id="dash-1"] a`),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status')?.textContent === 'online'`),
		chromedp.Poll[chromedp.Void](count+` > 0`))
	first := number(count)
	step("counters rise", 30*time.Second, chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s >= %d`, count, first+5)))
	var info session.Info
	if !b.eng.SessionInfo(id, &info) {
		t.Fatal("broker has no session dash-1")
	}
	var have uint64
	for _, it := range info.Received.Items {
		if it.Type == codec.TypePublish && it.QoS == 1 {
			have = it.Count
		}
	}
	if shown := number(count); uint64(shown) > have {
		t.Errorf("page shows %d PUBLISH QoS 1 received, more than the broker's %d", shown, have)
	}
	if got, err := chromedp.Run(ctx, chromedp.Text(`[data-field="username"]`)); err != nil || got != "alice (not verified)" {
		t.Errorf("user name field: %q, %v; want %q", got, err, "alice (not verified)")
	}
	step("charts fill", fill+5*time.Second, chromedp.Sleep(fill))
	shot("client.png")

	step("kick", 30*time.Second, chromedp.Click("#kick"), chromedp.WaitVisible("#kick-confirm"), chromedp.Click("#kick-confirm"),
		chromedp.Poll[chromedp.Void](`document.querySelector('#kick-result').textContent === 'Kicked.'`),
		chromedp.Poll[chromedp.Void](`document.querySelector('#status').textContent === 'offline'`))
	select {
	case <-lost:
	case <-time.After(5 * time.Second):
		t.Error("the paho client was not disconnected by the kick")
	}
	if !b.eng.SessionInfo(id, &info) || info.Connected || info.DisconnectReason != session.ReasonKicked {
		t.Errorf("after the kick: connected %v reason %q; want false %q", info.Connected, info.DisconnectReason, session.ReasonKicked)
	}

	step("retained", 30*time.Second, chromedp.Click(`#nav a[data-page="retained"]`),
		chromedp.WaitVisible(`#retained-table tr[data-topic="dash/1/state"]`))
	shot("retained.png")

	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		if m.Source == "network" && strings.HasSuffix(m.URL, "/ui/login") && strings.Contains(m.Text, "401") {
			continue // the wrong secret's answer, the one error this test provokes
		}
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}
}

// TestRetainedListing pages the retained messages of a real engine by
// topic prefix through the admin port: in topic order, text or base64
// payloads, a cleared topic gone.
func TestRetainedListing(t *testing.T) {
	b := startDashBroker(t)
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + b.mqtt).SetClientID("retainer"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	defer cl.Disconnect(0)
	pub := func(topic string, payload any) {
		t.Helper()
		if tok := cl.Publish(topic, 1, true, payload); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
			t.Fatalf("publish %s: %v", topic, tok.Error())
		}
	}
	for _, topic := range []string{"site/b/2", "site/a/1", "site/c/3", "site/gone", "other/x"} {
		pub(topic, "v-"+topic)
	}
	pub("site/bin", []byte{0xff, 0x00, 0xfe})
	pub("site/gone", "") // clears it

	get := func(query string) admin.RetainedList {
		t.Helper()
		req, _ := http.NewRequest("GET", b.admin+"/api/v1/retained?"+query, nil)
		req.Header.Set("Authorization", "Bearer "+dashSecret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var l admin.RetainedList
		if err := json.NewDecoder(resp.Body).Decode(&l); err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET /api/v1/retained?%s: %d %v", query, resp.StatusCode, err)
		}
		return l
	}
	var topics []string
	var bin admin.RetainedMessage
	for cursor, pages := "", 0; ; pages++ {
		l := get("prefix=site/&limit=2&cursor=" + cursor)
		for _, m := range l.Messages {
			topics = append(topics, m.Topic)
			if m.Topic == "site/bin" {
				bin = m
			} else if m.PayloadText != "v-"+m.Topic {
				t.Errorf("%s: payload %q, want %q", m.Topic, m.PayloadText, "v-"+m.Topic)
			}
		}
		if cursor = l.NextCursor; cursor == "" || pages > 5 {
			break
		}
	}
	if want := []string{"site/a/1", "site/b/2", "site/bin", "site/c/3"}; !slices.Equal(topics, want) {
		t.Errorf("retained under site/: %q, want %q", topics, want)
	}
	if bin.PayloadBase64 != "/wD+" || bin.PayloadText != "" || bin.PayloadBytes != 3 {
		t.Errorf("binary payload shown as %+v, want base64 /wD+ of 3 bytes", bin)
	}
	if l := get("prefix=other/"); len(l.Messages) != 1 || l.Messages[0].Topic != "other/x" {
		t.Errorf("prefix other/: %+v", l.Messages)
	}
}
