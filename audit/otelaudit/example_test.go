package otelaudit_test

import (
	"context"
	"fmt"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/audit/otelaudit"
)

func ExampleNew() {
	// A program passes its configured providers (or none: the global ones);
	// here spans go to an in-memory exporter.
	spans := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(spans))
	defer tp.Shutdown(context.Background())

	sink, err := otelaudit.New(otelaudit.Options{TracerProvider: tp})
	if err != nil {
		panic(err)
	}
	sink.Write(context.Background(), audit.Event{
		RequestID: "sai_1", Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: 420 * time.Millisecond,
		Operation: "chat", Provider: "openai", Endpoint: "chat.completions", RequestModel: "gpt-4o-2024-08-06",
		InputTokens: 120, OutputTokens: 40, Outcome: audit.OutcomeOK,
	})
	for _, s := range spans.GetSpans() {
		fmt.Println(s.Name, s.EndTime.Sub(s.StartTime))
	}
	// Output: chat gpt-4o-2024-08-06 420ms
}
