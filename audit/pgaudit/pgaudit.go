// Package pgaudit is an audit sink that stores [audit.Event] values in a
// PostgreSQL table through github.com/jackc/pgx/v5.
//
// It is a package of its own so that importing audit does not bring pgx into
// a program. A [Sink] writes single events with INSERT and batches with COPY
// (it is an [audit.BatchSink], so an [audit.AsyncSink] in front of it feeds
// it batches), creates its table and indexes ([Sink.Migrate]), deletes old
// rows on demand ([Sink.Prune], to run from a scheduler for retention), and
// reads events back by caller and time range ([Sink.Query]).
//
// # Table
//
// One row per event; the columns follow the keys of the event schema
// (see the audit package), in snake case:
//
//	id                  bigint identity, primary key
//	time                timestamptz     "time"
//	schema              text            "schema"
//	kind                text            "kind"
//	request_id          text            "request_id"
//	operation           text            "gen_ai.operation.name"
//	provider            text            "gen_ai.provider.name"
//	endpoint            text            "endpoint"
//	stream              boolean         "stream"
//	environment         text            "deployment.environment.name"
//	caller              text            "enduser.pseudo.id"
//	grp                 text            "group"
//	tier                text            "tier"
//	purpose             text            "purpose"
//	request_model       text            "gen_ai.request.model"
//	response_model      text            "gen_ai.response.model"
//	response_id         text            "gen_ai.response.id"
//	max_tokens          integer         "gen_ai.request.max_tokens"
//	choices             integer         "gen_ai.request.choice.count"
//	finish_reasons      text[]          "gen_ai.response.finish_reasons"
//	input_tokens        integer         "gen_ai.usage.input_tokens"
//	output_tokens       integer         "gen_ai.usage.output_tokens"
//	input_bytes         integer         "input_bytes"
//	input_hash          text            "input_hash"
//	system_prompt_hash  text            "system_prompt_hash"
//	decisions           jsonb           "decisions"
//	findings            jsonb           "findings"
//	outcome             text            "outcome"
//	error_type          text            "error.type"
//	stage               text            "stage"
//	http_status         integer         "http.response.status_code"
//	retries             integer         "retries"
//	key_fingerprint     text            "key_fingerprint"
//	cost_usd            float8          "cost_usd"
//	alert_type          text            "alert.type"
//	alert_value         float8          "alert.value"
//	alert_threshold     float8          "alert.threshold"
//	dropped_before      integer         "dropped_before"
//	duration_ms         float8          "duration_ms"
//
// with indexes on (caller, time) and (time).
package pgaudit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/secureai-go/secureai/audit"
)

// DefaultTable is the table a Sink uses when Options.Table is empty.
const DefaultTable = "secureai_audit"

// Options configures a [Sink]. The zero value uses the defaults.
type Options struct {
	// Table is the table name, optionally qualified by a schema
	// ("audit.events"). Each part is 1 to 47 letters, digits and '_',
	// not starting with a digit. Default [DefaultTable].
	Table string
	// SkipMigrate stops New and Open from running [Sink.Migrate], for
	// databases whose schema is managed elsewhere.
	SkipMigrate bool
}

// Sink is an [audit.Sink] and [audit.BatchSink] writing to PostgreSQL.
//
// A Sink is safe for concurrent use: it uses a connection per call from its
// pool. The zero Sink is not usable; use [New] or [Open].
type Sink struct {
	pool   *pgxpool.Pool
	owned  bool // Close closes the pool
	table  pgx.Identifier
	name   string // table, quoted for SQL
	base   string // last part of the table name, for index names
	insert string
	closed atomic.Bool
}

var identPart = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,46}$`)

// New returns a Sink using pool, which stays the caller's: Close does not
// close it. Unless opts.SkipMigrate is set, it runs [Sink.Migrate]. It
// returns an error for a nil pool, a bad table name or a failed migration.
func New(ctx context.Context, pool *pgxpool.Pool, opts Options) (*Sink, error) {
	if pool == nil {
		return nil, errors.New("pgaudit: nil pool")
	}
	if opts.Table == "" {
		opts.Table = DefaultTable
	}
	parts := strings.Split(opts.Table, ".")
	if len(parts) > 2 {
		return nil, fmt.Errorf("pgaudit: table %q: at most schema.table", opts.Table)
	}
	for _, p := range parts {
		if !identPart.MatchString(p) {
			return nil, fmt.Errorf("pgaudit: table %q: each part must be 1 to 47 letters, digits or '_', not starting with a digit", opts.Table)
		}
	}
	s := &Sink{pool: pool, table: pgx.Identifier(parts), base: parts[len(parts)-1]}
	s.name = s.table.Sanitize()
	ph := make([]string, len(columns))
	for i := range ph {
		ph[i] = fmt.Sprintf("$%d", i+1)
	}
	s.insert = fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", s.name, strings.Join(columns, ", "), strings.Join(ph, ", "))
	if !opts.SkipMigrate {
		if err := s.Migrate(ctx); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Open connects a pool to dsn (a PostgreSQL URL or key=value string) and
// returns a Sink that owns it: Close closes the pool. The DSN, which may
// hold a password, is not repeated in errors.
func Open(ctx context.Context, dsn string, opts Options) (*Sink, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, errors.New("pgaudit: cannot parse the DSN")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgaudit: connect: %w", err)
	}
	s, err := New(ctx, pool, opts)
	if err != nil {
		pool.Close()
		return nil, err
	}
	s.owned = true
	return s, nil
}

// columns are the table's columns in the order of values.
var columns = []string{
	"time", "schema", "kind", "request_id", "operation", "provider", "endpoint", "stream",
	"environment", "caller", "grp", "tier", "purpose", "request_model", "response_model", "response_id",
	"max_tokens", "choices", "finish_reasons", "input_tokens", "output_tokens", "input_bytes",
	"input_hash", "system_prompt_hash", "decisions", "findings", "outcome", "error_type", "stage",
	"http_status", "retries", "key_fingerprint", "cost_usd", "alert_type", "alert_value",
	"alert_threshold", "dropped_before", "duration_ms",
}

const createTable = `CREATE TABLE IF NOT EXISTS %s (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time timestamptz NOT NULL,
	schema text NOT NULL,
	kind text NOT NULL,
	request_id text NOT NULL,
	operation text NOT NULL,
	provider text NOT NULL,
	endpoint text NOT NULL,
	stream boolean NOT NULL,
	environment text NOT NULL,
	caller text NOT NULL,
	grp text NOT NULL,
	tier text NOT NULL,
	purpose text NOT NULL,
	request_model text NOT NULL,
	response_model text NOT NULL,
	response_id text NOT NULL,
	max_tokens integer NOT NULL,
	choices integer NOT NULL,
	finish_reasons text[],
	input_tokens integer NOT NULL,
	output_tokens integer NOT NULL,
	input_bytes integer NOT NULL,
	input_hash text NOT NULL,
	system_prompt_hash text NOT NULL,
	decisions jsonb,
	findings jsonb,
	outcome text NOT NULL,
	error_type text NOT NULL,
	stage text NOT NULL,
	http_status integer NOT NULL,
	retries integer NOT NULL,
	key_fingerprint text NOT NULL,
	cost_usd double precision NOT NULL,
	alert_type text NOT NULL,
	alert_value double precision NOT NULL,
	alert_threshold double precision NOT NULL,
	dropped_before integer NOT NULL,
	duration_ms double precision NOT NULL
)`

// Migrate creates the table and its indexes if they do not exist. It takes
// a transaction-scoped advisory lock first, so that replicas starting
// together do not race. It is safe to run on every start.
func (s *Sink) Migrate(ctx context.Context) error {
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("pgaudit: migrate: %w", err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	stmts := []string{
		"SELECT pg_advisory_xact_lock(hashtext('secureai.pgaudit:' || $1))",
		fmt.Sprintf(createTable, s.name),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (caller, time)", pgx.Identifier{s.base + "_caller_time_idx"}.Sanitize(), s.name),
		fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (time)", pgx.Identifier{s.base + "_time_idx"}.Sanitize(), s.name),
	}
	for i, q := range stmts {
		var args []any
		if i == 0 {
			args = []any{s.name}
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("pgaudit: migrate %s: %w", s.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("pgaudit: migrate: %w", err)
	}
	return nil
}

// values returns e's column values, in the order of columns.
func values(e *audit.Event) ([]any, error) {
	kind := e.Kind
	if kind == "" {
		kind = audit.KindCall
	}
	var decisions, findings []byte
	var err error
	if len(e.Decisions) > 0 {
		if decisions, err = json.Marshal(e.Decisions); err != nil {
			return nil, fmt.Errorf("pgaudit: %w", err)
		}
	}
	if len(e.Findings) > 0 {
		if findings, err = json.Marshal(e.Findings); err != nil {
			return nil, fmt.Errorf("pgaudit: %w", err)
		}
	}
	return []any{
		e.Time, audit.SchemaVersion, string(kind), e.RequestID, e.Operation, e.Provider, e.Endpoint, e.Stream,
		e.Environment, e.Caller, e.Group, e.Tier, e.Purpose, e.RequestModel, e.ResponseModel, e.ResponseID,
		e.MaxTokens, e.Choices, e.FinishReasons, e.InputTokens, e.OutputTokens, e.InputBytes,
		e.InputHash, e.SystemPromptHash, jsonb(decisions), jsonb(findings), string(e.Outcome), e.ErrorType, e.Stage,
		e.HTTPStatus, e.Retries, e.KeyFingerprint, finite(e.CostUSD), e.AlertType, finite(e.AlertValue),
		finite(e.AlertThreshold), e.DroppedBefore, float64(e.Duration) / float64(time.Millisecond),
	}, nil
}

// jsonb returns raw JSON for a jsonb column, or nil for NULL.
func jsonb(b []byte) any {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

func finite(f float64) float64 {
	if f != f || f > 1e308 || f < -1e308 {
		return 0
	}
	return f
}

// Write inserts e as one row. It returns [audit.ErrClosed] after Close, or
// the database's error, wrapped. It does not retain e.
func (s *Sink) Write(ctx context.Context, e audit.Event) error {
	if s.closed.Load() {
		return audit.ErrClosed
	}
	vals, err := values(&e)
	if err != nil {
		return err
	}
	if _, err := s.pool.Exec(ctx, s.insert, vals...); err != nil {
		return fmt.Errorf("pgaudit: insert: %w", err)
	}
	return nil
}

// WriteBatch writes events with one COPY, all or nothing. It returns
// [audit.ErrClosed] after Close, or the database's error, wrapped. It does
// not retain events.
func (s *Sink) WriteBatch(ctx context.Context, events []audit.Event) error {
	if s.closed.Load() {
		return audit.ErrClosed
	}
	if len(events) == 0 {
		return nil
	}
	src := pgx.CopyFromSlice(len(events), func(i int) ([]any, error) { return values(&events[i]) })
	if _, err := s.pool.CopyFrom(ctx, s.table, columns, src); err != nil {
		return fmt.Errorf("pgaudit: copy %d events: %w", len(events), err)
	}
	return nil
}

// pruneChunk is how many rows one DELETE of Prune removes, so that no
// statement holds its locks long.
const pruneChunk = 10000

// Prune deletes the events whose time is before olderThan, in chunks of
// 10 000 rows, and returns how many it deleted. For a retention of 90 days,
// run Prune(ctx, time.Now().AddDate(0, 0, -90)) daily from a scheduler. It
// stops between chunks when ctx ends, returning what it deleted so far.
func (s *Sink) Prune(ctx context.Context, olderThan time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, audit.ErrClosed
	}
	q := fmt.Sprintf("DELETE FROM %[1]s WHERE id IN (SELECT id FROM %[1]s WHERE time < $1 LIMIT %[2]d)", s.name, pruneChunk)
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, q, olderThan)
		if err != nil {
			return total, fmt.Errorf("pgaudit: prune: %w", err)
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < pruneChunk {
			return total, nil
		}
	}
}

// Filter selects events for [Sink.Query]. The zero Filter selects all.
type Filter struct {
	// Caller selects one caller's events (the pseudonym, as in
	// Event.Caller); empty selects every caller.
	Caller string
	// From and To bound the events' Time: From <= Time < To. A zero bound
	// is open.
	From, To time.Time
	// Kind selects one kind of event; empty selects every kind.
	Kind audit.Kind
	// Limit caps the number of events returned; 0 means no cap.
	Limit int
}

// Query returns the events that match f, oldest first.
func (s *Sink) Query(ctx context.Context, f Filter) ([]audit.Event, error) {
	if s.closed.Load() {
		return nil, audit.ErrClosed
	}
	var where []string
	var args []any
	add := func(cond string, v any) {
		args = append(args, v)
		where = append(where, fmt.Sprintf(cond, len(args)))
	}
	if f.Caller != "" {
		add("caller = $%d", f.Caller)
	}
	if !f.From.IsZero() {
		add("time >= $%d", f.From)
	}
	if !f.To.IsZero() {
		add("time < $%d", f.To)
	}
	if f.Kind != "" {
		add("kind = $%d", string(f.Kind))
	}
	q := "SELECT " + strings.Join(columns, ", ") + " FROM " + s.name
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY time, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
	}
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("pgaudit: query: %w", err)
	}
	defer rows.Close()
	var events []audit.Event
	for rows.Next() {
		e, err := scan(rows)
		if err != nil {
			return nil, err
		}
		events = append(events, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("pgaudit: query: %w", err)
	}
	return events, nil
}

func scan(rows pgx.Rows) (audit.Event, error) {
	var (
		e                   audit.Event
		schema, kind, out   string
		decisions, findings []byte
		durationMS          float64
	)
	err := rows.Scan(&e.Time, &schema, &kind, &e.RequestID, &e.Operation, &e.Provider, &e.Endpoint, &e.Stream,
		&e.Environment, &e.Caller, &e.Group, &e.Tier, &e.Purpose, &e.RequestModel, &e.ResponseModel, &e.ResponseID,
		&e.MaxTokens, &e.Choices, &e.FinishReasons, &e.InputTokens, &e.OutputTokens, &e.InputBytes,
		&e.InputHash, &e.SystemPromptHash, &decisions, &findings, &out, &e.ErrorType, &e.Stage,
		&e.HTTPStatus, &e.Retries, &e.KeyFingerprint, &e.CostUSD, &e.AlertType, &e.AlertValue,
		&e.AlertThreshold, &e.DroppedBefore, &durationMS)
	if err != nil {
		return e, fmt.Errorf("pgaudit: scan: %w", err)
	}
	e.Kind, e.Outcome = audit.Kind(kind), audit.Outcome(out)
	e.Duration = time.Duration(durationMS * float64(time.Millisecond))
	if decisions != nil {
		if err := json.Unmarshal(decisions, &e.Decisions); err != nil {
			return e, fmt.Errorf("pgaudit: decisions: %w", err)
		}
	}
	if findings != nil {
		if err := json.Unmarshal(findings, &e.Findings); err != nil {
			return e, fmt.Errorf("pgaudit: findings: %w", err)
		}
	}
	return e, nil
}

// Close marks s closed, so that later calls return [audit.ErrClosed], and
// closes the pool if [Open] made it. It waits for the pool's connections to
// be released. A second Close returns nil.
func (s *Sink) Close(context.Context) error {
	if s.closed.Swap(true) {
		return nil
	}
	if s.owned {
		s.pool.Close()
	}
	return nil
}
