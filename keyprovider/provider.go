package keyprovider

import (
	"context"
	"errors"
)

var (
	// ErrNoKey reports that a provider has no key for the scope, for example
	// because its static key is empty or its environment variable is unset.
	ErrNoKey = errors.New("keyprovider: no key")

	// ErrCannotRefresh reports that an [Invalidator] has no way to obtain a
	// key different from the rejected one. A caller that gets it must not
	// retry the rejected request.
	ErrCannotRefresh = errors.New("keyprovider: key cannot be refreshed")

	// ErrNotSerializable reports an attempt to serialize a [Secret] with an
	// encoding that would carry the key, such as encoding/gob.
	ErrNotSerializable = errors.New("keyprovider: secret cannot be serialized")

	// ErrInvalidEnvName reports that [Env] was given a name that is not a
	// valid environment variable name.
	ErrInvalidEnvName = errors.New("keyprovider: invalid environment variable name")
)

// Scope selects which key a call needs: the deployment environment, a
// property of the client such as "dev", "staging" or "prod", and the
// caller's group, which may be empty. The zero Scope selects the default key
// of a provider that does not distinguish scopes.
type Scope struct {
	Environment string
	Group       string
}

// String returns the scope for logs as "environment/group", or
// "environment" when Group is empty. An empty Environment is shown as "-",
// so the zero Scope is "-" and Scope{Group: "a"} is "-/a". The result is for
// people, not for parsing: the fields may themselves contain "/".
func (s Scope) String() string {
	env := s.Environment
	if env == "" {
		env = "-"
	}
	if s.Group == "" {
		return env
	}
	return env + "/" + s.Group
}

// Provider returns the API key for a scope.
//
// Key returns either a non-empty Secret and a nil error, or an error; an
// error wraps [ErrNoKey] when the provider has no key for the scope. Errors
// must never contain the key. Implementations must be safe for concurrent
// use. Key may be called on every request, so it must be cheap after the
// first call: an implementation that fetches keys remotely caches them.
type Provider interface {
	Key(ctx context.Context, scope Scope) (Secret, error)
}

// ProviderFunc adapts an ordinary function to the [Provider] interface. The
// function must be safe for concurrent use.
type ProviderFunc func(ctx context.Context, scope Scope) (Secret, error)

// Key calls f(ctx, scope).
func (f ProviderFunc) Key(ctx context.Context, scope Scope) (Secret, error) {
	return f(ctx, scope)
}

// Invalidator is an optional interface of a [Provider] that can obtain a
// new key after the upstream API rejected the current one (HTTP 401).
//
// The caller passes the rejected key. Invalidate drops the cached key for
// scope only if it is still the rejected one (compare-and-swap, so that
// concurrent requests that all saw the same 401 cause one refresh, not many),
// and returns nil when the next Key call will return a different key. It
// returns an error wrapping [ErrCannotRefresh] when the provider has no way
// to get a different key; the caller must then not retry. A provider whose
// key cannot change should not implement Invalidator at all.
type Invalidator interface {
	Invalidate(ctx context.Context, scope Scope, rejected Secret) error
}
