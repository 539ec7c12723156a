//go:build unix

package cluster_test

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	paho "github.com/eclipse/paho.mqtt.golang"

	"github.com/glassmq/glassmq/internal/longtest"
)

// screenshots, when set, is the directory TestProcessesDashboardCluster
// writes cluster.png to (make screenshots).
var screenshots = flag.String("ui.screenshots", "", "write dashboard screenshots into this `directory`")

// TestProcessesDashboardCluster opens the dashboard of n3 of three glassmq
// processes in headless Chromium: the Cluster page lists the three nodes
// alive and every glassmq stream and bucket with three replicas, and the
// client list and client page name n2 as the node of a client connected
// there. No request may fail and nothing may be written to the console.
func TestProcessesDashboardCluster(t *testing.T) {
	longtest.Skip(t, "starts three glassmq processes and a browser")
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		t.Skip("chromium not installed; run make browser-deps")
	}
	ps := startProcesses(t)
	const id = "dash-on-n2"
	cl := paho.NewClient(paho.NewClientOptions().AddBroker("tcp://" + ps[1].mqtt).SetClientID(id).SetAutoReconnect(false))
	if tok := cl.Connect(); !tok.WaitTimeout(20*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to n2: %v", tok.Error())
	}
	defer cl.Disconnect(0)

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
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		sctx, cancel := context.WithTimeout(ctx, 45*time.Second)
		defer cancel()
		if err := chromedp.Do(sctx, actions...); err != nil {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main').innerText`))
			t.Fatalf("%s: %v; the page shows:\n%s", what, err, body)
		}
	}

	// The admin port has no credentials (loopback), so no login.
	step("cluster page", chromedp.Navigate("http://"+ps[2].admin+"/ui/#/cluster"),
		chromedp.WaitVisible(`#nav-cluster`),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('#node-table tr[data-node]').length === 3 &&
			!document.querySelector('#node-table tr.warn') &&
			document.querySelector('#stat-alive')?.dataset.value === '3 / 3'`),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#repl-table tr[data-asset]')].map(r => r.dataset.asset).join(',') ===
			'glassmq_owners,glassmq_owners_leases,glassmq_sessions,glassmq_wills,GLASSMQ_ORPHAN,GLASSMQ_QUEUE,GLASSMQ_RETAINED' &&
			[...document.querySelectorAll('#repl-table tr[data-asset]')].every(r => r.querySelectorAll('.replica').length === 3)`))
	if *screenshots != "" {
		step("settle", chromedp.Sleep(3*time.Second))
		png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
		if err != nil {
			t.Fatalf("screenshot: %v", err)
		}
		if err := os.WriteFile(filepath.Join(*screenshots, "cluster.png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	step("client list names the node", chromedp.Click(`#nav a[data-page="clients"]`),
		chromedp.WaitVisible(`#client-table tr[data-id="`+id+`"] td[data-node="n2"]`))
	step("client page names the node", chromedp.Click(`#client-table tr[data-id="`+id+`"] a`),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-field="node"]')?.textContent === 'n2'`))

	mu.Lock()
	defer mu.Unlock()
	for _, m := range console {
		if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleException || m.Type == chromedp.ConsoleWarning {
			t.Errorf("console %s: %s (%s:%d)", m.Type, m.Text, m.URL, m.Line)
		}
	}
}
