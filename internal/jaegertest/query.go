package jaegertest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Trace is one element of data in the response of Jaeger's /api/traces.
type Trace struct {
	TraceID string `json:"traceID"`
	Spans   []Span `json:"spans"`
	// Processes maps Span.ProcessID to the process (OTLP resource) that
	// produced the span.
	Processes map[string]Process `json:"processes"`
	Warnings  []string           `json:"warnings"`
}

// Span is a span as rendered by Jaeger's query API.
type Span struct {
	TraceID       string      `json:"traceID"`
	SpanID        string      `json:"spanID"`
	OperationName string      `json:"operationName"`
	References    []Reference `json:"references"`
	// StartTime is in microseconds since the Unix epoch.
	StartTime int64 `json:"startTime"`
	// Duration is in microseconds.
	Duration  int64      `json:"duration"`
	Tags      []KeyValue `json:"tags"`
	Logs      []Log      `json:"logs"`
	ProcessID string     `json:"processID"`
	Warnings  []string   `json:"warnings"`

	// Process is the entry of Trace.Processes for ProcessID, filled in by
	// Traces and WaitForSpans.
	Process Process `json:"-"`
}

// Reference links a span to another span, for example its parent.
type Reference struct {
	// RefType is "CHILD_OF" or "FOLLOWS_FROM".
	RefType string `json:"refType"`
	TraceID string `json:"traceID"`
	SpanID  string `json:"spanID"`
}

// Log is a span event.
type Log struct {
	// Timestamp is in microseconds since the Unix epoch.
	Timestamp int64      `json:"timestamp"`
	Fields    []KeyValue `json:"fields"`
}

// Process is the service that produced spans. Jaeger maps an OTLP resource
// to a process: service.name becomes ServiceName and the other resource
// attributes become Tags.
type Process struct {
	ServiceName string     `json:"serviceName"`
	Tags        []KeyValue `json:"tags"`
}

// KeyValue is a Jaeger tag. Value holds the JSON value as decoded with
// json.Decoder.UseNumber, so numbers are json.Number and keep every digit.
//
// Jaeger v1.75.0 renders an int64 tag as a JSON number while it is within
// ±(2^53-1), which JavaScript represents exactly, and as a decimal string
// beyond that. Int64, Span.Tag and Span.Int64Tag read both forms.
type KeyValue struct {
	Key string `json:"key"`
	// Type is "string", "bool", "int64", "float64" or "binary".
	Type  string `json:"type"`
	Value any    `json:"value"`
}

// StartTimestamp returns StartTime as a time.Time.
func (s Span) StartTimestamp() time.Time {
	return time.UnixMicro(s.StartTime)
}

// Tag returns the value of the span tag named key, converted by its type:
// int64 for "int64", float64 for "float64", bool, string, and []byte for
// "binary". It returns the raw decoded value when the conversion fails.
func (s Span) Tag(key string) (any, bool) {
	return lookup(s.Tags, key)
}

// Int64Tag returns the span tag named key when it is an int64 tag.
func (s Span) Int64Tag(key string) (int64, bool) {
	return lookupInt64(s.Tags, key)
}

// StringTag returns the span tag named key when it is a string tag.
func (s Span) StringTag(key string) (string, bool) {
	value, ok := lookup(s.Tags, key)
	text, isString := value.(string)
	return text, ok && isString
}

// Tag returns the value of the process tag named key, converted as by
// Span.Tag.
func (p Process) Tag(key string) (any, bool) {
	return lookup(p.Tags, key)
}

// Int64Tag returns the process tag named key when it is an int64 tag.
func (p Process) Int64Tag(key string) (int64, bool) {
	return lookupInt64(p.Tags, key)
}

// Typed returns Value converted by Type, as described for Span.Tag.
func (kv KeyValue) Typed() (any, error) {
	switch kv.Type {
	case "int64":
		return Int64(kv.Value)
	case "float64":
		return Float64(kv.Value)
	case "bool":
		if b, ok := kv.Value.(bool); ok {
			return b, nil
		}
	case "string":
		if s, ok := kv.Value.(string); ok {
			return s, nil
		}
	case "binary":
		// encoding/json renders []byte as standard base64.
		if s, ok := kv.Value.(string); ok {
			return base64.StdEncoding.DecodeString(s)
		}
	default:
		return kv.Value, fmt.Errorf("tag %q has unknown type %q", kv.Key, kv.Type)
	}
	return kv.Value, fmt.Errorf("tag %q of type %s has a %T value", kv.Key, kv.Type, kv.Value)
}

func lookup(tags []KeyValue, key string) (any, bool) {
	for _, kv := range tags {
		if kv.Key != key {
			continue
		}
		value, err := kv.Typed()
		if err != nil {
			return kv.Value, true
		}
		return value, true
	}
	return nil, false
}

func lookupInt64(tags []KeyValue, key string) (int64, bool) {
	for _, kv := range tags {
		if kv.Key == key && kv.Type == "int64" {
			n, err := Int64(kv.Value)
			return n, err == nil
		}
	}
	return 0, false
}

// Int64 converts a decoded JSON number to int64 without going through
// float64, so values above 2^53 keep every digit. It accepts json.Number,
// a decimal string, int64 and integral float64 values up to 2^53.
func Int64(value any) (int64, error) {
	switch v := value.(type) {
	case json.Number:
		return strconv.ParseInt(v.String(), 10, 64)
	case string:
		return strconv.ParseInt(v, 10, 64)
	case int64:
		return v, nil
	case int:
		return int64(v), nil
	case float64:
		const maxExact = 1 << 53
		if v != float64(int64(v)) || v > maxExact || v < -maxExact {
			return 0, fmt.Errorf("float64 %v is not an exact integer", v)
		}
		return int64(v), nil
	default:
		return 0, fmt.Errorf("%T value %v is not an integer", value, value)
	}
}

// Float64 converts a decoded JSON number to float64. It accepts
// json.Number, a decimal string, float64 and int64.
func Float64(value any) (float64, error) {
	switch v := value.(type) {
	case json.Number:
		return v.Float64()
	case string:
		return strconv.ParseFloat(v, 64)
	case float64:
		return v, nil
	case int64:
		return float64(v), nil
	default:
		return 0, fmt.Errorf("%T value %v is not a number", value, value)
	}
}

// apiResponse is the envelope of Jaeger's query API responses.
type apiResponse[T any] struct {
	Data   T          `json:"data"`
	Errors []apiError `json:"errors"`
}

type apiError struct {
	Code    int    `json:"code"`
	Message string `json:"msg"`
}

// Services returns the service names that Jaeger has spans for.
func (j *Jaeger) Services(ctx context.Context) ([]string, error) {
	var response apiResponse[[]string]
	if err := j.getJSON(ctx, "/api/services", nil, &response); err != nil {
		return nil, err
	}
	return response.Data, nil
}

// Traces returns the traces of service that match params, newest first,
// and fills in each span's Process from its trace.
//
// params may set the other /api/traces parameters: operation, tags (a JSON
// object), minDuration, maxDuration, start, end and limit. Jaeger v1.75.0
// searches spans that started in the last 2 days unless start and end
// (microseconds since the Unix epoch) are given. It returns at most
// limit traces, 100 by default, and rejects a limit above the store's
// max_traces.
func (j *Jaeger) Traces(ctx context.Context, service string, params url.Values) ([]Trace, error) {
	query := url.Values{}
	for key, values := range params {
		query[key] = append([]string(nil), values...)
	}
	query.Set("service", service)

	var response apiResponse[[]Trace]
	if err := j.getJSON(ctx, "/api/traces", query, &response); err != nil {
		return nil, err
	}
	for i := range response.Data {
		trace := &response.Data[i]
		for k := range trace.Spans {
			trace.Spans[k].Process = trace.Processes[trace.Spans[k].ProcessID]
		}
	}
	return response.Data, nil
}

// waitForSpansLimit is the traces requested per poll by WaitForSpans. It
// must not exceed the store's max_traces (100000 in deploy/local/jaeger.yaml).
const waitForSpansLimit = 1000

// WaitForSpans polls the newest traces of service every 200 ms until it has
// found n distinct spans for which match returns true, and returns them.
// A nil match accepts every span. It returns the spans found so far with an
// error when ctx ends first.
//
// NOTE: each poll reads only the newest 1000 traces of the service, so
// older matching spans are missed while a busy service sends more.
func (j *Jaeger) WaitForSpans(ctx context.Context, service string, match func(Span) bool, n int) ([]Span, error) {
	params := url.Values{"limit": {strconv.Itoa(waitForSpansLimit)}}
	ticker := time.NewTicker(200 * time.Millisecond)
	defer ticker.Stop()

	var found []Span
	var lastErr error
	for {
		traces, err := j.Traces(ctx, service, params)
		lastErr = err
		if err == nil {
			found = matchingSpans(traces, match)
			if len(found) >= n {
				return found, nil
			}
		}

		select {
		case <-ctx.Done():
			if lastErr != nil {
				return found, fmt.Errorf("wait for %d spans of service %q: found %d, last query failed: %w (%w)",
					n, service, len(found), lastErr, ctx.Err())
			}
			return found, fmt.Errorf("wait for %d spans of service %q: found %d: %w", n, service, len(found), ctx.Err())
		case <-ticker.C:
		}
	}
}

// matchingSpans returns the spans of traces accepted by match, each span
// once even when a trace is listed twice.
func matchingSpans(traces []Trace, match func(Span) bool) []Span {
	seen := map[string]bool{}
	var spans []Span
	for _, trace := range traces {
		for _, span := range trace.Spans {
			id := span.TraceID + "/" + span.SpanID
			if seen[id] || (match != nil && !match(span)) {
				continue
			}
			seen[id] = true
			spans = append(spans, span)
		}
	}
	return spans
}

// getJSON sends GET QueryURL+path?query and decodes the JSON response into
// out with UseNumber. It returns an error for a status other than 200 and
// for a non-empty errors list in the response.
func (j *Jaeger) getJSON(ctx context.Context, path string, query url.Values, out any) error {
	target := strings.TrimSuffix(j.QueryURL, "/") + path
	if len(query) > 0 {
		target += "?" + query.Encode()
	}
	request, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return fmt.Errorf("query Jaeger: %w", err)
	}
	request.Header.Set("Accept", "application/json")

	response, err := httpClient.Do(request)
	if err != nil {
		return fmt.Errorf("query Jaeger: %w", err)
	}
	defer response.Body.Close()
	body, err := io.ReadAll(response.Body)
	if err != nil {
		return fmt.Errorf("read response of GET %s: %w", target, err)
	}
	if response.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: status %s: %s", target, response.Status, truncate(body, 512))
	}

	decoder := json.NewDecoder(bytes.NewReader(body))
	decoder.UseNumber()
	if err := decoder.Decode(out); err != nil {
		return fmt.Errorf("decode response of GET %s: %w: %s", target, err, truncate(body, 512))
	}

	var envelope apiResponse[json.RawMessage]
	if err := json.Unmarshal(body, &envelope); err == nil && len(envelope.Errors) > 0 {
		first := envelope.Errors[0]
		return fmt.Errorf("GET %s: Jaeger returned %d errors, first: code %d: %s",
			target, len(envelope.Errors), first.Code, first.Message)
	}
	return nil
}

// truncate returns data as a string of at most limit bytes.
func truncate(data []byte, limit int) string {
	if len(data) <= limit {
		return string(data)
	}
	return string(data[:limit]) + "..."
}
