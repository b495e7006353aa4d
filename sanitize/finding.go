package sanitize

// Kind is the class of a [Finding].
type Kind string

// The kinds of findings.
const (
	KindInvisible Kind = "invisible" // invisible, tag or bidi-control characters
	KindSecret    Kind = "secret"    // API keys, tokens, private keys, passwords
	KindPII       Kind = "pii"       // e-mail addresses, phone numbers, card numbers, ...
	KindInjection Kind = "injection" // prompt-injection signals
	KindDeny      Kind = "deny"      // a user-supplied deny rule
)

// Finding is one thing a scanner found in a text: its kind, a short type
// ("aws_access_key_id", "email", "tag_characters") and the byte range
// [Start, End) it covers, on rune boundaries. It never holds the text.
type Finding struct {
	Kind  Kind
	Type  string
	Start int
	End   int
}

// Action is what a policy does with a finding.
type Action int

// The actions, from the loosest to the strictest.
const (
	// Allow leaves the text as it is (the finding is still reported).
	Allow Action = iota
	// Redact replaces the match with a placeholder such as "[EMAIL_1]".
	Redact
	// Pseudonymise replaces the match with a placeholder and keeps the
	// original in a per-request vault, so that the answer can be restored.
	Pseudonymise
	// Block refuses the text.
	Block
)

// String returns the action's name.
func (a Action) String() string {
	switch a {
	case Allow:
		return "allow"
	case Redact:
		return "redact"
	case Pseudonymise:
		return "pseudonymise"
	case Block:
		return "block"
	}
	return "unknown"
}
