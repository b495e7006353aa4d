// Package sanitize is text hygiene for LLM inputs and outputs: it finds
// invisible or smuggled Unicode, secrets and personal data in text and
// redacts, pseudonymises or blocks them.
//
// Scanners report [Finding] values: a kind, a type and byte offsets into
// the text, never the matched text itself, so that findings can be logged
// and audited. The package does not import secureai; secureai adapts its
// scanners to its input and output stages.
package sanitize
