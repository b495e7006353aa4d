package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"github.com/secureai-go/secureai/internal/jsonstr"
)

// JSONSink is a [Sink] that writes each event as one line of JSON to a
// writer: the keys "time", "level" and "msg" that slog's JSON handler writes
// (as a [SlogSink] sets them: "INFO" and "genai.call" for a call, "WARN" and
// "genai.alert" or "genai.budget_threshold" for the other kinds), then the
// keys of [Event.MarshalJSON] in the same order. Its lines therefore parse like those of a [SlogSink] over
// [slog.NewJSONHandler], but it encodes without reflection or slog, about
// ten times faster, because it runs on every call.
//
// Writes are serialized, so concurrent events never interleave within a
// line. JSONSink implements [BatchSink]: an [AsyncSink] over it writes each
// batch with one call to the writer. A JSONSink is safe for concurrent use. The zero JSONSink is not
// usable; use [NewJSONSink].
type JSONSink struct {
	mu     sync.Mutex
	w      io.Writer
	buf    []byte
	closed bool
}

// NewJSONSink returns a JSONSink writing to w. It returns an error if w is
// nil. Closing the sink does not close w.
func NewJSONSink(w io.Writer) (*JSONSink, error) {
	if w == nil {
		return nil, errors.New("audit: nil writer")
	}
	return &JSONSink{w: w, buf: make([]byte, 0, 1024)}, nil
}

// Write encodes e and writes it as one line. It returns the writer's error,
// wrapped, or [ErrClosed] after [JSONSink.Close]. It does not retain e.
func (s *JSONSink) Write(_ context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.w == nil {
		return errors.New("audit: JSONSink has no writer; use NewJSONSink")
	}
	s.buf = e.appendJSON(s.buf[:0], true)
	s.buf = append(s.buf, '\n')
	if _, err := s.w.Write(s.buf); err != nil {
		return fmt.Errorf("audit: json sink: %w", err)
	}
	return nil
}

// WriteBatch encodes events and writes them, one line each, with one call to
// the writer. It returns the writer's error, wrapped, or [ErrClosed] after
// [JSONSink.Close]; on an error, some of the lines may have been written. It
// does not retain events.
func (s *JSONSink) WriteBatch(_ context.Context, events []Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if s.w == nil {
		return errors.New("audit: JSONSink has no writer; use NewJSONSink")
	}
	s.buf = s.buf[:0]
	for i := range events {
		s.buf = events[i].appendJSON(s.buf, true)
		s.buf = append(s.buf, '\n')
	}
	_, err := s.w.Write(s.buf)
	if cap(s.buf) > 1<<20 { // do not keep a huge batch's buffer
		s.buf = make([]byte, 0, 1024)
	}
	if err != nil {
		return fmt.Errorf("audit: json sink: %w", err)
	}
	return nil
}

// Flush does nothing (JSONSink does not buffer) and returns nil, or
// [ErrClosed] after [JSONSink.Close].
func (s *JSONSink) Flush(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	return nil
}

// Close marks s closed; later Writes return [ErrClosed]. It waits for a
// Write in progress and does not close the writer.
func (s *JSONSink) Close(context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// AppendJSON appends e as a JSON object (the encoding of
// [Event.MarshalJSON]) to b and returns the extended slice.
func (e *Event) AppendJSON(b []byte) []byte { return e.appendJSON(b, false) }

// appendJSON encodes e without reflection, with the keys and the omission
// rules of appendAttrs. With logKeys it starts with slog's time, level and
// msg keys. It must stay in step with appendAttrs.
func (e *Event) appendJSON(b []byte, logKeys bool) []byte {
	return e.appendJSONBody(append(b, '{'), logKeys)
}

// appendJSONBody appends what appendJSON writes after the opening brace.
func (e *Event) appendJSONBody(b []byte, logKeys bool) []byte {
	if logKeys {
		b = appendKey(b, keyTime, true)
		b = appendTime(b, e.Time)
		if e.level() == slog.LevelInfo {
			b = append(b, `,"level":"INFO","msg":`...)
		} else {
			b = append(b, `,"level":"WARN","msg":`...)
		}
		b = jsonstr.AppendSlog(b, e.message())
		b = append(b, ',')
	}
	b = appendKey(b, keySchema, true)
	b = append(b, `"`+SchemaVersion+`"`...)
	b = appendStr(b, keyKind, string(e.kind()), true)
	b = appendStr(b, keyRequestID, e.RequestID, true)
	if !logKeys {
		b = appendKey(b, keyTime, false)
		b = appendTime(b, e.Time)
	}
	b = appendStr(b, keyOperation, e.Operation, true)
	b = appendStr(b, keyProvider, e.Provider, true)
	b = appendStr(b, keyEndpoint, e.Endpoint, true)
	if e.Stream {
		b = appendKey(b, keyStream, false)
		b = append(b, "true"...)
	}
	b = appendStr(b, keyEnvironment, e.Environment, false)
	b = appendStr(b, keyCaller, e.Caller, false)
	b = appendStr(b, keyGroup, e.Group, false)
	b = appendStr(b, keyTier, e.Tier, false)
	b = appendStr(b, keyPurpose, e.Purpose, false)
	b = appendStr(b, keyRequestModel, e.RequestModel, false)
	b = appendStr(b, keyResponseModel, e.ResponseModel, false)
	b = appendStr(b, keyResponseID, e.ResponseID, false)
	b = appendNum(b, keyMaxTokens, e.MaxTokens, false)
	b = appendNum(b, keyChoices, e.Choices, false)
	if len(e.FinishReasons) > 0 {
		b = appendKey(b, keyFinishReasons, false)
		b = append(b, '[')
		for i, r := range e.FinishReasons {
			if i > 0 {
				b = append(b, ',')
			}
			b = jsonstr.AppendSlog(b, r)
		}
		b = append(b, ']')
	}
	b = appendNum(b, keyInputTokens, e.InputTokens, true)
	b = appendNum(b, keyOutputTokens, e.OutputTokens, true)
	b = appendNum(b, keyInputBytes, e.InputBytes, true)
	b = appendStr(b, keyInputHash, e.InputHash, false)
	b = appendStr(b, keySystemPromptHash, e.SystemPromptHash, false)
	b = appendList(b, keyDecisions, e.Decisions, appendDecision)
	b = appendList(b, keyFindings, e.Findings, appendFinding)
	b = appendStr(b, keyOutcome, string(e.Outcome), true)
	b = appendStr(b, keyErrorType, e.ErrorType, false)
	b = appendStr(b, keyStage, e.Stage, false)
	b = appendNum(b, keyHTTPStatus, e.HTTPStatus, false)
	b = appendNum(b, keyRetries, e.Retries, false)
	b = appendStr(b, keyKeyFingerprint, e.KeyFingerprint, false)
	b = appendFloatKey(b, keyCostUSD, e.CostUSD, false)
	b = appendStr(b, keyAlertType, e.AlertType, false)
	b = appendFloatKey(b, keyAlertValue, e.AlertValue, false)
	b = appendFloatKey(b, keyAlertThreshold, e.AlertThreshold, false)
	b = appendNum(b, keyDroppedBefore, e.DroppedBefore, false)
	b = appendDurationMS(appendKey(b, keyDurationMS, false), e.Duration)
	return append(b, '}')
}

// appendDecision encodes d as Decision.MarshalJSON does.
func appendDecision(b []byte, d *Decision) []byte {
	b = append(b, `{"stage":`...)
	b = jsonstr.AppendSlog(b, d.Stage)
	if d.Check != "" {
		b = append(b, `,"check":`...)
		b = jsonstr.AppendSlog(b, d.Check)
	}
	b = append(b, `,"verdict":`...)
	b = jsonstr.AppendSlog(b, string(d.Verdict))
	if d.Reason != "" {
		b = append(b, `,"reason":`...)
		b = jsonstr.AppendSlog(b, d.Reason)
	}
	if d.Duration != 0 {
		b = append(b, `,"duration_ms":`...)
		b = appendDurationMS(b, d.Duration)
	}
	return append(b, '}')
}

// appendFinding encodes f as encoding/json does with Finding's struct tags.
func appendFinding(b []byte, f *Finding) []byte {
	b = append(b, '{')
	if f.Stage != "" {
		b = append(b, `"stage":`...)
		b = jsonstr.AppendSlog(b, f.Stage)
		b = append(b, ',')
	}
	b = append(b, `"kind":`...)
	b = jsonstr.AppendSlog(b, f.Kind)
	if f.Type != "" {
		b = append(b, `,"type":`...)
		b = jsonstr.AppendSlog(b, f.Type)
	}
	b = append(b, `,"count":`...)
	b = strconv.AppendInt(b, int64(f.Count), 10)
	return append(b, '}')
}

func appendKey(b []byte, key string, first bool) []byte {
	if !first {
		b = append(b, ',')
	}
	b = append(b, '"')
	b = append(b, key...) // keys are constants without characters to escape
	return append(b, '"', ':')
}

func appendStr(b []byte, key, v string, always bool) []byte {
	if v == "" && !always {
		return b
	}
	return jsonstr.AppendSlog(appendKey(b, key, false), v)
}

func appendNum(b []byte, key string, v int, always bool) []byte {
	if v == 0 && !always {
		return b
	}
	return strconv.AppendInt(appendKey(b, key, false), int64(v), 10)
}

func appendFloatKey(b []byte, key string, v float64, always bool) []byte {
	if v = finite(v); v == 0 && !always {
		return b
	}
	return appendJSONFloat(appendKey(b, key, false), v)
}

// appendJSONFloat appends f as encoding/json writes a float64, which is what
// slog's JSON handler uses: 'f' format, or 'e' format with a short exponent
// for very small and very large magnitudes. Non-finite values are written
// as 0.
func appendJSONFloat(b []byte, f float64) []byte {
	f = finite(f)
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9, as encoding/json does
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// appendDurationMS appends d in milliseconds as appendJSONFloat appends
// durationMS(d), without floating-point formatting for the durations a call
// has. Below 10^15 ns, d/10^6 has at most 15 significant digits, so the
// float64 nearest to it prints as exactly those digits (the shortest form
// that reads back as the same float64): the integer part, and the six
// digits of the fraction without their trailing zeros.
func appendDurationMS(b []byte, d time.Duration) []byte {
	if d < 0 || d >= 1e15 {
		return appendJSONFloat(b, durationMS(d))
	}
	b = strconv.AppendInt(b, int64(d/time.Millisecond), 10)
	frac := int64(d % time.Millisecond)
	if frac == 0 {
		return b
	}
	digits := 6
	for frac%10 == 0 {
		frac /= 10
		digits--
	}
	b = append(b, '.')
	for n := digits - 1; n >= 0; n-- { // leading zeros of the fraction
		if frac >= pow10[n] {
			break
		}
		b = append(b, '0')
	}
	return strconv.AppendInt(b, frac, 10)
}

// pow10 are the powers of ten below a million.
var pow10 = [6]int64{1, 10, 100, 1000, 10000, 100000}

func appendTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.UTC().AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// UnmarshalJSON decodes the encoding of [Event.MarshalJSON] (or a line of a
// [JSONSink], whose extra "level" and "msg" keys it ignores), with
// "duration_ms" back into Duration. It accepts any "schema" value and keeps
// the Kind as written. It uses reflection: it is meant for reading audit
// trails back, not for the call path.
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event // Event's fields without its methods
	var v struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("audit: decode event: %w", err)
	}
	*e = Event(v.plain)
	e.Duration = time.Duration(v.DurationMS * float64(time.Millisecond))
	return nil
}

// UnmarshalJSON decodes the encoding of [Decision.MarshalJSON], with
// "duration_ms" back into Duration.
func (d *Decision) UnmarshalJSON(b []byte) error {
	type plain Decision
	var v struct {
		plain
		DurationMS float64 `json:"duration_ms"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("audit: decode decision: %w", err)
	}
	*d = Decision(v.plain)
	d.Duration = time.Duration(v.DurationMS * float64(time.Millisecond))
	return nil
}

// appendList appends key and a JSON array of xs, each encoded by enc; an
// empty list is left out.
func appendList[T any](b []byte, key string, xs []T, enc func([]byte, *T) []byte) []byte {
	if len(xs) == 0 {
		return b
	}
	b = append(appendKey(b, key, false), '[')
	for i := range xs {
		if i > 0 {
			b = append(b, ',')
		}
		b = enc(b, &xs[i])
	}
	return append(b, ']')
}
