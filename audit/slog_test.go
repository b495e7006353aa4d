package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// Static checks that the sinks have the optional powers.
var (
	_ audit.Flusher  = (*audit.SlogSink)(nil)
	_ audit.Closer   = (*audit.SlogSink)(nil)
	_ slog.LogValuer = audit.Event{}
	_ json.Marshaler = audit.Event{}
	_ audit.Sink     = audit.SinkFunc(nil)
	_ audit.Sink     = (*audit.SlogSink)(nil)
	_ audit.Flusher  = audit.Multi().(audit.Flusher)
	_ audit.Closer   = audit.Multi().(audit.Closer)
)

// TestSlogSinkMatchesJSON checks that the sink's records carry the keys and
// values of Event.MarshalJSON at the top level.
func TestSlogSinkMatchesJSON(t *testing.T) {
	tests := []struct {
		name  string
		event audit.Event
	}{
		{"full", fullEvent()},
		{"minimal", minimalEvent()},
		{"alert", alertEvent()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			s, err := newSlogJSON(&buf)
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Write(t.Context(), tt.event); err != nil {
				t.Fatal(err)
			}
			if n := bytes.Count(buf.Bytes(), []byte("\n")); n != 1 {
				t.Fatalf("wrote %d lines, want 1:\n%s", n, buf.Bytes())
			}
			got := decode(t, buf.Bytes())
			wantLevel, wantMsg := "INFO", "genai.call"
			if tt.event.Kind == audit.KindAlert {
				wantLevel, wantMsg = "WARN", "genai.alert"
			}
			if got["level"] != wantLevel || got["msg"] != wantMsg {
				t.Errorf("level, msg = %v, %v; want %s, %s", got["level"], got["msg"], wantLevel, wantMsg)
			}
			delete(got, "level")
			delete(got, "msg")
			b, err := json.Marshal(tt.event)
			if err != nil {
				t.Fatal(err)
			}
			if want := decode(t, b); !reflect.DeepEqual(got, want) {
				t.Errorf("slog record =\n%s\nMarshalJSON =\n%s", buf.Bytes(), b)
			}
			if n := strings.Count(buf.String(), `"time":`); n != 1 {
				t.Errorf("record has %d time keys, want 1:\n%s", n, buf.Bytes())
			}
		})
	}
}

func TestSlogSinkTextHandler(t *testing.T) {
	var buf bytes.Buffer
	s, err := audit.NewSlogSink(slog.NewTextHandler(&buf, nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), fullEvent()); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"time=2026-01-02T01:04:05.000Z",
		"msg=genai.call",
		"gen_ai.usage.input_tokens=12",
		"decisions=\"[{Stage:policy Check:model_allowlist Verdict:allow Reason: Duration:2.5µs}",
		"schema=secureai.audit/v1",
		"purpose=support_reply",
		"gen_ai.response.finish_reasons=\"[stop length]\"",
		"duration_ms=1.5",
	} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, buf.Bytes())
		}
	}
}

func TestSlogSinkZeroTime(t *testing.T) {
	var buf bytes.Buffer
	s := mustSink(t)(newSlogJSON(&buf))
	e := minimalEvent()
	e.Time = time.Time{}
	if err := s.Write(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if _, ok := decode(t, buf.Bytes())["time"]; ok {
		t.Errorf("record for a zero Time has a time key:\n%s", buf.Bytes())
	}
}

// TestSlogSinkNotRetained checks that changing an event after Write does not
// change what a handler that keeps records saw.
func TestSlogSinkNotRetained(t *testing.T) {
	h := &keepHandler{}
	s, err := audit.NewSlogSink(h)
	if err != nil {
		t.Fatal(err)
	}
	e := fullEvent()
	if err := s.Write(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	e.Decisions[0].Reason = "changed"
	e.FinishReasons[0] = "changed"
	h.records[0].Attrs(func(a slog.Attr) bool {
		switch v := a.Value.Any().(type) {
		case []audit.Decision:
			if v[0].Reason == "changed" {
				t.Error("record shares the event's Decisions")
			}
		case []string:
			if v[0] == "changed" {
				t.Error("record shares the event's FinishReasons")
			}
		}
		return true
	})
}

type keepHandler struct {
	records []slog.Record
}

func (h *keepHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *keepHandler) Handle(_ context.Context, r slog.Record) error {
	h.records = append(h.records, r.Clone())
	return nil
}
func (h *keepHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *keepHandler) WithGroup(string) slog.Handler      { return h }

// errHandler fails every Handle with err.
type errHandler struct {
	slog.Handler
	err error
}

func (h errHandler) Handle(context.Context, slog.Record) error { return h.err }

func TestNewSinkErrors(t *testing.T) {
	tests := []struct {
		name string
		new  func() (*audit.SlogSink, error)
	}{
		{"NewSlogSink(nil)", func() (*audit.SlogSink, error) { return audit.NewSlogSink(nil) }},
		{"NewJSONSink(nil)", func() (*audit.SlogSink, error) { return newSlogJSON(nil) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := tt.new()
			if err == nil || s != nil {
				t.Fatalf("got %v, %v; want nil sink and an error", s, err)
			}
			if !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("error %q lacks the audit: prefix", err)
			}
		})
	}
}

func TestSlogSinkWrite(t *testing.T) {
	errBoom := errors.New("boom")
	var buf bytes.Buffer
	tests := []struct {
		name    string
		sink    func(t *testing.T) *audit.SlogSink
		wantErr error // nil: no error; errAny: any error
		wantOut bool
	}{
		{
			name: "ok",
			sink: func(t *testing.T) *audit.SlogSink {
				return mustSink(t)(newSlogJSON(&buf))
			},
			wantOut: true,
		},
		{
			name: "handler error",
			sink: func(t *testing.T) *audit.SlogSink {
				return mustSink(t)(audit.NewSlogSink(errHandler{slog.NewJSONHandler(&buf, nil), errBoom}))
			},
			wantErr: errBoom,
		},
		{
			name: "disabled level",
			sink: func(t *testing.T) *audit.SlogSink {
				return mustSink(t)(audit.NewSlogSink(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})))
			},
		},
		{
			name: "closed",
			sink: func(t *testing.T) *audit.SlogSink {
				s := mustSink(t)(newSlogJSON(&buf))
				if err := s.Close(t.Context()); err != nil {
					t.Fatal(err)
				}
				return s
			},
			wantErr: audit.ErrClosed,
		},
		{
			name:    "zero value",
			sink:    func(*testing.T) *audit.SlogSink { return new(audit.SlogSink) },
			wantErr: errAny,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			buf.Reset()
			err := tt.sink(t).Write(t.Context(), minimalEvent())
			switch {
			case tt.wantErr == nil && err != nil:
				t.Errorf("Write = %v, want nil", err)
			case tt.wantErr == errAny && err == nil:
				t.Error("Write = nil, want an error")
			case tt.wantErr != nil && tt.wantErr != errAny && !errors.Is(err, tt.wantErr):
				t.Errorf("Write = %v, want %v", err, tt.wantErr)
			}
			if err != nil && !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("error %q lacks the audit: prefix", err)
			}
			if got := buf.Len() > 0; got != tt.wantOut {
				t.Errorf("wrote output = %v, want %v", got, tt.wantOut)
			}
		})
	}
}

var errAny = errors.New("any error")

// mustSink returns a function that returns s or fails t with err.
func mustSink(t testing.TB) func(s *audit.SlogSink, err error) *audit.SlogSink {
	return func(s *audit.SlogSink, err error) *audit.SlogSink {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestSlogSinkClose(t *testing.T) {
	ctx := t.Context()
	s := mustSink(t)(newSlogJSON(io.Discard))
	if err := s.Flush(ctx); err != nil {
		t.Fatalf("Flush before Close = %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatalf("second Close = %v, want nil", err)
	}
	if err := s.Write(ctx, minimalEvent()); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := s.Flush(ctx); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
}

// TestConcurrentWrite runs many writers on one sink; run it with -race.
func TestConcurrentWrite(t *testing.T) {
	const goroutines, perGoroutine = 50, 20
	var buf bytes.Buffer
	slogSink := mustSink(t)(newSlogJSON(&buf))
	var mu sync.Mutex
	counted := 0
	tests := []struct {
		name  string
		sink  audit.Sink
		count func() int
	}{
		{"SlogSink", slogSink, func() int { return bytes.Count(buf.Bytes(), []byte("\n")) }},
		{"Multi", audit.Multi(audit.SinkFunc(func(context.Context, audit.Event) error {
			mu.Lock()
			defer mu.Unlock()
			counted++
			return nil
		})), func() int { return counted }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var wg sync.WaitGroup
			for i := range goroutines {
				wg.Go(func() {
					e := fullEvent()
					for j := range perGoroutine {
						e.Retries = i*perGoroutine + j
						if err := tt.sink.Write(t.Context(), e); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
			if got, want := tt.count(), goroutines*perGoroutine; got != want {
				t.Errorf("recorded %d events, want %d", got, want)
			}
		})
	}
	for line := range bytes.Lines(buf.Bytes()) {
		if !json.Valid(line) {
			t.Fatalf("interleaved output: %s", line)
		}
	}
}

func BenchmarkSlogSink(b *testing.B) {
	s, err := newSlogJSON(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	ctx := b.Context()
	e := fullEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(ctx, e); err != nil {
			b.Fatal(err)
		}
	}
}

// newSlogJSON is a SlogSink over slog's JSON handler.
func newSlogJSON(w io.Writer) (*audit.SlogSink, error) {
	if w == nil {
		return nil, errors.New("audit: nil writer")
	}
	return audit.NewSlogSink(slog.NewJSONHandler(w, nil))
}
