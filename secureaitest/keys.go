package secureaitest

import (
	"context"
	"fmt"
	"sync"

	"github.com/secureai-go/secureai/keyprovider"
)

// Keys is a fake key provider for tests: its key can be changed mid-test
// (rotation without a client rebuild), it can fail on demand, and it can
// hand out a new key when the client invalidates a rejected one (the 401
// refresh path). It records the scopes it was asked for. The zero value
// has no key; use [NewKeys]. It is safe for concurrent use.
type Keys struct {
	mu            sync.Mutex
	key           keyprovider.Secret
	next          []keyprovider.Secret
	err           error
	scopes        []keyprovider.Scope
	invalidations int
}

// NewKeys returns a fake provider serving key.
func NewKeys(key string) *Keys { return &Keys{key: keyprovider.NewSecret(key)} }

// Set replaces the key served from now on, as a rotation would.
func (k *Keys) Set(key string) {
	k.mu.Lock()
	k.key = keyprovider.NewSecret(key)
	k.mu.Unlock()
}

// Fail makes Key return err (nil: serve the key again).
func (k *Keys) Fail(err error) {
	k.mu.Lock()
	k.err = err
	k.mu.Unlock()
}

// RotateOnInvalidate queues keys that Invalidate switches to, one per
// invalidation of the current key. With none queued, Invalidate reports
// that the key cannot be refreshed.
func (k *Keys) RotateOnInvalidate(keys ...string) {
	k.mu.Lock()
	for _, s := range keys {
		k.next = append(k.next, keyprovider.NewSecret(s))
	}
	k.mu.Unlock()
}

// Key returns the current key, and records scope.
func (k *Keys) Key(_ context.Context, scope keyprovider.Scope) (keyprovider.Secret, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.scopes = append(k.scopes, scope)
	if k.err != nil {
		return keyprovider.Secret{}, k.err
	}
	if k.key.IsZero() {
		return keyprovider.Secret{}, fmt.Errorf("secureaitest: no key for scope %s: %w", scope, keyprovider.ErrNoKey)
	}
	return k.key, nil
}

// Invalidate switches to the next queued key if rejected is the current
// one; see [Keys.RotateOnInvalidate].
func (k *Keys) Invalidate(_ context.Context, _ keyprovider.Scope, rejected keyprovider.Secret) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.invalidations++
	if !rejected.Equal(k.key) {
		return nil // already rotated by someone else
	}
	if len(k.next) == 0 {
		return fmt.Errorf("secureaitest: no next key queued: %w", keyprovider.ErrCannotRefresh)
	}
	k.key, k.next = k.next[0], k.next[1:]
	return nil
}

// Invalidations returns how many times Invalidate was called.
func (k *Keys) Invalidations() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.invalidations
}

// Scopes returns the scopes Key was called with, in order.
func (k *Keys) Scopes() []keyprovider.Scope {
	k.mu.Lock()
	defer k.mu.Unlock()
	return append([]keyprovider.Scope(nil), k.scopes...)
}

// String shows the current key's fingerprint only.
func (k *Keys) String() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return "secureaitest.Keys(" + k.key.Fingerprint() + ")"
}

// GoString is String.
func (k *Keys) GoString() string { return k.String() }
