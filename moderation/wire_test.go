package moderation

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestAppendChunks(t *testing.T) {
	tests := []struct {
		name string
		text string
	}{
		{"ascii", strings.Repeat("abcdefghij", 1000)},
		{"multibyte", strings.Repeat("héllo wörld 日本語 ", 500)},
		{"invalid", strings.Repeat("\x80", 3000)},
		{"short", "short"},
	}
	const size, overlap = 1000, 100
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkChunks(t, tt.text, size, overlap)
		})
	}
}

// checkChunks checks that the chunks of text cover it in order, each at
// most size bytes, overlapping by about overlap bytes, cut on rune
// boundaries of valid text, and that appendChunks returns those chunks.
func checkChunks(t *testing.T, text string, size, overlap int) {
	t.Helper()
	var spans [][2]int
	chunkSpans(len(text), size, overlap, func(start, end int) bool {
		spans = append(spans, [2]int{start, end})
		return true
	}, func(i, floor int) int { return runeStart(text, i, floor) })
	chunks := appendChunks(nil, text, size, overlap)
	if len(chunks) != len(spans) {
		t.Fatalf("%d chunks for %d spans", len(chunks), len(spans))
	}
	pos := 0
	for i, sp := range spans {
		start, end := sp[0], sp[1]
		c := text[start:end]
		if chunks[i] != c {
			t.Fatalf("chunk %d differs from its span", i)
		}
		if len(c) > size || (c == "" && len(text) > 0) {
			t.Fatalf("chunk %d has %d bytes", i, len(c))
		}
		if start > pos || (i > 0 && start <= spans[i-1][0]) {
			t.Fatalf("chunk %d starts at %d, previous end %d: a gap or no progress", i, start, pos)
		}
		if i > 0 && pos-start < overlap-utf8.UTFMax {
			t.Fatalf("chunk %d overlaps by %d bytes, want about %d", i, pos-start, overlap)
		}
		if utf8.ValidString(text) && !utf8.ValidString(c) {
			t.Fatalf("chunk %d cut inside a rune", i)
		}
		pos = end
	}
	if pos != len(text) {
		t.Fatalf("chunks end at %d of %d", pos, len(text))
	}
}

func FuzzChunks(f *testing.F) {
	f.Add("héllo wörld", 8, 2)
	f.Add(strings.Repeat("日本", 20), 7, 3)
	f.Fuzz(func(t *testing.T, text string, size, overlap int) {
		size = 16 + abs(size)%200
		overlap = abs(overlap) % (size/2 - utf8.UTFMax)
		checkChunks(t, text, size, overlap)
	})
}

func abs(n int) int {
	if n < 0 {
		return -(n + 1)
	}
	return n
}

func TestPlan(t *testing.T) {
	got := plan(Input{Texts: []string{"a", "", "b"}})
	if len(got) != 1 || !slices.Equal(got[0].input.([]string), []string{"a", "b"}) || got[0].results != 2 {
		t.Errorf("plan(two texts) = %+v", got)
	}
	got = plan(Input{ImageURLs: []string{"https://x/a.png"}})
	b, _ := json.Marshal(got[0].input)
	if len(got) != 1 || string(b) != `[{"type":"image_url","image_url":{"url":"https://x/a.png"}}]` || !got[0].parts {
		t.Errorf("plan(image) = %s", b)
	}
	if got := plan(Input{Texts: []string{""}}); len(got) != 0 {
		t.Errorf("plan(empty) = %+v", got)
	}
}

func TestDecode(t *testing.T) {
	ok := `{"id":"modr-1","model":"m","results":[{"flagged":true,"categories":{"illicit":true},"category_scores":{"illicit":0.9}}]}`
	if r, err := decode([]byte(ok), 1, false); err != nil || !r.Results[0].Categories["illicit"] {
		t.Fatalf("decode = %+v, %v", r, err)
	}
	for _, tt := range []struct {
		name, body string
		want       int
		atLeast    bool
	}{
		{"two results for one", strings.Replace(ok, `[{`, `[{"category_scores":{"a":0}},{`, 1), 1, false},
		{"one for two", ok, 2, false},
		{"one for at least two", ok, 2, true},
		{"trailing", ok + "{}", 1, false},
		{"null", "null", 1, false},
		{"array", "[]", 1, false},
		{"nan-ish", strings.Replace(ok, "0.9", "1e999", 1), 1, false},
		{"above one", strings.Replace(ok, "0.9", "1.5", 1), 1, false},
		{"string score", strings.Replace(ok, "0.9", `"0.9"`, 1), 1, false},
	} {
		if r, err := decode([]byte(tt.body), tt.want, tt.atLeast); err == nil {
			t.Errorf("%s: decode = %+v, want an error", tt.name, r)
		}
	}
}

// FuzzDecode checks that no answer makes the decoder panic, and that an
// accepted answer has the results asked for and scores in [0, 1].
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"id":"modr-1","model":"omni-moderation-latest","results":[{"flagged":true,"categories":{"illicit":true,"hate":false},"category_scores":{"illicit":0.9,"hate":1e-7},"category_applied_input_types":{"illicit":["text"]}}]}`), 1, false)
	f.Add([]byte(`{"results":[{"category_scores":{"a":0}},{"category_scores":{"b":1}}]}`), 2, true)
	f.Add([]byte(`{"results":[{"categories":null,"category_scores":{"x":null}}]} `), 1, false)
	f.Add([]byte(`{"results":`), 1, false)
	f.Fuzz(func(t *testing.T, body []byte, want int, atLeast bool) {
		want = 1 + abs(want)%4
		r, err := decode(body, want, atLeast)
		if err != nil {
			return
		}
		if n := len(r.Results); n == 0 || (!atLeast && n != want) || n < want {
			t.Fatalf("accepted %d results for %d", n, want)
		}
		c := &Checker{thresholds: map[string]float64{}, star: 0.5}
		v := Verdict{Scores: map[string]float64{}}
		c.judge(&v, r, map[string]bool{})
		for name, s := range v.Scores {
			if s < 0 || s > 1 || (name != unknownCategory && safeName(name) != name) {
				t.Fatalf("score %q = %v", name, s)
			}
		}
	})
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tt := range []struct {
		h    http.Header
		want time.Duration
	}{
		{http.Header{"Retry-After-Ms": {"250"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After-Ms": {"250"}, "Retry-After": {"9"}}, 250 * time.Millisecond},
		{http.Header{"Retry-After": {"2"}}, 2 * time.Second},
		{http.Header{"Retry-After": {now.Add(5 * time.Second).Format(http.TimeFormat)}}, 5 * time.Second},
		{http.Header{"Retry-After": {"-3"}}, 0},
		{http.Header{"Retry-After": {"99999999"}}, maxRetryAfter},
		{http.Header{"Retry-After": {"soon"}}, 0},
		{http.Header{}, 0},
	} {
		if got := retryAfter(tt.h, now); got != tt.want {
			t.Errorf("retryAfter(%v) = %v, want %v", tt.h, got, tt.want)
		}
	}
}
