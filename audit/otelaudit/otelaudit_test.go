package otelaudit_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/audit/otelaudit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// telemetry is a Sink over in-memory exporters.
type telemetry struct {
	sink   *otelaudit.Sink
	spans  *tracetest.InMemoryExporter
	reader *sdkmetric.ManualReader
	tp     *sdktrace.TracerProvider
}

func newTelemetry(t *testing.T) *telemetry {
	t.Helper()
	tel := &telemetry{spans: tracetest.NewInMemoryExporter(), reader: sdkmetric.NewManualReader()}
	tel.tp = sdktrace.NewTracerProvider(sdktrace.WithSyncer(tel.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(tel.reader))
	t.Cleanup(func() {
		tel.tp.Shutdown(context.Background())
		mp.Shutdown(context.Background())
	})
	s, err := otelaudit.New(otelaudit.Options{TracerProvider: tel.tp, MeterProvider: mp})
	if err != nil {
		t.Fatal(err)
	}
	tel.sink = s
	return tel
}

// metrics collects the metrics by name.
func (tel *telemetry) metrics(t *testing.T) map[string]metricdata.Aggregation {
	t.Helper()
	var rm metricdata.ResourceMetrics
	if err := tel.reader.Collect(t.Context(), &rm); err != nil {
		t.Fatal(err)
	}
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func okCall() audit.Event {
	return audit.Event{
		RequestID: "req-1", Time: t0, Operation: "chat", Provider: "openai", Endpoint: "chat.completions",
		Caller: "c-1", Group: "search", Purpose: "support_reply", RequestModel: "gpt-4o-mini", ResponseModel: "gpt-4o-mini-2024-07-18",
		ResponseID: "chatcmpl-1", MaxTokens: 256, FinishReasons: []string{"stop"}, InputTokens: 12, OutputTokens: 34,
		HTTPStatus: 200, Outcome: audit.OutcomeOK, KeyFingerprint: "kfp_1", CostUSD: 0.002, Duration: 1500 * time.Millisecond,
		Decisions: []audit.Decision{{Stage: "policy", Check: "model_allowlist", Verdict: audit.VerdictAllow, Duration: time.Microsecond}},
		Findings:  []audit.Finding{{Stage: "input", Kind: "pii", Type: "email", Count: 2}},
	}
}

func refusedCall() audit.Event {
	return audit.Event{RequestID: "req-2", Time: t0.Add(time.Second), Operation: "chat", Provider: "openai",
		RequestModel: "gpt-4", Outcome: audit.OutcomeRefused, ErrorType: "model_not_allowed", Stage: "policy",
		Duration: 200 * time.Microsecond}
}

func attrs(kvs []attribute.KeyValue) map[string]attribute.Value {
	m := map[string]attribute.Value{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value
	}
	return m
}

func TestSpans(t *testing.T) {
	tel := newTelemetry(t)
	// A parent span in the context makes the call span its child.
	ctx, parent := tel.tp.Tracer("test").Start(t.Context(), "handler")
	for _, e := range []audit.Event{okCall(), refusedCall()} {
		if err := tel.sink.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	parent.End()
	spans := tel.spans.GetSpans()
	if len(spans) != 3 {
		t.Fatalf("%d spans, want 3", len(spans))
	}
	ok, refused := spans[0], spans[1]
	if ok.Name != "chat gpt-4o-mini" || ok.SpanKind != trace.SpanKindClient || !ok.StartTime.Equal(t0) || !ok.EndTime.Equal(t0.Add(1500*time.Millisecond)) {
		t.Errorf("span %s kind %v from %v to %v", ok.Name, ok.SpanKind, ok.StartTime, ok.EndTime)
	}
	if ok.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Error("call span is not a child of the context's span")
	}
	a := attrs(ok.Attributes)
	for k, want := range map[string]any{
		"gen_ai.operation.name":          "chat",
		"gen_ai.provider.name":           "openai",
		"gen_ai.request.model":           "gpt-4o-mini",
		"gen_ai.response.model":          "gpt-4o-mini-2024-07-18",
		"gen_ai.response.id":             "chatcmpl-1",
		"gen_ai.request.max_tokens":      int64(256),
		"gen_ai.usage.input_tokens":      int64(12),
		"gen_ai.usage.output_tokens":     int64(34),
		"http.response.status_code":      int64(200),
		"enduser.pseudo.id":              "c-1",
		"secureai.purpose":               "support_reply",
		"secureai.cost_usd":              0.002,
		"secureai.outcome":               "ok",
		"gen_ai.response.finish_reasons": []string{"stop"},
	} {
		v, ok := a[k]
		if !ok {
			t.Errorf("span lacks %s", k)
			continue
		}
		if got := v.AsInterface(); !equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	if ok.Status.Code != codes.Unset {
		t.Errorf("ok call status %v", ok.Status)
	}
	if len(ok.Events) != 2 || ok.Events[0].Name != "secureai.decision" || ok.Events[1].Name != "secureai.finding" {
		t.Errorf("span events %+v", ok.Events)
	}
	if refused.Status.Code != codes.Error || refused.Status.Description != "model_not_allowed" {
		t.Errorf("refused call status %+v", refused.Status)
	}
	if attrs(refused.Attributes)["error.type"].AsString() != "model_not_allowed" {
		t.Error("refused span lacks error.type")
	}
}

func equal(a, b any) bool {
	if as, ok := a.([]string); ok {
		bs, ok := b.([]string)
		return ok && strings.Join(as, ",") == strings.Join(bs, ",")
	}
	return a == b
}

func TestMetrics(t *testing.T) {
	tel := newTelemetry(t)
	ctx := t.Context()
	ok := okCall()
	ok.DroppedBefore = 5
	for _, e := range []audit.Event{ok, ok, refusedCall(),
		{Kind: audit.KindAlert, AlertType: audit.AlertRefusals},
		{Kind: audit.KindBudgetThreshold, AlertValue: 0.9}} {
		tel.sink.Write(ctx, e)
	}
	if n := len(tel.spans.GetSpans()); n != 3 {
		t.Errorf("%d spans, want one per call", n)
	}
	m := tel.metrics(t)

	sum := func(name string, match func(attribute.Set) bool) float64 {
		t.Helper()
		var total float64
		switch d := m[name].(type) {
		case metricdata.Sum[int64]:
			for _, p := range d.DataPoints {
				if match == nil || match(p.Attributes) {
					total += float64(p.Value)
				}
			}
		case metricdata.Sum[float64]:
			for _, p := range d.DataPoints {
				if match == nil || match(p.Attributes) {
					total += p.Value
				}
			}
		case metricdata.Histogram[int64]:
			for _, p := range d.DataPoints {
				if match == nil || match(p.Attributes) {
					total += float64(p.Sum)
				}
			}
		case metricdata.Histogram[float64]:
			for _, p := range d.DataPoints {
				if match == nil || match(p.Attributes) {
					total += p.Sum
				}
			}
		default:
			t.Fatalf("metric %s: %T", name, m[name])
		}
		return total
	}
	has := func(k, v string) func(attribute.Set) bool {
		return func(s attribute.Set) bool { got, ok := s.Value(attribute.Key(k)); return ok && got.AsString() == v }
	}
	checks := []struct {
		name  string
		match func(attribute.Set) bool
		want  float64
	}{
		{"secureai.requests", has("secureai.outcome", "ok"), 2},
		{"secureai.requests", has("secureai.outcome", "refused"), 1},
		{"secureai.refusals", has("secureai.stage", "policy"), 1},
		{"gen_ai.client.token.usage", has("gen_ai.token.type", "input"), 24},
		{"gen_ai.client.token.usage", has("gen_ai.token.type", "output"), 68},
		{"secureai.cost", nil, 0.004},
		{"gen_ai.client.operation.duration", has("gen_ai.request.model", "gpt-4o-mini"), 3},
		{"secureai.audit.dropped", nil, 10},
		{"secureai.alerts", has("alert.type", "refusals"), 1},
		{"secureai.alerts", has("alert.type", "budget_threshold"), 1},
	}
	for _, c := range checks {
		if got := sum(c.name, c.match); got < c.want-1e-9 || got > c.want+1e-9 {
			t.Errorf("%s = %v, want %v", c.name, got, c.want)
		}
	}
	h := m["gen_ai.client.operation.duration"].(metricdata.Histogram[float64])
	if len(h.DataPoints) == 0 || len(h.DataPoints[0].Bounds) != 14 || h.DataPoints[0].Bounds[0] != 0.01 {
		t.Errorf("latency histogram bounds %v", h.DataPoints[0].Bounds)
	}
}

func TestNewDefaults(t *testing.T) {
	s, err := otelaudit.New(otelaudit.Options{}) // the global no-op providers
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), okCall()); err != nil {
		t.Fatal(err)
	}
}

// TestNoRawContent: spans hold what the event holds, nothing more.
func TestNoRawContent(t *testing.T) {
	tel := newTelemetry(t)
	e := okCall()
	e.InputHash = "h-1"
	tel.sink.Write(t.Context(), e)
	tel.sink.Write(t.Context(), refusedCall())
	for _, s := range tel.spans.GetSpans() {
		for _, kv := range s.Attributes {
			v := kv.Value.Emit()
			if strings.Contains(v, "MARKER") || strings.Contains(v, "sk-") {
				t.Errorf("span attribute %s = %q", kv.Key, v)
			}
		}
		if k := attrs(s.Attributes); k["gen_ai.input.messages"].AsString() != "" || k["gen_ai.output.messages"].AsString() != "" {
			t.Error("span carries message content")
		}
	}
}

func BenchmarkWrite(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	defer tp.Shutdown(context.Background())
	defer mp.Shutdown(context.Background())
	s, err := otelaudit.New(otelaudit.Options{TracerProvider: tp, MeterProvider: mp})
	if err != nil {
		b.Fatal(err)
	}
	e := okCall()
	b.ReportAllocs()
	for b.Loop() {
		s.Write(b.Context(), e)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
