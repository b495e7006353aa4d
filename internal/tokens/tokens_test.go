package tokens

import (
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestEncodingFor(t *testing.T) {
	for _, tc := range []struct {
		model, want string
	}{
		{"gpt-4o", O200kBase},
		{"gpt-4o-2024-08-06", O200kBase},
		{"gpt-4o-mini-2024-07-18", O200kBase},
		{"gpt-4.1-nano", O200kBase},
		{"gpt-5", O200kBase},
		{"gpt-5.1", O200kBase},
		{"gpt-5-mini-2025-08-07", O200kBase},
		{"o1", O200kBase},
		{"o3-mini", O200kBase},
		{"o4-mini-2025-04-16", O200kBase},
		{"o1-preview", O200kBase},
		{"o3-pro", O200kBase},
		{"gpt-4.1", O200kBase},
		{"gpt-5-codex", O200kBase},
		{"gpt-5.1-chat-latest", O200kBase},
		{"chatgpt-4o-latest", O200kBase},
		{"ft:gpt-4o-mini-2024-07-18:acme::abc123", O200kBase},
		{"gpt-4", Cl100kBase},
		{"gpt-4-turbo", Cl100kBase},
		{"gpt-4-0613", Cl100kBase},
		{"gpt-3.5-turbo-0125", Cl100kBase},
		{"text-embedding-3-small", Cl100kBase},
		{"text-embedding-3-large", Cl100kBase},
		{"gpt-3.5-turbo", Cl100kBase},
		{"text-embedding-ada-002", Cl100kBase},
		{"llama-3", ""},
		{"o10", ""},
		{"gpt-4oo", ""},
		{"o2", ""},
		{"text-embedding-3", Cl100kBase},
		{"", ""},
	} {
		t.Run(tc.model, func(t *testing.T) {
			got, ok := EncodingFor(tc.model)
			if got != tc.want || ok != (tc.want != "") {
				t.Fatalf("EncodingFor(%q) = %q, %v; want %q", tc.model, got, ok, tc.want)
			}
		})
	}
}

func TestCount(t *testing.T) {
	for _, tc := range []struct {
		name, model string
		texts       []string
		want        int
	}{
		{"hello o200k", "gpt-4o", []string{"hello world"}, 2},
		{"hello cl100k", "gpt-4", []string{"hello world"}, 2},
		{"two texts", "gpt-4o", []string{"hello", " world"}, 2},
		{"empty", "gpt-4o", []string{""}, 0},
		{"none", "gpt-4o", nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Count(tc.model, tc.texts...)
			if err != nil || got != tc.want {
				t.Fatalf("Count = %d, %v; want %d", got, err, tc.want)
			}
		})
	}
	if _, err := Count("llama-3", "x"); !errors.Is(err, ErrUnknownModel) {
		t.Fatalf("unknown model: err = %v, want ErrUnknownModel", err)
	}
	if _, err := CountEncoding("p50k_base", "x"); err == nil {
		t.Fatal("unknown encoding: no error")
	}
}

// A user can type a special-token marker: it is text, not a control token,
// and must neither panic nor collapse into one token.
func TestCountSpecialTokensAreText(t *testing.T) {
	for _, model := range []string{"gpt-4o", "gpt-4"} {
		for _, s := range []string{"<|endoftext|>", "a<|endofprompt|>b", "<|fim_prefix|><|fim_middle|>", "<|im_start|>system"} {
			n, err := Count(model, s)
			if err != nil {
				t.Fatal(err)
			}
			if n < 2 || n > WireBytes(s) {
				t.Errorf("Count(%s, %q) = %d, want in [2, %d]", model, s, n, WireBytes(s))
			}
		}
	}
}

// MessageOverhead must cover the recipe's 3 framing tokens, the role and the
// name separator: every role is at most 2 tokens in both encodings.
func TestMessageOverheadCoversRoles(t *testing.T) {
	for _, enc := range []string{O200kBase, Cl100kBase} {
		for _, role := range []string{"system", "user", "assistant", "tool", "developer", "function"} {
			n, err := CountEncoding(enc, role)
			if err != nil {
				t.Fatal(err)
			}
			if 3+n+1 > MessageOverhead {
				t.Errorf("%s: role %q is %d tokens; MessageOverhead %d too small", enc, role, n, MessageOverhead)
			}
		}
	}
}

func TestUpperBound(t *testing.T) {
	for _, tc := range []struct {
		name  string
		model string
		e     Estimate
		want  int
	}{
		{"empty", "gpt-4o", Estimate{}, RequestOverhead},
		{"one message", "gpt-4o", Estimate{TextBytes: 100, Messages: 1}, RequestOverhead + 100 + MessageOverhead},
		{"tools", "gpt-4o", Estimate{Tools: 2, ToolSchemaBytes: 300}, RequestOverhead + ToolsOverhead + 2*ToolOverhead + 300},
		{"image high 4o", "gpt-4o-2024-08-06", Estimate{Images: []ImageDetail{ImageHigh}}, RequestOverhead + 85 + 8*170},
		{"image low 4o", "gpt-4o", Estimate{Images: []ImageDetail{ImageLow}}, RequestOverhead + 85},
		{"image auto 4o-mini", "gpt-4o-mini", Estimate{Images: []ImageDetail{ImageAuto}}, RequestOverhead + 2833 + 8*5667},
		{"image patch 4.1-mini", "gpt-4.1-mini", Estimate{Images: []ImageDetail{ImageLow}}, RequestOverhead + 2489},
		{"image unknown model", "vision-x", Estimate{Images: []ImageDetail{ImageLow}}, RequestOverhead + 2833},
		{"negative counts", "gpt-4o", Estimate{TextBytes: -5, Messages: -1, Tools: -1, ToolSchemaBytes: -1}, RequestOverhead},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.e.UpperBound(tc.model); got != tc.want {
				t.Fatalf("UpperBound = %d, want %d", got, tc.want)
			}
		})
	}
	e := Estimate{TextBytes: 4000, Messages: 2}
	if got, want := e.WithTextTokens("gpt-4o", 900), RequestOverhead+900+2*MessageOverhead; got != want {
		t.Fatalf("WithTextTokens = %d, want %d", got, want)
	}
}

func TestImageDetail(t *testing.T) {
	for _, s := range []string{"low", "high", "auto"} {
		if got := ParseImageDetail(s).String(); got != s {
			t.Errorf("round trip %q = %q", s, got)
		}
	}
	if ParseImageDetail("") != ImageAuto || ParseImageDetail("HIGH") != ImageAuto {
		t.Error("unknown detail is not auto")
	}
}

func TestWireBytes(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want int
	}{
		{"", 0},
		{"abc", 3},
		{"é", 2},
		{"\uFFFD", 3},
		{"\xff", 3},
		{"a\xc3", 4},
		{"\xed\xa0\x80", 9}, // an encoded surrogate: three invalid bytes
		{"\xf0\x9f\x98\x80", 4},
	} {
		if got := WireBytes(tc.s); got != tc.want {
			t.Errorf("WireBytes(%q) = %d, want %d", tc.s, got, tc.want)
		}
		if got := len(string([]rune(tc.s))); got != tc.want {
			t.Errorf("len(string([]rune(%q))) = %d: test table wrong", tc.s, got)
		}
	}
}

// The bound holds on realistic and adversarial texts alike.
func TestCountWithinBound(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "Z", " ", "\n", "\t", "1", "é", "字", "😀", "<|endoftext|>", "\xff", "'s", "...", "\u200b"}
	for i := 0; i < 200; i++ {
		var b strings.Builder
		for j := r.IntN(200); j > 0; j-- {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		for _, model := range []string{"gpt-4o", "gpt-4"} {
			n, err := Count(model, s)
			if err != nil {
				t.Fatal(err)
			}
			if bound := WireBytes(s); n > bound {
				t.Fatalf("Count(%s, %q) = %d > WireBytes %d", model, s, n, bound)
			}
		}
	}
	if !utf8.ValidString(strings.Repeat("字", 3)) {
		t.Fatal("unreachable")
	}
}
