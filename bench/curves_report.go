package bench

import (
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// curveMetrics are the three things each curve shows, with their units.
var curveMetrics = []struct {
	name, label string
	of          func(*Result) float64
}{
	{"subscribe", "SUBSCRIBE round trip p50, µs", func(r *Result) float64 { return r.P50 }},
	{"route", "broker CPU per delivery, µs", func(r *Result) float64 { return r.CPUPerMsgUs }},
	{"memory", "broker RSS per item held, bytes", func(r *Result) float64 { return r.RSSPerConnB }},
}

// curveGroups returns the groups of one curve scenario in one mode, by
// size, smallest first.
func curveGroups(gs []*group, mode, scenario string) []*group {
	var out []*group
	for _, g := range gs {
		if g.mode == mode && g.scenario == scenario {
			out = append(out, g)
		}
	}
	slices.SortFunc(out, func(a, b *group) int { return curveSize(a) - curveSize(b) })
	return out
}

func curveSize(g *group) int { n, _ := strconv.Atoi(g.variant); return n }

// writeCurveSummary writes one table per curve of one mode: per size, the
// medians of each metric for targets a and b and their ratio.
func writeCurveSummary(w io.Writer, gs []*group, mode, title, a, b string) {
	for _, scen := range Curves {
		cg := curveGroups(gs, mode, scen)
		if len(cg) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n### Curve %s, %s: median (min–max)\n\n", scen, title)
		fmt.Fprintf(w, "| held | SUBSCRIBE p50 µs %s | %s | broker CPU µs per delivery %s | %s | RSS per item %s | %s |\n", a, b, a, b, a, b)
		fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
		f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
		for _, g := range cg {
			fmt.Fprintf(w, "| %s |", si(float64(curveSize(g))))
			for i, m := range curveMetrics {
				f := us
				switch i {
				case 1:
					f = f2
				case 2:
					f = bytesStr
				}
				fmt.Fprintf(w, " %s | %s |", fmtStat(g.stat(a, m.of), f), fmtStat(g.stat(b, m.of), f))
			}
			fmt.Fprintln(w)
		}
	}
}

// WriteCurveCharts draws one log-log chart per curve and metric of one
// mode, a line per target, into dir as SCENARIO-METRIC-MODE.png (SCENARIO
// is curve-retained ...), and
// returns the paths written.
func WriteCurveCharts(dir, mode string, rs []Result, targets []string) ([]string, error) {
	gs := groups(rs)
	var paths []string
	for _, scen := range Curves {
		cg := curveGroups(gs, mode, scen)
		if len(cg) == 0 {
			continue
		}
		for _, m := range curveMetrics {
			p := plot.New()
			p.Title.Text = fmt.Sprintf("%s: %s (%s)", scen, m.label, mode)
			p.X.Label.Text = "items held (log)"
			p.Y.Label.Text = m.label + " (log)"
			p.X.Scale, p.Y.Scale = plot.LogScale{}, plot.LogScale{}
			p.X.Tick.Marker, p.Y.Tick.Marker = plot.LogTicks{Prec: -1}, plot.LogTicks{Prec: -1}
			p.Legend.Top = true
			lo, hi := math.Inf(1), 0.0
			for ti, t := range targets {
				var xys plotter.XYs
				for _, g := range cg {
					if s := g.stat(t, m.of); s.N > 0 && s.Median > 0 {
						xys = append(xys, plotter.XY{X: float64(curveSize(g)), Y: s.Median})
						lo, hi = min(lo, s.Median), max(hi, s.Median)
					}
				}
				if len(xys) == 0 {
					continue
				}
				line, pts, err := plotter.NewLinePoints(xys)
				if err != nil {
					return paths, err
				}
				line.Color, pts.Color = chartColors[ti%len(chartColors)], chartColors[ti%len(chartColors)]
				p.Add(line, pts)
				p.Legend.Add(t, line, pts)
			}
			if hi == 0 {
				continue // nothing measured, nothing to draw
			}
			p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
			p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi*1.5)))
			path := filepath.Join(dir, fmt.Sprintf("%s-%s-%s.png", scen, m.name, mode))
			if err := p.Save(6*vg.Inch, 4*vg.Inch, path); err != nil {
				return paths, err
			}
			paths = append(paths, path)
		}
	}
	return paths, nil
}
