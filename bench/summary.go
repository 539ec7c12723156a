package bench

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Stat is the median, minimum and maximum of one metric over repetitions.
type Stat struct {
	Median, Min, Max float64
	N                int
}

func statOf(vs []float64) Stat {
	if len(vs) == 0 {
		return Stat{}
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return Stat{Median: m, Min: s[0], Max: s[len(s)-1], N: len(s)}
}

// group is the results of one case (and admin API) in one mode, by target.
type group struct {
	mode, scenario, variant string
	qos                     byte
	payload                 int
	byTarget                map[string][]Result
}

func (g *group) stat(target string, metric func(*Result) float64) Stat {
	var vs []float64
	for i := range g.byTarget[target] {
		r := &g.byTarget[target][i]
		if len(r.Errors) > 0 && r.Delivered == 0 && r.Connections == 0 && r.Accepted == 0 {
			continue // a run that failed outright measures nothing
		}
		vs = append(vs, metric(r))
	}
	return statOf(vs)
}

// sum adds up a count over the target's runs.
func (g *group) sum(target string, f func(*Result) uint64) (n uint64) {
	for i := range g.byTarget[target] {
		n += f(&g.byTarget[target][i])
	}
	return n
}

// groups sorts results into groups in the order they first appear.
func groups(rs []Result) []*group {
	var out []*group
	idx := map[string]*group{}
	for _, r := range rs {
		key := fmt.Sprint(r.Mode, r.Scenario, r.Variant, r.QoS, r.Payload)
		g := idx[key]
		if g == nil {
			g = &group{mode: r.Mode, scenario: r.Scenario, variant: r.Variant, qos: r.QoS, payload: r.Payload, byTarget: map[string][]Result{}}
			idx[key] = g
			out = append(out, g)
		}
		g.byTarget[r.Target] = append(g.byTarget[r.Target], r)
	}
	return out
}

func fmtStat(s Stat, f func(float64) string) string {
	if s.N == 0 {
		return "–"
	}
	if s.N == 1 {
		return f(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", f(s.Median), f(s.Min), f(s.Max))
}

func ratio(a, b Stat) string {
	if a.N == 0 || b.N == 0 || b.Median == 0 {
		return "–"
	}
	return fmt.Sprintf("%.3g×", a.Median/b.Median) // 0.198×, not a rounded 0.20×
}

func us(v float64) string { return fmt.Sprintf("%.1f", v) }

func lossCell(g *group, target string) string {
	if len(g.byTarget[target]) == 0 {
		return "–"
	}
	lost := g.sum(target, func(r *Result) uint64 { return r.Lost })
	dup := g.sum(target, func(r *Result) uint64 { return r.Duplicates })
	exp := g.sum(target, func(r *Result) uint64 { return r.Expected })
	s := fmt.Sprintf("%d", lost)
	if lost > 0 && exp > 0 {
		s += fmt.Sprintf(" (%.2g%%)", 100*float64(lost)/float64(exp))
	}
	if dup > 0 {
		s += fmt.Sprintf(", %d dup", dup)
	}
	return s
}

// WriteSummary writes the Markdown tables of a comparison between targets a
// and b (glassmq and mosquitto), with the relay where it ran: medians over
// repetitions with minimum–maximum, and the a/b ratio of medians.
func WriteSummary(w io.Writer, rs []Result, a, b, relay string) {
	gs := groups(rs)
	modes := []string{}
	for _, g := range gs {
		if !slices.Contains(modes, g.mode) {
			modes = append(modes, g.mode)
		}
	}
	rate := func(r *Result) float64 { return r.Rate }
	for _, mode := range modes {
		in := func(scen ...string) []*group {
			var out []*group
			for _, g := range gs {
				if g.mode == mode && slices.Contains(scen, g.scenario) {
					out = append(out, g)
				}
			}
			return out
		}
		title := mode
		if title == "" {
			title = "results"
		}
		if flows := in("fanin", "fanout", "pairs", "pairs-v5"); len(flows) > 0 {
			fmt.Fprintf(w, "\n### Throughput, %s: delivered msg/s, median (min–max)\n\n", title)
			fmt.Fprintf(w, "| scenario | QoS | payload | %s | %s | %s/%s | %s | %s/%s | lost %s | lost %s |\n", a, b, a, b, relay, a, relay, a, b)
			fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range flows {
				sa, sb, sr := g.stat(a, rate), g.stat(b, rate), g.stat(relay, rate)
				fmt.Fprintf(w, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |\n", g.scenario, g.qos, size(g.payload),
					fmtStat(sa, si), fmtStat(sb, si), ratio(sa, sb), fmtStat(sr, si), ratio(sa, sr), lossCell(g, a), lossCell(g, b))
			}
		}
		writeProtocolSummary(w, title, in("pairs"), in("pairs-v5"), a, b) // summary5.go
		if lat := in("latency"); len(lat) > 0 {
			fmt.Fprintf(w, "\n### End-to-end latency, %s: µs at the fixed rate, median over runs (min–max)\n\n", title)
			fmt.Fprintln(w, "| QoS | target | p50 | p99 | p99.9 | max | lost |")
			fmt.Fprintln(w, "| ---: | --- | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range lat {
				for _, t := range []string{a, b, relay} {
					if len(g.byTarget[t]) == 0 {
						continue
					}
					fmt.Fprintf(w, "| %d | %s | %s | %s | %s | %s | %s |\n", g.qos, t,
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P99 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P999 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.Max }), us), lossCell(g, t))
				}
				fmt.Fprintf(w, "| %d | %s/%s p50 | %s | | | | |\n", g.qos, a, b,
					ratio(g.stat(a, func(r *Result) float64 { return r.P50 }), g.stat(b, func(r *Result) float64 { return r.P50 })))
			}
		}
		if conns := in("connections"); len(conns) > 0 {
			fmt.Fprintf(w, "\n### Idle connections, %s: median (min–max)\n\n", title)
			fmt.Fprintln(w, "| target | connecting | connections | CONNECT→CONNACK conn/s | connect p50 µs | connect p99 µs | broker CPU µs/conn | load generator CPU µs/conn | broker RSS before KiB | after KiB | RSS per connection |")
			fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range conns {
				for _, t := range []string{a, b} {
					if len(g.byTarget[t]) == 0 {
						continue
					}
					fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, g.variant,
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.Connections) }), func(v float64) string { return fmt.Sprintf("%.0f", v) }),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.ConnectRate }), si),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.P99 }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.CPUPerConnUs }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.ClientCPUPerConnUs }), us),
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.RSSBeforeKiB) }), func(v float64) string { return fmt.Sprintf("%.0f", v) }),
						fmtStat(g.stat(t, func(r *Result) float64 { return float64(r.RSSAfterKiB) }), func(v float64) string { return fmt.Sprintf("%.0f", v) }),
						fmtStat(g.stat(t, func(r *Result) float64 { return r.RSSPerConnB }), bytesStr))
				}
				cr := func(r *Result) float64 { return r.ConnectRate }
				cpu := func(r *Result) float64 { return r.CPUPerConnUs }
				fmt.Fprintf(w, "| %s/%s | %s | | %s | | | %s | | | | %s |\n", a, b, g.variant, ratio(g.stat(a, cr), g.stat(b, cr)), ratio(g.stat(a, cpu), g.stat(b, cpu)),
					ratio(g.stat(a, func(r *Result) float64 { return r.RSSPerConnB }), g.stat(b, func(r *Result) float64 { return r.RSSPerConnB })))
			}
		}
		writeFleetSummary(w, in("fleet"), title, a, b)
		writeCurveSummary(w, gs, mode, title, a, b)
		if adm := in("admin"); len(adm) > 0 {
			fmt.Fprintf(w, "\n### Admin API under a pairs load, %s: median (min–max)\n\n", title)
			fmt.Fprintln(w, "| API | load | offered req/s | accepted req/s | throttled | failed | p50 µs | p99 µs | p99.9 µs | max µs | load msg/s | load lost |")
			fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
			for _, g := range adm {
				t := a
				if len(g.byTarget[t]) == 0 {
					continue
				}
				fmt.Fprintf(w, "| %s | pairs qos%d %s | %.0f | %s | %d | %d | %s | %s | %s | %s | %s | %d |\n", g.variant, g.qos, size(g.payload),
					g.stat(t, func(r *Result) float64 { return r.OfferedRate }).Median,
					fmtStat(g.stat(t, func(r *Result) float64 { return r.AcceptRate }), func(v float64) string { return fmt.Sprintf("%.0f", v) }),
					g.sum(t, func(r *Result) uint64 { return r.Throttled }), g.sum(t, func(r *Result) uint64 { return r.Failed }),
					fmtStat(g.stat(t, func(r *Result) float64 { return r.P50 }), us),
					fmtStat(g.stat(t, func(r *Result) float64 { return r.P99 }), us),
					fmtStat(g.stat(t, func(r *Result) float64 { return r.P999 }), us),
					fmtStat(g.stat(t, func(r *Result) float64 { return r.Max }), us),
					fmtStat(g.stat(t, func(r *Result) float64 { return r.LoadRate }), si),
					g.sum(t, func(r *Result) uint64 { return r.LoadLost }))
			}
		}
	}
	var errs []string
	for _, r := range rs {
		for _, e := range r.Errors {
			line := fmt.Sprintf("- %s %s, %s qos%d %s rep %d: %s", r.Mode, r.Target, r.Scenario, r.QoS, size(r.Payload), r.Rep, e)
			if len(errs) < 40 {
				errs = append(errs, line)
			}
		}
	}
	if len(errs) > 0 {
		fmt.Fprintf(w, "\n### Errors seen\n\n%s\n", strings.Join(errs, "\n"))
	}
}

func size(b int) string {
	if b >= 1024 && b%1024 == 0 {
		return fmt.Sprintf("%d KiB", b/1024)
	}
	return fmt.Sprintf("%d B", b)
}

func bytesStr(v float64) string {
	if v >= 10*1024 || v <= -10*1024 {
		return fmt.Sprintf("%.1f KiB", v/1024)
	}
	return fmt.Sprintf("%.0f B", v)
}
