package pgaudit_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"go.uber.org/goleak"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/audit/pgaudit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// Static checks of the sink's powers.
var (
	_ audit.BatchSink = (*pgaudit.Sink)(nil)
	_ audit.Closer    = (*pgaudit.Sink)(nil)
)

// pool connects to DATABASE_URL, or skips the test when it is not set.
func pool(t testing.TB) *pgxpool.Pool {
	t.Helper()
	dsn := os.Getenv("DATABASE_URL")
	if dsn == "" {
		t.Skip("DATABASE_URL not set: skipping the PostgreSQL tests (CI sets it)")
	}
	p, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// table returns a table name unique to this test run, dropped at the end.
func table(t testing.TB, p *pgxpool.Pool) string {
	t.Helper()
	var b [6]byte
	rand.Read(b[:])
	name := "audit_test_" + hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if _, err := p.Exec(context.Background(), "DROP TABLE IF EXISTS "+pgx.Identifier{name}.Sanitize()); err != nil {
			t.Errorf("drop %s: %v", name, err)
		}
	})
	return name
}

// newSink returns a sink on a new table, and the table's name.
func newSink(t testing.TB) (*pgaudit.Sink, string) {
	t.Helper()
	p := pool(t)
	name := table(t, p)
	s, err := pgaudit.New(t.Context(), p, pgaudit.Options{Table: name})
	if err != nil {
		t.Fatal(err)
	}
	return s, name
}

var t0 = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func fullEvent() audit.Event {
	return audit.Event{
		Kind: audit.KindCall, RequestID: "req-1", Time: t0.Add(123456 * time.Microsecond),
		Operation: "chat", Provider: "openai", Endpoint: "chat.completions", Stream: true,
		Environment: "production", Caller: "c-full", Group: "search", Tier: "gold", Purpose: "support_reply",
		RequestModel: "gpt-4o-mini", ResponseModel: "gpt-4o-mini-2024-07-18", ResponseID: "chatcmpl-1",
		MaxTokens: 256, Choices: 2, FinishReasons: []string{"stop", "length"},
		InputTokens: 12, OutputTokens: 34, InputBytes: 56, InputHash: "h-1", SystemPromptHash: "h-2",
		Decisions: []audit.Decision{{Stage: "policy", Check: "model_allowlist", Verdict: audit.VerdictAllow, Duration: 2500 * time.Nanosecond}},
		Findings:  []audit.Finding{{Stage: "input", Kind: "pii", Type: "email", Count: 2}},
		Outcome:   audit.OutcomeCut, ErrorType: "upstream_429", Stage: "upstream", HTTPStatus: 429, Retries: 3,
		KeyFingerprint: "kfp_1", CostUSD: 0.000125, AlertType: "x", AlertValue: 1.5, AlertThreshold: 2.5,
		DroppedBefore: 7, Duration: 1500 * time.Microsecond,
	}
}

func TestWriteQueryRoundTrip(t *testing.T) {
	s, _ := newSink(t)
	ctx := t.Context()
	full := fullEvent()
	minimal := audit.Event{RequestID: "req-2", Time: t0.Add(time.Second), Outcome: audit.OutcomeRefused}
	if err := s.Write(ctx, full); err != nil {
		t.Fatal(err)
	}
	if err := s.WriteBatch(ctx, []audit.Event{minimal}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Query(ctx, pgaudit.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("%d events", len(got))
	}
	for i, want := range []audit.Event{full, minimal} {
		if want.Kind == "" {
			want.Kind = audit.KindCall
		}
		if !got[i].Time.Equal(want.Time) {
			t.Errorf("time %v, want %v", got[i].Time, want.Time)
		}
		got[i].Time = want.Time
		if !reflect.DeepEqual(got[i], want) {
			t.Errorf("read back\n %+v\nwant %+v", got[i], want)
		}
	}
	if got, _ := s.Query(ctx, pgaudit.Filter{Kind: audit.KindAlert}); len(got) != 0 {
		t.Errorf("kind filter: %d events", len(got))
	}
	if got, _ := s.Query(ctx, pgaudit.Filter{Limit: 1}); len(got) != 1 || got[0].RequestID != "req-1" {
		t.Errorf("limit: %v", got)
	}
}

// TestHundredThousand is the PostgreSQL test: 100 000 events
// through an AsyncSink into batched COPY, read back by caller and time
// range.
func TestHundredThousand(t *testing.T) {
	s, name := newSink(t)
	ctx := t.Context()
	a, err := audit.NewAsyncSink(s, audit.AsyncOptions{BatchSize: 5000, QueueSize: 20000, BlockTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	const n, callers = 100_000, 10
	for i := range n {
		e := audit.Event{RequestID: fmt.Sprint(i), Time: t0.Add(time.Duration(i) * time.Second), Caller: fmt.Sprintf("c-%d", i%callers),
			Operation: "chat", Provider: "openai", Endpoint: "chat.completions", InputTokens: i % 1000, Outcome: audit.OutcomeOK,
			Decisions: []audit.Decision{{Stage: "policy", Verdict: audit.VerdictAllow}}}
		if err := a.Write(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.Close(ctx); err != nil { // also closes s
		t.Fatal(err)
	}
	if st := a.Stats(); st.Written != n {
		t.Fatalf("stats %+v", st)
	}

	s2, err := pgaudit.New(ctx, pool(t), pgaudit.Options{Table: name, SkipMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	from, to := t0.Add(20_000*time.Second), t0.Add(30_000*time.Second)
	got, err := s2.Query(ctx, pgaudit.Filter{Caller: "c-3", From: from, To: to})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1000 {
		t.Fatalf("%d events for c-3 in the range, want 1000", len(got))
	}
	for j, e := range got {
		i := 20_003 + 10*j
		if e.Caller != "c-3" || e.RequestID != fmt.Sprint(i) || !e.Time.Equal(t0.Add(time.Duration(i)*time.Second)) || e.InputTokens != i%1000 || len(e.Decisions) != 1 {
			t.Fatalf("event %d: %+v", j, e)
		}
	}
	all, err := s2.Query(ctx, pgaudit.Filter{})
	if err != nil || len(all) != n {
		t.Fatalf("%d events in all, %v", len(all), err)
	}

	// Retention: drop the first half.
	deleted, err := s2.Prune(ctx, t0.Add(n/2*time.Second))
	if err != nil || deleted != n/2 {
		t.Fatalf("Prune = %d, %v; want %d", deleted, err, n/2)
	}
	if rest, _ := s2.Query(ctx, pgaudit.Filter{To: t0.Add(n / 2 * time.Second)}); len(rest) != 0 {
		t.Errorf("%d events older than the cutoff remain", len(rest))
	}
}

func TestMigrateIdempotent(t *testing.T) {
	s, _ := newSink(t)
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

func TestOpenAndClose(t *testing.T) {
	p := pool(t)
	name := table(t, p)
	s, err := pgaudit.Open(t.Context(), os.Getenv("DATABASE_URL"), pgaudit.Options{Table: "public." + name})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Write(t.Context(), fullEvent()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(t.Context()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := s.Write(t.Context(), fullEvent()); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v", err)
	}
	if err := s.WriteBatch(t.Context(), []audit.Event{fullEvent()}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("WriteBatch after Close = %v", err)
	}
	if _, err := s.Query(t.Context(), pgaudit.Filter{}); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Query after Close = %v", err)
	}
}

func TestOptionsErrors(t *testing.T) {
	for _, name := range []string{"a.b.c", "1abc", "bad-name", "x;drop", strings.Repeat("a", 48), "."} {
		_, err := pgaudit.New(t.Context(), &pgxpool.Pool{}, pgaudit.Options{Table: name, SkipMigrate: true})
		if err == nil || !strings.HasPrefix(err.Error(), "pgaudit: ") {
			t.Errorf("table %q: %v", name, err)
		}
	}
	if _, err := pgaudit.New(t.Context(), nil, pgaudit.Options{}); err == nil {
		t.Error("nil pool accepted")
	}
	_, err := pgaudit.Open(t.Context(), "postgres://u:PASSWORD@[bad", pgaudit.Options{})
	if err == nil || strings.Contains(err.Error(), "PASSWORD") {
		t.Errorf("Open with a bad DSN = %v", err)
	}
}

func BenchmarkWriteBatch(b *testing.B) {
	s, _ := newSink(b)
	batch := make([]audit.Event, 1000)
	for i := range batch {
		batch[i] = fullEvent()
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := s.WriteBatch(b.Context(), batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(batch))/b.Elapsed().Seconds(), "events/s")
}

// TestNoRawContent: what the table holds for a call is what the event
// holds: hashes, a fingerprint and a pseudonym, never the raw content the
// event was made from.
func TestNoRawContent(t *testing.T) {
	s, name := newSink(t)
	e := fullEvent()
	e.Caller, e.InputHash, e.KeyFingerprint = "p-3f2a", "h-PROMPT", "kfp_ab12"
	refused := e
	refused.Outcome, refused.Stage, refused.ErrorType = audit.OutcomeRefused, "input", "secret_found"
	if err := s.WriteBatch(t.Context(), []audit.Event{e, refused}); err != nil {
		t.Fatal(err)
	}
	var dump string
	err := pool(t).QueryRow(t.Context(), "SELECT string_agg(row_to_json(t)::text, E'\\n') FROM "+pgx.Identifier{name}.Sanitize()+" t").Scan(&dump)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"PROMPT-MARKER", "sk-", "alice@"} {
		if strings.Contains(dump, m) {
			t.Errorf("table holds %q:\n%s", m, dump)
		}
	}
	if !strings.Contains(dump, "p-3f2a") {
		t.Errorf("table lacks the pseudonym:\n%s", dump)
	}
}
