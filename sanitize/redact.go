package sanitize

import (
	"hash/maphash"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// Policy says what [Apply] does with each finding.
//
// The zero Policy is [DefaultPolicy]: a policy that allows everything would
// not need Apply, so a forgotten policy fails safe.
type Policy struct {
	// Secrets is the action for findings of kind KindSecret.
	Secrets Action
	// PII is the action for findings of kind KindPII, by type ("email",
	// "phone", "credit_card", ...); types not listed get Default.
	PII map[string]Action
	// Default is the action for every other finding.
	Default Action
}

// DefaultPolicy redacts secrets and personal data.
//
// Secrets are redacted, not pseudonymised: the model never needs a key, and
// a vault that keeps it could restore it into an answer. They are not
// blocked either: the redacted prompt is safe to send and the user keeps
// working; set Secrets to Block to refuse such prompts instead. Personal
// data is redacted; set a type to Pseudonymise to have [Vault.Restore] put
// it back in the answer.
func DefaultPolicy() Policy { return Policy{Secrets: Redact, Default: Redact} }

func (p Policy) isZero() bool { return p.Secrets == Allow && p.PII == nil && p.Default == Allow }

func (p Policy) action(f Finding) Action {
	switch f.Kind {
	case KindSecret:
		return p.Secrets
	case KindPII:
		if a, ok := p.PII[f.Type]; ok {
			return a
		}
	}
	return p.Default
}

// Vault numbers the placeholders of one request and keeps the originals of
// pseudonymised values so that [Vault.Restore] can put them back. The same
// value gets the same placeholder within a vault. Use one vault per request
// and drop it afterwards; it is safe for concurrent use. The zero Vault is
// ready to use.
type Vault struct {
	mu       sync.Mutex
	seed     maphash.Seed
	counts   map[string]int    // label → last number used
	byValue  map[uint64]string // hash of label and value → placeholder
	original map[string]string // placeholder → original (pseudonymised only)
}

// placeholder returns the placeholder for value, numbered per label. The
// original is kept only when keep is set.
func (v *Vault) placeholder(label, value string, keep bool) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.counts == nil {
		v.seed = maphash.MakeSeed()
		v.counts = map[string]int{}
		v.byValue = map[uint64]string{}
		v.original = map[string]string{}
	}
	var h maphash.Hash
	h.SetSeed(v.seed)
	h.WriteString(label)
	h.WriteByte(0)
	h.WriteString(value)
	k := h.Sum64()
	ph, ok := v.byValue[k]
	if !ok {
		v.counts[label]++
		ph = "[" + label + "_" + strconv.Itoa(v.counts[label]) + "]"
		v.byValue[k] = ph
	}
	if keep {
		v.original[ph] = value
	}
	return ph
}

// Restore replaces the placeholders of pseudonymised values in text (an
// answer to a pseudonymised prompt) with their originals. Placeholders of
// redacted values and unknown bracketed text are left as they are.
func (v *Vault) Restore(text string) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	if len(v.original) == 0 || !strings.Contains(text, "[") {
		return text
	}
	var b strings.Builder
	last := 0
	for i := 0; i < len(text); i++ {
		if text[i] != '[' {
			continue
		}
		j := strings.IndexByte(text[i:], ']')
		if j < 0 {
			break
		}
		if orig, ok := v.original[text[i:i+j+1]]; ok {
			b.WriteString(text[last:i])
			b.WriteString(orig)
			last = i + j + 1
			i += j
		}
	}
	if last == 0 {
		return text
	}
	b.WriteString(text[last:])
	return b.String()
}

// label is the placeholder label of a finding type: "email" → "EMAIL".
func label(typ string) string {
	switch typ {
	case "phone", "email", "iban":
		return strings.ToUpper(typ)
	case "credit_card":
		return "CARD"
	case "us_ssn":
		return "SSN"
	case "ip_address":
		return "IP"
	case "":
		return "REDACTED"
	}
	b := []byte(typ)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b)
}

// Apply rewrites text by policy p: each finding whose action is Redact or
// Pseudonymise is replaced by a placeholder such as "[EMAIL_1]" numbered in
// v (the originals of pseudonymised findings are kept in v for
// [Vault.Restore]). If any finding's action is Block, Apply returns "" and
// that finding, and text must not be sent.
//
// Overlapping findings are merged into one replaced span covering all of
// them, labelled by the longest, so that no part of a secret survives.
// Findings out of range are ignored; offsets inside a multi-byte character
// are widened to its boundaries. With a nil v, placeholders are numbered
// per call and Pseudonymise behaves as Redact.
func Apply(text string, findings []Finding, p Policy, v *Vault) (out string, blocked *Finding) {
	if p.isZero() {
		p = DefaultPolicy()
	}
	if v == nil {
		v = new(Vault)
	}
	type span struct {
		start, end int
		f          Finding // the longest finding in the span
		act        Action
	}
	spans := make([]span, 0, len(findings))
	for _, f := range findings {
		if f.Start < 0 || f.End > len(text) || f.Start >= f.End {
			continue
		}
		a := p.action(f)
		if a == Block {
			f := f
			return "", &f
		}
		if a == Allow || a > Block {
			continue
		}
		s, e := f.Start, f.End
		for s > 0 && !utf8.RuneStart(text[s]) {
			s--
		}
		for e < len(text) && !utf8.RuneStart(text[e]) {
			e++
		}
		spans = append(spans, span{s, e, f, a})
	}
	if len(spans) == 0 {
		return text, nil
	}
	slices.SortFunc(spans, func(a, b span) int {
		if a.start != b.start {
			return a.start - b.start
		}
		return b.end - a.end
	})
	merged := spans[:1]
	for _, sp := range spans[1:] {
		m := &merged[len(merged)-1]
		if sp.start >= m.end {
			merged = append(merged, sp)
			continue
		}
		if sp.f.End-sp.f.Start > m.f.End-m.f.Start {
			m.f = sp.f
		}
		m.end = max(m.end, sp.end)
		m.act = max(m.act, sp.act)
	}
	var b strings.Builder
	b.Grow(len(text))
	last := 0
	for _, m := range merged {
		b.WriteString(text[last:m.start])
		b.WriteString(v.placeholder(label(m.f.Type), text[m.start:m.end], m.act == Pseudonymise))
		last = m.end
	}
	b.WriteString(text[last:])
	return b.String(), nil
}
