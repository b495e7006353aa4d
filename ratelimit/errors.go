package ratelimit

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// Sentinels answer errors.Is for every refusal and failure of a [Limiter].
var (
	// ErrRateLimited: a request-rate or concurrency rule refused the call.
	ErrRateLimited = errors.New("ratelimit: rate limited")
	// ErrBudgetExceeded: a token or spend budget cannot hold the amount.
	ErrBudgetExceeded = errors.New("ratelimit: budget exceeded")
	// ErrLimiterUnavailable: the store could not answer within the timeout
	// and the limiter fails closed (or the store failed while a reservation
	// was settled).
	ErrLimiterUnavailable = errors.New("ratelimit: limiter unavailable")
	// ErrSettled: Commit, Cancel or Release was called on a reservation or
	// permit already settled; nothing changed.
	ErrSettled = errors.New("ratelimit: already settled")
)

// Error is a refusal or failure of a [Limiter]. Match it with errors.Is
// against its Kind's sentinel and read it with errors.AsType[*ratelimit.Error].
//
// Its Error string names the scope kind and rule, never the scope's name (a
// caller ID), and is safe to log; the name is in Scope for code that needs
// it. RetryAfter and Code let a caller that does not import this package
// (the secureai pipeline) map it into its own error.
type Error struct {
	// Kind is ErrRateLimited, ErrBudgetExceeded or ErrLimiterUnavailable.
	Kind error
	// Scope is the scope that refused (zero for ErrLimiterUnavailable).
	Scope Scope
	// Rule names the rule that refused: "requests_per_second",
	// "requests_per_minute", "requests", "concurrent", "tokens_per_minute",
	// "tokens_per_day", "usd_per_day", "usd_per_month".
	Rule string
	// Wait is how long until the rule could admit the call, computed from
	// the bucket or window state; 0 when unknown (a concurrency slot) or
	// when waiting cannot help (TooLarge).
	Wait time.Duration
	// TooLarge reports that the amount alone exceeds the budget: retrying
	// the same call can never succeed.
	TooLarge bool
	// Err is the cause of ErrLimiterUnavailable (the store's error).
	Err error
}

// Error returns "ratelimit: <kind>: <scope kind> <rule>[, retry after d]".
func (e *Error) Error() string {
	var b strings.Builder
	if e.Kind != nil {
		b.WriteString(e.Kind.Error())
	} else {
		b.WriteString("ratelimit: refused")
	}
	if e.Scope.Kind != "" {
		b.WriteString(": ")
		b.WriteString(string(e.Scope.Kind))
		b.WriteString(" ")
		b.WriteString(e.Rule)
	}
	if e.TooLarge {
		b.WriteString(", amount exceeds the budget")
	}
	if e.Wait > 0 {
		b.WriteString(", retry after ")
		b.WriteString(e.Wait.String())
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.Err.Error(), "ratelimit: "))
	}
	return b.String()
}

// Is reports whether target is e's Kind.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind }

// Unwrap returns the cause, if any.
func (e *Error) Unwrap() error { return e.Err }

// RetryAfter returns Wait.
func (e *Error) RetryAfter() time.Duration { return e.Wait }

// Code returns a short machine-readable reason: "<scope kind>_<rule>"
// ("caller_requests_per_second", "global_tokens_per_day") or
// "limiter_unavailable".
func (e *Error) Code() string {
	if e.Kind == ErrLimiterUnavailable {
		return "limiter_unavailable"
	}
	return string(e.Scope.Kind) + "_" + e.Rule
}

// GoString keeps %#v to the safe text of Error.
func (e *Error) GoString() string { return "&ratelimit.Error{" + strconv.Quote(e.Error()) + "}" }

func unavailable(cause error) *Error { return &Error{Kind: ErrLimiterUnavailable, Err: cause} }
