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
type unicodeHygiene struct {
	p sanitize.UnicodePolicy
	s *sharedScan // reads the texts for the input checks too
}

// String describes the check for Client.Controls.
func (u unicodeHygiene) String() string {
	act := func(a sanitize.Action) string {
		if a == sanitize.Redact || a == sanitize.Pseudonymise {
			return "strip" // for invisible characters, redacting is removing
		}
		return a.String()
	}
	return "invisible Unicode (tags " + act(u.p.Tags) + ", zero-width " + act(u.p.ZeroWidth) +
		", bidi " + act(u.p.Bidi) + ", controls " + act(u.p.Controls) + ")"
}

func (u unicodeHygiene) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		f := &in.Fields[i]
		if u.s != nil && len(u.s.field(call, i, f.Text, scored(f)).Invisible) == 0 {
			continue // no invisible character: CleanUnicode would find nothing and change nothing
		}
		cleaned, findings, err := sanitize.CleanUnicode(f.Text, u.p)
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

// WithRedaction sets the policy of the secrets and personal-data check of
// stage 5 and its output side in stage 10. Each text field of the request
// is scanned ([sanitize.NewScanner]: provider keys and tokens with their
// checksums, private keys, passwords in URLs, e-mails, phone numbers,
// payment cards, IBANs, US SSNs, IP addresses) and each finding is allowed,
// redacted ("[EMAIL_1]"), pseudonymised (kept in a per-call vault) or
// refused per p. The answer gets the pseudonyms restored and any secret in
// it redacted. Findings go to the audit event as kinds and counts.
//
// Background: redaction changes what the model sees; pseudonymisation
// lets the answer name the original value again without the provider ever
// seeing it. A refusal is ErrInputRejected with Reason
// "<kind>_<type>", e.g. "secret_aws_access_key_id".
//
// Default: on, with [sanitize.DefaultPolicy] (secrets and personal data
// redacted). WithoutInputCheck(CheckRedaction) turns it off, both ways.
func WithRedaction(p sanitize.Policy) Option {
	return func(c *config) error {
		c.redaction = &p
		return nil
	}
}

// redactor is the secrets and personal-data check. Its findings are those
// of [sanitize.NewScanner], read from the shared scan.
type redactor struct {
	p sanitize.Policy
	s *sharedScan
}

type vaultKey struct{}

// String describes the check for Client.Controls.
func (r *redactor) String() string { return "secrets and PII (sanitize: redact/pseudonymise/block)" }

func (r *redactor) CheckInput(_ context.Context, call *Call, in *Input) error {
	var v *sanitize.Vault
	for i := range in.Fields {
		f := &in.Fields[i]
		findings := r.s.redactionFindings(call, i, f.Text, scored(f))
		if len(findings) == 0 {
			continue
		}
		reportFindings(call, findings)
		if v == nil {
			v = &sanitize.Vault{}
		}
		out, blocked := sanitize.Apply(in.Fields[i].Text, findings, r.p, v)
		if blocked != nil {
			return refuse(ErrInputRejected, StageInput, "redaction", string(blocked.Kind)+"_"+blocked.Type)
		}
		in.Fields[i].Text = out
	}
	if v != nil {
		call.Set(vaultKey{}, v)
	}
	return nil
}

// outputPolicy redacts secrets in answers and leaves personal data alone
// (the answer may quote what the user sent, restored from the vault).
var outputPolicy = sanitize.Policy{Secrets: sanitize.Redact, Default: sanitize.Allow}

func (r *redactor) CheckOutput(_ context.Context, call *Call, out *Output) error {
	v, _ := call.Value(vaultKey{}).(*sanitize.Vault)
	for i := range out.Fields {
		text := out.Fields[i].Text
		if findings := sanitize.ScanSecrets(text); len(findings) > 0 {
			reportFindings(call, findings)
			text, _ = sanitize.Apply(text, findings, outputPolicy, nil)
		}
		if v != nil {
			text = v.Restore(text)
		}
		out.Fields[i].Text = text
	}
	return nil
}
