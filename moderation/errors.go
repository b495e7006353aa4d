package moderation

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sentinels answer errors.Is for every error a [Checker] returns.
var (
	// ErrFlagged: the input was flagged, by a local [Rule], by the
	// provider's own flag or by a threshold. The error is a [*FlaggedError].
	ErrFlagged = errors.New("moderation: flagged")
	// ErrUnavailable: the moderation endpoint failed, timed out or answered
	// something that cannot be read, and the Checker fails closed. The error
	// is an [*Error].
	ErrUnavailable = errors.New("moderation: endpoint unavailable")
	// ErrInvalidInput: the input cannot be sent to the endpoint (an image URL
	// that is neither http(s) nor a data:image URL). The error is an [*Error].
	// It is returned whatever [Options.FailOpen] says.
	ErrInvalidInput = errors.New("moderation: invalid input")
)

// FlaggedError is the error [Checker.Check] returns for a flagged input.
// errors.Is(err, ErrFlagged) reports true for it.
//
// It names what decided (categories and rule names) and never holds the
// text that was checked, so its Error string is safe to log and to show.
type FlaggedError struct {
	// Categories are the flagged categories, sorted: provider categories
	// such as "harassment" or "illicit/violent", and the categories of the
	// local rules that matched.
	Categories []string
	// Rules are the names of the local rules that matched, sorted; empty
	// when the endpoint decided.
	Rules []string
	// ID is the moderation response's id ("modr-..."), empty when a local
	// rule decided.
	ID string
}

// Error lists the flagged categories and rules, never the text.
func (e *FlaggedError) Error() string {
	var b strings.Builder
	b.WriteString("moderation: flagged")
	if len(e.Categories) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(e.Categories, ", "))
	}
	if len(e.Rules) > 0 {
		b.WriteString(" (rules: ")
		b.WriteString(strings.Join(e.Rules, ", "))
		b.WriteString(")")
	}
	return b.String()
}

// Is reports whether target is [ErrFlagged].
func (e *FlaggedError) Is(target error) bool { return target == ErrFlagged }

// Reason returns a short machine-readable reason, "flagged:" followed by
// the comma-separated categories ("flagged:harassment,violence"), or
// "flagged" when there are none.
func (e *FlaggedError) Reason() string {
	if len(e.Categories) == 0 {
		return "flagged"
	}
	return "flagged:" + strings.Join(e.Categories, ",")
}

// Code returns [FlaggedError.Reason]; secureai reads it as the reason of
// its own error.
func (e *FlaggedError) Code() string { return e.Reason() }

// UserMessage returns a generic sentence for an end user.
func (e *FlaggedError) UserMessage() string {
	return "This content was flagged by a safety check."
}

// The reasons of an [Error].
const (
	reasonTimeout   = "timeout"            // the Checker's own Timeout expired
	reasonNetwork   = "network"            // no answer: connection refused, reset, TLS...
	reasonMalformed = "malformed_response" // a 2xx answer that cannot be read
	reasonTooLarge  = "response_too_large" // a 2xx answer over the size bound
	reasonCanceled  = "canceled"           // the caller's context was cancelled
	reasonDeadline  = "deadline_exceeded"  // the caller's own deadline passed
	reasonInput     = "invalid_input"      // see ErrInvalidInput
)

// Error is the error [Checker.Check] returns when the input could not be
// checked: the endpoint failed (errors.Is ErrUnavailable), the caller's
// context ended (errors.Is context.Canceled or context.DeadlineExceeded),
// or the input cannot be sent (errors.Is ErrInvalidInput).
//
// Its Error string is safe to log and to show: it holds no input text, no
// response body and no URL. The wrapped cause (Unwrap) may say more.
type Error struct {
	// StatusCode is the endpoint's HTTP status; 0 when no answer arrived.
	StatusCode int
	// Reason is a short machine-readable reason, never content:
	// "status_503", "timeout", "network", "malformed_response",
	// "response_too_large", "canceled", "deadline_exceeded",
	// "invalid_input".
	Reason string
	// Err is the cause, if any.
	Err error

	retryAfter time.Duration
}

// Error returns a message safe to show and log; see the type doc.
func (e *Error) Error() string {
	switch e.Reason {
	case reasonCanceled, reasonDeadline:
		return "moderation: check abandoned: " + e.Reason
	case reasonInput:
		return ErrInvalidInput.Error()
	}
	s := ErrUnavailable.Error()
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.retryAfter > 0 {
		s += ", retry after " + e.retryAfter.String()
	}
	return s
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's reason: [ErrInvalidInput]
// for an input that cannot be sent, [ErrUnavailable] for an endpoint
// failure. An abandoned check (the caller's context ended) is neither; it
// answers context.Canceled or context.DeadlineExceeded through Unwrap.
func (e *Error) Is(target error) bool {
	switch e.Reason {
	case reasonCanceled, reasonDeadline:
		return false
	case reasonInput:
		return target == ErrInvalidInput
	}
	return target == ErrUnavailable
}

// Code returns Reason; secureai reads it as the reason of its own error.
func (e *Error) Code() string { return e.Reason }

// RetryAfter returns how long the endpoint asked to wait (Retry-After-Ms or
// Retry-After of a 429 or 503 answer), or 0.
func (e *Error) RetryAfter() time.Duration { return e.retryAfter }

// Timeout reports whether the check ran out of time: the Checker's own
// Timeout or the caller's deadline.
func (e *Error) Timeout() bool {
	return e.Reason == reasonTimeout || e.Reason == reasonDeadline || errors.Is(e.Err, context.DeadlineExceeded)
}

// failOpenable reports whether [Options.FailOpen] may let the input through
// despite e: only when the endpoint was unavailable. An input the endpoint
// refused (a 4xx other than 408 and 429) may have been crafted to dodge
// moderation, and a 401 or 404 is a configuration error that failing open
// would hide; neither is let through.
func (e *Error) failOpenable() bool {
	switch e.Reason {
	case reasonTimeout, reasonNetwork, reasonMalformed, reasonTooLarge:
		return true
	case reasonCanceled, reasonDeadline, reasonInput:
		return false
	}
	s := e.StatusCode
	return s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500
}

// statusError returns the error for a non-2xx answer.
func statusError(resp *http.Response) *Error {
	e := &Error{StatusCode: resp.StatusCode, Reason: "status_" + strconv.Itoa(resp.StatusCode)}
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		e.retryAfter = retryAfter(resp.Header, time.Now())
	}
	return e
}

// maxRetryAfter caps a Retry-After hint.
const maxRetryAfter = 10 * time.Minute

// retryAfter reads Retry-After-Ms (milliseconds, OpenAI's) or Retry-After
// (seconds or an HTTP date, relative to now). It returns 0 when neither is
// usable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	var d time.Duration
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 && ms < float64(maxRetryAfter/time.Millisecond) {
			d = time.Duration(ms * float64(time.Millisecond))
		}
	} else if v := h.Get("Retry-After"); v != "" {
		if s, err := strconv.Atoi(v); err == nil {
			d = time.Duration(min(max(s, 0), int(maxRetryAfter/time.Second))) * time.Second
		} else if t, err := http.ParseTime(v); err == nil {
			d = t.Sub(now)
		}
	}
	return min(max(d, 0), maxRetryAfter)
}
