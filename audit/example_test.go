package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
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
	// {"time":"2026-01-02T03:04:05Z","level":"INFO","msg":"genai.call","schema":"secureai.audit/v1","kind":"call","request_id":"req-1","gen_ai.operation.name":"chat","gen_ai.provider.name":"openai","endpoint":"chat.completions","gen_ai.request.model":"gpt-4o-mini","gen_ai.usage.input_tokens":12,"gen_ai.usage.output_tokens":0,"input_bytes":48,"decisions":[{"stage":"caller","verdict":"allow"},{"stage":"policy","check":"model_allowlist","verdict":"deny","reason":"model_not_allowed"}],"outcome":"refused","error.type":"model_not_allowed","stage":"policy","duration_ms":0.25}
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
	// level=INFO msg=genai.call schema=secureai.audit/v1 kind=call request_id=req-ok gen_ai.operation.name=embeddings gen_ai.provider.name=openai endpoint=embeddings gen_ai.usage.input_tokens=0 gen_ai.usage.output_tokens=0 input_bytes=0 outcome=ok duration_ms=0
	// level=INFO msg=genai.call schema=secureai.audit/v1 kind=call request_id=req-refused gen_ai.operation.name=embeddings gen_ai.provider.name=openai endpoint=embeddings gen_ai.usage.input_tokens=0 gen_ai.usage.output_tokens=0 input_bytes=0 outcome=refused duration_ms=0
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

func ExampleAsyncSink() {
	ctx := context.Background()
	// A sink that is slow or far away: here it prints.
	slow := audit.SinkFunc(func(_ context.Context, e audit.Event) error {
		fmt.Println("written:", e.RequestID, e.Outcome)
		return nil
	})
	sink, err := audit.NewAsyncSink(slow, audit.AsyncOptions{
		QueueSize:    1024,
		Overflow:     audit.OverflowBlock,
		BlockTimeout: 50 * time.Millisecond, // then drop, and count the drop
	})
	if err != nil {
		panic(err)
	}
	for i, o := range []audit.Outcome{audit.OutcomeOK, audit.OutcomeRefused, audit.OutcomeOK} {
		// Write returns at once; the event is written in the background.
		if err := sink.Write(ctx, audit.Event{RequestID: fmt.Sprint("req-", i), Outcome: o}); err != nil {
			fmt.Println(err) // audit.ErrDropped when the queue stayed full
		}
	}
	// Close writes every accepted event, then closes the wrapped sink.
	if err := sink.Close(ctx); err != nil {
		fmt.Println(err)
	}
	st := sink.Stats()
	fmt.Printf("accepted %d, written %d, dropped %d\n", st.Accepted, st.Written, st.Dropped)
	// Output:
	// written: req-0 ok
	// written: req-1 refused
	// written: req-2 ok
	// accepted 3, written 3, dropped 0
}

func ExampleVerify() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "audit")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	sealKey := keyprovider.NewSecret("a-seal-key-kept-apart-from-the-files") // from a key provider

	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	sink, err := audit.NewFileSink(ctx, audit.FileOptions{
		Dir:     dir,
		SealKey: sealKey,
		MaxSize: 1 << 10, // small files, to show the chain going on across files
		Now:     func() time.Time { return fixed },
	})
	if err != nil {
		panic(err)
	}
	for i := range 6 {
		sink.Write(ctx, audit.Event{RequestID: fmt.Sprint("req-", i), Time: fixed, Outcome: audit.OutcomeOK})
	}
	if err := sink.Close(ctx); err != nil { // seals the last file
		panic(err)
	}

	files, _ := filepath.Glob(filepath.Join(dir, "*.jsonl"))
	report, err := audit.Verify(ctx, audit.VerifyOptions{SealKey: sealKey}, files...)
	if err != nil {
		panic(err)
	}
	fmt.Printf("ok=%v: %d records in %d files, sealed=%v\n", report.OK(), report.Records, report.Files, report.Sealed)

	// Remove the third line (an event record) of the first file.
	data, _ := os.ReadFile(files[0])
	lines := strings.SplitAfter(string(data), "\n")
	os.WriteFile(files[0], []byte(strings.Join(append(lines[:2], lines[3:]...), "")), 0o600)

	report, _ = audit.Verify(ctx, audit.VerifyOptions{SealKey: sealKey}, files...)
	f := report.Fault
	fmt.Printf("ok=%v: %s at %s line %d (seq %d): %s\n", report.OK(), f.Kind, filepath.Base(f.File), f.Line, f.Seq, f.Detail)
	// Output:
	// ok=true: 6 records in 3 files, sealed=true
	// ok=false: removed at audit-00000000000000000001-20260102T030405Z.jsonl line 3 (seq 4): seq 4 follows seq 2: record 3 is missing
}

func ExampleEvaluator() {
	ctx := context.Background()
	alerter := audit.AlerterFunc(func(_ context.Context, a audit.Event) error {
		fmt.Printf("ALERT %s: caller %s, value %v, threshold %v\n", a.AlertType, a.Caller, a.AlertValue, a.AlertThreshold)
		return nil
	})
	berlin, _ := time.LoadLocation("Europe/Berlin")
	ev, err := audit.NewEvaluator(alerter, audit.Rules{
		Refusals: &audit.RefusalBurst{Count: 3, Window: time.Minute},
		OffHours: &audit.BusinessHours{Location: berlin, Start: 8 * time.Hour, End: 18 * time.Hour},
	})
	if err != nil {
		panic(err)
	}
	t0 := time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC) // a Wednesday, 11:00 in Berlin
	for i := range 3 {
		ev.Write(ctx, audit.Event{Time: t0.Add(time.Duration(i) * 10 * time.Second), Caller: "p-1a2b", Outcome: audit.OutcomeRefused, Stage: "policy"})
	}
	ev.Write(ctx, audit.Event{Time: time.Date(2026, 3, 4, 22, 30, 0, 0, time.UTC), Caller: "p-3c4d", Outcome: audit.OutcomeOK})
	// Budget threshold events from the ratelimit package become alerts.
	ev.Write(ctx, audit.Event{Kind: audit.KindBudgetThreshold, Time: t0, Group: "support", AlertValue: 0.8, AlertThreshold: 0.8})
	// Output:
	// ALERT refusals: caller p-1a2b, value 3, threshold 3
	// ALERT off_hours: caller p-3c4d, value 23.5, threshold 8
	// ALERT budget_threshold: caller , value 0.8, threshold 0.8
}
