package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzHTML checks the HTML policy's invariants on any input, read as HTML
// and as markdown: Sanitize and Markdown never panic, their output parses
// with no element outside the allowlist, no on* or style attribute, no URL
// other than absolute http, https or mailto, and rel forced on links; with
// a host list, no URL to another host; Sanitize is idempotent.
func FuzzHTML(f *testing.F) {
	for _, v := range loadVectors(f, "owasp.txt") {
		f.Add(v.text)
	}
	f.Add(answerMarkdown)
	f.Add(`<A href="http://ok.eXAmple"0000000>`) // hosts match without regard to case
	restricted, err := NewHTMLPolicy(HTMLOptions{
		AllowedLinkHosts: []string{"ok.example", "*.docs.example"},
		AllowImages:      true,
		TargetBlank:      true,
	})
	if err != nil {
		f.Fatal(err)
	}
	def := defaultHTMLPolicy()
	f.Fuzz(func(t *testing.T, in string) {
		for _, p := range []*HTMLPolicy{def, restricted} {
			san := p.Sanitize(in)
			md, err := p.Markdown(in)
			if err != nil {
				t.Fatalf("Markdown(%q): %v", in, err)
			}
			for _, out := range []string{san, md} {
				if bad := checkSafeHTML(out); len(bad) > 0 {
					t.Fatalf("in %q\nout %q\n%v", in, out, bad)
				}
				if p == restricted {
					for _, h := range hostsIn(out) {
						h = strings.ToLower(h)
						if h != "ok.example" && !strings.HasSuffix(h, ".docs.example") {
							t.Fatalf("in %q\nout %q\nURL to %s kept", in, out, h)
						}
					}
				}
			}
			if again := p.Sanitize(san); again != san {
				t.Fatalf("Sanitize is not idempotent on %q\n once %q\ntwice %q", in, san, again)
			}
		}
	})
}

// FuzzScanMarkup checks that ScanMarkup's findings keep the Finding
// contract and that StripMarkup never panics and keeps valid UTF-8.
func FuzzScanMarkup(f *testing.F) {
	for _, v := range loadVectors(f, "owasp.txt") {
		f.Add(v.text)
	}
	f.Add("if a<b then <!-- x")
	f.Add("<A>\xbf") // an invalid byte is a rune of its own
	f.Fuzz(func(t *testing.T, in string) {
		fs := ScanMarkup(in)
		checkMarkupFindings(t, in, fs)
		out, fs2 := StripMarkup(in)
		if len(fs) != len(fs2) {
			t.Fatalf("StripMarkup found %d, ScanMarkup %d", len(fs2), len(fs))
		}
		if fs == nil && out != in {
			t.Fatalf("StripMarkup changed text without markup: %q -> %q", in, out)
		}
		if utf8.ValidString(in) && !utf8.ValidString(out) {
			t.Fatalf("StripMarkup(%q) = %q: invalid UTF-8", in, out)
		}
	})
}
