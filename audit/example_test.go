package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/secureai-go/secureai/audit"
)

func ExampleNewJSONSink() {
	sink, err := audit.NewJSONSink(os.Stdout)
	if err != nil {
		panic(err)
	}
	e := audit.Event{
		RequestID:    "req-1",
		Time:         time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		Operation:    "chat",
		Provider:     "openai",
		Endpoint:     "chat.completions",
		RequestModel: "gpt-4o-mini",
		InputTokens:  12,
		InputBytes:   48,
		Outcome:      audit.OutcomeRefused,
		ErrorType:    "model_not_allowed",
		Stage:        "policy",
		Duration:     250 * time.Microsecond,
	}
	e.AddDecision(audit.Decision{Stage: "caller", Verdict: audit.VerdictAllow})
	e.AddDecision(audit.Decision{Stage: "policy", Check: "model_allowlist", Verdict: audit.VerdictDeny, Reason: "model_not_allowed"})
	if err := sink.Write(context.Background(), e); err != nil {
		panic(err)
	}
	// Output:
	// {"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"genai.call","request_id":"req-1","gen_ai.operation.name":"chat","gen_ai.provider.name":"openai","endpoint":"chat.completions","gen_ai.request.model":"gpt-4o-mini","gen_ai.usage.input_tokens":12,"gen_ai.usage.output_tokens":0,"input_bytes":48,"decisions":[{"stage":"caller","verdict":"allow"},{"stage":"policy","check":"model_allowlist","verdict":"deny","reason":"model_not_allowed"}],"outcome":"refused","error.type":"model_not_allowed","stage":"policy","duration_ms":0.25}
}

func ExampleMulti() {
	ctx := context.Background()
	// Drop the record time so that the output is the same on every run.
	noTime := &slog.HandlerOptions{ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey && len(groups) == 0 {
			return slog.Attr{}
		}
		return a
	}}
	logs, err := audit.NewSlogSink(slog.NewTextHandler(os.Stdout, noTime))
	if err != nil {
		panic(err)
	}
	refused := 0
	counter := audit.SinkFunc(func(_ context.Context, e audit.Event) error {
		if e.Outcome == audit.OutcomeRefused {
			refused++
		}
		return nil
	})

	sink := audit.Multi(logs, counter)
	defer sink.(audit.Closer).Close(ctx)

	for _, o := range []audit.Outcome{audit.OutcomeOK, audit.OutcomeRefused} {
		e := audit.Event{RequestID: "req-" + string(o), Time: time.Now(), Operation: "embeddings", Provider: "openai", Endpoint: "embeddings", Outcome: o}
		if err := sink.Write(ctx, e); err != nil {
			fmt.Println(err)
		}
	}
	fmt.Println("refused:", refused)
	// Output:
	// level=INFO msg=genai.call request_id=req-ok gen_ai.operation.name=embeddings gen_ai.provider.name=openai endpoint=embeddings gen_ai.usage.input_tokens=0 gen_ai.usage.output_tokens=0 input_bytes=0 outcome=ok duration_ms=0
	// level=INFO msg=genai.call request_id=req-refused gen_ai.operation.name=embeddings gen_ai.provider.name=openai endpoint=embeddings gen_ai.usage.input_tokens=0 gen_ai.usage.output_tokens=0 input_bytes=0 outcome=refused duration_ms=0
	// refused: 1
}

func ExampleSinkFunc() {
	sink := audit.SinkFunc(func(_ context.Context, e audit.Event) error {
		fmt.Printf("%s %s: %s %s\n", e.RequestID, e.Endpoint, e.Outcome, e.ErrorType)
		return nil
	})
	e := audit.Event{RequestID: "req-7", Endpoint: "responses", Outcome: audit.OutcomeError, ErrorType: "upstream_429"}
	if err := sink.Write(context.Background(), e); err != nil {
		panic(err)
	}
	// Output:
	// req-7 responses: error upstream_429
}
