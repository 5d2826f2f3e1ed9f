package jaegertest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sample is one line of the Prometheus text format: a series and its value.
type Sample struct {
	Labels map[string]string
	Value  float64
	// Timestamp is the zero time unless the line carried a timestamp.
	Timestamp time.Time
}

// HasLabels reports whether the sample carries every label in want with
// the same value. Other labels of the sample are ignored.
func (s Sample) HasLabels(want map[string]string) bool {
	for name, value := range want {
		got, ok := s.Labels[name]
		if !ok || got != value {
			return false
		}
	}
	return true
}

// ScrapeMetrics fetches PrometheusURL and returns its samples by metric
// name. Names are those of the sample lines, so a histogram appears as
// NAME_bucket, NAME_sum and NAME_count.
func (j *Jaeger) ScrapeMetrics(ctx context.Context) (map[string][]Sample, error) {
	return scrape(ctx, j.PrometheusURL)
}

// ScrapeTelemetryMetrics fetches TelemetryMetricsURL, the collector's own
// metrics, and returns them as ScrapeMetrics does.
func (j *Jaeger) ScrapeTelemetryMetrics(ctx context.Context) (map[string][]Sample, error) {
	return scrape(ctx, j.TelemetryMetricsURL)
}

func scrape(ctx context.Context, target string) (map[string][]Sample, error) {
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	// Version 0.0.4 is the classic text format, which ParseText reads, as
	// opposed to OpenMetrics or the protobuf format.
	request.Header.Set("Accept", "text/plain; version=0.0.4")

	response, err := httpClient.Do(request)
	if err != nil {
		return nil, fmt.Errorf("scrape metrics: %w", err)
	}
	defer response.Body.Close()
	if response.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(response.Body, 512))
		return nil, fmt.Errorf("scrape %s: status %s: %s", target, response.Status, body)
	}

	samples, err := ParseText(response.Body)
	if err != nil {
		return nil, fmt.Errorf("scrape %s: %w", target, err)
	}
	return samples, nil
}

// ParseText parses the Prometheus text exposition format (version 0.0.4)
// and returns the samples by metric name. It skips blank lines and comment
// lines, including # HELP and # TYPE. It also reads metric and label names
// written as quoted strings, as exporters that allow UTF-8 names do.
func ParseText(r io.Reader) (map[string][]Sample, error) {
	samples := map[string][]Sample{}
	scanner := bufio.NewScanner(r)
	scanner.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for number := 1; scanner.Scan(); number++ {
		line := strings.TrimSpace(scanner.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}

		name, sample, err := parseSampleLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w: %q", number, err, line)
		}
		samples[name] = append(samples[name], sample)
	}
	if err := scanner.Err(); err != nil {
		return nil, fmt.Errorf("read metrics: %w", err)
	}
	return samples, nil
}

// lineParser reads one sample line from left to right.
type lineParser struct {
	line string
	pos  int
}

// parseSampleLine parses `name{label="value",...} value [timestamp]`.
func parseSampleLine(line string) (string, Sample, error) {
	p := &lineParser{line: line}
	sample := Sample{Labels: map[string]string{}}

	var name string
	if p.peek() != '{' {
		name = p.readName(isMetricNameStart, isMetricNameChar)
		if name == "" {
			return "", Sample{}, fmt.Errorf("invalid metric name at column %d", p.pos+1)
		}
	}

	p.skipSpace()
	if p.peek() == '{' {
		p.pos++
		quotedName, err := p.readLabels(sample.Labels)
		if err != nil {
			return "", Sample{}, err
		}
		if quotedName != "" {
			if name != "" {
				return "", Sample{}, fmt.Errorf("metric name %q given twice", quotedName)
			}
			name = quotedName
		}
	}
	if name == "" {
		return "", Sample{}, fmt.Errorf("missing metric name")
	}

	fields := strings.Fields(p.line[p.pos:])
	if len(fields) < 1 || len(fields) > 2 {
		return "", Sample{}, fmt.Errorf("want a value and an optional timestamp after the series, got %d fields", len(fields))
	}
	value, err := parseValue(fields[0])
	if err != nil {
		return "", Sample{}, err
	}
	sample.Value = value
	if len(fields) == 2 {
		millis, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil {
			return "", Sample{}, fmt.Errorf("invalid timestamp: %w", err)
		}
		sample.Timestamp = time.UnixMilli(millis)
	}
	return name, sample, nil
}

// readLabels reads label pairs up to and including the closing brace into
// labels. A quoted string that is not followed by '=' is the metric name,
// which readLabels returns.
func (p *lineParser) readLabels(labels map[string]string) (string, error) {
	var metricName string
	for {
		p.skipSpace()
		if p.peek() == '}' {
			p.pos++
			return metricName, nil
		}

		var label string
		if p.peek() == '"' {
			quoted, err := p.readQuoted()
			if err != nil {
				return "", err
			}
			p.skipSpace()
			if p.peek() != '=' {
				if metricName != "" {
					return "", fmt.Errorf("second quoted metric name %q", quoted)
				}
				metricName = quoted
				if err := p.afterPair(); err != nil {
					return "", err
				}
				continue
			}
			label = quoted
		} else {
			label = p.readName(isLabelNameStart, isLabelNameChar)
			if label == "" {
				return "", fmt.Errorf("invalid label name at column %d", p.pos+1)
			}
			p.skipSpace()
		}

		if p.peek() != '=' {
			return "", fmt.Errorf("missing '=' after label %q", label)
		}
		p.pos++
		p.skipSpace()
		value, err := p.readQuoted()
		if err != nil {
			return "", fmt.Errorf("label %q: %w", label, err)
		}
		if _, dup := labels[label]; dup {
			return "", fmt.Errorf("label %q given twice", label)
		}
		labels[label] = value
		if err := p.afterPair(); err != nil {
			return "", err
		}
	}
}

// afterPair consumes the ',' after a label pair, or leaves a closing '}'
// for readLabels.
func (p *lineParser) afterPair() error {
	p.skipSpace()
	switch p.peek() {
	case ',':
		p.pos++
		return nil
	case '}':
		return nil
	case 0:
		return fmt.Errorf("missing '}'")
	default:
		return fmt.Errorf("unexpected %q at column %d", p.peek(), p.pos+1)
	}
}

// readQuoted reads a double-quoted string with the escapes \\, \" and \n.
func (p *lineParser) readQuoted() (string, error) {
	if p.peek() != '"' {
		return "", fmt.Errorf("missing '\"' at column %d", p.pos+1)
	}
	p.pos++
	var text strings.Builder
	for p.pos < len(p.line) {
		c := p.line[p.pos]
		p.pos++
		switch c {
		case '"':
			return text.String(), nil
		case '\\':
			if p.pos >= len(p.line) {
				return "", fmt.Errorf("unterminated escape")
			}
			escaped := p.line[p.pos]
			p.pos++
			switch escaped {
			case '\\', '"':
				text.WriteByte(escaped)
			case 'n':
				text.WriteByte('\n')
			default:
				return "", fmt.Errorf("invalid escape \\%c", escaped)
			}
		default:
			text.WriteByte(c)
		}
	}
	return "", fmt.Errorf("unterminated string")
}

func (p *lineParser) readName(isStart, isChar func(byte) bool) string {
	start := p.pos
	if p.pos < len(p.line) && isStart(p.line[p.pos]) {
		p.pos++
		for p.pos < len(p.line) && isChar(p.line[p.pos]) {
			p.pos++
		}
	}
	return p.line[start:p.pos]
}

func (p *lineParser) peek() byte {
	if p.pos >= len(p.line) {
		return 0
	}
	return p.line[p.pos]
}

func (p *lineParser) skipSpace() {
	for p.pos < len(p.line) && (p.line[p.pos] == ' ' || p.line[p.pos] == '\t') {
		p.pos++
	}
}

// parseValue parses a sample value, including NaN, +Inf and -Inf.
func parseValue(text string) (float64, error) {
	switch text {
	case "+Inf", "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	case "NaN":
		return math.NaN(), nil
	}
	value, err := strconv.ParseFloat(text, 64)
	if err != nil {
		return 0, fmt.Errorf("invalid value %q: %w", text, err)
	}
	return value, nil
}

func isMetricNameStart(c byte) bool {
	return c == '_' || c == ':' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isMetricNameChar(c byte) bool {
	return isMetricNameStart(c) || ('0' <= c && c <= '9')
}

func isLabelNameStart(c byte) bool {
	return c == '_' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z')
}

func isLabelNameChar(c byte) bool {
	return isLabelNameStart(c) || ('0' <= c && c <= '9')
}
