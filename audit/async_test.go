package audit_test

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/secureai-go/secureai/audit"
)

// recorder is a Sink that keeps copies of the events it gets. With batch
// set, it is wrapped as a BatchSink by asBatch.
type recorder struct {
	mu      sync.Mutex
	events  []audit.Event
	batches []int
	closed  int
	err     error         // returned by every write
	gate    chan struct{} // if not nil, each write waits for a token or ctx
	delay   time.Duration // each write sleeps this long
}

func (r *recorder) wait(ctx context.Context) error {
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	if r.gate == nil {
		return nil
	}
	select {
	case <-r.gate:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *recorder) Write(ctx context.Context, e audit.Event) error {
	if err := r.wait(ctx); err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.events = append(r.events, e.Clone())
	return nil
}

func (r *recorder) Close(context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return nil
}

func (r *recorder) snapshot() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]audit.Event(nil), r.events...)
}

// batchRecorder adds WriteBatch to a recorder.
type batchRecorder struct{ *recorder }

func (b batchRecorder) WriteBatch(ctx context.Context, events []audit.Event) error {
	if err := b.wait(ctx); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.err != nil {
		return b.err
	}
	b.batches = append(b.batches, len(events))
	for _, e := range events {
		b.events = append(b.events, e.Clone())
	}
	return nil
}

func newAsync(t testing.TB, s audit.Sink, opts audit.AsyncOptions) *audit.AsyncSink {
	t.Helper()
	a, err := audit.NewAsyncSink(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func numbered(i int) audit.Event {
	e := minimalEvent()
	e.RequestID = strconv.Itoa(i)
	return e
}

func TestAsyncSinkInOrder(t *testing.T) {
	for _, batch := range []bool{false, true} {
		t.Run("batch="+strconv.FormatBool(batch), func(t *testing.T) {
			rec := &recorder{}
			var s audit.Sink = rec
			if batch {
				s = batchRecorder{rec}
			}
			a := newAsync(t, s, audit.AsyncOptions{QueueSize: 64, BatchSize: 16})
			const n = 5000
			for i := range n {
				if err := a.Write(t.Context(), numbered(i)); err != nil {
					t.Fatal(err)
				}
			}
			if err := a.Close(t.Context()); err != nil {
				t.Fatal(err)
			}
			got := rec.snapshot()
			if len(got) != n {
				t.Fatalf("wrote %d events, want %d", len(got), n)
			}
			for i, e := range got {
				if e.RequestID != strconv.Itoa(i) {
					t.Fatalf("event %d is %s", i, e.RequestID)
				}
			}
			for _, b := range rec.batches {
				if b > 16 {
					t.Errorf("batch of %d events, want <= 16", b)
				}
			}
			if batch && len(rec.batches) == 0 {
				t.Error("WriteBatch never called")
			}
			if rec.closed != 1 {
				t.Errorf("wrapped sink closed %d times, want 1", rec.closed)
			}
			st := a.Stats()
			if st.Accepted != n || st.Written != n || st.Dropped != 0 || st.Failed != 0 || st.Lost != 0 || st.Queued != 0 {
				t.Errorf("stats %+v", st)
			}
		})
	}
}

func TestAsyncSinkNotRetained(t *testing.T) {
	rec := &recorder{gate: make(chan struct{})}
	a := newAsync(t, rec, audit.AsyncOptions{})
	e := fullEvent()
	if err := a.Write(t.Context(), e); err != nil {
		t.Fatal(err)
	}
	e.Decisions[0].Stage = "changed"
	e.Findings[0].Kind = "changed"
	e.FinishReasons[0] = "changed"
	close(rec.gate)
	if err := a.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	got := rec.snapshot()[0]
	if got.Decisions[0].Stage == "changed" || got.Findings[0].Kind == "changed" || got.FinishReasons[0] == "changed" {
		t.Errorf("queued event shares the caller's slices: %+v", got)
	}
}

// TestAsyncSinkDropReported fills the queue behind a blocked write and
// checks that the drops are counted and carried by the next written event.
func TestAsyncSinkDropReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		a := newAsync(t, rec, audit.AsyncOptions{QueueSize: 4, Overflow: audit.OverflowDrop})
		ctx := t.Context()
		if err := a.Write(ctx, numbered(0)); err != nil {
			t.Fatal(err)
		}
		synctest.Wait() // the writer holds event 0 and waits at the gate
		for i := 1; i <= 4; i++ {
			if err := a.Write(ctx, numbered(i)); err != nil {
				t.Fatalf("write %d: %v", i, err)
			}
		}
		for i := 5; i < 8; i++ {
			if err := a.Write(ctx, numbered(i)); !errors.Is(err, audit.ErrDropped) {
				t.Fatalf("write %d = %v, want ErrDropped", i, err)
			}
		}
		if st := a.Stats(); st.Dropped != 3 || st.Accepted != 5 || st.Queued != 4 {
			t.Errorf("stats %+v", st)
		}
		close(rec.gate)
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		got := rec.snapshot()
		if len(got) != 5 {
			t.Fatalf("wrote %d events, want 5", len(got))
		}
		if got[0].DroppedBefore != 0 || got[1].DroppedBefore != 3 {
			t.Errorf("DroppedBefore = %d, %d; want 0, 3", got[0].DroppedBefore, got[1].DroppedBefore)
		}
	})
}

// TestAsyncSinkBlock checks that a blocked Write proceeds when room is made,
// and drops after BlockTimeout or when its context ends.
func TestAsyncSinkBlock(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		a := newAsync(t, rec, audit.AsyncOptions{QueueSize: 1, BlockTimeout: time.Second})
		ctx := t.Context()
		a.Write(ctx, numbered(0))
		synctest.Wait()
		a.Write(ctx, numbered(1)) // fills the queue

		start := time.Now()
		if err := a.Write(ctx, numbered(2)); !errors.Is(err, audit.ErrDropped) {
			t.Errorf("Write on a full queue = %v, want ErrDropped after the timeout", err)
		}
		if waited := time.Since(start); waited != time.Second {
			t.Errorf("waited %v, want the BlockTimeout", waited)
		}

		cctx, cancel := context.WithCancel(ctx)
		errc := make(chan error)
		go func() { errc <- a.Write(cctx, numbered(3)) }()
		synctest.Wait()
		cancel()
		if err := <-errc; !errors.Is(err, audit.ErrDropped) {
			t.Errorf("Write with a cancelled context = %v, want ErrDropped", err)
		}

		go func() { errc <- a.Write(ctx, numbered(4)) }()
		synctest.Wait()
		rec.gate <- struct{}{} // event 0 written; event 1 taken: room for 4
		if err := <-errc; err != nil {
			t.Errorf("blocked Write = %v, want nil once room was made", err)
		}
		close(rec.gate)
		if err := a.Close(ctx); err != nil {
			t.Errorf("Close = %v", err)
		}
		got := rec.snapshot()
		if len(got) != 3 || got[2].RequestID != "4" {
			t.Fatalf("wrote %v", got)
		}
		if got[1].DroppedBefore != 2 {
			t.Errorf("event 1 reports %d drops, want 2", got[1].DroppedBefore)
		}
	})
}

// TestAsyncSinkCloseWakesBlockedWrite: Close makes a blocked Write return.
func TestAsyncSinkCloseWakesBlockedWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		a := newAsync(t, rec, audit.AsyncOptions{QueueSize: 1, BlockTimeout: time.Hour})
		ctx := t.Context()
		a.Write(ctx, numbered(0))
		synctest.Wait()
		a.Write(ctx, numbered(1))
		errc := make(chan error)
		go func() { errc <- a.Write(ctx, numbered(2)) }()
		synctest.Wait()
		closed := make(chan error)
		go func() { closed <- a.Close(ctx) }()
		if err := <-errc; !errors.Is(err, audit.ErrClosed) {
			t.Errorf("blocked Write during Close = %v, want ErrClosed", err)
		}
		close(rec.gate)
		if err := <-closed; err != nil {
			t.Errorf("Close = %v", err)
		}
		if n := len(rec.snapshot()); n != 2 {
			t.Errorf("wrote %d events, want the 2 accepted", n)
		}
	})
}

func TestAsyncSinkFlush(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})}
		a := newAsync(t, batchRecorder{rec}, audit.AsyncOptions{})
		ctx := t.Context()
		a.Write(ctx, numbered(0))
		synctest.Wait() // the writer holds event 0
		a.Write(ctx, numbered(1))
		a.Write(ctx, numbered(2))
		short, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := a.Flush(short)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "3 events not yet written") {
			t.Errorf("Flush with the sink stuck = %v", err)
		}
		done := make(chan error)
		go func() { done <- a.Flush(ctx) }()
		synctest.Wait()
		rec.gate <- struct{}{} // the first batch (event 0)
		synctest.Wait()
		select {
		case err := <-done:
			t.Fatalf("Flush returned %v before all accepted events were written", err)
		default:
		}
		rec.gate <- struct{}{} // events 1 and 2
		if err := <-done; err != nil {
			t.Errorf("Flush = %v", err)
		}
		if n := len(rec.snapshot()); n != 3 {
			t.Errorf("Flush returned with %d of 3 events written", n)
		}
		close(rec.gate)
		if err := a.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if err := a.Flush(ctx); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("Flush after Close = %v", err)
		}
		if err := a.Write(ctx, numbered(9)); !errors.Is(err, audit.ErrClosed) {
			t.Errorf("Write after Close = %v", err)
		}
		if err := a.Close(ctx); err != nil {
			t.Errorf("second Close = %v", err)
		}
	})
}

// TestAsyncSinkCloseDeadline: Close with a context that ends before the
// queue drains cancels the write in progress and reports the events lost.
func TestAsyncSinkCloseDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &recorder{gate: make(chan struct{})} // never opened
		a := newAsync(t, rec, audit.AsyncOptions{BatchSize: 1})
		ctx := t.Context()
		for i := range 5 {
			a.Write(ctx, numbered(i))
		}
		synctest.Wait()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := a.Close(cctx)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "4 accepted events not written") {
			t.Errorf("Close = %v", err)
		}
		st := a.Stats()
		if st.Lost != 4 || st.Failed != 1 || st.Accepted != st.Written+st.Failed+st.Lost {
			t.Errorf("stats %+v", st)
		}
	})
}

func TestAsyncSinkFailures(t *testing.T) {
	errBoom := errors.New("boom")
	rec := &recorder{err: errBoom}
	var mu sync.Mutex
	var reported int
	a := newAsync(t, rec, audit.AsyncOptions{OnError: func(err error, n int) {
		mu.Lock()
		defer mu.Unlock()
		if !errors.Is(err, errBoom) {
			t.Errorf("OnError(%v)", err)
		}
		reported += n
	}})
	for i := range 10 {
		a.Write(t.Context(), numbered(i))
	}
	if err := a.Flush(t.Context()); !errors.Is(err, errBoom) {
		t.Errorf("Flush = %v, want the sink's error", err)
	}
	err := a.Close(t.Context())
	if !errors.Is(err, errBoom) || !strings.HasPrefix(err.Error(), "audit: ") {
		t.Errorf("Close = %v", err)
	}
	if st := a.Stats(); st.Failed != 10 || reported != 10 {
		t.Errorf("stats %+v, OnError counted %d", st, reported)
	}
}

func TestNewAsyncSinkErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		sink audit.Sink
		opts audit.AsyncOptions
	}{
		{"nil sink", nil, audit.AsyncOptions{}},
		{"negative queue", &recorder{}, audit.AsyncOptions{QueueSize: -1}},
		{"unknown policy", &recorder{}, audit.AsyncOptions{Overflow: 7}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := audit.NewAsyncSink(tc.sink, tc.opts)
			if err == nil || a != nil || !strings.HasPrefix(err.Error(), "audit: ") {
				t.Errorf("got %v, %v", a, err)
			}
		})
	}
	if s := audit.OverflowDrop.String() + audit.OverflowBlock.String() + audit.Overflow(9).String(); s != "dropblockOverflow(9)" {
		t.Errorf("String = %q", s)
	}
}
