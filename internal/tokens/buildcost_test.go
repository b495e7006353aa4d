package tokens

import (
	"runtime"
	"testing"
	"time"
)

// TestBuildCost logs what building each table costs: time, heap allocated
// and heap kept live. Compare with bench's TestTokenBuildCost for
// tiktoken-go and tiktoken-go/tokenizer:
//
//	go test ./internal/tokens -run BuildCost -count=1 -v
func TestBuildCost(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("measures one-time costs, without -race or -short")
	}
	var tab *classTable
	d, alloc, live := measureBuild(func() { tab = buildClasses() })
	t.Logf("class table: %v, %.2f MB allocated, %.2f MB live", d.Round(time.Microsecond), alloc, live)
	for _, name := range bothEncodings {
		next := nextO200k
		if name == Cl100kBase {
			next = nextCl100k
		}
		var e *encoding
		d, alloc, live := measureBuild(func() {
			var err error
			if e, err = loadEncoding(name, next); err != nil {
				t.Fatal(err)
			}
		})
		t.Logf("%s: %v, %.1f MB allocated, %.1f MB live", name, d.Round(time.Millisecond), alloc, live)
		runtime.KeepAlive(e)
	}
	runtime.KeepAlive(tab)
}

// measureBuild runs build once and returns its duration, the heap it
// allocated and the heap still live after it (in MB, after a full GC).
func measureBuild(build func()) (time.Duration, float64, float64) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	build()
	d := time.Since(start)
	runtime.GC()
	runtime.ReadMemStats(&after)
	const mb = 1 << 20
	return d, float64(after.TotalAlloc-before.TotalAlloc) / mb, (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / mb
}
