package sanitize

import (
	"slices"
	"strings"
	"unicode/utf8"
)

// injMaxDepth bounds nested decoding (base64 inside rot13 inside ...).
const injMaxDepth = 2

// Byte classes of the single pass.
const (
	cSkip = iota
	cWord // ASCII letter or digit
	cLT   // '<'
	cLB   // '['
	cRB   // ']'
	cHigh // >= 0x80
)

var injClass = func() (t [256]uint8) {
	for c := range 256 {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
			t[c] = cWord
		case c >= 0x80:
			t[c] = cHigh
		}
	}
	t['<'], t['['], t[']'] = cLT, cLB, cRB
	return t
}()

// injState collects the signals of one text. It lives on the stack.
type injState struct {
	sigs      []Signal
	last      [nRules]float64
	seen      [4]uint64 // lexicon anchors already counted
	rot13Done bool
	cjk       bool // a lead byte of U+3000–U+9FFF
	invis     bool // a code point ScanUnicode may flag
	fold      bool // homoglyphs or invisible characters: score the folded text too
	// What linkSpan remembers from its last call: no URL end byte in
	// text[urlFrom:urlEnd]; the position of the last "](" (0: none) and
	// the nearest '[' or newline before it (-1: none within linkTextMax).
	urlFrom, urlEnd int
	backI, backNear int
	// The vector pass's word masks of the window it is in, when it runs.
	words injWordMasks
}

// fire records a signal of a rule; a rule that fired before counts half
// as much as its previous firing, and stops counting below 0.01.
func (st *injState) fire(rule int, name string, w float64, s, e int) {
	if l := st.last[rule]; l > 0 {
		w = min(w, l/2)
	}
	if w < 0.01 {
		return
	}
	st.last[rule] = w
	st.sigs = append(st.sigs, Signal{Name: name, Weight: w, Start: s, End: e})
}

// lexicon records anchor id's own weight, once per text.
func (st *injState) lexicon(id int, w float64, s, e int) {
	if st.seen[id>>6]&(1<<(id&63)) != 0 {
		return
	}
	st.seen[id>>6] |= 1 << (id & 63)
	st.sigs = append(st.sigs, Signal{Name: SignalJailbreakPersona, Weight: w, Start: s, End: e})
}

func (st *injState) has(name string) bool {
	for _, s := range st.sigs {
		if s.Name == name {
			return true
		}
	}
	return false
}

// signals returns the heuristic signals of text in text order.
func (d *InjectionDetector) signals(text string, depth int) []Signal {
	var st injState
	p := pass{d: d, inj: &st, depth: depth, vec: d.vec}
	p.run(text)
	return d.finish(&st, text, depth, nil, false)
}

// finish runs, after the pass over text, the rules the pass asked for and
// returns the signals in text order. fs are text's [ScanUnicode] findings
// when have is true; otherwise they are computed if needed.
func (d *InjectionDetector) finish(st *injState, text string, depth int, fs []Finding, have bool) []Signal {
	if st.cjk {
		d.cjk(st, text)
	}
	if st.invis {
		d.invisible(st, text, depth, fs, have)
	}
	if st.fold && depth < injMaxDepth {
		d.folded(st, text, depth)
	}
	if len(st.sigs) > 1 {
		slices.SortStableFunc(st.sigs, func(a, b Signal) int { return a.Start - b.Start })
	}
	return st.sigs
}

// The pass over text described on [InjectionDetector] is [pass.run]: it
// splits ASCII words, tests each in a Bloom filter on (first, second, last
// byte, length) and looks up the few survivors; it stops at '<', '[', ']'
// and non-ASCII bytes.

// high notes a non-ASCII code point at text[i] and returns its length.
func (d *InjectionDetector) high(st *injState, text string, i int) int {
	b := text[i]
	if b >= 0xE3 && b <= 0xE9 {
		st.cjk = true
	}
	if special[b] && i+1 < len(text) && candidate(text[i:]) {
		st.invis = true
	}
	r, w := utf8.DecodeRuneInString(text[i:])
	switch {
	case r < 0x370:
		return w
	case injLatinLookalike(r) != 0 || r >= 0x1D00 && r <= 0x1DBF:
		// A Cyrillic or Greek look-alike or a small capital touching a Latin letter.
		if i > 0 && injLetter(text[i-1]) || i+w < len(text) && injLetter(text[i+w]) {
			st.fold = true
			st.fire(rObfHomoglyph, SignalObfuscation, 0.3, i, i+w)
		}
	case r >= 0xFF21 && r <= 0xFF3A || r >= 0xFF41 && r <= 0xFF5A, // full-width letters
		r >= 0x1D400 && r <= 0x1D7FF, // mathematical alphanumerics
		r >= 0x24B6 && r <= 0x24E9:   // circled letters
		if r2, w2 := utf8.DecodeRuneInString(text[i+w:]); r2 == r || r2 >= r-0x40 && r2 <= r+0x40 && w2 == w {
			st.fold = true
			st.fire(rObfHomoglyph, SignalObfuscation, 0.2, i, i+w+w2)
		}
	}
	return w
}

func injLetter(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }

// injLatinLookalike maps Cyrillic and Greek letters that look like Latin
// ones to that Latin letter, or returns 0.
func injLatinLookalike(r rune) byte {
	switch r {
	case 'а', 'α', 'А', 'Α':
		return 'a'
	case 'е', 'ε', 'Е', 'Ε':
		return 'e'
	case 'о', 'ο', 'О', 'Ο', 'σ':
		return 'o'
	case 'р', 'ρ', 'Р', 'Ρ':
		return 'p'
	case 'с', 'С', 'ϲ':
		return 'c'
	case 'у', 'У', 'γ', 'Υ', 'υ':
		return 'y'
	case 'х', 'Х', 'χ', 'Χ':
		return 'x'
	case 'і', 'І', 'ι', 'Ι', 'ӏ':
		return 'i'
	case 'ј', 'Ј':
		return 'j'
	case 'ѕ', 'Ѕ':
		return 's'
	case 'ԁ':
		return 'd'
	case 'в', 'В', 'β', 'Β':
		return 'b'
	case 'к', 'К', 'κ', 'Κ':
		return 'k'
	case 'м', 'М', 'Μ':
		return 'm'
	case 'н', 'Н', 'Η', 'η':
		return 'n'
	case 'т', 'Т', 'τ', 'Τ':
		return 't'
	case 'ν':
		return 'v'
	case 'ԝ', 'ω':
		return 'w'
	case 'ɡ':
		return 'g'
	case 'Ζ':
		return 'z'
	}
	return 0
}

// lt looks at '<': "<|im_start|>", "<<SYS>>", "<tool_result>", "<img src=...>".
func (d *InjectionDetector) lt(st *injState, text string, i int) {
	rest := text[i+1:]
	switch {
	case strings.HasPrefix(rest, "|"):
		k := 1
		for k < len(rest) && k < 32 && (injClass[rest[k]] == cWord || rest[k] == '_' || rest[k] == '-') {
			k++
		}
		if k > 1 && strings.HasPrefix(rest[k:], "|>") {
			w := 0.35
			if containsFold(rest[1:k], "system") {
				w = 0.6
			}
			st.fire(rTemplate, SignalRoleMarker, w, i, i+1+k+2)
		}
	case hasPrefixFold(rest, "<sys>>"), hasPrefixFold(rest, "</sys>>"):
		st.fire(rTemplate, SignalRoleMarker, 0.5, i, i+7)
	case hasPrefixFold(rest, "img"):
		end := min(len(rest), 512)
		if k := strings.IndexByte(rest[:end], '>'); k >= 0 {
			end = k
		}
		tag := rest[:end]
		for _, attr := range []string{"src=\"", "src='"} {
			if k := indexFold(tag, attr); k >= 0 {
				u := tag[k+len(attr):]
				if q := strings.IndexByte(u, attr[4]); q >= 0 {
					u = u[:q]
				}
				d.exfilURL(st, u, true, i, i+1+end)
				return
			}
		}
	default:
		k := 0
		if strings.HasPrefix(rest, "/") {
			k = 1
		}
		s := k
		for k < len(rest) && k < 24 && (injLetter(rest[k]) || rest[k] == '_') {
			k++
		}
		if k < len(rest) && rest[k] == '>' {
			switch strings.ToLower(rest[s:k]) {
			case "tool_result", "tool_output", "tool_response", "function_results", "function_result", "tool_call", "function_call":
				st.fire(rToolResult, SignalRoleMarker, 0.45, i, i+1+k+1)
			}
		}
	}
}

// indexFold returns the index of the lower-case ASCII w in s, ignoring
// case, or -1.
func indexFold(s, w string) int {
	for i := 0; i+len(w) <= len(s); i++ {
		if hasPrefixFold(s[i:], w) {
			return i
		}
	}
	return -1
}

// lb looks at '[': "[INST]", "[/INST]".
func (d *InjectionDetector) lb(st *injState, text string, i int) {
	rest := text[i+1:]
	if hasPrefixFold(rest, "inst]") {
		st.fire(rTemplate, SignalRoleMarker, 0.35, i, i+6)
	} else if hasPrefixFold(rest, "/inst]") {
		st.fire(rTemplate, SignalRoleMarker, 0.35, i, i+7)
	}
}

// link looks at a markdown link or image "[alt](url)" whose "](" is at i.
func (d *InjectionDetector) link(st *injState, text string, i int) {
	u, k, start, img := st.linkSpan(text, i)
	d.exfilURL(st, text[u:k], img, start, min(k+1, len(text)))
}

// Bounds of a markdown link's parts, as link reads them.
const (
	linkURLMax  = 2048 // bytes of URL read after "]("
	linkTextMax = 400  // bytes read back from ']' for its '['
)

// linkSpan returns the parts of the markdown link whose "](" is at i: its
// URL text[u:k], up to the first ')', space, newline or '"' (or
// linkURLMax bytes); where it starts (its '[', or the '!' before it for an
// image, or i when no '[' comes within linkTextMax bytes before i on the
// same line); and whether it is an image. Called in increasing order of
// i, as the pass does, it reads each byte a bounded number of times in
// all: st remembers the stretch before the last URL's end that holds none
// of the URL's end bytes, and the nearest '[' or newline before the last
// i; a text made of "](" and nothing else costs linear time, not
// linkURLMax+linkTextMax bytes for each.
func (st *injState) linkSpan(text string, i int) (u, k, start int, img bool) {
	u = i + 2
	k = u
	if u >= st.urlFrom && u <= st.urlEnd {
		// No end byte in [u, st.urlEnd), and st.urlEnd <= st.urlFrom +
		// linkURLMax <= u + linkURLMax.
		k = st.urlEnd
	}
	for k < len(text) && k-u < linkURLMax && text[k] != ')' && text[k] != ' ' && text[k] != '\n' && text[k] != '"' {
		k++
	}
	st.urlFrom, st.urlEnd = u, k

	// The nearest '[' or newline before i, within linkTextMax bytes: read
	// back to the last i, if it was before this one; what comes before
	// it was read then.
	lo := max(i-linkTextMax+1, 0) // the lowest position read
	near := -1
	for b := i - 1; b >= lo && (st.backI == 0 || b >= st.backI || i <= st.backI); b-- {
		if text[b] == '[' || text[b] == '\n' {
			near = b
			break
		}
	}
	if near < 0 && st.backI > 0 && st.backI < i && st.backNear >= lo {
		near = st.backNear
	}
	st.backI, st.backNear = i, near
	start = i
	if near >= 0 && text[near] == '[' {
		start = near
		if near > 0 && text[near-1] == '!' {
			start, img = near-1, true
		}
	}
	return u, k, start, img
}

// exfilURL fires when url leaves the allowed hosts and carries data.
func (d *InjectionDetector) exfilURL(st *injState, url string, img bool, s, e int) {
	var rest string
	switch {
	case hasPrefixFold(url, "https://"):
		rest = url[8:]
	case hasPrefixFold(url, "http://"):
		rest = url[7:]
	case strings.HasPrefix(url, "//"):
		rest = url[2:]
	default:
		return
	}
	he := strings.IndexAny(rest, "/?#")
	if he < 0 {
		he = len(rest)
	}
	host, tail := rest[:he], rest[he:]
	if at := strings.LastIndexByte(host, '@'); at >= 0 {
		host = host[at+1:]
	}
	if c := strings.IndexByte(host, ':'); c >= 0 {
		host = host[:c]
	}
	if host == "" || d.hostAllowed(host) {
		return
	}
	data := injCarriesData(tail)
	switch {
	case img && data:
		st.fire(rExfil, SignalExfilLink, 0.8, s, e)
	case data:
		st.fire(rExfil, SignalExfilLink, 0.5, s, e)
	case img && strings.IndexByte(tail, '?') >= 0:
		st.fire(rExfil, SignalExfilLink, 0.15, s, e)
	}
}

// injCarriesData reports whether a URL's path and query look like they
// carry data: a template placeholder, a secret-like name, or a long
// encoded value.
func injCarriesData(tail string) bool {
	if strings.ContainsAny(tail, "{}$<>[]") || containsFold(tail, "%7b") || containsFold(tail, "%5b") {
		return true
	}
	q := strings.IndexByte(tail, '?')
	if q < 0 {
		return false
	}
	query := tail[q:]
	for _, w := range []string{"secret", "password", "passwd", "token", "apikey", "api_key", "history", "conversation", "prompt", "session", "cookie", "credential", "ssn=", "memory", "chat="} {
		if containsFold(query, w) {
			return true
		}
	}
	run := 0
	for i := 0; i < len(query); i++ {
		if injB64[query[i]] != 0xFF || query[i] == '%' {
			run++
			if run >= 40 {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// injB64 maps the base64 alphabets (standard and URL) to their values;
// 0xFF marks other bytes, 0xFE padding.
var injB64 = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xFF
	}
	const std = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	for i := range len(std) {
		t[std[i]] = byte(i)
	}
	t['-'], t['_'], t['='] = 62, 63, 0xFE
	return t
}()

func injHexVal(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return c | 0x20 - 'a' + 10
	}
	return 0xFF
}

// encoded looks at the base64 or hex run around the long word text[i:j];
// it returns the end of the run.
func (d *InjectionDetector) encoded(st *injState, text string, i, j, depth int) int {
	s, e := i, j
	for s > 0 && i-s < 4096 && injB64[text[s-1]] < 0xFE {
		s--
	}
	for e < len(text) && injB64[text[e]] != 0xFF {
		e++
	}
	run := text[s:e]
	if len(run) < 20 || depth >= injMaxDepth {
		return e
	}
	var buf [1024]byte
	n := 0
	hex := len(run)%2 == 0
	for k := 0; k < len(run) && hex; k++ {
		hex = injHexVal(run[k]) != 0xFF
	}
	if hex {
		for k := 0; k+1 < len(run) && n < len(buf); k += 2 {
			buf[n] = injHexVal(run[k])<<4 | injHexVal(run[k+1])
			n++
		}
	} else {
		var acc uint32
		bits := 0
		for k := 0; k < len(run) && n < len(buf); k++ {
			v := injB64[run[k]]
			if v >= 0xFE {
				break
			}
			acc = acc<<6 | uint32(v)
			bits += 6
			if bits >= 8 {
				bits -= 8
				buf[n] = byte(acc >> bits)
				n++
			}
		}
	}
	dec := buf[:n]
	if !injTexty(dec) {
		return e
	}
	sub := d.signals(string(dec), depth+1)
	if sc := combine(sub); sc >= 0.3 {
		st.fire(rEncoded, SignalEncodedPayload, min(max(sc, 0.65), 0.95), s, e)
	}
	return e
}

// injTexty reports whether b looks like text: valid UTF-8, almost all
// printable, and with spaces between words.
func injTexty(b []byte) bool {
	if len(b) < 12 || !utf8.Valid(b) {
		return false
	}
	spaces, bad := 0, 0
	for _, c := range b {
		switch {
		case c == ' ':
			spaces++
		case c < 0x20 && c != '\n' && c != '\t' && c != '\r', c == 0x7F:
			bad++
		}
	}
	return spaces >= 2 && bad*20 <= len(b)
}

// rot13 scores the rot13 decoding of the line around text[i].
func (d *InjectionDetector) rot13(st *injState, text string, i, depth int) {
	s := strings.LastIndexByte(text[max(0, i-2000):i], '\n') + 1 + max(0, i-2000)
	if s == max(0, i-2000) && s > 0 {
		for s < i && !utf8.RuneStart(text[s]) {
			s++
		}
	}
	e := len(text)
	if k := strings.IndexByte(text[i:min(len(text), i+2000)], '\n'); k >= 0 {
		e = i + k
	} else if i+2000 < len(text) {
		e = i + 2000
		for e > i && !utf8.RuneStart(text[e]) {
			e--
		}
	}
	dec := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return 'a' + (r-'a'+13)%26
		case r >= 'A' && r <= 'Z':
			return 'A' + (r-'A'+13)%26
		}
		return r
	}, text[s:e])
	if sc := combine(d.signals(dec, depth+1)); sc >= 0.3 {
		st.fire(rEncoded, SignalEncodedPayload, min(max(sc, 0.65), 0.95), s, e)
	}
}

// injCJK: a verb and a noun within a few characters of each other, in
// either order.
var injCJK = []struct {
	verbs, nouns []string
	name         string
	w            float64
}{
	{
		[]string{"忽略", "无视", "無視", "忽视", "忽視", "忘记", "忘記", "忘掉", "不要理会", "不理会", "跳过", "放弃", "绕过"},
		[]string{"指令", "指示", "说明", "規則", "规则", "提示", "设定", "設定", "命令", "要求", "限制", "约束", "指南"},
		SignalOverride, 0.85,
	},
	{
		[]string{"输出", "告诉我", "告訴我", "显示", "顯示", "重复", "重複", "打印", "泄露", "透露", "给我", "給我", "列出"},
		[]string{"系统提示", "系統提示", "提示词", "提示詞", "初始指令", "系统指令", "系統指令", "你的指令", "你的提示", "原始指令"},
		SignalPromptExtraction, 0.7,
	},
}

var injCJKLex = []struct {
	word string
	name string
	w    float64
}{
	{"越狱", SignalJailbreakPersona, 0.4}, {"越獄", SignalJailbreakPersona, 0.4},
	{"开发者模式", SignalJailbreakPersona, 0.35}, {"開發者模式", SignalJailbreakPersona, 0.35},
	{"不受限制", SignalJailbreakPersona, 0.25}, {"没有任何限制", SignalJailbreakPersona, 0.25},
	{"从现在开始", SignalJailbreakPersona, 0.2}, {"系统提示", SignalPromptExtraction, 0.1},
}

// injCJKMaxVerbs bounds the verbs of one injCJK rule; injCJKTries is how
// many occurrences of one verb cjk looks at.
const (
	injCJKMaxVerbs = 16
	injCJKTries    = 4
)

// injCJKWord is a verb of injCJK (grp < len(injCJK)) or a word of
// injCJKLex (grp == len(injCJK)); idx is its index there.
type injCJKWord struct {
	w        string
	grp, idx int
}

// injCJKFirst holds, by first byte, the words of injCJK and injCJKLex;
// every one starts with a byte >= 0xE3.
var injCJKFirst = func() (t [256][]injCJKWord) {
	add := func(w string, grp, idx int) {
		if len(w) < 3 || w[0] < 0xE3 {
			panic("sanitize: bad CJK injection word " + w)
		}
		t[w[0]] = append(t[w[0]], injCJKWord{w, grp, idx})
	}
	for g, r := range injCJK {
		if len(r.verbs) > injCJKMaxVerbs {
			panic("sanitize: too many CJK injection verbs")
		}
		for k, v := range r.verbs {
			add(v, g, k)
		}
	}
	for k, l := range injCJKLex {
		add(l.word, len(injCJK), k)
	}
	return t
}()

// injCJKPairs holds, as bits, the first two bytes of the words of
// injCJKFirst: most CJK characters of a text start none, and cjk goes on
// to the next character after testing the bit.
var injCJKPairs = func() (t bytePairs) {
	for c := range injCJKFirst {
		for _, cw := range injCJKFirst[c] {
			t.add(cw.w[0], cw.w[1])
		}
	}
	return t
}()

// cjk runs the Chinese rules (Japanese shares some of the words). One
// pass finds, for each verb, its first injCJKTries non-overlapping
// occurrences and, for each lexicon word, its first; the rules then fire
// verb by verb, in the order of the tables.
func (d *InjectionDetector) cjk(st *injState, text string) {
	const gap = 24 // bytes: about 8 characters
	var (
		vpos  [2][injCJKMaxVerbs][injCJKTries]int
		vn    [2][injCJKMaxVerbs]int
		vnext [2][injCJKMaxVerbs]int
		lpos  [16]int
	)
	if len(injCJK) != 2 || len(injCJKLex) > len(lpos) {
		panic("sanitize: CJK injection tables do not fit cjk")
	}
	for k := range lpos {
		lpos[k] = -1
	}
	for i := 0; i+2 < len(text); i++ {
		// Skip eight ASCII bytes at a time.
		for i+8 <= len(text) {
			x := uint64(text[i]) | uint64(text[i+1])<<8 | uint64(text[i+2])<<16 | uint64(text[i+3])<<24 |
				uint64(text[i+4])<<32 | uint64(text[i+5])<<40 | uint64(text[i+6])<<48 | uint64(text[i+7])<<56
			if x&swarHigh != 0 {
				break
			}
			i += 8
		}
		if i+2 >= len(text) {
			break
		}
		c := text[i]
		if c < 0xE3 {
			continue
		}
		if !injCJKPairs.has(c, text[i+1]) {
			if text[i+1]&0xC0 == 0x80 && text[i+2]&0xC0 == 0x80 {
				i += 2 // the rest of a three-byte character: no word starts there
			}
			continue
		}
		for _, cw := range injCJKFirst[c] {
			if text[i+1] != cw.w[1] || text[i+2] != cw.w[2] || !strings.HasPrefix(text[i:], cw.w) {
				continue
			}
			if cw.grp == len(injCJK) {
				if lpos[cw.idx] < 0 {
					lpos[cw.idx] = i
				}
			} else if n := vn[cw.grp][cw.idx]; n < injCJKTries && i >= vnext[cw.grp][cw.idx] {
				vpos[cw.grp][cw.idx][n] = i
				vn[cw.grp][cw.idx] = n + 1
				vnext[cw.grp][cw.idx] = i + len(cw.w)
			}
		}
	}
	for g, r := range injCJK {
		for k, v := range r.verbs {
			for _, p := range vpos[g][k][:vn[g][k]] {
				lo, hi := max(0, p-gap), min(len(text), p+len(v)+gap)
				for lo < p && !utf8.RuneStart(text[lo]) {
					lo++
				}
				for hi > p+len(v) && hi < len(text) && !utf8.RuneStart(text[hi]) {
					hi--
				}
				for _, nn := range r.nouns {
					if strings.Contains(text[lo:hi], nn) {
						st.fire(rCJK, r.name, r.w, p, p+len(v))
						break
					}
				}
			}
		}
	}
	for k, l := range injCJKLex {
		if p := lpos[k]; p >= 0 {
			st.fire(rLex, l.name, l.w, p, p+len(l.word))
		}
	}
}

// invisible reports invisible characters that hide or split words, and
// scores the ASCII hidden in tag characters.
func (d *InjectionDetector) invisible(st *injState, text string, depth int, fs []Finding, have bool) {
	tags := false
	each := func(f Finding) bool {
		switch f.Type {
		case TypeTagCharacters:
			tags = true
			st.fire(rObfTags, SignalObfuscation, 0.6, f.Start, f.End)
		case TypeZeroWidth:
			r0 := lastRune(text[:f.Start])
			r1, _ := utf8.DecodeRuneInString(text[f.End:])
			if injWordRune(r0) && injWordRune(r1) {
				st.fold = true
				st.fire(rObfInvisible, SignalObfuscation, 0.35, f.Start, f.End)
			}
		case TypeBidiControl:
			st.fold = true
			st.fire(rObfInvisible, SignalObfuscation, 0.25, f.Start, f.End)
		}
		return true
	}
	if have {
		for _, f := range fs {
			each(f)
		}
	} else {
		scan(text, each)
	}
	if tags && depth < injMaxDepth {
		if hidden := RevealTags(text); hidden != "" {
			if sc := combine(d.signals(hidden, depth+1)); sc >= 0.3 {
				st.fire(rObfTags, SignalObfuscation, min(max(sc, 0.7), 0.95), 0, len(text))
			}
		}
	}
}

// folded scores the text again after Fold and the confusables map and
// adds the signals that only show up there, over the whole text.
func (d *InjectionDetector) folded(st *injState, text string, depth int) {
	f := strings.Map(func(r rune) rune {
		if c := injLatinLookalike(r); c != 0 {
			return rune(c)
		}
		return r
	}, Fold(text))
	if f == text {
		return
	}
	for _, s := range d.signals(f, depth+1) {
		if s.Name != SignalObfuscation && !st.has(s.Name) {
			st.fire(rFolded, s.Name, s.Weight, 0, len(text))
		}
	}
}
