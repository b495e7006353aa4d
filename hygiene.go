package secureai

import (
	"context"

	"github.com/secureai-go/secureai/sanitize"
)

// WithUnicodeHygiene sets the invisible-Unicode rules of stage 4: Unicode
// tag characters (the "ASCII smuggling" channel), zero-width characters,
// bidi overrides and isolates, and stray control characters are stripped or
// refused per p, while emoji ZWJ sequences, joiners in scripts that need
// them and RTL text with its direction marks stay intact. A refusal is
// ErrInputRejected with the rule in Reason (e.g.
// "invisible_tag_characters"); what was found goes to the audit event as
// kinds and counts.
//
// Default: on, with [sanitize.DefaultUnicodePolicy] (tag characters
// refused, the others stripped). Without(StageHygiene) turns it off.
func WithUnicodeHygiene(p sanitize.UnicodePolicy) Option {
	return func(c *config) error {
		c.unicode = &p
		return nil
	}
}

// unicodeHygiene is the built-in hygiene check; it runs before the checks
// of WithInputHygiene.
type unicodeHygiene struct{ p sanitize.UnicodePolicy }

func (u unicodeHygiene) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		cleaned, findings, err := sanitize.CleanUnicode(in.Fields[i].Text, u.p)
		reportFindings(call, findings)
		if err != nil {
			return err // *sanitize.UnicodeError: Code() becomes the Reason
		}
		in.Fields[i].Text = cleaned
	}
	return nil
}

// reportFindings adds findings to the call's audit record, counted by kind
// and type.
func reportFindings(call *Call, findings []sanitize.Finding) {
	for i := 0; i < len(findings); {
		j := i + 1
		for j < len(findings) && findings[j].Kind == findings[i].Kind && findings[j].Type == findings[i].Type {
			j++
		}
		call.AddFinding(Finding{Kind: string(findings[i].Kind), Type: findings[i].Type, Count: j - i})
		i = j
	}
}
