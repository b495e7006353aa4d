package tokens

import "testing"

// FuzzCount: counting never panics, whatever the text (special-token
// markers, invalid UTF-8), and the exact count never exceeds the upper
// bound.
func FuzzCount(f *testing.F) {
	for _, s := range []string{"", "hello world", "<|endoftext|>", "<|endofprompt|><|fim_prefix|>", "\xff\xfe", "\xed\xa0\x80", "字字字 😀", "   \n\n\t  ", "'s're've"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 1<<16 {
			return // the pipeline bounds input size first
		}
		wire := WireBytes(s)
		if want := len(string([]rune(s))); wire != want {
			t.Fatalf("WireBytes(%q) = %d, want %d", s, wire, want)
		}
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			n, err := Count(model, s)
			if err != nil {
				t.Fatal(err)
			}
			if n > wire {
				t.Fatalf("Count(%s, %q) = %d > WireBytes %d", model, s, n, wire)
			}
			e := Estimate{TextBytes: wire, Messages: 1}
			if exact, bound := e.WithTextTokens(model, n), e.UpperBound(model); exact > bound {
				t.Fatalf("exact %d > bound %d", exact, bound)
			}
		}
	})
}

// FuzzUpperBound: the estimator never panics and never returns less than
// the request framing, whatever the counts.
func FuzzUpperBound(f *testing.F) {
	f.Add("gpt-4o", 100, 2, 1, 300, uint8(1))
	f.Add("", -1, -1, -1, -1, uint8(255))
	f.Add("ft:", 1<<20, 1000, 128, 1<<16, uint8(2))
	f.Fuzz(func(t *testing.T, model string, text, msgs, tools, schema int, img uint8) {
		if text > 1<<40 || msgs > 1<<30 || tools > 1<<30 || schema > 1<<40 {
			return // keep the sum inside int
		}
		e := Estimate{TextBytes: text, Messages: msgs, Tools: tools, ToolSchemaBytes: schema}
		for i := 0; i < int(img%4); i++ {
			e.Images = append(e.Images, ImageDetail(img/4%3))
		}
		if got := e.UpperBound(model); got < RequestOverhead {
			t.Fatalf("UpperBound = %d < %d", got, RequestOverhead)
		}
	})
}
