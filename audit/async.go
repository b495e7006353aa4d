package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// ErrDropped is returned by [AsyncSink.Write] for an event it dropped because
// its queue was full, and joined into the error of [AsyncSink.Close] when
// drops remain that no written event reported.
var ErrDropped = errors.New("audit: event dropped: queue full")

// Overflow is what an [AsyncSink] does with an event that finds its queue
// full.
type Overflow int

const (
	// OverflowBlock makes Write wait for room, for at most
	// AsyncOptions.BlockTimeout or until Write's context ends; an event that
	// still finds no room is dropped and counted. It is the default.
	OverflowBlock Overflow = iota
	// OverflowDrop makes Write drop the event at once and count it, so that
	// a slow sink never slows a call.
	OverflowDrop
)

// String returns "block" or "drop".
func (o Overflow) String() string {
	switch o {
	case OverflowBlock:
		return "block"
	case OverflowDrop:
		return "drop"
	}
	return fmt.Sprintf("Overflow(%d)", int(o))
}

// AsyncOptions configures an [AsyncSink]. The zero value is ready to use:
// every zero field means its documented default.
type AsyncOptions struct {
	// QueueSize is the most events waiting to be written. Default 8192.
	QueueSize int
	// BatchSize is the most events handed to the wrapped sink at once.
	// Default 512.
	BatchSize int
	// Overflow is what Write does when the queue is full. Default
	// [OverflowBlock].
	Overflow Overflow
	// BlockTimeout is how long Write waits for room under [OverflowBlock]
	// before it drops the event. Default 100ms; set it longer than the
	// wrapped sink's slowest write for no drops at all, at the price of
	// calls that wait as long when the sink falls behind.
	BlockTimeout time.Duration
	// WriteTimeout bounds each write to the wrapped sink. Default 30s; a
	// negative value means no bound, so that a sink that hangs stops the
	// queue until Close gives up.
	WriteTimeout time.Duration
	// OnError, if not nil, is called from the writer goroutine with each
	// error of the wrapped sink and the number of events that failed with
	// it. It must not call the AsyncSink's methods. Failures are counted in
	// [AsyncStats.Failed] whether or not OnError is set.
	OnError func(err error, events int)
}

func (o AsyncOptions) resolve() (AsyncOptions, error) {
	if o.QueueSize < 0 || o.BatchSize < 0 || o.BlockTimeout < 0 {
		return o, errors.New("audit: async sink: negative QueueSize, BatchSize or BlockTimeout")
	}
	if o.Overflow != OverflowBlock && o.Overflow != OverflowDrop {
		return o, fmt.Errorf("audit: async sink: unknown overflow policy %v", o.Overflow)
	}
	if o.QueueSize == 0 {
		o.QueueSize = 8192
	}
	if o.BatchSize == 0 {
		o.BatchSize = 512
	}
	o.BatchSize = min(o.BatchSize, o.QueueSize)
	if o.BlockTimeout == 0 {
		o.BlockTimeout = 100 * time.Millisecond
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = 30 * time.Second
	}
	return o, nil
}

// AsyncStats counts what an [AsyncSink] did with the events it was given.
// Once Close has returned, Accepted == Written + Failed + Lost.
type AsyncStats struct {
	Accepted uint64 // events Write queued
	Written  uint64 // events the wrapped sink recorded
	Failed   uint64 // events the wrapped sink returned an error for
	Lost     uint64 // queued events discarded because Close's context ended
	Dropped  uint64 // events Write dropped because the queue was full
	Queued   int    // events waiting now, not counting a batch being written
}

// AsyncSink is a [Sink] that queues events and writes them to another sink
// from a background goroutine, in batches, so that a call never waits for a
// slow sink.
//
// Write copies the event into a bounded queue and returns. One goroutine,
// started by [NewAsyncSink] and ended by [AsyncSink.Close], takes up to
// BatchSize queued events at a time and hands them to the wrapped sink's
// WriteBatch if it is a [BatchSink], or to its Write one by one, in the order
// they were accepted. When the queue is full, the declared [Overflow] policy
// decides: wait for room up to a timeout, or drop at once. Every drop is
// counted in [AsyncSink.Stats] and carried as DroppedBefore by the next event
// written, so the trail itself says where it has gaps.
//
// The AsyncSink owns the wrapped sink: [AsyncSink.Close] writes out the
// queue, then closes it. A program must call Close, or events still queued
// are lost and the goroutine leaks. Flush waits for the events accepted so
// far. An AsyncSink is safe for concurrent use. The zero AsyncSink is not
// usable; use NewAsyncSink.
type AsyncSink struct {
	sink  Sink
	batch BatchSink // sink as a BatchSink, or nil
	opts  AsyncOptions

	ctx     context.Context // for writes to the wrapped sink; cancelled by Close
	cancel  context.CancelFunc
	wake    chan struct{} // has a token when the writer may have work
	stopped chan struct{} // closed when the writer goroutine ends
	closed  chan struct{} // closed when the first Close returns

	mu           sync.Mutex
	queue        []Event // ring buffer of len QueueSize
	head, n      int
	room         chan struct{} // closed and replaced when room is made
	roomWaiters  int
	progress     chan struct{} // closed and replaced when a batch is done
	progWaiters  int
	accepted     uint64
	done         uint64 // written + failed + lost
	written      uint64
	failed       uint64
	lost         uint64
	dropped      uint64
	unreported   int // drops not yet carried by a written event
	lastErr      error
	closing      bool // Close has begun: Write refuses, the writer drains
	abort        bool // Close's context ended: the writer discards the queue
	closeErr     error
	closeStarted bool
}

// NewAsyncSink returns an AsyncSink writing to s and starts its writer
// goroutine. It returns an error if s is nil or opts holds a negative size
// or an unknown policy.
func NewAsyncSink(s Sink, opts AsyncOptions) (*AsyncSink, error) {
	if s == nil {
		return nil, errors.New("audit: async sink: nil sink")
	}
	opts, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	a := &AsyncSink{
		sink:     s,
		opts:     opts,
		wake:     make(chan struct{}, 1),
		stopped:  make(chan struct{}),
		closed:   make(chan struct{}),
		queue:    make([]Event, opts.QueueSize),
		room:     make(chan struct{}),
		progress: make(chan struct{}),
	}
	a.batch, _ = s.(BatchSink)
	a.ctx, a.cancel = context.WithCancel(context.Background())
	go a.run()
	return a, nil
}

// Write queues a copy of e (it does not retain e or its slices) and returns
// nil, or [ErrDropped] if the queue stayed full under the overflow policy,
// or [ErrClosed] once Close has begun. ctx bounds only the wait for room
// under [OverflowBlock]; the write to the wrapped sink happens later, under
// the AsyncSink's own context.
func (a *AsyncSink) Write(ctx context.Context, e Event) error {
	e = e.Clone()
	a.mu.Lock()
	if a.closing {
		a.mu.Unlock()
		return ErrClosed
	}
	if a.n == len(a.queue) && a.opts.Overflow == OverflowBlock {
		a.waitRoom(ctx)
		if a.closing {
			a.mu.Unlock()
			return ErrClosed
		}
	}
	if a.n == len(a.queue) {
		a.dropped++
		a.unreported++
		a.mu.Unlock()
		return ErrDropped
	}
	a.queue[(a.head+a.n)%len(a.queue)] = e
	a.n++
	a.accepted++
	first := a.n == 1
	a.mu.Unlock()
	if first {
		select {
		case a.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// waitRoom waits, with a.mu held on entry and on return, until the queue has
// room, Close begins, BlockTimeout passes or ctx ends.
func (a *AsyncSink) waitRoom(ctx context.Context) {
	t := time.NewTimer(a.opts.BlockTimeout)
	defer t.Stop()
	for a.n == len(a.queue) && !a.closing {
		ch := a.room
		a.roomWaiters++
		a.mu.Unlock()
		timedOut := false
		select {
		case <-ch:
		case <-t.C:
			timedOut = true
		case <-ctx.Done():
			timedOut = true
		}
		a.mu.Lock()
		a.roomWaiters--
		if timedOut {
			return
		}
	}
}

// run is the writer goroutine.
func (a *AsyncSink) run() {
	defer close(a.stopped)
	batch := make([]Event, 0, a.opts.BatchSize)
	for {
		a.mu.Lock()
		for a.n == 0 || a.abort {
			if a.abort && a.n > 0 {
				a.discard()
			}
			if a.closing {
				a.mu.Unlock()
				return
			}
			a.mu.Unlock()
			<-a.wake
			a.mu.Lock()
		}
		k := min(a.n, a.opts.BatchSize)
		for range k {
			batch = append(batch, a.queue[a.head])
			a.queue[a.head] = Event{}
			a.head = (a.head + 1) % len(a.queue)
		}
		a.n -= k
		if a.unreported > 0 {
			batch[0].DroppedBefore += a.unreported
			a.unreported = 0
		}
		if a.roomWaiters > 0 {
			close(a.room)
			a.room = make(chan struct{})
		}
		a.mu.Unlock()

		failed, err := a.write(batch)

		a.mu.Lock()
		a.written += uint64(k - failed)
		a.failed += uint64(failed)
		a.done += uint64(k)
		if err != nil {
			a.lastErr = err
		}
		if a.progWaiters > 0 {
			close(a.progress)
			a.progress = make(chan struct{})
		}
		a.mu.Unlock()
		if err != nil && a.opts.OnError != nil {
			a.opts.OnError(err, failed)
		}
		clear(batch)
		batch = batch[:0]
	}
}

// discard drops the queued events, with a.mu held, counting them lost.
func (a *AsyncSink) discard() {
	for a.n > 0 {
		a.queue[a.head] = Event{}
		a.head = (a.head + 1) % len(a.queue)
		a.n--
		a.lost++
		a.done++
	}
	if a.progWaiters > 0 {
		close(a.progress)
		a.progress = make(chan struct{})
	}
}

// write hands batch to the wrapped sink and returns how many events failed
// and the (last) error.
func (a *AsyncSink) write(batch []Event) (failed int, err error) {
	ctx := a.ctx
	if a.opts.WriteTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.opts.WriteTimeout)
		defer cancel()
	}
	if a.batch != nil {
		if err := a.batch.WriteBatch(ctx, batch); err != nil {
			return len(batch), fmt.Errorf("audit: async sink: write batch: %w", err)
		}
		return 0, nil
	}
	for i := range batch {
		if werr := a.sink.Write(ctx, batch[i]); werr != nil {
			failed++
			err = werr
		}
	}
	if err != nil {
		err = fmt.Errorf("audit: async sink: write: %w", err)
	}
	return failed, err
}

// Stats returns what the AsyncSink has counted so far.
func (a *AsyncSink) Stats() AsyncStats {
	a.mu.Lock()
	defer a.mu.Unlock()
	return AsyncStats{Accepted: a.accepted, Written: a.written, Failed: a.failed,
		Lost: a.lost, Dropped: a.dropped, Queued: a.n}
}

// Flush waits until every event accepted before it was called has been
// handed to the wrapped sink, then flushes that sink if it is a [Flusher].
// It returns an error if ctx ends first (saying how many events are still
// waiting), if the wrapped sink failed to write events while Flush waited,
// or the wrapped sink's Flush error. After Close it returns [ErrClosed].
func (a *AsyncSink) Flush(ctx context.Context) error {
	a.mu.Lock()
	if a.closeStarted {
		a.mu.Unlock()
		return ErrClosed
	}
	err := a.waitDone(ctx, a.accepted)
	a.mu.Unlock()
	if err != nil {
		return err
	}
	if f, ok := a.sink.(Flusher); ok {
		if err := f.Flush(ctx); err != nil {
			return fmt.Errorf("audit: async sink: flush: %w", err)
		}
	}
	return nil
}

// waitDone waits, with a.mu held on entry and on return, until done reaches
// target or ctx ends, and reports failures seen meanwhile.
func (a *AsyncSink) waitDone(ctx context.Context, target uint64) error {
	failedBefore := a.failed
	for a.done < target {
		ch := a.progress
		a.progWaiters++
		a.mu.Unlock()
		var ctxErr error
		select {
		case <-ch:
		case <-ctx.Done():
			ctxErr = ctx.Err()
		}
		a.mu.Lock()
		a.progWaiters--
		if ctxErr != nil {
			return fmt.Errorf("audit: async sink: flush: %d events not yet written: %w", target-a.done, ctxErr)
		}
	}
	if n := a.failed - failedBefore; n > 0 {
		return fmt.Errorf("audit: async sink: %d events failed: %w", n, a.lastErr)
	}
	return nil
}

// Close stops accepting events (Write returns [ErrClosed]), waits until every
// accepted event has been handed to the wrapped sink, ends the writer
// goroutine, then closes the wrapped sink if it is a [Closer] or flushes it
// if it is a [Flusher].
//
// If ctx ends first, Close cancels the write in progress, waits for it to
// return, discards the events still queued and counts them in
// [AsyncStats.Lost]. Its error then says how many accepted events were not
// written. The error also reports, joined: events the wrapped sink failed to
// write over the sink's life, drops that no written event carried (matching
// [ErrDropped]), and the wrapped sink's Close error. A second Close waits for
// the first and returns its error.
func (a *AsyncSink) Close(ctx context.Context) error {
	a.mu.Lock()
	if a.closeStarted {
		a.mu.Unlock()
		select {
		case <-a.closed:
		case <-ctx.Done():
			return fmt.Errorf("audit: async sink: close: %w", ctx.Err())
		}
		return a.closeErr // written before closed was closed
	}
	a.closeStarted = true
	a.closing = true
	close(a.room) // wake blocked Writes: they return ErrClosed
	a.room = make(chan struct{})
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}

	var errs []error
	select {
	case <-a.stopped:
	case <-ctx.Done():
		a.mu.Lock()
		a.abort = true
		a.mu.Unlock()
		a.cancel()
		select {
		case a.wake <- struct{}{}:
		default:
		}
		<-a.stopped
	}
	a.cancel()

	a.mu.Lock()
	if a.lost > 0 {
		errs = append(errs, fmt.Errorf("audit: async sink: closed with %d accepted events not written: %w", a.lost, ctx.Err()))
	}
	if a.failed > 0 {
		errs = append(errs, fmt.Errorf("audit: async sink: %d events failed to write, the last: %w", a.failed, a.lastErr))
	}
	if a.unreported > 0 {
		errs = append(errs, fmt.Errorf("%w: %d drops not reported by any written event", ErrDropped, a.unreported))
	}
	a.mu.Unlock()

	var err error
	switch s := a.sink.(type) {
	case Closer:
		err = s.Close(ctx)
	case Flusher:
		err = s.Flush(ctx)
	}
	if err != nil {
		errs = append(errs, fmt.Errorf("audit: async sink: close wrapped sink: %w", err))
	}
	a.closeErr = errors.Join(errs...)
	close(a.closed)
	return a.closeErr
}
