package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzLinks(f *testing.F) {
	for _, s := range []string{
		"![x](https://evil.example/?q=secret)", "[a](https://docs.example.com/a) ![b](https://docs.example.com/b.png)",
		"[![i](https://evil.example/i)](https://docs.example.com)", "x\n[r]: https://evil.example/p.png\n![y][r]",
		"<https://evil.example/a> <img src=\"https://evil.example/i.png\">", "![a`]`](https://evil.example/)",
		"[a](https://evil.example/`) ![i](https://evil.example/x) `", "~~~\n`\n~~~\n![i](https://evil.example/x)\n`",
		"![a](<https://evil.example/x y> \"t\")", "0000[\xb8](0)", "![a](https:\\\\evil.example)", "![\u00e9](https://b\u00fccher.example/)",
	} {
		f.Add(s)
	}
	allow := HostAllowlist("docs.example.com", "*.cdn.example.com")
	f.Fuzz(func(t *testing.T, text string) {
		valid := utf8.ValidString(text)
		links := FindLinks(text)
		for _, l := range links {
			if l.Start < 0 || l.Start > l.TextStart || l.TextStart > l.TextEnd || l.TextEnd > l.End || l.End > len(text) {
				t.Fatalf("bad offsets %+v in %q", l, text)
			}
			for _, o := range []int{l.Start, l.TextStart, l.TextEnd, l.End} {
				if valid && o < len(text) && !utf8.RuneStart(text[o]) {
					t.Fatalf("offset %d not on a rune boundary: %+v", o, l)
				}
			}
		}
		if p := PendingLink(text); p < -1 || p >= len(text) && len(text) > 0 {
			t.Fatalf("PendingLink = %d for %d bytes", p, len(text))
		}
		out, fs := RemoveLinks(text, allow)
		if valid && !utf8.ValidString(out) {
			t.Fatalf("RemoveLinks(%q) = %q: invalid UTF-8", text, out)
		}
		for _, fd := range fs {
			if fd.Start < 0 || fd.End > len(text) || fd.Start > fd.End {
				t.Fatalf("bad finding %+v", fd)
			}
		}
		for _, l := range FindLinks(out) {
			if l.Image && (l.Host == "" || !allow(l.Host)) {
				t.Fatalf("RemoveLinks(%q) = %q keeps image %+v", text, out, l)
			}
		}
	})
}

func FuzzLeak(f *testing.F) {
	const canary = "CNRY-ABCDEFGHIJKLMNOPQRST"
	d, err := NewLeakDetector(testPrompt, []string{canary}, 0)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("", "", false)
	f.Add("the marker is ", ".", true)
	f.Add("\xe2", "\x80", false)
	f.Add("**", "**", true)
	f.Fuzz(func(t *testing.T, before, after string, lower bool) {
		c := canary
		if lower {
			c = strings.ToLower(c)
		}
		text := before + c + after
		found := false
		for _, fd := range d.Scan(text) {
			if fd.Start < 0 || fd.End > len(text) || fd.Start >= fd.End {
				t.Fatalf("bad finding %+v", fd)
			}
			if fd.Type == TypeCanary && fd.Start <= len(before) && fd.End >= len(before)+len(c) {
				found = true
			}
		}
		if !found {
			t.Fatalf("canary at %d not found in %q", len(before), text)
		}
		if h := d.Hold(text); h < 0 || h > len(text) {
			t.Fatalf("Hold = %d", h)
		}
	})
}
