package main

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// barSeries is one colour of a grouped bar chart: one value per category.
type barSeries struct {
	Label  string
	Values []float64
}

// referenceLine is a dashed line across a plot at a value of its value axis.
type referenceLine struct {
	Value float64
	Label string
}

// Plot geometry, in inches of a 96 dpi PNG.
const (
	plotWidth   = 9 * vg.Inch
	barHeight   = 0.22 * vg.Inch
	plotPadding = 1.6 * vg.Inch
	linePlotH   = 4.5 * vg.Inch
)

// horizontalBars draws grouped horizontal bars, the categories top to
// bottom in the order given, each bar labelled with its value.
func horizontalBars(path, title, valueLabel, format string, categories []string, series []barSeries, refs []referenceLine) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = valueLabel
	p.X.Min = 0
	p.Legend.Top = true
	p.Legend.Left = false

	// NominalY puts the first name at the bottom: reverse, so the first
	// category reads at the top.
	n := len(categories)
	reversed := make([]string, n)
	for i, c := range categories {
		reversed[n-1-i] = c
	}

	k := len(series)
	maxValue := 0.0
	for j, s := range series {
		values := make(plotter.Values, n)
		labels := plotter.XYLabels{XYs: make(plotter.XYs, n), Labels: make([]string, n)}
		for i, v := range s.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				v = 0
			}
			values[n-1-i] = v
			maxValue = max(maxValue, v)
			labels.XYs[n-1-i] = plotter.XY{X: v, Y: float64(n - 1 - i)}
			labels.Labels[n-1-i] = fmt.Sprintf(format, v)
		}
		bars, err := plotter.NewBarChart(values, barHeight)
		if err != nil {
			return err
		}
		bars.Horizontal = true
		bars.Color = plotutil.Color(j)
		bars.LineStyle.Width = 0
		offset := (float64(j) - float64(k-1)/2) * float64(barHeight)
		// Offsets put the first series on top, in the legend's order.
		bars.Offset = vg.Length(-offset)
		p.Add(bars)
		// One series with no reference lines needs no legend: the axis
		// label names it.
		if k > 1 || len(refs) > 0 {
			p.Legend.Add(s.Label, bars)
		}

		valueLabels, err := plotter.NewLabels(labels)
		if err != nil {
			return err
		}
		for i := range valueLabels.TextStyle {
			valueLabels.TextStyle[i].YAlign = text.YCenter
			valueLabels.TextStyle[i].Font.Size = vg.Points(8)
		}
		valueLabels.Offset = vg.Point{X: vg.Points(3), Y: vg.Length(-offset)}
		p.Add(valueLabels)
	}

	for i, ref := range refs {
		line, err := plotter.NewLine(plotter.XYs{{X: ref.Value, Y: -0.5}, {X: ref.Value, Y: float64(n) - 0.5}})
		if err != nil {
			return err
		}
		line.LineStyle = draw.LineStyle{Color: color.Gray{Y: 80}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4 + 2*float64(i)), vg.Points(3)}}
		p.Add(line)
		p.Legend.Add(ref.Label, line)
		maxValue = max(maxValue, ref.Value)
	}
	// Leave room on the right for the value labels and the legend.
	p.X.Max = maxValue * 1.45
	p.NominalY(reversed...)
	p.Add(plotter.NewGrid())

	height := plotPadding + vg.Length(n*k)*barHeight*1.25
	return p.Save(plotWidth, height, path)
}

// lineSeries is one line of a line plot, with an optional label per point.
type lineSeries struct {
	Label  string
	X, Y   []float64
	Labels []string
}

// legendPosition is the corner of a line plot that holds the legend.
type legendPosition int

const (
	legendTopLeft legendPosition = iota
	legendBottomLeft
)

// linePlot draws lines with points over a logarithmic x axis with the
// given ticks, and dashed horizontal reference lines. The y axis starts at 0.
func linePlot(path, title, xLabel, yLabel string, ticks []plot.Tick, series []lineSeries, refs []referenceLine, legend legendPosition) error {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = xLabel
	p.Y.Label.Text = yLabel
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks(ticks)
	p.Legend.Top = legend == legendTopLeft
	p.Legend.Left = true
	p.Add(plotter.NewGrid())

	xMin, xMax, yMax := math.Inf(1), math.Inf(-1), 0.0
	for j, s := range series {
		xys := make(plotter.XYs, 0, len(s.X))
		pointLabels := plotter.XYLabels{}
		for i := range s.X {
			if math.IsNaN(s.Y[i]) {
				continue
			}
			xys = append(xys, plotter.XY{X: s.X[i], Y: s.Y[i]})
			xMin, xMax, yMax = min(xMin, s.X[i]), max(xMax, s.X[i]), max(yMax, s.Y[i])
			if i < len(s.Labels) {
				pointLabels.XYs = append(pointLabels.XYs, plotter.XY{X: s.X[i], Y: s.Y[i]})
				pointLabels.Labels = append(pointLabels.Labels, s.Labels[i])
			}
		}
		if len(xys) == 0 {
			continue
		}
		line, points, err := plotter.NewLinePoints(xys)
		if err != nil {
			return err
		}
		line.Color = plotutil.Color(j)
		line.Width = vg.Points(1.5)
		points.Color = plotutil.Color(j)
		points.Shape = plotutil.Shape(j)
		p.Add(line, points)
		p.Legend.Add(s.Label, line, points)

		if len(pointLabels.Labels) > 0 {
			labels, err := plotter.NewLabels(pointLabels)
			if err != nil {
				return err
			}
			for i := range labels.TextStyle {
				labels.TextStyle[i].Font.Size = vg.Points(8)
				labels.TextStyle[i].Color = plotutil.Color(j)
			}
			labels.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(4)}
			p.Add(labels)
		}
	}
	for i, ref := range refs {
		line, err := plotter.NewLine(plotter.XYs{{X: xMin, Y: ref.Value}, {X: xMax, Y: ref.Value}})
		if err != nil {
			return err
		}
		line.LineStyle = draw.LineStyle{Color: color.Gray{Y: 80}, Width: vg.Points(1), Dashes: []vg.Length{vg.Points(4 + 2*float64(i)), vg.Points(3)}}
		p.Add(line)
		p.Legend.Add(ref.Label, line)
		yMax = max(yMax, ref.Value)
	}
	p.Y.Min = 0
	// Leave room above the highest point for the legend and the labels.
	p.Y.Max = yMax * 1.25
	return p.Save(plotWidth, linePlotH, path)
}

// rateTicks labels the offered rates as 10k, 50k, ...
func rateTicks(rates []float64) []plot.Tick {
	ticks := make([]plot.Tick, 0, len(rates))
	for _, r := range rates {
		ticks = append(ticks, plot.Tick{Value: r, Label: formatRate(r)})
	}
	return ticks
}

// formatRate prints a rate in calls per second as 10k or 1.5M.
func formatRate(r float64) string {
	switch {
	case r >= 1e6:
		return trimFloat(r/1e6) + "M"
	case r >= 1e3:
		return trimFloat(r/1e3) + "k"
	}
	return trimFloat(r)
}

func trimFloat(v float64) string {
	if v == math.Trunc(v) {
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
