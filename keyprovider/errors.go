package keyprovider

import (
	"context"
	"errors"
	"strings"
)

var (
	// ErrNoScope reports that a provider has no key configured for the
	// scope of a call: no route of a [Router], no entry of a scope mapping.
	// It is never answered with some other scope's key. Errors that wrap it
	// are [*ScopeError] values, which also match [ErrNoKey].
	ErrNoScope = errors.New("keyprovider: no key configured for scope")

	// ErrInvalidKey reports that a key read from a store does not have the
	// shape of an API key; see [ValidateKey]. The error says what is wrong
	// and where, never what the key is.
	ErrInvalidKey = errors.New("keyprovider: invalid key")

	// ErrUnavailable reports that a [Cache] has no key it may serve for a
	// scope: the fetch from the store failed and either no key was cached
	// or the cached key's grace period is over. The error also wraps the
	// cause. The secureai client reports it as secureai.ErrKeyUnavailable.
	ErrUnavailable = errors.New("keyprovider: key unavailable")

	// ErrClosed reports a call to a [Cache] or [Router] after Close.
	ErrClosed = errors.New("keyprovider: closed")
)

// ScopeError reports that no key is configured for Scope. It matches
// [ErrNoScope] and [ErrNoKey] with errors.Is.
type ScopeError struct {
	Scope Scope
}

// Error returns "keyprovider: no key configured for scope <scope>".
func (e *ScopeError) Error() string {
	return ErrNoScope.Error() + " " + e.Scope.String()
}

// Is reports whether target is [ErrNoScope] or [ErrNoKey].
func (e *ScopeError) Is(target error) bool {
	return target == ErrNoScope || target == ErrNoKey
}

// Reasons of a [FetchError], also returned by [ErrorClass]. They are short,
// stable strings, meant for audit records and metric labels.
const (
	ReasonNotFound    = "not_found"     // the store has no such secret, version or field
	ReasonDenied      = "access_denied" // the store refused the credentials or the login
	ReasonUnavailable = "unavailable"   // the store failed (5xx, sealed, throttled) or could not be reached
	ReasonTimeout     = "timeout"       // the context's deadline passed
	ReasonCanceled    = "canceled"      // the context was cancelled
	ReasonMalformed   = "malformed"     // the store's answer is not what was expected (bad JSON, wrong type)
	ReasonInvalidKey  = "invalid_key"   // the value read is not a valid key; see ValidateKey
)

// FetchError reports that a provider could not get a key from its store. Its
// fields and message never hold key material, credentials, request or
// response bodies: the store's own error is reduced to its code and a
// sanitized message.
//
// Err, when not nil, is a cause that is safe to keep: a context error
// (errors.Is(err, context.DeadlineExceeded) works through a FetchError),
// [ErrNoKey] for a missing secret or field, or [ErrInvalidKey].
type FetchError struct {
	Provider string // "aws-secretsmanager", "vault", "azure-entra" or "file"
	Ref      string // what was asked for, e.g. "openai/prod@AWSCURRENT"; never key material
	Reason   string // one of the Reason constants
	Code     string // the store's error code or HTTP status, when it answered
	Detail   string // a sanitized message; never key material
	Err      error
}

// Error returns a one-line message such as
// "keyprovider: aws-secretsmanager openai/prod@AWSCURRENT: not_found
// (ResourceNotFoundException): Secrets Manager can't find the specified
// secret.: keyprovider: no key".
func (e *FetchError) Error() string {
	var b strings.Builder
	b.WriteString("keyprovider: ")
	b.WriteString(e.Provider)
	if e.Ref != "" {
		b.WriteString(" ")
		b.WriteString(e.Ref)
	}
	b.WriteString(": ")
	b.WriteString(e.Reason)
	if e.Code != "" {
		b.WriteString(" (")
		b.WriteString(e.Code)
		b.WriteString(")")
	}
	if e.Detail != "" {
		b.WriteString(": ")
		b.WriteString(e.Detail)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

// Unwrap returns Err.
func (e *FetchError) Unwrap() error { return e.Err }

// Timeout reports whether the fetch failed because a deadline passed.
func (e *FetchError) Timeout() bool { return e.Reason == ReasonTimeout }

// ErrorClass returns a short, stable class of an error returned by a
// provider of this package, for audit records and metric labels: one of the
// Reason constants for a [FetchError], "no_scope" for [ErrNoScope],
// "invalid_key" for [ErrInvalidKey], "no_key" for [ErrNoKey], "closed" for
// [ErrClosed], "timeout" or "canceled" for context errors, "" for nil and
// "error" for anything else. The class never holds key material.
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	if fe, ok := errors.AsType[*FetchError](err); ok && fe.Reason != "" {
		return fe.Reason
	}
	switch {
	case errors.Is(err, ErrNoScope):
		return "no_scope"
	case errors.Is(err, ErrInvalidKey):
		return ReasonInvalidKey
	case errors.Is(err, ErrNoKey):
		return "no_key"
	case errors.Is(err, ErrClosed):
		return "closed"
	case errors.Is(err, context.DeadlineExceeded):
		return ReasonTimeout
	case errors.Is(err, context.Canceled):
		return ReasonCanceled
	}
	return "error"
}

// contextReason returns the Reason for a context error cause (as returned
// by safe.ContextCause).
func contextReason(cause error) string {
	if errors.Is(cause, context.DeadlineExceeded) {
		return ReasonTimeout
	}
	return ReasonCanceled
}
