package bench

import (
	"fmt"
	"io"
)

// writeFleetSummary writes the fleet table of one mode: per case and target
// the medians (min–max) of broker CPU per delivered message, latency at the
// offered rate, RSS per device and the load generator's CPU, then the a/b
// ratios of the medians.
func writeFleetSummary(w io.Writer, gs []*group, title, a, b string) {
	if len(gs) == 0 {
		return
	}
	fmt.Fprintf(w, "\n### Fleet, %s: devices publishing on a schedule, backends on a wildcard, commands back; median (min–max)\n\n", title)
	fmt.Fprintln(w, "| target | QoS | devices | offered msg/s | delivered msg/s | broker CPU µs/msg | delivered msg per broker CPU-s | p50 µs | p99 µs | p99.9 µs | command p99 µs | RSS per device | load generator CPU (cores) | lost | skipped |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	cpu := func(r *Result) float64 { return r.CPUPerMsgUs }
	p99 := func(r *Result) float64 { return r.P99 }
	rss := func(r *Result) float64 { return r.RSSPerConnB }
	for _, g := range gs {
		for _, t := range []string{a, b} {
			if len(g.byTarget[t]) == 0 {
				continue
			}
			lost := g.sum(t, func(r *Result) uint64 { return r.Lost + r.CmdLost })
			skipped := g.sum(t, func(r *Result) uint64 { return r.Skipped })
			fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %d | %d |\n", t, g.qos,
				f0(g.stat(t, func(r *Result) float64 { return float64(r.Connections) }).Median),
				si(g.stat(t, func(r *Result) float64 { return r.OfferedRate }).Median),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.Rate }), si),
				fmtStat(g.stat(t, cpu), f2),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.MsgPerCPUSecond }), si),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
				fmtStat(g.stat(t, p99), us),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.P999 }), us),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.CmdP99 }), us),
				fmtStat(g.stat(t, rss), bytesStr),
				fmtStat(g.stat(t, func(r *Result) float64 { return r.ClientCPU }), f2),
				lost, skipped)
		}
		fmt.Fprintf(w, "| %s/%s | %d | %s | | | %s | | | %s | | | %s | | | |\n", a, b, g.qos, g.variant,
			ratio(g.stat(a, cpu), g.stat(b, cpu)), ratio(g.stat(a, p99), g.stat(b, p99)), ratio(g.stat(a, rss), g.stat(b, rss)))
	}
}
