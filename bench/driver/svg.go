package main

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// chartSVG draws two panels, CPU (% of one core) and RTP p99 (ms) against
// concurrent calls, with one line per server and workload.
func chartSVG(ps []point) string {
	const W, H = 960, 450
	const pw, ph = 380, 300 // panel plot area
	type series struct {
		name, color, dash string
		pts               [][2]float64 // calls, value
	}
	colors := map[string]string{"ours": "#1f77b4", "diago": "#ff7f0e"}
	dashes := map[string]string{"ivr": "", "bridge": "6,4", "transcode": "2,3", "conference": "10,3,2,3"}
	build := func(val func(point) float64) []series {
		m := map[string]*series{}
		for _, p := range ps {
			if p.Workload == "setup" || p.Workload == "conference" {
				continue // one load point each: no line to draw
			}
			k := p.Server + " " + p.Workload
			s := m[k]
			if s == nil {
				s = &series{name: k, color: colors[p.Server], dash: dashes[p.Workload]}
				m[k] = s
			}
			s.pts = append(s.pts, [2]float64{float64(p.Calls), val(p)})
		}
		var out []series
		for _, s := range m {
			sort.Slice(s.pts, func(i, j int) bool { return s.pts[i][0] < s.pts[j][0] })
			out = append(out, *s)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].name > out[j].name })
		return out
	}
	cpu := build(func(p point) float64 { return p.CorePct })
	p99 := build(func(p point) float64 { return p.P99 })
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", W, H, W, H)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", W, H)
	panel := func(x0, y0 float64, title, unit string, ss []series) {
		maxX, maxY := 0.0, 0.0
		for _, s := range ss {
			for _, p := range s.pts {
				maxX, maxY = math.Max(maxX, p[0]), math.Max(maxY, p[1])
			}
		}
		maxX, maxY = nice(maxX), nice(maxY*1.1)
		px := func(x float64) float64 { return x0 + x/maxX*pw }
		py := func(y float64) float64 { return y0 + ph - y/maxY*ph }
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" font-size="14" font-weight="bold">%s</text>`+"\n", x0, y0-12, title)
		for i := 0; i <= 5; i++ {
			y := maxY * float64(i) / 5
			fmt.Fprintf(&b, `<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>`+"\n", px(0), py(y), px(maxX), py(y))
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="end">%s</text>`+"\n", px(0)-4, py(y)+4, fmtNum(y))
			x := maxX * float64(i) / 5
			fmt.Fprintf(&b, `<text x="%.1f" y="%.1f" text-anchor="middle">%s</text>`+"\n", px(x), py(0)+16, fmtNum(x))
		}
		fmt.Fprintf(&b, `<rect x="%.0f" y="%.0f" width="%d" height="%d" fill="none" stroke="#444"/>`+"\n", x0, y0, pw, ph)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f" text-anchor="middle">concurrent calls</text>`+"\n", x0+pw/2, y0+ph+34)
		fmt.Fprintf(&b, `<text transform="translate(%.0f,%.0f) rotate(-90)" text-anchor="middle">%s</text>`+"\n", x0-44, y0+ph/2, unit)
		for _, s := range ss {
			var pts []string
			for _, p := range s.pts {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", px(p[0]), py(p[1])))
			}
			dash := ""
			if s.dash != "" {
				dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
			}
			fmt.Fprintf(&b, `<polyline points="%s" fill="none" stroke="%s" stroke-width="2"%s/>`+"\n", strings.Join(pts, " "), s.color, dash)
			for _, p := range s.pts {
				fmt.Fprintf(&b, `<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s: %s at %s calls</title></circle>`+"\n",
					px(p[0]), py(p[1]), s.color, s.name, fmtNum(p[1]), fmtNum(p[0]))
			}
		}
	}
	panel(70, 40, "Server CPU", "% of one core", cpu)
	panel(560, 40, "RTP inter-arrival p99", "ms", p99)
	// Legend.
	y := 398.0
	x := 70.0
	for i, s := range cpu {
		if i > 0 && i%4 == 0 {
			x, y = 70, y+20
		}
		dash := ""
		if s.dash != "" {
			dash = fmt.Sprintf(` stroke-dasharray="%s"`, s.dash)
		}
		fmt.Fprintf(&b, `<line x1="%.0f" y1="%.0f" x2="%.0f" y2="%.0f" stroke="%s" stroke-width="2"%s/>`, x, y, x+28, y, s.color, dash)
		fmt.Fprintf(&b, `<text x="%.0f" y="%.0f">%s</text>`+"\n", x+34, y+4, s.name)
		x += 200
	}
	b.WriteString("</svg>\n")
	return b.String()
}

// nice rounds v up to 1, 2 or 5 times a power of ten.
func nice(v float64) float64 {
	if v <= 0 {
		return 1
	}
	e := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		if m*e >= v {
			return m * e
		}
	}
	return 10 * e
}

func fmtNum(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
