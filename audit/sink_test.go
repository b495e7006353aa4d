package audit_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/secureai-go/secureai/audit"
)

// fakeSink records the calls made to it. Its powers are chosen by wrapping.
type fakeSink struct {
	mu                     sync.Mutex
	writes, flushes, close int
	err                    error // returned by every method
}

func (f *fakeSink) Write(context.Context, audit.Event) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.writes++
	return f.err
}

func (f *fakeSink) flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.flushes++
	return f.err
}

func (f *fakeSink) closeSink() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.close++
	return f.err
}

func (f *fakeSink) counts() [3]int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return [3]int{f.writes, f.flushes, f.close}
}

// writeOnly has only Write.
type writeOnly struct{ *fakeSink }

// flushing has Write and Flush.
type flushing struct{ *fakeSink }

func (f flushing) Flush(context.Context) error { return f.flush() }

// closing has Write, Flush and Close.
type closing struct{ *fakeSink }

func (c closing) Flush(context.Context) error { return c.flush() }
func (c closing) Close(context.Context) error { return c.closeSink() }

func TestMulti(t *testing.T) {
	errA, errB := errors.New("a failed"), errors.New("b failed")
	type call int
	const (
		write call = iota
		flush
		closeCall
	)
	tests := []struct {
		name     string
		sinkErrs [3]error // for the write-only, flushing and closing sinks
		call     call
		want     [3][3]int // writes, flushes, closes of each sink
		wantErrs []error   // errors the result must match
	}{
		{name: "write", call: write, want: [3][3]int{{1, 0, 0}, {1, 0, 0}, {1, 0, 0}}},
		{name: "flush", call: flush, want: [3][3]int{{0, 0, 0}, {0, 1, 0}, {0, 1, 0}}},
		{name: "close", call: closeCall, want: [3][3]int{{0, 0, 0}, {0, 1, 0}, {0, 0, 1}}},
		{
			name: "write errors joined", call: write,
			sinkErrs: [3]error{errA, nil, errB},
			want:     [3][3]int{{1, 0, 0}, {1, 0, 0}, {1, 0, 0}},
			wantErrs: []error{errA, errB},
		},
		{
			name: "flush errors joined", call: flush,
			sinkErrs: [3]error{nil, errA, errB},
			want:     [3][3]int{{0, 0, 0}, {0, 1, 0}, {0, 1, 0}},
			wantErrs: []error{errA, errB},
		},
		{
			name: "close errors joined", call: closeCall,
			sinkErrs: [3]error{nil, errA, errB},
			want:     [3][3]int{{0, 0, 0}, {0, 1, 0}, {0, 0, 1}},
			wantErrs: []error{errA, errB},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			fakes := [3]*fakeSink{{err: tt.sinkErrs[0]}, {err: tt.sinkErrs[1]}, {err: tt.sinkErrs[2]}}
			m := audit.Multi(writeOnly{fakes[0]}, nil, flushing{fakes[1]}, closing{fakes[2]}, nil)
			var err error
			switch tt.call {
			case write:
				err = m.Write(ctx, minimalEvent())
			case flush:
				err = m.(audit.Flusher).Flush(ctx)
			case closeCall:
				err = m.(audit.Closer).Close(ctx)
			}
			if len(tt.wantErrs) == 0 && err != nil {
				t.Errorf("got error %v, want nil", err)
			}
			for _, want := range tt.wantErrs {
				if !errors.Is(err, want) {
					t.Errorf("error %v does not match %v", err, want)
				}
			}
			for i, f := range fakes {
				if got := f.counts(); got != tt.want[i] {
					t.Errorf("sink %d: writes, flushes, closes = %v, want %v", i, got, tt.want[i])
				}
			}
		})
	}
}

func TestMultiClosed(t *testing.T) {
	ctx := t.Context()
	f := &fakeSink{}
	m := audit.Multi(closing{f})
	if err := m.(audit.Closer).Close(ctx); err != nil {
		t.Fatal(err)
	}
	if err := m.(audit.Closer).Close(ctx); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if err := m.Write(ctx, minimalEvent()); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write after Close = %v, want ErrClosed", err)
	}
	if err := m.(audit.Flusher).Flush(ctx); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Flush after Close = %v, want ErrClosed", err)
	}
	if got, want := f.counts(), [3]int{0, 0, 1}; got != want {
		t.Errorf("writes, flushes, closes = %v, want %v", got, want)
	}
}

func TestMultiEmpty(t *testing.T) {
	ctx := t.Context()
	for _, m := range []audit.Sink{audit.Multi(), audit.Multi(nil, nil)} {
		if err := m.Write(ctx, minimalEvent()); err != nil {
			t.Errorf("Write = %v", err)
		}
		if err := m.(audit.Flusher).Flush(ctx); err != nil {
			t.Errorf("Flush = %v", err)
		}
		if err := m.(audit.Closer).Close(ctx); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
}

// TestMultiCopiesSlice checks that changing the argument slice later does not
// change the fan-out.
func TestMultiCopiesSlice(t *testing.T) {
	a, b := &fakeSink{}, &fakeSink{}
	sinks := []audit.Sink{writeOnly{a}}
	m := audit.Multi(sinks...)
	sinks[0] = writeOnly{b}
	if err := m.Write(t.Context(), minimalEvent()); err != nil {
		t.Fatal(err)
	}
	if a.counts()[0] != 1 || b.counts()[0] != 0 {
		t.Errorf("writes = %d, %d; want 1, 0", a.counts()[0], b.counts()[0])
	}
}

func TestSinkFunc(t *testing.T) {
	errBoom := errors.New("boom")
	var got audit.Event
	s := audit.SinkFunc(func(_ context.Context, e audit.Event) error {
		got = e
		return errBoom
	})
	if err := s.Write(t.Context(), minimalEvent()); !errors.Is(err, errBoom) {
		t.Errorf("Write = %v, want %v", err, errBoom)
	}
	if got.RequestID != "req-2" {
		t.Errorf("function saw RequestID %q, want req-2", got.RequestID)
	}
}
