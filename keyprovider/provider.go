package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"time"
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
// property of the client such as "dev", "staging" or "prod"; the caller's
// group (department, team or project), which may be empty; and the caller's
// tier (for example "free" or "pro", to give a paying tier its own key and
// quota), which may be empty. The zero Scope selects the default key of a
// provider that does not distinguish scopes.
//
// Scope is comparable, so it can be a map key. Providers that map scopes to
// keys ([Router], [VaultOptions.Secrets], [ScopeMap]) match all three
// fields exactly, unless a route explicitly uses [Any].
type Scope struct {
	Environment string
	Group       string
	Tier        string
}

// String returns the scope for logs as "environment/group/tier", leaving out
// empty trailing fields: "prod/teamA/pro", "prod/teamA", "prod". An empty
// field before a non-empty one is shown as "-", so the zero Scope is "-",
// Scope{Group: "a"} is "-/a" and Scope{Environment: "prod", Tier: "pro"} is
// "prod/-/pro". The result is for people, not for parsing: the fields may
// themselves contain "/" or be "-".
func (s Scope) String() string {
	env := s.Environment
	if env == "" {
		env = "-"
	}
	switch {
	case s.Tier != "":
		group := s.Group
		if group == "" {
			group = "-"
		}
		return env + "/" + group + "/" + s.Tier
	case s.Group != "":
		return env + "/" + s.Group
	}
	return env
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

// Info describes where a key came from and how fresh it is, for audit and
// metrics. It never holds key material. [Cache.KeyInfo] fills every field;
// a provider that implements [InfoProvider] fills Source, Version and
// FetchedAt.
type Info struct {
	// Source names the store and the entry the key was read from, for
	// example "aws-secretsmanager:openai/prod@AWSCURRENT",
	// "vault:secret/openai/prod#api_key", "file:/run/secrets/openai" or
	// "azure-entra". It is safe to log.
	Source string

	// Version is the store's version of the key when it has one: the
	// Secrets Manager VersionId, the Vault KV version number, or empty.
	Version string

	// FetchedAt is when the key was fetched from its store.
	FetchedAt time.Time

	// Stale reports that the key was served after its cache lifetime
	// ended, because a refresh failed and the grace period
	// ([CacheOptions.Grace]) has not yet passed.
	Stale bool

	// RefreshErr is the error of the last refresh of this scope when that
	// refresh failed, also while the key is still fresh (a failed
	// refresh ahead of expiry). It is nil after a successful refresh. It
	// never holds key material; [ErrorClass] gives a short class of it
	// for audit records.
	RefreshErr error
}

// InfoProvider is an optional interface of a [Provider] that can say where a
// key came from. [Cache] implements it, and so do the providers of this
// package that read a store. The secureai pipeline finds it by type
// assertion, to record [Info] (a stale key, a failed refresh) in its audit
// event.
//
// KeyInfo returns the same key and error as Key, plus the key's Info.
type InfoProvider interface {
	KeyInfo(ctx context.Context, scope Scope) (Secret, Info, error)
}

// Versioner is an optional interface of a [Provider] that can tell the
// store's current version of a scope's key without fetching the key itself,
// as [SecretsManagerProvider] does with DescribeSecret. A [Cache] uses it to
// renew an unchanged key without reading the key material again; it compares
// the result with [Info.Version].
type Versioner interface {
	Version(ctx context.Context, scope Scope) (string, error)
}

// Closer is an optional interface of a [Provider] that runs background work,
// such as [Cache], or that owns providers which do, such as [Router]. Whoever
// owns such a provider (the secureai Client that was given it) calls Close
// when done with it. Close stops the background work and waits for it until
// ctx is done. It may be called more than once.
type Closer interface {
	Close(ctx context.Context) error
}

// describe names p for String methods: by its own String method if it has
// one (the providers of this package show no key material there), else by
// its type only, since its fields might hold a key in plain form.
func describe(p any) string {
	if s, ok := p.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", p)
}

// ScopeMap returns a lookup function for [VaultOptions.Secrets] (and the
// like in the provider packages, such as awssm.Options.Secrets) that
// matches scopes exactly against a copy of m: a scope that is not in m has
// no key.
func ScopeMap[T any](m map[Scope]T) func(Scope) (T, bool) {
	c := make(map[Scope]T, len(m))
	for k, v := range m {
		c[k] = v
	}
	return func(s Scope) (T, bool) {
		v, ok := c[s]
		return v, ok
	}
}
