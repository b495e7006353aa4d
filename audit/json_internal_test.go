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

// TestPlain8 checks the word test against the byte rule of appendJSONString.
func TestPlain8(t *testing.T) {
	plain := func(c byte) bool { return c >= 0x20 && c < 0x80 && c != '"' && c != '\\' }
	r := rand.New(rand.NewPCG(3, 4))
	var w [8]byte
	check := func() {
		want := true
		for _, c := range w {
			want = want && plain(c)
		}
		if got := plain8(string(w[:])); got != want {
			t.Fatalf("plain8(%q) = %v", w[:], got)
		}
	}
	for c := range 256 { // each byte value at each position among plain bytes
		for p := range 8 {
			for i := range w {
				w[i] = 'a'
			}
			w[p] = byte(c)
			check()
		}
	}
	for range 1 << 20 {
		for i := range w {
			switch r.IntN(4) {
			case 0:
				w[i] = byte(r.IntN(256))
			case 1:
				w[i] = "\"\\\x00\x1f\x20\x7f\x80\xff"[r.IntN(8)]
			default:
				w[i] = byte(0x20 + r.IntN(0x60))
			}
		}
		check()
	}
}
