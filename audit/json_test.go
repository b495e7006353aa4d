package audit_test

import (
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// TestJSONSinkMatchesSlog checks that the hand-written encoder produces,
// byte for byte, the line slog's JSON handler writes for the same event.
func TestJSONSinkMatchesSlog(t *testing.T) {
	events := []audit.Event{fullEvent(), {}, {RequestID: "x", Stream: true, Duration: 1500 * time.Microsecond},
		alertEvent(), {Kind: audit.KindBudgetThreshold, AlertValue: 0.8, AlertThreshold: 0.8}, {Kind: "other\"kind"}}
	for _, e := range events {
		assertSameAsSlog(t, e)
	}
}

func assertSameAsSlog(t *testing.T, e audit.Event) {
	t.Helper()
	var fast, slow bytes.Buffer
	js, _ := audit.NewJSONSink(&fast)
	ss, _ := newSlogJSON(&slow)
	if err := js.Write(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	if err := ss.Write(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	a, b := decoded(t, fast.Bytes()), decoded(t, slow.Bytes())
	if e.Time.IsZero() { // slog leaves a zero record time out
		delete(a, "time")
	}
	if !bytes.Equal(marshal(a), marshal(b)) {
		t.Errorf("JSONSink\n%s\nslog\n%s", fast.String(), slow.String())
	}
}

func decoded(t *testing.T, line []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	return m
}

func marshal(m map[string]any) []byte {
	b, _ := json.Marshal(m)
	return b
}

// TestJSONSinkBytesMatchSlog: for ordinary text the lines are the same
// byte for byte (slog itself escapes control characters in two ways).
func TestJSONSinkBytesMatchSlog(t *testing.T) {
	var fast, slow bytes.Buffer
	js, _ := audit.NewJSONSink(&fast)
	ss, _ := newSlogJSON(&slow)
	for _, e := range []audit.Event{fullEvent(), alertEvent(), minimalEvent()} {
		fast.Reset()
		slow.Reset()
		js.Write(t.Context(), e)
		ss.Write(t.Context(), e)
		if fast.String() != slow.String() {
			t.Errorf("JSONSink\n%s\nslog\n%s", fast.String(), slow.String())
		}
	}
}

// TestJSONSinkWriteBatch checks that a batch writes the same lines as
// single writes, with one call to the writer.
func TestJSONSinkWriteBatch(t *testing.T) {
	events := []audit.Event{fullEvent(), minimalEvent(), alertEvent()}
	var one bytes.Buffer
	s1, _ := audit.NewJSONSink(&one)
	for _, e := range events {
		if err := s1.Write(t.Context(), e); err != nil {
			t.Fatal(err)
		}
	}
	cw := &countWriter{}
	s2, _ := audit.NewJSONSink(cw)
	if err := s2.WriteBatch(t.Context(), events); err != nil {
		t.Fatal(err)
	}
	if cw.calls != 1 || cw.b.String() != one.String() {
		t.Errorf("%d writes:\n%s\nwant 1:\n%s", cw.calls, cw.b.String(), one.String())
	}
	s2.Close(t.Context())
	if err := s2.WriteBatch(t.Context(), events); err != audit.ErrClosed {
		t.Errorf("WriteBatch after Close = %v", err)
	}
}

type countWriter struct {
	b     bytes.Buffer
	calls int
}

func (w *countWriter) Write(p []byte) (int, error) {
	w.calls++
	return w.b.Write(p)
}

func TestMarshalJSONRoundTrip(t *testing.T) {
	e := fullEvent()
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back audit.Event
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.RequestID != e.RequestID || back.Caller != e.Caller || len(back.Decisions) != len(e.Decisions) || !back.Time.Equal(e.Time) {
		t.Errorf("round trip lost fields: %+v", back)
	}
}

func FuzzJSONStrings(f *testing.F) {
	for _, s := range []string{"plain", "quote\"back\\slash", "<tag>&amp;", "\x00\x1f\n\r\t", "\u2028\u2029", "\xff\xfe bad", "héllo 世界 🙂"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e := audit.Event{RequestID: s, Caller: s, Purpose: s, Kind: audit.Kind(s), Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			FinishReasons: []string{s}, Decisions: []audit.Decision{{Stage: s, Check: s, Reason: s, Duration: time.Duration(len(s))}},
			Findings: []audit.Finding{{Stage: s, Kind: s, Type: s, Count: len(s)}}}
		assertSameAsSlog(t, e)
	})
}

func TestJSONSinkConcurrentLines(t *testing.T) {
	var buf syncBuffer
	s, _ := audit.NewJSONSink(&buf)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			for range 20 {
				e := fullEvent()
				e.RequestID = strings.Repeat("r", i)
				if err := s.Write(t.Context(), e); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1000 {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("interleaved line %q", l)
		}
	}
	s.Close(t.Context())
	if err := s.Write(t.Context(), fullEvent()); err != audit.ErrClosed {
		t.Errorf("Write after Close = %v", err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func BenchmarkJSONSink(b *testing.B) {
	s, _ := audit.NewJSONSink(io.Discard)
	e := fullEvent()
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Write(b.Context(), e); err != nil {
			b.Fatal(err)
		}
	}
}
