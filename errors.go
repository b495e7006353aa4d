package secureai

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Sentinels answer errors.Is for every error a [Client] returns. Each
// refusal or failure is an [*Error] whose Kind is one of these.
var (
	// ErrNoCaller: the context carries no [Caller] and the client was not
	// built with [AllowAnonymous].
	ErrNoCaller = errors.New("secureai: no caller in context")
	// ErrModelNotAllowed: the request names a model that is not on the
	// client's allowlist.
	ErrModelNotAllowed = errors.New("secureai: model not allowed")
	// ErrPolicy: the request breaks the request policy (too many messages,
	// store requested, a forbidden ExtraBody key, an unallowed hosted tool...).
	ErrPolicy = errors.New("secureai: request refused by policy")
	// ErrRateLimited: a request-rate limit refused the call; RetryAfter says
	// when to try again.
	ErrRateLimited = errors.New("secureai: rate limited")
	// ErrBudgetExceeded: a token or spend budget cannot cover the call.
	ErrBudgetExceeded = errors.New("secureai: budget exceeded")
	// ErrInputRejected: an input check (hygiene, secrets, PII, injection)
	// refused the request.
	ErrInputRejected = errors.New("secureai: input rejected")
	// ErrKeyUnavailable: the key provider returned no key for the call's
	// scope.
	ErrKeyUnavailable = errors.New("secureai: api key unavailable")
	// ErrModerationFlagged: the moderation pre-check flagged the input.
	ErrModerationFlagged = errors.New("secureai: flagged by moderation")
	// ErrUpstream: the upstream API failed or answered with an error. The
	// go-openai error (*openai.APIError, *openai.RequestError) stays reachable
	// with errors.As.
	ErrUpstream = errors.New("secureai: upstream error")
	// ErrStreamCut: a stream ended before its finish reason and usage
	// arrived.
	ErrStreamCut = errors.New("secureai: stream cut")
	// ErrOutputBlocked: an output check refused the model's answer.
	ErrOutputBlocked = errors.New("secureai: output blocked")
	// ErrHeldForReview: a Reviewer kept the answer for a human; the
	// error's ReviewID names the review. The caller never sees the answer.
	ErrHeldForReview = errors.New("secureai: held for review")
	// ErrEgressDenied: the HTTP layer refused to send a request to a host or
	// scheme outside the egress rules (also a redirect to another host).
	ErrEgressDenied = errors.New("secureai: egress denied")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("secureai: client closed")
	// ErrInternal: a stage (a slot's code, usually) panicked. The panic is
	// re-raised after the budget is reconciled and the audit event written;
	// this error only appears in that event.
	ErrInternal = errors.New("secureai: internal error")
)

// Stage names a pipeline stage. The values are stable and appear in audit
// events.
type Stage string

// The pipeline stages, in the order they run.
const (
	StageAudit      Stage = "audit"
	StageCaller     Stage = "caller"
	StagePolicy     Stage = "policy"
	StageRateLimit  Stage = "ratelimit"
	StageHygiene    Stage = "hygiene"
	StageInput      Stage = "input"
	StageBudget     Stage = "budget"
	StageKey        Stage = "key"
	StageModeration Stage = "moderation"
	StageUpstream   Stage = "upstream"
	StageOutput     Stage = "output"
)

// Error is the one error type a [Client] returns. Match its kind with
// errors.Is against the sentinels (ErrModelNotAllowed, ErrUpstream, ...)
// and read its fields with errors.AsType[*secureai.Error].
//
// Its Error string is safe to show an end user and to log: it never holds a
// key, a prompt, a model answer or a raw response body. The wrapped cause
// (Unwrap) may be more detailed, for example go-openai's *openai.APIError,
// whose message is the upstream's; a *openai.RequestError is wrapped with its
// raw Body removed.
type Error struct {
	// Kind is the sentinel this error answers to with errors.Is.
	Kind error
	// Stage is the pipeline stage that refused or failed.
	Stage Stage
	// Check names the check that decided, e.g. "model_allowlist",
	// "max_messages", "http_status". It is a short code, never content.
	Check string
	// Reason is a short machine-readable detail, e.g. "store_requested",
	// "status_429". Never content.
	Reason string
	// RetryAfter is how long to wait before retrying, when the stage knows
	// (rate limits, upstream 429/503 with Retry-After); 0 otherwise.
	RetryAfter time.Duration
	// StatusCode is the upstream HTTP status, for upstream errors.
	StatusCode int
	// Retries is how many times the HTTP layer retried before giving up.
	Retries int
	// Categories are the moderation categories (or review categories) that
	// decided, e.g. "harassment", "illicit/violent"; never content.
	Categories []string
	// ReviewID identifies the review that holds the answer, for
	// ErrHeldForReview.
	ReviewID string
	// Err is the wrapped cause, if any.
	Err error
}

// Error returns a message safe to show and log; see the type doc.
func (e *Error) Error() string {
	var b strings.Builder
	kind := "secureai: error"
	if e.Kind != nil {
		kind = e.Kind.Error()
	}
	b.WriteString(kind)
	if e.Stage != "" {
		b.WriteString(" (stage ")
		b.WriteString(string(e.Stage))
		if e.Check != "" {
			b.WriteString(", check ")
			b.WriteString(e.Check)
		}
		b.WriteString(")")
	}
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(e.Reason)
	}
	if e.StatusCode != 0 {
		b.WriteString(", status ")
		b.WriteString(strconv.Itoa(e.StatusCode))
	}
	if e.Retries > 0 {
		b.WriteString(", retries ")
		b.WriteString(strconv.Itoa(e.Retries))
	}
	if e.RetryAfter > 0 {
		b.WriteString(", retry after ")
		b.WriteString(e.RetryAfter.String())
	}
	if len(e.Categories) > 0 {
		b.WriteString(", categories ")
		b.WriteString(strings.Join(e.Categories, ","))
	}
	if e.ReviewID != "" {
		b.WriteString(", review ")
		b.WriteString(e.ReviewID)
	}
	return b.String()
}

// GoString returns the same safe text as Error, so that %#v does not dump the
// wrapped cause.
func (e *Error) GoString() string { return "&secureai.Error{" + strconv.Quote(e.Error()) + "}" }

// MarshalJSON encodes the safe fields only (never the wrapped cause, whose
// text may come from the upstream).
func (e *Error) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Error        string   `json:"error"`
		Stage        Stage    `json:"stage,omitempty"`
		Check        string   `json:"check,omitempty"`
		Reason       string   `json:"reason,omitempty"`
		StatusCode   int      `json:"status_code,omitempty"`
		Retries      int      `json:"retries,omitempty"`
		RetryAfterMS float64  `json:"retry_after_ms,omitempty"`
		Categories   []string `json:"categories,omitempty"`
		ReviewID     string   `json:"review_id,omitempty"`
	}{e.Error(), e.Stage, e.Check, e.Reason, e.StatusCode, e.Retries, float64(e.RetryAfter) / float64(time.Millisecond),
		e.Categories, e.ReviewID})
}

// LogValue logs the safe fields only.
func (e *Error) LogValue() slog.Value {
	attrs := []slog.Attr{slog.String("error", e.Error()), slog.String("stage", string(e.Stage))}
	if e.RetryAfter > 0 {
		attrs = append(attrs, slog.Duration("retry_after", e.RetryAfter))
	}
	return slog.GroupValue(attrs...)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is this error's Kind.
func (e *Error) Is(target error) bool { return target != nil && target == e.Kind }

// Timeout reports whether the error is a deadline or timeout.
func (e *Error) Timeout() bool {
	if errors.Is(e.Err, context.DeadlineExceeded) {
		return true
	}
	var t interface{ Timeout() bool }
	return errors.As(e.Err, &t) && t.Timeout()
}

// UserMessage returns a short, generic sentence for an end user, without
// internal detail.
func (e *Error) UserMessage() string {
	switch e.Kind {
	case ErrNoCaller:
		return "You must be signed in to use this feature."
	case ErrRateLimited:
		return "Too many requests. Please wait and try again."
	case ErrBudgetExceeded:
		return "Your usage limit has been reached."
	case ErrInputRejected, ErrModerationFlagged, ErrPolicy, ErrModelNotAllowed:
		return "This request cannot be processed."
	case ErrOutputBlocked:
		return "The answer was withheld by a safety check."
	case ErrHeldForReview:
		return "The answer is being reviewed and will be available later."
	default:
		return "The service is temporarily unavailable. Please try again later."
	}
}

// refuse builds an *Error for a refusal.
func refuse(kind error, stage Stage, check, reason string) *Error {
	return &Error{Kind: kind, Stage: stage, Check: check, Reason: reason}
}

// retryAfterer is implemented by errors of leaf packages (ratelimit, ...)
// that know when to retry.
type retryAfterer interface{ RetryAfter() time.Duration }

// asStageError maps an error returned by a slot into an *Error of kind. An
// *Error returned by a slot is kept as is (its Stage filled if empty).
func asStageError(err error, kind error, stage Stage, check string) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		if e.Stage == "" {
			e.Stage = stage
		}
		if e.Kind == nil {
			e.Kind = kind
		}
		return e
	}
	e := &Error{Kind: kind, Stage: stage, Check: check, Err: err}
	var r retryAfterer
	if errors.As(err, &r) {
		e.RetryAfter = r.RetryAfter()
	}
	var c interface{ Code() string }
	if errors.As(err, &c) {
		e.Reason = c.Code()
	}
	return e
}

// errorClass is the short class written to audit events.
func errorClass(err error) string {
	e, ok := errors.AsType[*Error](err)
	if !ok {
		return "internal"
	}
	var b strings.Builder
	switch e.Kind {
	case ErrNoCaller:
		b.WriteString("no_caller")
	case ErrModelNotAllowed:
		b.WriteString("model_not_allowed")
	case ErrPolicy:
		b.WriteString("policy")
	case ErrRateLimited:
		b.WriteString("rate_limited")
	case ErrBudgetExceeded:
		b.WriteString("budget_exceeded")
	case ErrInputRejected:
		b.WriteString("input_rejected")
	case ErrKeyUnavailable:
		b.WriteString("key_unavailable")
	case ErrModerationFlagged:
		b.WriteString("moderation_flagged")
	case ErrUpstream:
		b.WriteString("upstream")
		if e.StatusCode != 0 {
			b.WriteString("_")
			b.WriteString(strconv.Itoa(e.StatusCode))
		} else if e.Reason != "" {
			b.WriteString("_")
			b.WriteString(e.Reason)
		}
	case ErrStreamCut:
		b.WriteString("stream_cut")
	case ErrOutputBlocked:
		b.WriteString("output_blocked")
	case ErrEgressDenied:
		b.WriteString("egress_denied")
	case ErrClosed:
		b.WriteString("closed")
	case ErrInternal:
		b.WriteString("panic")
	default:
		b.WriteString("internal")
	}
	return b.String()
}
