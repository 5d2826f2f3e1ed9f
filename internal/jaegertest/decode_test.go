package jaegertest

import (
	"bytes"
	"context"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// tracesResponse is an /api/traces response in the shape that Jaeger
// v1.75.0 sends, including an int64 tag beyond 2^53 written as a string.
const tracesResponse = `{
  "data": [{
    "traceID": "5b8efff798038103d269b633813fc60c",
    "spans": [{
      "traceID": "5b8efff798038103d269b633813fc60c",
      "spanID": "eee19b7ec3c1b174",
      "operationName": "op",
      "references": [{"refType": "CHILD_OF", "traceID": "5b8efff798038103d269b633813fc60c", "spanID": "eee19b7ec3c1b175"}],
      "startTime": 1796414701136975,
      "duration": 1500,
      "tags": [
        {"key": "small", "type": "int64", "value": 5},
        {"key": "big", "type": "int64", "value": "9007199254740993"},
        {"key": "negative", "type": "int64", "value": -9223372036854775808},
        {"key": "ratio", "type": "float64", "value": 0.25},
        {"key": "error", "type": "bool", "value": true},
        {"key": "path", "type": "string", "value": "/srv/a"},
        {"key": "raw", "type": "binary", "value": "AAEC"},
        {"key": "odd", "type": "int64", "value": "not a number"}
      ],
      "logs": [{"timestamp": 1796414701136975, "fields": [{"key": "event", "type": "string", "value": "ev"}]}],
      "processID": "p1",
      "warnings": null
    }],
    "processes": {"p1": {"serviceName": "demo", "tags": [{"key": "process.pid", "type": "int64", "value": 4242}]}},
    "warnings": null
  }],
  "total": 0, "limit": 0, "offset": 0, "errors": null
}`

func TestTracesDecodesTags(t *testing.T) {
	var gotQuery url.Values
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotQuery = r.URL.Query()
		w.Write([]byte(tracesResponse))
	}))
	defer server.Close()
	jaeger := &Jaeger{QueryURL: server.URL}

	traces, err := jaeger.Traces(context.Background(), "demo", url.Values{"limit": {"5"}})
	if err != nil {
		t.Fatalf("Traces: %v", err)
	}
	if gotQuery.Get("service") != "demo" || gotQuery.Get("limit") != "5" {
		t.Errorf("query = %v, want service=demo and limit=5", gotQuery)
	}
	if len(traces) != 1 || len(traces[0].Spans) != 1 {
		t.Fatalf("got %d traces, want 1 trace with 1 span", len(traces))
	}
	span := traces[0].Spans[0]

	if span.Process.ServiceName != "demo" {
		t.Errorf("Process.ServiceName = %q, want demo", span.Process.ServiceName)
	}
	if pid, ok := span.Process.Int64Tag("process.pid"); !ok || pid != 4242 {
		t.Errorf("Process.Int64Tag(process.pid) = %d, %v, want 4242, true", pid, ok)
	}
	if span.StartTimestamp().UnixMicro() != 1796414701136975 {
		t.Errorf("StartTimestamp() = %v, want 1796414701136975 µs", span.StartTimestamp())
	}

	int64Cases := map[string]int64{
		"small":    5,
		"big":      9007199254740993,
		"negative": math.MinInt64,
	}
	for key, want := range int64Cases {
		if got, ok := span.Int64Tag(key); !ok || got != want {
			t.Errorf("Int64Tag(%s) = %d, %v, want %d, true", key, got, ok, want)
		}
		if got, ok := span.Tag(key); !ok || got != want {
			t.Errorf("Tag(%s) = %v (%T), want int64 %d", key, got, got, want)
		}
	}

	if got, _ := span.Tag("ratio"); got != 0.25 {
		t.Errorf("Tag(ratio) = %v (%T), want float64 0.25", got, got)
	}
	if got, _ := span.Tag("error"); got != true {
		t.Errorf("Tag(error) = %v (%T), want true", got, got)
	}
	if got, ok := span.StringTag("path"); !ok || got != "/srv/a" {
		t.Errorf("StringTag(path) = %q, %v, want /srv/a, true", got, ok)
	}
	if got, _ := span.Tag("raw"); !bytes.Equal(got.([]byte), []byte{0, 1, 2}) {
		t.Errorf("Tag(raw) = %v, want bytes 00 01 02", got)
	}
	if _, ok := span.Int64Tag("odd"); ok {
		t.Errorf("Int64Tag(odd) accepted a non-numeric value")
	}
	if got, ok := span.Tag("odd"); !ok || got != "not a number" {
		t.Errorf("Tag(odd) = %v, %v, want the raw value", got, ok)
	}
	if _, ok := span.StringTag("small"); ok {
		t.Errorf("StringTag(small) accepted an int64 tag")
	}
}

func TestTracesReportsAPIErrors(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		w.Write([]byte(`{"data":null,"errors":[{"code":400,"msg":"parameter 'service' is required"}]}`))
	}))
	defer server.Close()
	jaeger := &Jaeger{QueryURL: server.URL}

	_, err := jaeger.Traces(context.Background(), "", nil)
	if err == nil || !strings.Contains(err.Error(), "parameter 'service' is required") {
		t.Errorf("Traces error = %v, want it to contain Jaeger's message", err)
	}
}

func TestWaitForSpansTimesOut(t *testing.T) {
	server := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(tracesResponse))
	}))
	defer server.Close()
	jaeger := &Jaeger{QueryURL: server.URL}

	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	spans, err := jaeger.WaitForSpans(ctx, "demo", nil, 2)
	if err == nil {
		t.Fatalf("WaitForSpans returned no error for 2 spans when only 1 exists")
	}
	if len(spans) != 1 {
		t.Errorf("WaitForSpans returned %d spans with the error, want the 1 found", len(spans))
	}
}

func TestInt64Conversions(t *testing.T) {
	if _, err := Int64(float64(1 << 60)); err == nil {
		t.Errorf("Int64(2^60 as float64) succeeded, want an error because float64 is not exact there")
	}
	if got, err := Int64(float64(-42)); err != nil || got != -42 {
		t.Errorf("Int64(-42.0) = %d, %v, want -42", got, err)
	}
	if _, err := Int64(1.5); err == nil {
		t.Errorf("Int64(1.5) succeeded, want an error")
	}
	if _, err := Int64(true); err == nil {
		t.Errorf("Int64(true) succeeded, want an error")
	}
}

func TestParseText(t *testing.T) {
	input := `# HELP sendfile_io_bytes_total Bytes sent.
# TYPE sendfile_io_bytes_total counter
sendfile_io_bytes_total{job="demo",path="C:\\tmp\\\"a\"\nb",} 1.23456789e+08
sendfile_io_bytes_total{job="other"} 7 1700000000123

# a free comment
up 1
latency_seconds_bucket{le="+Inf"} +Inf
weird_value NaN
negative -Inf
{"sendfile.io", "service.name"="demo"} 3
spaced { a = "b" } 4
`
	metrics, err := ParseText(strings.NewReader(input))
	if err != nil {
		t.Fatalf("ParseText: %v", err)
	}

	counter := metrics["sendfile_io_bytes_total"]
	if len(counter) != 2 {
		t.Fatalf("got %d samples of sendfile_io_bytes_total, want 2", len(counter))
	}
	if got := counter[0].Labels["path"]; got != "C:\\tmp\\\"a\"\nb" {
		t.Errorf("escaped label value = %q, want %q", got, "C:\\tmp\\\"a\"\nb")
	}
	if counter[0].Value != 123456789 {
		t.Errorf("value = %v, want 123456789", counter[0].Value)
	}
	if !counter[0].Timestamp.IsZero() {
		t.Errorf("timestamp = %v, want none", counter[0].Timestamp)
	}
	if got := counter[1].Timestamp.UnixMilli(); got != 1700000000123 {
		t.Errorf("timestamp = %d ms, want 1700000000123 ms", got)
	}
	if !counter[1].HasLabels(map[string]string{"job": "other"}) {
		t.Errorf("HasLabels(job=other) = false for labels %v, want true", counter[1].Labels)
	}
	if counter[1].HasLabels(map[string]string{"job": "demo"}) {
		t.Errorf("HasLabels(job=demo) = true for labels %v, want false", counter[1].Labels)
	}

	if got := metrics["up"]; len(got) != 1 || got[0].Value != 1 || len(got[0].Labels) != 0 {
		t.Errorf("up = %+v, want one sample of 1 without labels", got)
	}
	if got := metrics["latency_seconds_bucket"]; len(got) != 1 || !math.IsInf(got[0].Value, 1) {
		t.Errorf("latency_seconds_bucket = %+v, want +Inf", got)
	}
	if got := metrics["weird_value"]; len(got) != 1 || !math.IsNaN(got[0].Value) {
		t.Errorf("weird_value = %+v, want NaN", got)
	}
	if got := metrics["negative"]; len(got) != 1 || !math.IsInf(got[0].Value, -1) {
		t.Errorf("negative = %+v, want -Inf", got)
	}
	if got := metrics["sendfile.io"]; len(got) != 1 || got[0].Labels["service.name"] != "demo" || got[0].Value != 3 {
		t.Errorf("quoted name sample = %+v, want service.name=demo and 3", got)
	}
	if got := metrics["spaced"]; len(got) != 1 || got[0].Labels["a"] != "b" || got[0].Value != 4 {
		t.Errorf("spaced = %+v, want a=b and 4", got)
	}
}

func TestParseTextRejectsMalformedLines(t *testing.T) {
	cases := map[string]string{
		"no value":           "metric\n",
		"bad value":          "metric abc\n",
		"bad timestamp":      "metric 1 1.5\n",
		"too many fields":    "metric 1 2 3\n",
		"unclosed labels":    `metric{a="b" 1` + "\n",
		"unterminated value": `metric{a="b} 1` + "\n",
		"missing equals":     `metric{a "b"} 1` + "\n",
		"unquoted value":     `metric{a=b} 1` + "\n",
		"invalid escape":     `metric{a="\t"} 1` + "\n",
		"duplicate label":    `metric{a="1",a="2"} 1` + "\n",
		"bad name":           "9metric 1\n",
		"no name":            `{a="b"} 1` + "\n",
	}
	for name, input := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseText(strings.NewReader(input)); err == nil {
				t.Errorf("ParseText(%q) succeeded, want an error", input)
			}
		})
	}
}
