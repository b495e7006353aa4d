package ratelimit

import (
	"context"
	"strconv"
	"testing"
	"time"
)

// TestMemorySweep checks that the memory store forgets idle scopes, and
// only those: after enough operations, the callers whose buckets refilled
// and whose slots' expiry buckets ended are gone; a caller holding a
// concurrency slot, or one whose bucket is still refilling, stays, with
// its state.
func TestMemorySweep(t *testing.T) {
	mc := newClock(t0)
	store := NewMemoryStore(MemoryOptions{Now: mc.Now})
	l, err := New(Options{Store: store, Now: mc.Now, Rules: Rules{Default: TierRules{Caller: Limits{
		Requests: []Rate{{Count: 2, Per: time.Minute, Burst: 2}}, Concurrent: 1,
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const n = 5000
	for i := range n {
		p, err := l.Allow(ctx, Subject{Caller: "idle-" + strconv.Itoa(i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	if len(store.scopes) != n {
		t.Fatalf("%d scopes, want %d", len(store.scopes), n)
	}
	// Past the TTL (15 minutes; an expiry bucket ends within 5/4 of it):
	// every rate bucket is full again and every released slot's bucket
	// has ended.
	mc.Add(20 * time.Minute)
	held, err := l.Allow(ctx, Subject{Caller: "holder"}) // keeps its slot
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := l.Allow(ctx, Subject{Caller: "busy"}); err != nil && i == 0 {
			t.Fatal(err)
		}
	}
	// A sweep runs within max(4096, 2×scopes) operations.
	for range 2 * (n + 3) {
		if _, err := l.Allow(ctx, Subject{Caller: "busy"}); err == nil {
			t.Fatal("busy was admitted past its rate and slot")
		}
	}
	if len(store.scopes) > 10 {
		t.Fatalf("%d scopes after the sweep, want the few active ones", len(store.scopes))
	}
	for _, name := range []string{"holder", "busy"} {
		if store.scopes[scopeKey{KindCaller, name}] == nil {
			t.Errorf("%s was swept while active", name)
		}
	}
	if _, err := l.Allow(ctx, Subject{Caller: "holder"}); err == nil {
		t.Error("holder got a second slot: its held slot was forgotten")
	}
	if err := held.Release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Allow(ctx, Subject{Caller: "holder"}); err != nil {
		t.Errorf("holder refused after releasing its slot: %v", err)
	}
}
