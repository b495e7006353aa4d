package audit_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// slowSink is a BatchSink that sleeps on every batch and counts what it
// recorded, including the drops the events report.
type slowSink struct {
	delay         time.Duration
	written       atomic.Int64
	reportedDrops atomic.Int64
	slowest       atomic.Int64 // nanoseconds
	closed        atomic.Bool
}

func (s *slowSink) Write(ctx context.Context, e audit.Event) error {
	return s.WriteBatch(ctx, []audit.Event{e})
}

func (s *slowSink) WriteBatch(_ context.Context, events []audit.Event) error {
	start := time.Now()
	time.Sleep(s.delay)
	for i := range events {
		s.reportedDrops.Add(int64(events[i].DroppedBefore))
	}
	s.written.Add(int64(len(events)))
	if d := int64(time.Since(start)); d > s.slowest.Load() {
		s.slowest.Store(d)
	}
	return nil
}

func (s *slowSink) Close(context.Context) error {
	s.closed.Store(true)
	return nil
}

// produce writes n events from several goroutines and returns how many
// Writes returned nil and how many ErrDropped.
func produce(t *testing.T, a *audit.AsyncSink, n int) (accepted, dropped int64) {
	const writers = 4
	var acc, drop atomic.Int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			e := minimalEvent()
			for i := w; i < n; i += writers {
				switch err := a.Write(t.Context(), e); {
				case err == nil:
					acc.Add(1)
				case errors.Is(err, audit.ErrDropped):
					drop.Add(1)
				default:
					t.Errorf("Write = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	return acc.Load(), drop.Load()
}

// TestLossDrop is the loss test under the drop policy: a sink far
// slower than the producers overflows the queue; every event is either
// written or counted as dropped, and every drop is reported.
func TestLossDrop(t *testing.T) {
	sink := &slowSink{delay: time.Millisecond}
	a := newAsync(t, sink, audit.AsyncOptions{QueueSize: 1024, BatchSize: 256, Overflow: audit.OverflowDrop})
	accepted, dropped := produce(t, a, lossEvents)
	closeErr := a.Close(t.Context())

	st := a.Stats()
	written := sink.written.Load()
	t.Logf("%d events: %d written, %d dropped; %d drops reported in events", lossEvents, written, st.Dropped, sink.reportedDrops.Load())
	if st.Dropped == 0 {
		t.Fatal("no drops: the sink was not slow enough for the queue to overflow")
	}
	if written+int64(st.Dropped) != lossEvents {
		t.Errorf("written %d + dropped %d != %d", written, st.Dropped, lossEvents)
	}
	if uint64(accepted) != st.Accepted || uint64(dropped) != st.Dropped || st.Written != uint64(written) {
		t.Errorf("Write results (%d ok, %d dropped) disagree with stats %+v", accepted, dropped, st)
	}
	if !sink.closed.Load() {
		t.Error("wrapped sink not closed")
	}
	// Drops no written event carried are reported by Close.
	switch reported := sink.reportedDrops.Load(); {
	case reported > int64(st.Dropped):
		t.Errorf("events report %d drops, more than the %d counted", reported, st.Dropped)
	case reported < int64(st.Dropped) && !errors.Is(closeErr, audit.ErrDropped):
		t.Errorf("%d drops unreported, but Close = %v", int64(st.Dropped)-reported, closeErr)
	case reported == int64(st.Dropped) && closeErr != nil:
		t.Errorf("Close = %v", closeErr)
	}
}

// TestLossBlock is the loss test under the block policy with a timeout
// longer than the sink's slowest write: nothing is dropped, and Close
// returns only once every accepted event is written.
func TestLossBlock(t *testing.T) {
	sink := &slowSink{delay: 200 * time.Microsecond}
	a := newAsync(t, sink, audit.AsyncOptions{QueueSize: 4096, BatchSize: 1024, BlockTimeout: 30 * time.Second})
	accepted, dropped := produce(t, a, lossEvents)
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	st := a.Stats()
	t.Logf("%d events written; slowest write %v", sink.written.Load(), time.Duration(sink.slowest.Load()))
	if dropped != 0 || st.Dropped != 0 {
		t.Errorf("%d dropped (stats %+v)", dropped, st)
	}
	if accepted != lossEvents || sink.written.Load() != lossEvents || st.Written != lossEvents {
		t.Errorf("accepted %d, written %d, stats %+v; want all %d", accepted, sink.written.Load(), st, lossEvents)
	}
}
