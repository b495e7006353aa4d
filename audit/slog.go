package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
)

// SlogSink is a [Sink] that writes each event as one [log/slog] record through
// a [slog.Handler].
//
// Each record of a call has level [slog.LevelInfo] and message "genai.call";
// that of an alert has [slog.LevelWarn] and "genai.alert", that of a budget
// threshold [slog.LevelWarn] and "genai.budget_threshold". Each has the
// event's Time (in UTC) as the record time, and the other attributes of
// [Event.LogValue] at the top level, not nested under a group. The event's
// time is not repeated as a "time" attribute, so handlers that write the
// record time under the key "time", as the built-in ones do, produce the keys
// of [Event.MarshalJSON]. A zero Time leaves the record without a time. If the
// handler is not enabled for the record's level, Write drops the event and
// returns nil.
//
// A SlogSink is safe for concurrent use if its handler is, as the handlers in
// log/slog are. The zero SlogSink is not usable: its Write returns an error.
// Use [NewSlogSink].
type SlogSink struct {
	h      slog.Handler
	closed atomic.Bool
}

var errNoHandler = errors.New("audit: SlogSink has no handler; use NewSlogSink")

// NewSlogSink returns a SlogSink that writes through h. It returns an error if
// h is nil.
func NewSlogSink(h slog.Handler) (*SlogSink, error) {
	if h == nil {
		return nil, errors.New("audit: nil slog handler")
	}
	return &SlogSink{h: h}, nil
}

// Write hands e to the handler as one record and returns the handler's error,
// wrapped. It returns [ErrClosed] after [SlogSink.Close]. It does not retain e:
// the record it builds holds copies of e's slices. Write passes ctx to the
// handler and does not otherwise observe it.
func (s *SlogSink) Write(ctx context.Context, e Event) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.h == nil {
		return errNoHandler
	}
	level := e.level()
	if !s.h.Enabled(ctx, level) {
		return nil
	}
	r := slog.NewRecord(e.Time.UTC(), level, e.message(), 0)
	var buf [maxAttrs]slog.Attr
	r.AddAttrs(e.appendAttrs(buf[:0], false)...)
	if err := s.h.Handle(ctx, r); err != nil {
		return fmt.Errorf("audit: slog handler: %w", err)
	}
	return nil
}

// Flush does nothing, since SlogSink does not buffer, and returns nil, or
// [ErrClosed] after [SlogSink.Close].
func (s *SlogSink) Flush(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return nil
}

// Close marks s closed, so that later calls to Write and Flush return
// [ErrClosed]. It does not wait for Writes already in progress, and it does
// not close the handler or its writer. Close returns nil, also when s is
// already closed.
func (s *SlogSink) Close(ctx context.Context) error {
	s.closed.Store(true)
	return nil
}
