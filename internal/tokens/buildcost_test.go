package tokens

import (
	"runtime"
	"testing"
	"time"

	"github.com/secureai-go/secureai/internal/testenv"
)

// TestBuildCost logs what building each table costs: time, heap allocated
// and heap kept live. Compare with bench's TestTokenBuildCost for
// tiktoken-go and tiktoken-go/tokenizer:
//
//	go test ./internal/tokens -run BuildCost -count=1 -v
func TestBuildCost(t *testing.T) {
	if testing.Short() || testenv.Race {
		t.Skip("measures one-time costs, without -race or -short")
	}
	var tab *classTable
	d, alloc, live := testenv.MeasureBuild(func() { tab = buildClasses() })
	t.Logf("class table: %v, %.2f MB allocated, %.2f MB live", d.Round(time.Microsecond), alloc, live)
	for _, name := range bothEncodings {
		next := nextO200k
		if name == Cl100kBase {
			next = nextCl100k
		}
		var e *encoding
		d, alloc, live := testenv.MeasureBuild(func() {
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
