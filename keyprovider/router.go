package keyprovider

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync/atomic"
)

// Any, as a field of a [Router]'s route scope, matches every value of that
// field, the empty one included. A route with Any is an explicit, visible
// fallback; without one, a scope with no route of its own gets no key.
const Any = "*"

// Router is a [Provider] that picks the provider of a call from its
// [Scope], so that each environment, group and tier has its own key and
// the HR group's key can never be used for a Finance call.
//
// A route's scope is matched field by field, exactly, unless a field is
// [Any]. When several routes match, the most specific wins: the one that
// pins the Environment over one that does not, then the Group, then the
// Tier. So with routes {prod, hr, *}, {prod, *, *} and {*, *, *}, the scope
// {prod, hr, pro} goes to the first, {prod, finance, pro} to the second and
// {dev, hr, ""} to the third. A scope that no route matches gets a
// [*ScopeError] (which matches [ErrNoScope]): there is no default unless a
// route makes one.
//
// Create a Router with [NewRouter]; the zero value has no routes. A Router
// is immutable and safe for concurrent use. It owns its providers:
// [Router.Close] closes those that implement [Closer].
type Router struct {
	routes   map[Scope]Provider
	patterns []uint8 // wildcard masks present in routes, most specific first
	closed   atomic.Bool
}

// Bits of a wildcard mask: which fields of a route are Any.
const (
	anyTier uint8 = 1 << iota
	anyGroup
	anyEnv
)

// NewRouter returns a Router with the given routes. It copies the map. It
// returns an error if a route's provider is nil or if there are no routes.
func NewRouter(routes map[Scope]Provider) (*Router, error) {
	if len(routes) == 0 {
		return nil, errors.New("keyprovider: router has no routes")
	}
	r := &Router{routes: make(map[Scope]Provider, len(routes))}
	var masks [8]bool
	for s, p := range routes {
		if p == nil {
			return nil, fmt.Errorf("keyprovider: router: nil provider for scope %s", s)
		}
		r.routes[s] = p
		masks[mask(s)] = true
	}
	// Most specific first: a mask with fewer wildcards in the more
	// significant fields sorts lower.
	for m := range uint8(8) {
		if masks[m] {
			r.patterns = append(r.patterns, m)
		}
	}
	return r, nil
}

func mask(s Scope) uint8 {
	var m uint8
	if s.Environment == Any {
		m |= anyEnv
	}
	if s.Group == Any {
		m |= anyGroup
	}
	if s.Tier == Any {
		m |= anyTier
	}
	return m
}

// route returns the provider for scope, or nil.
func (r *Router) route(scope Scope) Provider {
	if r == nil {
		return nil
	}
	for _, m := range r.patterns {
		k := scope
		if m&anyEnv != 0 {
			k.Environment = Any
		}
		if m&anyGroup != 0 {
			k.Group = Any
		}
		if m&anyTier != 0 {
			k.Tier = Any
		}
		if p := r.routes[k]; p != nil {
			return p
		}
	}
	return nil
}

// Key returns the key of the provider routed to for scope, or a
// [*ScopeError] if no route matches. After Close, it fails with an error
// wrapping [ErrClosed].
func (r *Router) Key(ctx context.Context, scope Scope) (Secret, error) {
	if r != nil && r.closed.Load() {
		return Secret{}, fmt.Errorf("%w: router", ErrClosed)
	}
	p := r.route(scope)
	if p == nil {
		return Secret{}, &ScopeError{Scope: scope}
	}
	return p.Key(ctx, scope)
}

// KeyInfo returns the key and its [Info] from the provider routed to for
// scope, through its KeyInfo method if it implements [InfoProvider].
func (r *Router) KeyInfo(ctx context.Context, scope Scope) (Secret, Info, error) {
	if r != nil && r.closed.Load() {
		return Secret{}, Info{}, fmt.Errorf("%w: router", ErrClosed)
	}
	p := r.route(scope)
	if p == nil {
		return Secret{}, Info{}, &ScopeError{Scope: scope}
	}
	if ip, ok := p.(InfoProvider); ok {
		return ip.KeyInfo(ctx, scope)
	}
	k, err := p.Key(ctx, scope)
	return k, Info{}, err
}

// Invalidate passes a rejected key on to the provider routed to for scope.
// It returns an error wrapping [ErrCannotRefresh] if that provider does not
// implement [Invalidator], or if no route matches.
func (r *Router) Invalidate(ctx context.Context, scope Scope, rejected Secret) error {
	p := r.route(scope)
	if p == nil {
		return fmt.Errorf("%w: %w", ErrCannotRefresh, &ScopeError{Scope: scope})
	}
	inv, ok := p.(Invalidator)
	if !ok {
		return fmt.Errorf("%w: provider for scope %s cannot refresh its key", ErrCannotRefresh, scope)
	}
	return inv.Invalidate(ctx, scope, rejected)
}

// Close closes every provider of the router that implements [Closer], once
// each, and returns their errors joined. It may be called more than once.
func (r *Router) Close(ctx context.Context) error {
	if r == nil || r.closed.Swap(true) {
		return nil
	}
	var (
		errs []error
		seen []Closer
	)
	for _, s := range r.scopes() {
		cl, ok := r.routes[s].(Closer)
		if !ok {
			continue
		}
		if reflect.TypeOf(cl).Comparable() {
			if slices.Contains(seen, cl) {
				continue
			}
			seen = append(seen, cl)
		}
		errs = append(errs, cl.Close(ctx))
	}
	return errors.Join(errs...)
}

// scopes returns the route scopes in a stable order.
func (r *Router) scopes() []Scope {
	out := make([]Scope, 0, len(r.routes))
	for s := range r.routes {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b Scope) int { return strings.Compare(a.String(), b.String()) })
	return out
}

// String returns "keyprovider.Router(<scope>: <provider>, ...)", with the
// routes in a stable order.
func (r *Router) String() string {
	if r == nil {
		return "keyprovider.Router()"
	}
	var b strings.Builder
	b.WriteString("keyprovider.Router(")
	for i, s := range r.scopes() {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(s.String())
		b.WriteString(": ")
		b.WriteString(describe(r.routes[s]))
	}
	b.WriteString(")")
	return b.String()
}

// GoString returns the same as [Router.String].
func (r *Router) GoString() string { return r.String() }
