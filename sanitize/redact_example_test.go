package sanitize_test

import (
	"fmt"

	"github.com/secureai-go/secureai/sanitize"
)

func ExampleApply() {
	prompt := "Write to ann@example.com, call +1 415 555 0132, key sk_live_testFAKEtestFAKEtestFAKE."
	policy := sanitize.Policy{
		Secrets: sanitize.Redact,
		PII:     map[string]sanitize.Action{"email": sanitize.Pseudonymise},
		Default: sanitize.Redact,
	}
	var vault sanitize.Vault // one per request
	out, blocked := sanitize.Apply(prompt, sanitize.NewScanner().Scan(prompt), policy, &vault)
	fmt.Println(out, blocked == nil)

	answer := "Done: I e-mailed [EMAIL_1] and did not call [PHONE_1]."
	fmt.Println(vault.Restore(answer))
	// Output:
	// Write to [EMAIL_1], call [PHONE_1], key [STRIPE_API_KEY_1]. true
	// Done: I e-mailed ann@example.com and did not call [PHONE_1].
}
