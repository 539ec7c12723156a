package bench

import (
	"fmt"
	"io"
)

// writeProtocolSummary writes, when a comparison ran pairs with both 3.1.1
// (v311) and 5.0 (v5) clients, a table of each target's 5.0 throughput
// against its 3.1.1 throughput for the same QoS and payload: what a 5.0
// client costs.
func writeProtocolSummary(w io.Writer, title string, v311, v5 []*group, a, b string) {
	type key struct {
		qos     byte
		payload int
	}
	base := map[key]*group{}
	for _, g := range v311 {
		base[key{g.qos, g.payload}] = g
	}
	rate := func(r *Result) float64 { return r.Rate }
	header := false
	for _, g5 := range v5 {
		g4 := base[key{g5.qos, g5.payload}]
		if g4 == nil {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n### MQTT 5.0 clients against 3.1.1, %s: pairs, delivered msg/s, median (min–max)\n\n", title)
			fmt.Fprintf(w, "| QoS | payload | %s 3.1.1 | %s 5.0 | 5.0/3.1.1 | %s 3.1.1 | %s 5.0 | 5.0/3.1.1 |\n", a, a, b, b)
			fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			header = true
		}
		a4, a5, b4, b5 := g4.stat(a, rate), g5.stat(a, rate), g4.stat(b, rate), g5.stat(b, rate)
		fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s |\n", g5.qos, size(g5.payload),
			fmtStat(a4, si), fmtStat(a5, si), ratio(a5, a4), fmtStat(b4, si), fmtStat(b5, si), ratio(b5, b4))
	}
}
