package secureai

import "context"

// Caller identifies who a call is made for. A service's auth middleware puts
// it in the request context with [WithCaller]; the [Client] reads it from the
// context of every call, so call sites do not change.
//
// ID is never sent upstream or written to audit events as is: both see a
// keyed-hash pseudonym of it.
type Caller struct {
	// ID identifies the end user (or service account). Required.
	ID string
	// Group is the team, tenant or project the caller belongs to. It selects
	// the key scope and group limits. Optional.
	Group string
	// Tier is the caller's plan or class ("free", "pro"), for limits. Optional.
	Tier string
	// Purpose is the declared purpose of the call, a short code such as
	// "support_reply" or "summarise_ticket", written to the audit event.
	// Optional; never content.
	Purpose string
}

type callerKey struct{}

// WithCaller returns a copy of ctx that carries c.
func WithCaller(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// CallerFrom returns the caller stored in ctx by [WithCaller], and whether
// there was one.
func CallerFrom(ctx context.Context) (Caller, bool) {
	c, ok := ctx.Value(callerKey{}).(Caller)
	return c, ok
}
