package sanitize

import (
	stdhtml "html"
	"strings"
	"sync"

	"github.com/microcosm-cc/bluemonday"
	"golang.org/x/net/html"
)

// Finding types reported by [ScanMarkup] and [StripMarkup], all of kind
// [KindInjection]: markup in user text is a way to reach whatever renders
// the conversation (stored XSS in a chat history or admin view) or to hide
// instructions from a human reader (comments), not a secret or personal data.
const (
	TypeMarkupTag          = "markup_tag"           // an HTML tag, doctype or processing instruction
	TypeMarkupComment      = "markup_comment"       // an HTML comment, which a rendered page hides
	TypeMarkupScript       = "markup_script"        // a script element, from its start tag to its end tag
	TypeMarkupEventHandler = "markup_event_handler" // a tag with an on* attribute (onerror, onload, ...)
	TypeMarkupScriptURL    = "markup_script_url"    // a tag with a javascript:, vbscript: or data: attribute value
)

// ScanMarkup reports the HTML markup in text without changing it: one
// [Finding] of kind [KindInjection] per tag, comment or doctype, and one per
// script element (start tag, content and end tag together), with byte
// offsets into text on rune boundaries, in order. A tag with an on*
// attribute is reported as [TypeMarkupEventHandler], one with a
// javascript:, vbscript: or data: attribute value as [TypeMarkupScriptURL].
//
// Markup is what an HTML tokenizer sees, as a browser would: "a<b c" holds
// an (unfinished) tag, "a < b" and "x<3" do not. An unfinished tag or comment
// at the end of text is reported up to the end of text. Text with no "<"
// followed by a letter, "/", "!" or "?" is answered with one byte scan and
// no allocation.
//
// Questions about code contain markup legitimately; a caller should not
// refuse text on these findings without its user's consent.
func ScanMarkup(text string) []Finding {
	if !hasTagStart(text) {
		return nil
	}
	z := html.NewTokenizer(strings.NewReader(text))
	var out []Finding
	pos, script := 0, -1 // script: start of an open script element
	for {
		tt := z.Next()
		if tt == html.ErrorToken {
			break // io.EOF: a strings.Reader does not fail
		}
		start := pos
		pos += len(z.Raw())
		switch tt {
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			typ := TypeMarkupTag
			for hasAttr {
				var key, val []byte
				key, val, hasAttr = z.TagAttr()
				switch {
				case len(key) > 2 && key[0] == 'o' && key[1] == 'n':
					typ = TypeMarkupEventHandler
				case typ == TypeMarkupTag && scriptURL(val):
					typ = TypeMarkupScriptURL
				}
			}
			if string(name) == "script" {
				// <script/> opens a script element too, in browsers and in
				// the tokenizer.
				if script < 0 {
					script = start
				}
				continue
			}
			out = append(out, Finding{Kind: KindInjection, Type: typ, Start: start, End: pos})
		case html.EndTagToken:
			if script >= 0 {
				if name, _ := z.TagName(); string(name) == "script" {
					out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupScript, Start: script, End: pos})
					script = -1
				}
				continue
			}
			out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupTag, Start: start, End: pos})
		case html.CommentToken:
			out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupComment, Start: start, End: pos})
		case html.DoctypeToken:
			out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupTag, Start: start, End: pos})
		}
	}
	switch {
	case script >= 0:
		out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupScript, Start: script, End: len(text)})
	case pos < len(text):
		// The tokenizer drops an unfinished tag at the end of the input.
		out = append(out, Finding{Kind: KindInjection, Type: TypeMarkupTag, Start: pos, End: len(text)})
	}
	return out
}

// hasTagStart reports whether text holds a "<" that an HTML tokenizer
// would take as the start of a tag, end tag, comment or doctype.
func hasTagStart(text string) bool {
	for i := 0; ; {
		j := strings.IndexByte(text[i:], '<')
		if j < 0 {
			return false
		}
		i += j + 1
		if i == len(text) {
			return false
		}
		switch c := text[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '/', c == '!', c == '?':
			return true
		}
	}
}

// scriptURL reports whether an attribute value, as the tokenizer decoded
// it, starts with a scheme that runs or embeds content. Browsers ignore
// leading spaces and controls, and tabs and newlines anywhere.
func scriptURL(v []byte) bool {
	var buf [len("javascript:")]byte
	n := 0
	for _, c := range v {
		if c <= ' ' && (n == 0 || c == '\t' || c == '\n' || c == '\r') {
			continue
		}
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[n] = c
		n++
		if n == len(buf) {
			break
		}
	}
	s := string(buf[:n])
	return strings.HasPrefix(s, "javascript:") || strings.HasPrefix(s, "vbscript:") || strings.HasPrefix(s, "data:")
}

var strictMarkupPolicy = sync.OnceValue(func() *bluemonday.Policy {
	p := bluemonday.StrictPolicy().AddSpaceWhenStrippingTag(true)
	// Their content is text to a browser but reads as markup once the tags
	// around it are gone.
	p.SkipElementsContent("textarea", "xmp", "plaintext")
	return p
})

// StripMarkup removes HTML markup from text meant for a model and reports
// what it removed, as [ScanMarkup] does (the findings' offsets are into
// text). Tags and comments are removed, with a space in their place so that
// words do not run together; script, style, title, iframe, object and
// noscript, textarea, xmp and plaintext elements are removed with their
// content. When markup was found,
// the text is HTML and its character references are decoded: "a &amp; b"
// becomes "a & b". When none was found, text is returned unchanged, "&amp;"
// included.
//
// The result is plain text, not HTML: it may contain "<" (from "&lt;" or
// from a lone "<"), so it must be escaped before it is put into a page.
//
// StripMarkup is off by default in secureai because questions about code
// contain markup legitimately: "why does <div> collapse?" loses its point.
// It uses bluemonday's StrictPolicy.
func StripMarkup(text string) (string, []Finding) {
	fs := ScanMarkup(text)
	if len(fs) == 0 {
		return text, nil
	}
	return stdhtml.UnescapeString(strictMarkupPolicy().Sanitize(text)), fs
}
