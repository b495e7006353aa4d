package audit

import (
	"context"
	"errors"
	"sync/atomic"
)

// ErrClosed is returned by the methods of a sink that has been closed.
var ErrClosed = errors.New("audit: sink closed")

// Sink receives finished events.
//
// Write records e. It must be safe for concurrent use, and it must not retain
// e or the slices it refers to after it returns: a sink copies what it keeps.
// Write's error reports that e was not recorded; the call that produced e has
// already ended, so the caller can only count or log the failure.
type Sink interface {
	Write(ctx context.Context, e Event) error
}

// SinkFunc adapts an ordinary function to the [Sink] interface. The function
// must follow the rules of [Sink.Write].
type SinkFunc func(ctx context.Context, e Event) error

// Write calls f(ctx, e). It panics if f is nil.
func (f SinkFunc) Write(ctx context.Context, e Event) error {
	return f(ctx, e)
}

// BatchSink is implemented by sinks that write several events at once more
// cheaply than one by one, such as a database sink using COPY. An
// [AsyncSink] hands its batches to WriteBatch when the sink it wraps has it.
//
// WriteBatch records events, in order. It must be safe for concurrent use
// and must not retain events, or the slices its events refer to, after it
// returns. A non-nil error reports that some or all of events were not
// recorded; callers count the whole batch as failed.
type BatchSink interface {
	Sink
	WriteBatch(ctx context.Context, events []Event) error
}

// Flusher is implemented by sinks that buffer events.
//
// Flush writes out the buffered events, blocking until they are written or ctx
// is done. It must be safe for concurrent use with Write.
type Flusher interface {
	Flush(ctx context.Context) error
}

// Closer is implemented by sinks that hold resources.
//
// Close flushes the sink, then releases its resources. After Close, Write
// returns [ErrClosed]. Close must be safe for concurrent use with Write.
type Closer interface {
	Close(ctx context.Context) error
}

// Multi returns a Sink that fans out to each of sinks, in order, like
// [log/slog.NewMultiHandler]. Nil sinks are skipped; with none left, the
// returned Sink accepts and drops every event.
//
// The returned Sink also implements [Flusher] and [Closer]. Its Write calls
// every sink's Write with the same event, even after one fails, and returns
// their errors joined with [errors.Join]. Its Flush calls Flush on those sinks
// that implement Flusher. Its Close calls Close on those sinks that implement
// Closer and Flush on those that implement only Flusher; after Close, its Write
// and Flush return [ErrClosed] without calling any sink. Multi copies the sinks
// slice. The returned Sink is safe for concurrent use if each of sinks is.
func Multi(sinks ...Sink) Sink {
	m := &multiSink{sinks: make([]Sink, 0, len(sinks))}
	for _, s := range sinks {
		if s != nil {
			m.sinks = append(m.sinks, s)
		}
	}
	return m
}

type multiSink struct {
	sinks  []Sink
	closed atomic.Bool
}

func (m *multiSink) Write(ctx context.Context, e Event) error {
	if m.closed.Load() {
		return ErrClosed
	}
	var errs []error
	for _, s := range m.sinks {
		if err := s.Write(ctx, e); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (m *multiSink) Flush(ctx context.Context) error {
	if m.closed.Load() {
		return ErrClosed
	}
	return m.flush(ctx)
}

func (m *multiSink) flush(ctx context.Context) error {
	var errs []error
	for _, s := range m.sinks {
		if f, ok := s.(Flusher); ok {
			if err := f.Flush(ctx); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// Close closes the sinks once; later calls return nil.
func (m *multiSink) Close(ctx context.Context) error {
	if m.closed.Swap(true) {
		return nil
	}
	var errs []error
	for _, s := range m.sinks {
		var err error
		switch s := s.(type) {
		case Closer:
			err = s.Close(ctx)
		case Flusher:
			err = s.Flush(ctx)
		}
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
