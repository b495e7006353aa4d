package audit

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestAppendDurationMS checks the integer formatting of durations against
// the float formatting it stands for.
func TestAppendDurationMS(t *testing.T) {
	ds := []time.Duration{0, 1, 9, 10, 999, 1000, 123456, 999999, 1000000, 1000001, 1500000, 2 * time.Millisecond,
		17*time.Second + 3, time.Hour + 1, 1e15 - 1, 1e15, 1e15 + 7, -1, -1500000, 1<<63 - 1}
	r := rand.New(rand.NewPCG(1, 2))
	for range 100000 {
		ds = append(ds, time.Duration(r.Int64N(1e9)), time.Duration(r.Int64N(1e15)), time.Duration(r.Int64N(1e6))*1000)
	}
	for _, d := range ds {
		got := string(appendDurationMS(nil, d))
		want := string(appendJSONFloat(nil, durationMS(d)))
		if got != want {
			t.Fatalf("duration %d: got %s, want %s", int64(d), got, want)
		}
	}
}
