package keyprovider

import (
	"context"
	"fmt"
)

// StaticProvider is a [Provider] that returns one fixed key for every scope.
// Create it with [Static].
//
// The zero value, like a nil *StaticProvider, holds no key: its Key method
// fails with [ErrNoKey]. A StaticProvider is immutable and safe for
// concurrent use. It does not implement [Invalidator], because a fixed key
// cannot be refreshed.
type StaticProvider struct {
	key Secret
	bad error // from ValidateKey, for a non-empty key of the wrong shape
}

// Static returns a Provider that always returns key, for every scope. An
// empty key makes every Key call fail with [ErrNoKey], and a key that
// [ValidateKey] refuses (one with a newline, say) with [ErrInvalidKey]. The
// provider does not implement [Invalidator], which tells the secureai
// transport not to retry a request that failed with HTTP 401.
func Static(key string) *StaticProvider {
	if key == "" {
		return &StaticProvider{}
	}
	if err := checkKey(key, "static key"); err != nil {
		return &StaticProvider{bad: err}
	}
	return &StaticProvider{key: NewSecret(key)}
}

// Key returns the provider's key, whatever the scope. It returns an error
// wrapping [ErrNoKey] if the key is empty, or [ErrInvalidKey] if it has the
// wrong shape. It does not block and ignores ctx.
func (p *StaticProvider) Key(ctx context.Context, scope Scope) (Secret, error) {
	if p != nil && p.bad != nil {
		return Secret{}, p.bad
	}
	if p == nil || p.key.IsZero() {
		return Secret{}, fmt.Errorf("%w: static key is empty (scope %s)", ErrNoKey, scope)
	}
	return p.key, nil
}

// String returns "keyprovider.Static(kfp_…)", naming the key only by its
// fingerprint, or "keyprovider.Static([EMPTY])" when there is no key.
func (p *StaticProvider) String() string {
	if p == nil || p.key.IsZero() {
		return "keyprovider.Static(" + emptyText + ")"
	}
	return "keyprovider.Static(" + p.key.Fingerprint() + ")"
}

// GoString returns the same as [StaticProvider.String], so that %#v does not
// print the provider's fields.
func (p *StaticProvider) GoString() string { return p.String() }
