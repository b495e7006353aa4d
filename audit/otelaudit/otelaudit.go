// Package otelaudit is an audit sink that turns each [audit.Event] into
// OpenTelemetry telemetry: a span per call with the GenAI semantic
// convention attributes, and metrics of requests, tokens, cost, refusals
// and latency.
//
// It is a package of its own so that importing audit does not bring the
// OpenTelemetry API into a program. It records through the providers it is
// given (or the global ones); exporting is the SDK's business.
//
// # Spans
//
// One span per event of Kind call, named "{gen_ai.operation.name}
// {gen_ai.request.model}", of kind client, from the event's Time to Time +
// Duration, a child of the span in the context passed to Write. Its
// attributes are the event's GenAI keys (gen_ai.*, error.type,
// http.response.status_code, enduser.pseudo.id,
// deployment.environment.name) and secureai.* for the others. Each decision
// is a span event "secureai.decision", each finding "secureai.finding". A
// refused, failed or cut call sets the span status to Error with the error
// class as description.
//
// # Metrics
//
//	gen_ai.client.operation.duration  histogram, s        latency, by operation, provider, model, error.type
//	gen_ai.client.token.usage         histogram, {token}  tokens, by the above and gen_ai.token.type (input, output)
//	secureai.requests                 counter, {request}  calls, by operation, model, secureai.outcome, secureai.stage
//	secureai.refusals                 counter, {request}  refused calls, by secureai.stage and error.type
//	secureai.cost                     counter, USD        estimated cost, by operation and model
//	secureai.audit.dropped            counter, {event}    events an AsyncSink dropped (from dropped_before)
//	secureai.alerts                   counter, {alert}    alert and budget threshold events, by alert.type
package otelaudit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/secureai-go/secureai/audit"
)

// scope is the instrumentation scope name of the spans and metrics.
const scope = "github.com/secureai-go/secureai/audit/otelaudit"

// Options configures a [Sink]. The zero value uses the global providers.
type Options struct {
	// TracerProvider makes the spans. Default [otel.GetTracerProvider].
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Default [otel.GetMeterProvider].
	MeterProvider metric.MeterProvider
}

// Sink is an [audit.Sink] recording events as spans and metrics.
//
// Use it directly in an [audit.Multi], not behind an [audit.AsyncSink]:
// recording is cheap and does not block (the SDK's batch span processor
// exports in the background), and the call's context, which an AsyncSink
// does not keep, makes the span a child of the caller's span.
//
// A Sink is safe for concurrent use. Write never fails. The zero Sink is not
// usable; use [New].
type Sink struct {
	tracer   trace.Tracer
	duration metric.Float64Histogram
	tokens   metric.Int64Histogram
	requests metric.Int64Counter
	refusals metric.Int64Counter
	cost     metric.Float64Counter
	dropped  metric.Int64Counter
	alerts   metric.Int64Counter
}

// New returns a Sink recording through the providers of opts. It returns an
// error if an instrument cannot be made.
func New(opts Options) (*Sink, error) {
	tp, mp := opts.TracerProvider, opts.MeterProvider
	if tp == nil {
		tp = otel.GetTracerProvider()
	}
	if mp == nil {
		mp = otel.GetMeterProvider()
	}
	m := mp.Meter(scope)
	s := &Sink{tracer: tp.Tracer(scope)}
	var err, e error
	s.duration, e = m.Float64Histogram("gen_ai.client.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("GenAI operation duration."),
		metric.WithExplicitBucketBoundaries(0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92))
	err = errors.Join(err, e)
	s.tokens, e = m.Int64Histogram("gen_ai.client.token.usage", metric.WithUnit("{token}"),
		metric.WithDescription("Number of input and output tokens used."),
		metric.WithExplicitBucketBoundaries(1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864))
	err = errors.Join(err, e)
	s.requests, e = m.Int64Counter("secureai.requests", metric.WithUnit("{request}"),
		metric.WithDescription("Calls made through secureai, by outcome and deciding stage."))
	err = errors.Join(err, e)
	s.refusals, e = m.Int64Counter("secureai.refusals", metric.WithUnit("{request}"),
		metric.WithDescription("Calls refused, by the stage that refused them."))
	err = errors.Join(err, e)
	s.cost, e = m.Float64Counter("secureai.cost", metric.WithUnit("USD"),
		metric.WithDescription("Estimated cost of the calls."))
	err = errors.Join(err, e)
	s.dropped, e = m.Int64Counter("secureai.audit.dropped", metric.WithUnit("{event}"),
		metric.WithDescription("Audit events dropped because an async sink's queue was full."))
	err = errors.Join(err, e)
	s.alerts, e = m.Int64Counter("secureai.alerts", metric.WithUnit("{alert}"),
		metric.WithDescription("Alerts raised, by type."))
	err = errors.Join(err, e)
	if err != nil {
		return nil, fmt.Errorf("otelaudit: instruments: %w", err)
	}
	return s, nil
}

// Write records e: a span and the call metrics for a call, the alert
// counter for an alert or a budget threshold. It returns nil.
func (s *Sink) Write(ctx context.Context, e audit.Event) error {
	if e.DroppedBefore > 0 {
		s.dropped.Add(ctx, int64(e.DroppedBefore))
	}
	switch e.Kind {
	case "", audit.KindCall:
	case audit.KindBudgetThreshold:
		s.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String("alert.type", audit.AlertBudgetThreshold)))
		return nil
	default:
		s.alerts.Add(ctx, 1, metric.WithAttributes(attribute.String("alert.type", e.AlertType)))
		return nil
	}
	s.span(ctx, &e)
	s.metrics(ctx, &e)
	return nil
}

// failed reports whether e's call did not end well.
func failed(e *audit.Event) bool {
	return e.Outcome == audit.OutcomeError || e.Outcome == audit.OutcomeRefused || e.Outcome == audit.OutcomeCut
}

func (s *Sink) span(ctx context.Context, e *audit.Event) {
	start := e.Time
	if start.IsZero() {
		start = time.Now().Add(-e.Duration)
	}
	end := start.Add(e.Duration)
	name := e.Operation
	if e.RequestModel != "" {
		name += " " + e.RequestModel
	}
	attrs := make([]attribute.KeyValue, 0, 32)
	attrs = append(attrs,
		semconv.GenAIOperationNameKey.String(e.Operation),
		semconv.GenAIProviderNameKey.String(e.Provider),
		semconv.GenAIUsageInputTokensKey.Int(e.InputTokens),
		semconv.GenAIUsageOutputTokensKey.Int(e.OutputTokens),
		attribute.String("secureai.request_id", e.RequestID),
		attribute.String("secureai.endpoint", e.Endpoint),
		attribute.String("secureai.outcome", string(e.Outcome)),
		attribute.Int("secureai.input_bytes", e.InputBytes),
	)
	str := func(k attribute.Key, v string) {
		if v != "" {
			attrs = append(attrs, k.String(v))
		}
	}
	num := func(k attribute.Key, v int) {
		if v != 0 {
			attrs = append(attrs, k.Int(v))
		}
	}
	str(semconv.GenAIRequestModelKey, e.RequestModel)
	str(semconv.GenAIResponseModelKey, e.ResponseModel)
	str(semconv.GenAIResponseIDKey, e.ResponseID)
	num(semconv.GenAIRequestMaxTokensKey, e.MaxTokens)
	num(semconv.GenAIRequestChoiceCountKey, e.Choices)
	if len(e.FinishReasons) > 0 {
		attrs = append(attrs, semconv.GenAIResponseFinishReasonsKey.StringSlice(e.FinishReasons))
	}
	str(semconv.ErrorTypeKey, e.ErrorType)
	num(semconv.HTTPResponseStatusCodeKey, e.HTTPStatus)
	str(semconv.EnduserPseudoIDKey, e.Caller)
	str(semconv.DeploymentEnvironmentNameKey, e.Environment)
	str("secureai.group", e.Group)
	str("secureai.tier", e.Tier)
	str("secureai.purpose", e.Purpose)
	str("secureai.stage", e.Stage)
	str("secureai.input_hash", e.InputHash)
	str("secureai.system_prompt_hash", e.SystemPromptHash)
	str("secureai.key_fingerprint", e.KeyFingerprint)
	num("secureai.retries", e.Retries)
	if e.Stream {
		attrs = append(attrs, attribute.Bool("secureai.stream", true))
	}
	if e.CostUSD > 0 {
		attrs = append(attrs, attribute.Float64("secureai.cost_usd", e.CostUSD))
	}
	_, span := s.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithTimestamp(start), trace.WithAttributes(attrs...))
	for _, d := range e.Decisions {
		a := []attribute.KeyValue{attribute.String("secureai.stage", d.Stage), attribute.String("secureai.verdict", string(d.Verdict))}
		if d.Check != "" {
			a = append(a, attribute.String("secureai.check", d.Check))
		}
		if d.Reason != "" {
			a = append(a, attribute.String("secureai.reason", d.Reason))
		}
		if d.Duration != 0 {
			a = append(a, attribute.Float64("secureai.duration_ms", float64(d.Duration)/float64(time.Millisecond)))
		}
		span.AddEvent("secureai.decision", trace.WithTimestamp(end), trace.WithAttributes(a...))
	}
	for _, f := range e.Findings {
		a := []attribute.KeyValue{attribute.String("secureai.finding.kind", f.Kind), attribute.Int("secureai.finding.count", f.Count)}
		if f.Stage != "" {
			a = append(a, attribute.String("secureai.stage", f.Stage))
		}
		if f.Type != "" {
			a = append(a, attribute.String("secureai.finding.type", f.Type))
		}
		span.AddEvent("secureai.finding", trace.WithTimestamp(end), trace.WithAttributes(a...))
	}
	if failed(e) {
		desc := e.ErrorType
		if desc == "" {
			desc = string(e.Outcome)
		}
		span.SetStatus(codes.Error, desc)
	}
	span.End(trace.WithTimestamp(end))
}

func (s *Sink) metrics(ctx context.Context, e *audit.Event) {
	base := make([]attribute.KeyValue, 0, 6)
	base = append(base,
		semconv.GenAIOperationNameKey.String(e.Operation),
		semconv.GenAIProviderNameKey.String(e.Provider),
		semconv.GenAIRequestModelKey.String(e.RequestModel),
	)
	if e.ErrorType != "" {
		base = append(base, semconv.ErrorTypeKey.String(e.ErrorType))
	}
	set := attribute.NewSet(base...)
	s.duration.Record(ctx, e.Duration.Seconds(), metric.WithAttributeSet(set))
	if e.InputTokens > 0 || e.OutputTokens > 0 {
		s.tokens.Record(ctx, int64(e.InputTokens), metric.WithAttributeSet(attribute.NewSet(append(base, semconv.GenAITokenTypeInput)...)))
		s.tokens.Record(ctx, int64(e.OutputTokens), metric.WithAttributeSet(attribute.NewSet(append(base, semconv.GenAITokenTypeOutput)...)))
	}
	s.requests.Add(ctx, 1, metric.WithAttributes(
		semconv.GenAIOperationNameKey.String(e.Operation),
		semconv.GenAIRequestModelKey.String(e.RequestModel),
		attribute.String("secureai.outcome", string(e.Outcome)),
		attribute.String("secureai.stage", e.Stage),
	))
	if e.Outcome == audit.OutcomeRefused {
		s.refusals.Add(ctx, 1, metric.WithAttributes(
			attribute.String("secureai.stage", e.Stage),
			semconv.ErrorTypeKey.String(e.ErrorType),
		))
	}
	if e.CostUSD > 0 {
		s.cost.Add(ctx, e.CostUSD, metric.WithAttributes(
			semconv.GenAIOperationNameKey.String(e.Operation),
			semconv.GenAIRequestModelKey.String(e.RequestModel),
		))
	}
}
