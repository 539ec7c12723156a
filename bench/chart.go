package bench

import (
	"fmt"
	"image/color"
	"math"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// chartColors are the bar colours of the targets, in order.
var chartColors = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, // blue
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff}, // orange
	color.RGBA{R: 0x7f, G: 0x7f, B: 0x7f, A: 0xff}, // grey
}

// WriteChart draws the median delivered msg/s of every fanin, fanout and
// pairs case of one mode as grouped bars, one per target, on a log scale,
// and saves it as a PNG at path.
func WriteChart(path, title string, rs []Result, targets []string) error {
	var cases []*group
	for _, g := range groups(rs) {
		if slices.Contains([]string{"fanin", "fanout", "pairs", "pairs-v5"}, g.scenario) {
			cases = append(cases, g)
		}
	}
	if len(cases) == 0 {
		return fmt.Errorf("bench: chart: no fanin, fanout or pairs results")
	}
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = "delivered msg/s (median, log scale)"
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.Left = false

	width := vg.Points(float64(480) / float64(len(cases)) / float64(len(targets)+1))
	width = max(width, vg.Points(3))
	// Bars stand on a base of 1 so that the log scale never sees 0.
	base := make(plotter.Values, len(cases))
	for i := range base {
		base[i] = 1
	}
	lo, hi := math.Inf(1), 0.0
	for ti, t := range targets {
		vs := make(plotter.Values, len(cases))
		any := false
		for i, g := range cases {
			s := g.stat(t, func(r *Result) float64 { return r.Rate })
			if s.N > 0 && s.Median > 0 {
				vs[i] = s.Median
				any = true
				lo, hi = min(lo, s.Median), max(hi, s.Median)
			}
		}
		if !any {
			continue
		}
		under, err := plotter.NewBarChart(base, width)
		if err != nil {
			return err
		}
		under.Color, under.LineStyle.Width = color.Transparent, 0
		bars, err := plotter.NewBarChart(vs, width)
		if err != nil {
			return err
		}
		bars.StackOn(under)
		bars.Offset = vg.Length(float64(ti)-float64(len(targets)-1)/2) * width
		bars.Color = chartColors[ti%len(chartColors)]
		bars.LineStyle.Width = 0
		p.Add(bars)
		p.Legend.Add(t, bars)
	}
	if hi == 0 {
		return fmt.Errorf("bench: chart: every median is 0")
	}
	p.Y.Min = math.Pow(10, math.Floor(math.Log10(lo)))
	p.Y.Max = math.Pow(10, math.Ceil(math.Log10(hi*1.5)))
	names := make([]string, len(cases))
	for i, g := range cases {
		names[i] = fmt.Sprintf("%s\nq%d %s", g.scenario, g.qos, size(g.payload))
	}
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(7)
	return p.Save(vg.Length(max(8, len(cases)/2))*vg.Inch, 5*vg.Inch, path)
}
