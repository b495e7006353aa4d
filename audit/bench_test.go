package audit_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// reportRate adds an events/s metric.
func reportRate(b *testing.B, events int) {
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAsyncSink measures Write into an AsyncSink over a JSONSink,
// including the time to write everything out (Flush), so that ns/op is the
// sustained cost per event, not the cost of queueing alone.
func BenchmarkAsyncSink(b *testing.B) {
	js, _ := audit.NewJSONSink(io.Discard)
	a := newAsync(b, js, audit.AsyncOptions{BlockTimeout: 10e9})
	defer a.Close(b.Context())
	e := fullEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := a.Write(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
	if err := a.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	reportRate(b, b.N)
}

// BenchmarkAsyncSinkParallel is BenchmarkAsyncSink with concurrent writers.
func BenchmarkAsyncSinkParallel(b *testing.B) {
	js, _ := audit.NewJSONSink(io.Discard)
	a := newAsync(b, js, audit.AsyncOptions{BlockTimeout: 10e9})
	defer a.Close(b.Context())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		e := fullEvent()
		for pb.Next() {
			if err := a.Write(b.Context(), e); err != nil {
				b.Error(err)
				return
			}
		}
	})
	if err := a.Flush(b.Context()); err != nil {
		b.Fatal(err)
	}
	reportRate(b, b.N)
}

func BenchmarkFileSink(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts audit.FileOptions
	}{
		{"plain", audit.FileOptions{}},
		{"encrypted", audit.FileOptions{EncryptionKey: testEncKey}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			opts := bc.opts
			opts.Dir = b.TempDir()
			s := newFileSink(b, opts)
			defer s.Close(b.Context())
			e := fullEvent()
			b.ReportAllocs()
			for b.Loop() {
				if err := s.Write(b.Context(), e); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N)
		})
		b.Run(bc.name+"/batch512", func(b *testing.B) {
			opts := bc.opts
			opts.Dir = b.TempDir()
			s := newFileSink(b, opts)
			defer s.Close(b.Context())
			batch := make([]audit.Event, 512)
			for i := range batch {
				batch[i] = fullEvent()
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := s.WriteBatch(b.Context(), batch); err != nil {
					b.Fatal(err)
				}
			}
			reportRate(b, b.N*len(batch))
		})
	}
}

func BenchmarkVerify(b *testing.B) {
	dir := writeChain(b, 10000, audit.FileOptions{MaxSize: -1})
	names := files(b, dir)
	b.ReportAllocs()
	for b.Loop() {
		if r := verify(b, audit.VerifyOptions{}, names...); !r.OK() {
			b.Fatal(r.Fault)
		}
	}
	reportRate(b, b.N*10000)
}

func BenchmarkEvaluator(b *testing.B) {
	ev, err := audit.NewEvaluator(audit.AlerterFunc(func(context.Context, audit.Event) error { return nil }), audit.Rules{
		TokenSpike: &audit.TokenSpike{PerCaller: true}, Refusals: &audit.RefusalBurst{},
		ErrorRate: &audit.ErrorRate{}, OffHours: &audit.BusinessHours{},
	})
	if err != nil {
		b.Fatal(err)
	}
	e := fullEvent()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		e.Time = t0.Add(time.Duration(i) * time.Millisecond)
		e.Caller = callers[i%len(callers)]
		i++
		if err := ev.Write(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
	reportRate(b, b.N)
}

var callers = []string{"c-0", "c-1", "c-2", "c-3", "c-4", "c-5", "c-6", "c-7"}
