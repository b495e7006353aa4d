package keyprovider

import (
	"context"
	"fmt"
	"os"
	"sync"
)

// EnvProvider is a [Provider] that reads the key from an environment
// variable on every Key call, so a change to the variable takes effect on
// the next call. It returns the same key for every scope. Create it with
// [Env].
//
// EnvProvider implements [Invalidator]: after a key is rejected, Invalidate
// succeeds only if the variable now holds a different key.
//
// The zero value is not usable: its methods return an error wrapping
// [ErrInvalidEnvName]. An EnvProvider is safe for concurrent use and must not
// be copied after first use.
type EnvProvider struct {
	name string

	mu  sync.Mutex
	cur Secret // last key read, reused while the variable holds the same key
}

// Env returns a Provider that reads the environment variable name. It
// returns an error wrapping [ErrInvalidEnvName] if name is not a valid
// variable name: non-empty, made of ASCII letters, digits and '_', and not
// starting with a digit. The error does not repeat the name, in case a key
// was passed by mistake, as in Env(os.Getenv("OPENAI_API_KEY")).
func Env(name string) (*EnvProvider, error) {
	if !validEnvName(name) {
		return nil, fmt.Errorf("%w: want [A-Za-z_][A-Za-z0-9_]*, got a %d-byte string (not shown: it may be a key)",
			ErrInvalidEnvName, len(name))
	}
	return &EnvProvider{name: name}, nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// Key returns the key held by the environment variable, whatever the scope.
// It returns an error wrapping [ErrNoKey], naming the variable but never its
// value, when the variable is unset or empty, and one wrapping
// [ErrInvalidKey] when [ValidateKey] refuses the value. It does not block
// and ignores ctx.
func (p *EnvProvider) Key(ctx context.Context, scope Scope) (Secret, error) {
	if p == nil || p.name == "" {
		return Secret{}, errUnusableEnv
	}
	v := os.Getenv(p.name)
	if v == "" {
		return Secret{}, fmt.Errorf("%w: environment variable %s is unset or empty", ErrNoKey, p.name)
	}
	return p.remember(v)
}

// Invalidate re-reads the environment variable after the key rejected was
// refused upstream. It returns nil if the variable now holds a key different
// from rejected, so that the next Key call returns it. It returns an error
// wrapping [ErrCannotRefresh] if the variable still holds rejected, or is
// unset, empty or invalid. It does not block and ignores ctx.
func (p *EnvProvider) Invalidate(ctx context.Context, scope Scope, rejected Secret) error {
	if p == nil || p.name == "" {
		return errUnusableEnv
	}
	v := os.Getenv(p.name)
	switch {
	case v == "":
		return fmt.Errorf("%w: environment variable %s is unset or empty", ErrCannotRefresh, p.name)
	case rejected.equalString(v):
		return fmt.Errorf("%w: environment variable %s still holds the rejected key", ErrCannotRefresh, p.name)
	}
	if _, err := p.remember(v); err != nil {
		return fmt.Errorf("%w: %w", ErrCannotRefresh, err)
	}
	return nil
}

// remember returns the Secret for v, reusing the cached one when v has not
// changed, so that the common path neither validates, draws random bytes
// nor hashes.
func (p *EnvProvider) remember(v string) (Secret, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.cur.equalString(v) {
		if err := checkKey(v, "environment variable "+p.name); err != nil {
			return Secret{}, err
		}
		p.cur = NewSecret(v)
	}
	return p.cur, nil
}

var errUnusableEnv = fmt.Errorf("%w: EnvProvider not created by Env", ErrInvalidEnvName)

// String returns "keyprovider.Env(NAME)", naming the variable, never its
// value.
func (p *EnvProvider) String() string {
	if p == nil {
		return "keyprovider.Env()"
	}
	return "keyprovider.Env(" + p.name + ")"
}

// GoString returns the same as [EnvProvider.String], so that %#v does not
// print the provider's fields.
func (p *EnvProvider) GoString() string { return p.String() }
