package secureai

import "context"

// The pipeline's slots. Each is one small behaviour, filled by an option,
// with a Func adapter. A slot refuses a call by returning an error: an
// [*Error] is kept as it is; any other error is wrapped into an *Error of
// the slot's kind (ErrRateLimited, ErrInputRejected, ...), its RetryAfter
// taken from a RetryAfter() time.Duration method and its Reason from a
// Code() string method when the error has them. Leaf packages (ratelimit,
// sanitize, moderation) therefore never import secureai.

// RateLimiter is stage 3: a cheap request-rate check that runs before any
// expensive work. It must be safe for concurrent use.
type RateLimiter interface {
	// Allow returns nil to let the call through, or an error to refuse it.
	Allow(ctx context.Context, call *Call) error
}

// RateLimiterFunc adapts a function to [RateLimiter].
type RateLimiterFunc func(ctx context.Context, call *Call) error

// Allow calls f.
func (f RateLimiterFunc) Allow(ctx context.Context, call *Call) error { return f(ctx, call) }

// InputChecker is stages 4 (hygiene) and 5 (input checks). It sees every
// text field of the request and may rewrite them (redaction,
// pseudonymisation); what it needs later (the pseudonyms to restore) it keeps
// with [Call.Set]. It must be safe for concurrent use.
type InputChecker interface {
	// CheckInput returns nil to let the call through (with any rewrites
	// done in place in in.Fields), or an error to refuse it.
	CheckInput(ctx context.Context, call *Call, in *Input) error
}

// InputCheckerFunc adapts a function to [InputChecker].
type InputCheckerFunc func(ctx context.Context, call *Call, in *Input) error

// CheckInput calls f.
func (f InputCheckerFunc) CheckInput(ctx context.Context, call *Call, in *Input) error {
	return f(ctx, call, in)
}

// Budget is stage 6: it reserves the call's worst case (prompt tokens plus
// choices × output cap) before the call and is told the actual usage after,
// like golang.org/x/time/rate's Reservation. It must be safe for concurrent
// use.
type Budget interface {
	// Reserve holds est for the call, or refuses with an error.
	Reserve(ctx context.Context, call *Call, est Estimate) (Reservation, error)
}

// BudgetFunc adapts a function to [Budget].
type BudgetFunc func(ctx context.Context, call *Call, est Estimate) (Reservation, error)

// Reserve calls f.
func (f BudgetFunc) Reserve(ctx context.Context, call *Call, est Estimate) (Reservation, error) {
	return f(ctx, call, est)
}

// Reservation is what [Budget.Reserve] holds. The pipeline calls exactly
// one of its methods exactly once, on every path: Commit with the actual
// usage when the upstream answered (also for a stream that was cut or closed
// early, with the usage seen), Cancel when no upstream usage can have
// happened. Both run under a context detached from the caller's
// cancellation.
type Reservation interface {
	// Commit charges used and releases the rest of the reservation.
	Commit(ctx context.Context, used Usage) error
	// Cancel releases the whole reservation.
	Cancel(ctx context.Context) error
}

// Moderator is stage 8, the moderation pre-check (opt-in: it costs a second
// upstream call). It sees the input after the input checks rewrote it.
type Moderator interface {
	// Moderate returns nil when the input may be sent, or an error to refuse.
	Moderate(ctx context.Context, call *Call, in *Input) error
}

// ModeratorFunc adapts a function to [Moderator].
type ModeratorFunc func(ctx context.Context, call *Call, in *Input) error

// Moderate calls f.
func (f ModeratorFunc) Moderate(ctx context.Context, call *Call, in *Input) error {
	return f(ctx, call, in)
}

// OutputChecker is stage 10 for answers that are not streamed: it sees the
// texts of the answer and may rewrite them (restore pseudonyms, redact, make
// HTML safe) or refuse the answer. It must be safe for concurrent use.
//
// For streams, a checker that also implements [StreamChecker] checks the
// text incrementally; one that does not is run on each channel's whole text
// at its end, so the stream holds that channel's text back until then.
type OutputChecker interface {
	CheckOutput(ctx context.Context, call *Call, out *Output) error
}

// OutputCheckerFunc adapts a function to [OutputChecker].
type OutputCheckerFunc func(ctx context.Context, call *Call, out *Output) error

// CheckOutput calls f.
func (f OutputCheckerFunc) CheckOutput(ctx context.Context, call *Call, out *Output) error {
	return f(ctx, call, out)
}

// StreamChecker is the incremental form of an [OutputChecker]: it starts
// one [StreamGuard] per stream.
type StreamChecker interface {
	CheckStream(ctx context.Context, call *Call) StreamGuard
}

// StreamGuard checks a stream's text as it arrives. A channel is one
// independent text in the stream: a chat choice's content (its index) or
// refusal (its index + [RefusalChannel]), or a Responses output item's text
// (its output index). Next receives each delta and returns the text that may be
// released now, holding back what it must (a window long enough to see a
// secret that spans deltas); End is called once per channel when it finishes
// and returns the held-back rest. An error from either refuses the rest of
// the stream with ErrOutputBlocked. A guard is used by one goroutine at a
// time.
type StreamGuard interface {
	Next(channel int, delta string) (release string, err error)
	End(channel int) (rest string, err error)
}

// RefusalChannel is added to a chat choice's index to name the stream
// channel of its refusal text.
const RefusalChannel = 1 << 20
