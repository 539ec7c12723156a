package bench

import (
	"fmt"
	"io"
)

// writeProtocolSummary writes, when a comparison ran pairs with both 3.1.1
// (v311) and 5.0 (v5) clients, a table of each target's 5.0 throughput
// against its 3.1.1 throughput, and of its CPU time per message (when the
// runs measured it), for the same QoS and payload: what a 5.0 client costs.
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
	cpu := func(r *Result) float64 { return r.CPUPerMsgUs }
	header := false
	for _, g5 := range v5 {
		g4 := base[key{g5.qos, g5.payload}]
		if g4 == nil {
			continue
		}
		if !header {
			fmt.Fprintf(w, "\n### MQTT 5.0 clients against 3.1.1, %s: pairs, delivered msg/s and broker CPU µs per message, median (min–max)\n\n", title)
			fmt.Fprintf(w, "| QoS | payload | target | 3.1.1 msg/s | 5.0 msg/s | 5.0/3.1.1 | 3.1.1 µs CPU/msg | 5.0 µs CPU/msg | 5.0/3.1.1 |\n")
			fmt.Fprintln(w, "| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
			header = true
		}
		for _, t := range []string{a, b} {
			if len(g4.byTarget[t]) == 0 || len(g5.byTarget[t]) == 0 {
				continue
			}
			r4, r5, c4, c5 := g4.stat(t, rate), g5.stat(t, rate), measured(g4.stat(t, cpu)), measured(g5.stat(t, cpu))
			fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", g5.qos, size(g5.payload), t,
				fmtStat(r4, si), fmtStat(r5, si), ratio(r5, r4), fmtStat(c4, cpuUs), fmtStat(c5, cpuUs), ratio(c5, c4))
		}
	}
}

// cpuUs formats microseconds of CPU per message.
func cpuUs(v float64) string { return fmt.Sprintf("%.3f", v) }

// measured returns s, or no statistic when every value is 0 (not measured).
func measured(s Stat) Stat {
	if s.Max == 0 {
		return Stat{}
	}
	return s
}
