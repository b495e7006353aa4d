package sanitize

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// DenyRule is one user-supplied rule of a [DenyList]: a department's banned
// topics, restricted commands, internal project names. A rule matches when
// any of its keywords or its pattern occurs in a text.
type DenyRule struct {
	// Name identifies the rule in findings (Finding.Type) and audit
	// events; it must be non-empty, lower-case ASCII letters, digits, '_' or
	// '-', because it ends up in logs and error reasons.
	Name string
	// Keywords are matched case-insensitively for ASCII letters (other
	// scripts byte for byte), on word boundaries where the keyword starts or
	// ends with a letter or digit, and with their exact spacing: "drop
	// table" matches "DROP TABLE" but not "drop  table" (use Pattern for
	// flexible forms). A keyword must be at least 2 bytes long.
	Keywords []string
	// Pattern is an optional regular expression (RE2 syntax, so matching
	// is linear in the text) for forms keywords cannot express. A pattern
	// runs over the whole text, so it costs more than keywords; prefer
	// keywords where they suffice.
	Pattern string
}

// ErrDenyRule is returned by [NewDenyList] for a rule it refuses.
var ErrDenyRule = errors.New("sanitize: invalid deny rule")

// DenyList matches a set of [DenyRule] values in one pass over a text: all
// keywords of all rules are compiled into one Aho–Corasick automaton over
// ASCII-lower-cased bytes, and the patterns (if any) run after it. It is
// immutable and safe for concurrent use.
type DenyList struct {
	// next is the automaton's dense transition table: next[s*256+b].
	next []int32
	// out[s] lists the keywords (indexes into kws) that end at state s,
	// including those reached through failure links.
	out [][]int32
	kws []denyKeyword
	res []denyPattern
}

type denyKeyword struct {
	rule     string
	n        int  // length in bytes
	wordHead bool // the keyword starts with a word byte: needs a boundary before
	wordTail bool // the keyword ends with a word byte: needs a boundary after
}

type denyPattern struct {
	rule string
	re   *regexp.Regexp
}

// maxDenyStates bounds the automaton (256 transitions of 4 bytes each per
// state: 64 Ki states are 64 MiB).
const maxDenyStates = 1 << 16

// NewDenyList compiles rules. It refuses a rule without a name, with a name
// that is not lower-case ASCII letters, digits, '_' or '-', with neither
// keywords nor pattern, with a keyword shorter than 2 bytes or not valid
// UTF-8, or with a pattern that does not compile; and a set of keywords
// too large for the automaton (about 60 000 bytes of keywords in all).
func NewDenyList(rules ...DenyRule) (*DenyList, error) {
	d := &DenyList{next: make([]int32, 256), out: make([][]int32, 1)}
	for _, r := range rules {
		if !validRuleName(r.Name) {
			return nil, fmt.Errorf("%w: name %q (want lower-case letters, digits, '_' or '-')", ErrDenyRule, r.Name)
		}
		if len(r.Keywords) == 0 && r.Pattern == "" {
			return nil, fmt.Errorf("%w: rule %q has neither keywords nor pattern", ErrDenyRule, r.Name)
		}
		for _, kw := range r.Keywords {
			if len(kw) < 2 || !utf8.ValidString(kw) {
				return nil, fmt.Errorf("%w: rule %q: keyword of %d bytes (want at least 2 bytes of valid UTF-8)", ErrDenyRule, r.Name, len(kw))
			}
			if err := d.add(r.Name, kw); err != nil {
				return nil, err
			}
		}
		if r.Pattern != "" {
			re, err := regexp.Compile(r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%w: rule %q: pattern: %w", ErrDenyRule, r.Name, err)
			}
			d.res = append(d.res, denyPattern{rule: r.Name, re: re})
		}
	}
	d.link()
	return d, nil
}

func validRuleName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// add inserts keyword kw of rule into the trie (transitions 0 = none yet;
// state 0 is the root, so no transition ever targets it before link).
func (d *DenyList) add(rule, kw string) error {
	s := int32(0)
	for i := 0; i < len(kw); i++ {
		b := lowerASCII(kw[i])
		t := d.next[int(s)*256+int(b)]
		if t == 0 {
			if len(d.out) >= maxDenyStates {
				return fmt.Errorf("%w: keywords too large for one automaton", ErrDenyRule)
			}
			t = int32(len(d.out))
			d.out = append(d.out, nil)
			d.next = append(d.next, make([]int32, 256)...)
			d.next[int(s)*256+int(b)] = t
		}
		s = t
	}
	d.out[s] = append(d.out[s], int32(len(d.kws)))
	d.kws = append(d.kws, denyKeyword{rule: rule, n: len(kw), wordHead: isWordByte(kw[0]), wordTail: isWordByte(kw[len(kw)-1])})
	return nil
}

// link computes failure links breadth first and turns the trie into a
// dense automaton: every missing transition points where the failure link's
// transition points.
func (d *DenyList) link() {
	fail := make([]int32, len(d.out))
	queue := make([]int32, 0, len(d.out))
	for b := 0; b < 256; b++ {
		if t := d.next[b]; t != 0 {
			queue = append(queue, t)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		if len(d.out[fail[s]]) > 0 {
			d.out[s] = append(d.out[s], d.out[fail[s]]...)
		}
		for b := 0; b < 256; b++ {
			t := d.next[int(s)*256+b]
			f := d.next[int(fail[s])*256+b]
			if t == 0 {
				d.next[int(s)*256+b] = f
				continue
			}
			fail[t] = f
			queue = append(queue, t)
		}
	}
}

// isWordByte reports whether c is an ASCII letter, digit or '_': the bytes
// a keyword's word boundary is about. Keywords in scripts written without
// spaces (Chinese, Japanese) start and end with other bytes and so match
// inside words.
func isWordByte(c byte) bool { return isAlnum(c) || c == '_' }

// Scan returns one [Finding] of kind [KindDeny] per match, typed with the
// rule's name, ordered by offset; overlapping matches of the same rule are
// reported once. It allocates nothing when nothing matches and no rule has
// a pattern.
func (d *DenyList) Scan(text string) []Finding {
	if d == nil {
		return nil
	}
	var out []Finding
	if len(d.kws) > 0 {
		s := int32(0)
		next := d.next
		for i := 0; i < len(text); i++ {
			s = next[int(s)*256+int(lowerASCII(text[i]))]
			if s == 0 {
				continue
			}
			for _, k := range d.out[s] {
				kw := &d.kws[k]
				start, end := i+1-kw.n, i+1
				if kw.wordHead && start > 0 && isWordByte(text[start-1]) {
					continue
				}
				if kw.wordTail && end < len(text) && isWordByte(text[end]) {
					continue
				}
				out = appendDeny(out, Finding{Kind: KindDeny, Type: kw.rule, Start: start, End: end})
			}
		}
	}
	for _, p := range d.res {
		for _, m := range p.re.FindAllStringIndex(text, -1) {
			if m[1] > m[0] {
				out = appendDeny(out, Finding{Kind: KindDeny, Type: p.rule, Start: m[0], End: m[1]})
			}
		}
	}
	if len(out) > 1 { // keywords are found in the order they end
		slices.SortStableFunc(out, compareFindings)
	}
	return out
}

// appendDeny appends f unless it overlaps the last finding of the same rule.
func appendDeny(out []Finding, f Finding) []Finding {
	for j := len(out) - 1; j >= 0 && out[j].End > f.Start; j-- {
		if out[j].Type == f.Type {
			if f.End > out[j].End {
				out[j].End = f.End
			}
			if f.Start < out[j].Start {
				out[j].Start = f.Start
			}
			return out
		}
	}
	return append(out, f)
}

// Rules returns the names of the rules, each once: those with keywords
// first, in the order given, then those with only a pattern.
func (d *DenyList) Rules() []string {
	if d == nil {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	for _, k := range d.kws {
		if !seen[k.rule] {
			seen[k.rule] = true
			names = append(names, k.rule)
		}
	}
	for _, p := range d.res {
		if !seen[p.rule] {
			seen[p.rule] = true
			names = append(names, p.rule)
		}
	}
	return names
}

// String describes the list without its keywords (which may themselves be
// confidential, such as project code names).
func (d *DenyList) String() string {
	if d == nil {
		return "deny rules (none)"
	}
	return "deny rules (" + strings.Join(d.Rules(), ", ") + ")"
}
