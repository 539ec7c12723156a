package bench

import (
	"bytes"
	"strings"
	"testing"
)

// TestSummaryTablesAreRectangular writes a summary of every kind of result
// and checks that each Markdown table's separator and rows have as many
// cells as its header: a missing or extra column shifts every number under
// the wrong heading.
func TestSummaryTablesAreRectangular(t *testing.T) {
	var rs []Result
	for _, target := range []string{"glassmq", "mosquitto", "relay"} {
		for rep := 1; rep <= 2; rep++ {
			base := Result{Mode: "pinned", Target: target, Rep: rep, Payload: 16}
			flow := base
			flow.Scenario, flow.Rate, flow.Delivered, flow.Expected = "fanin", 1e6, 100, 100
			lat := base
			lat.Scenario, lat.P50, lat.P99 = "latency", 20, 50
			rs = append(rs, flow, lat)
			if target == "relay" {
				continue
			}
			for _, v := range []string{"64 at a time", "1000 at a time"} {
				conn := base
				conn.Scenario, conn.Variant, conn.Connections, conn.ConnectRate = "connections", v, 10, 1e5
				conn.CPUPerConnUs, conn.ClientCPUPerConnUs, conn.RSSPerConnB = 7, 9, 1900
				rs = append(rs, conn)
			}
			if target == "glassmq" {
				adm := base
				adm.Scenario, adm.Variant, adm.QoS, adm.Requests, adm.Accepted = "admin", "DescribeMQTTClient", 1, 100, 20
				rs = append(rs, adm)
			}
		}
	}
	var md bytes.Buffer
	WriteSummary(&md, rs, "glassmq", "mosquitto", "relay")
	cells := func(line string) int { return strings.Count(strings.TrimSpace(line), "|") - 1 }
	tables := 0
	var header int
	for i, line := range strings.Split(md.String(), "\n") {
		switch {
		case !strings.HasPrefix(line, "|"):
			header = 0
		case header == 0:
			header = cells(line)
			tables++
		case cells(line) != header:
			t.Errorf("line %d has %d cells, its table's header %d:\n%s", i+1, cells(line), header, line)
		}
	}
	if tables < 4 {
		t.Fatalf("found %d tables, want throughput, latency, connections and admin:\n%s", tables, md.String())
	}
}
