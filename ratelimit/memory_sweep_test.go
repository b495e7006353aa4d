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
	// A sweep runs within max(4096, 2×scopes) operations, and drops an
	// idle scope not used since the sweep before it: within two.
	for range 4 * (n + 3) {
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

// TestMemoryScopeSpill checks a scope with more rate rules and live
// expiry buckets than it holds in its own storage: three rates, and slots
// held in four buckets (a TTL of 4 minutes has a one-minute grain).
func TestMemoryScopeSpill(t *testing.T) {
	ctx := context.Background()
	c := Subject{Caller: "c"}
	mc := newClock(t0)
	rates, err := New(Options{Store: NewMemoryStore(MemoryOptions{Now: mc.Now}), Now: mc.Now, Rules: Rules{
		Default: TierRules{Caller: Limits{Requests: []Rate{{Count: 1, Per: time.Second, Burst: 1}, PerMinute(100), {Count: 3, Per: time.Hour}}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false, true, true, false} {
		if _, err := rates.Allow(ctx, c); (err == nil) != want {
			t.Fatalf("request %d: err = %v, want admitted %v", i, err, want)
		}
		if i != 0 {
			mc.Add(time.Second)
		}
	}
	mc.Add(20 * time.Minute) // a token of the hourly rule
	if _, err := rates.Allow(ctx, c); err != nil {
		t.Fatalf("after 20 minutes: %v", err)
	}

	slots, err := New(Options{Store: NewMemoryStore(MemoryOptions{Now: mc.Now}), Now: mc.Now, TTL: 4 * time.Minute,
		Rules: Rules{Default: TierRules{Caller: Limits{Concurrent: 4}}}})
	if err != nil {
		t.Fatal(err)
	}
	var held []*Permit
	for i := range 4 {
		p, err := slots.Allow(ctx, c)
		if err != nil {
			t.Fatalf("slot %d: %v", i, err)
		}
		held = append(held, p)
		mc.Add(time.Minute) // the next slot goes to another expiry bucket
	}
	if _, err := slots.Allow(ctx, c); err == nil {
		t.Fatal("a fifth slot was given: a held one was forgotten")
	}
	for _, p := range held {
		if err := p.Release(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		if _, err := slots.Allow(ctx, c); err != nil {
			t.Fatalf("slot %d after releasing every one: %v", i, err)
		}
	}
}
