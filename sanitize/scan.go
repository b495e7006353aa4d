package sanitize

import "slices"

// Scanner finds things in a text. Scan must be safe for concurrent use, must
// not retain text, and must return findings whose offsets lie on rune
// boundaries within text.
type Scanner interface {
	Scan(text string) []Finding
}

// ScannerFunc adapts a function to a [Scanner].
type ScannerFunc func(text string) []Finding

// Scan returns f(text).
func (f ScannerFunc) Scan(text string) []Finding { return f(text) }

// MultiScanner runs several scanners over the same text.
type MultiScanner []Scanner

// NewScanner returns a scanner for secrets ([ScanSecrets], our rules with
// checksums, and [ScanKeyRules], gitleaks' rule set run around its
// keywords) and personal data ([ScanPII]), followed by the extra scanners
// (invisible Unicode, prompt injection, deny rules).
func NewScanner(extra ...Scanner) MultiScanner {
	return append(MultiScanner{ScannerFunc(ScanSecrets), ScannerFunc(ScanKeyRules), ScannerFunc(ScanPII)}, extra...)
}

// Scan returns the findings of every scanner, sorted by start offset, then
// longest first, then kind and type, so that the order is stable for the
// same text. Findings of different scanners may overlap; [Apply] merges them.
func (m MultiScanner) Scan(text string) []Finding {
	var out []Finding
	for _, s := range m {
		out = append(out, s.Scan(text)...)
	}
	slices.SortStableFunc(out, compareFindings)
	return out
}

// SortFindings sorts findings in the order [MultiScanner.Scan] returns
// them: by start offset, then longest first, then kind and type, so that
// the order is stable for the same text.
func SortFindings(fs []Finding) { slices.SortStableFunc(fs, compareFindings) }

func compareFindings(a, b Finding) int {
	switch {
	case a.Start != b.Start:
		return a.Start - b.Start
	case a.End != b.End:
		return b.End - a.End
	case a.Kind != b.Kind:
		if a.Kind < b.Kind {
			return -1
		}
		return 1
	case a.Type < b.Type:
		return -1
	case a.Type > b.Type:
		return 1
	}
	return 0
}
