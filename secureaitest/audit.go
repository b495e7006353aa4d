package secureaitest

import (
	"context"
	"slices"
	"sync"

	"github.com/secureai-go/secureai/audit"
)

// AuditRecorder is an audit sink that keeps every event in memory, for
// tests to assert on. The zero value is ready to use and safe for
// concurrent use.
type AuditRecorder struct {
	mu     sync.Mutex
	events []audit.Event
}

// Write records a copy of e.
func (r *AuditRecorder) Write(_ context.Context, e audit.Event) error {
	e.Decisions = slices.Clone(e.Decisions)
	e.FinishReasons = slices.Clone(e.FinishReasons)
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

// Events returns the recorded events in order.
func (r *AuditRecorder) Events() []audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// Len returns the number of recorded events.
func (r *AuditRecorder) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.events)
}

// Last returns the last event, or the zero Event when there is none.
func (r *AuditRecorder) Last() audit.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.events) == 0 {
		return audit.Event{}
	}
	return r.events[len(r.events)-1]
}

// Reset forgets the recorded events.
func (r *AuditRecorder) Reset() {
	r.mu.Lock()
	r.events = nil
	r.mu.Unlock()
}
