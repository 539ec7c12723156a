package main

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/glassmq/glassmq/admin"
	"github.com/glassmq/glassmq/broker"
	"github.com/glassmq/glassmq/session/store"
)

// grafanaDashboard is the part of docs/grafana-dashboard.json the test reads.
type grafanaDashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
}

// metricName matches the metric names in a PromQL expression: ours and the
// Go and process collectors'.
var metricName = regexp.MustCompile(`\b(?:glassmq|go|process)_[a-zA-Z0-9_]+`)

// TestGrafanaDashboard checks every panel of docs/grafana-dashboard.json
// against what a real broker (with its store) exports on /metrics: no
// panel may query a metric that does not exist, and every glassmq metric
// family of the broker appears on some panel.
func TestGrafanaDashboard(t *testing.T) {
	raw, err := os.ReadFile("../../docs/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash grafanaDashboard
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("docs/grafana-dashboard.json: %v", err)
	}
	exported := scrapeMetricNames(t)

	used := map[string]bool{}
	for _, p := range dash.Panels {
		if len(p.Targets) == 0 {
			t.Errorf("panel %q has no query", p.Title)
		}
		for _, tg := range p.Targets {
			names := metricName.FindAllString(tg.Expr, -1)
			if len(names) == 0 {
				t.Errorf("panel %q: query %q names no glassmq, go or process metric", p.Title, tg.Expr)
			}
			for _, n := range names {
				used[n] = true
				if !exported[n] {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, n)
				}
			}
		}
	}
	for n := range exported {
		if strings.HasPrefix(n, "glassmq_") && !strings.HasSuffix(n, "_rate_limit") && !used[n] && !used[n+"_bucket"] {
			if base, ok := strings.CutSuffix(n, "_bucket"); ok && used[base+"_bucket"] {
				continue
			}
			if strings.HasSuffix(n, "_sum") || strings.HasSuffix(n, "_count") {
				continue // the histogram's bucket series is what the dashboard plots
			}
			t.Errorf("%s is exported but on no panel of docs/grafana-dashboard.json", n)
		}
	}
}

// scrapeMetricNames starts a broker with a store and an admin port and
// returns the series names of its /metrics: each family's name, and for a
// histogram its _bucket, _sum and _count series.
func scrapeMetricNames(t *testing.T) map[string]bool {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.Listen, cfg.DataDir, cfg.SysInterval = "127.0.0.1:0", t.TempDir(), 0
	db, err := store.Open(store.Options{Dir: cfg.DataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	eng := broker.NewEngine(cfg)
	if err := eng.UseStore(db); err != nil {
		t.Fatal(err)
	}
	srv := broker.NewServer(eng)
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(5 * time.Second)
	acfg := admin.DefaultConfig()
	acfg.Listen = "127.0.0.1:0"
	adm, err := admin.New(acfg, eng, eng.Stats())
	if err != nil {
		t.Fatal(err)
	}
	adm.WatchStore(db)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go adm.Serve(ln)
	defer adm.Shutdown()

	// Traffic, so that the per-packet-type families have series.
	cl := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + srv.Addr().String()).SetClientID("grafana-1"))
	if tok := cl.Connect(); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("connect: %v", tok.Error())
	}
	if tok := cl.Publish("grafana/test", 1, false, "x"); !tok.WaitTimeout(5*time.Second) || tok.Error() != nil {
		t.Fatalf("publish: %v", tok.Error())
	}
	cl.Disconnect(0)

	resp, err := http.Get("http://" + ln.Addr().String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	names := map[string]bool{}
	for name, f := range fams {
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM {
			names[name+"_bucket"], names[name+"_sum"], names[name+"_count"] = true, true, true
		}
	}
	if !names["glassmq_connections"] || !names["glassmq_store_healthy"] {
		t.Fatalf("/metrics lacks glassmq_connections or glassmq_store_healthy: %d families", len(names))
	}
	return names
}
