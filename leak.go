package secureai

import (
	"context"
	"fmt"
	"strings"

	"github.com/secureai-go/secureai/sanitize"
)

// LeakPolicy configures the system-prompt leak guard.
type LeakPolicy struct {
	// MinRun is the shortest verbatim run of the system prompt (in bytes,
	// after whitespace and ASCII case are folded) that counts as a leak.
	// Default 64; at least 16.
	MinRun int
}

// WithLeakGuard guards the system prompt: stage 5 appends a random canary
// to the end of the system (or developer) message, or to the Responses
// instructions, so that the prompt's cacheable prefix is unchanged; stage
// 10 refuses an answer that contains the canary or a verbatim run of at
// least MinRun bytes of the system prompt with ErrOutputBlocked, Check and
// Reason "system_prompt_leak". Streams hold back enough text that a
// canary split across chunks is caught before its first byte is released.
// A request without a system prompt has nothing to guard.
func WithLeakGuard(p LeakPolicy) Option {
	return func(c *config) error {
		if p.MinRun == 0 {
			p.MinRun = 64
		}
		if p.MinRun < 16 {
			return fmt.Errorf("secureai: WithLeakGuard: MinRun %d (want at least 16)", p.MinRun)
		}
		c.leak = &p
		return nil
	}
}

type leakKey struct{}

// canaryCheck is the input half of the leak guard: the last check of
// stage 5, so that the canary ends the system prompt as sent. The canary is
// drawn once per client, not per call: a system prompt that is the same
// from call to call stays the same with its canary, so the provider's
// prompt cache still covers it and the conversation after it.
type canaryCheck struct {
	p      LeakPolicy
	canary string
}

func newCanaryCheck(p LeakPolicy) (canaryCheck, error) {
	c, err := sanitize.NewCanary()
	if err != nil {
		return canaryCheck{}, fmt.Errorf("secureai: WithLeakGuard: %w", err)
	}
	return canaryCheck{p: p, canary: c}, nil
}

func (c canaryCheck) String() string {
	return fmt.Sprintf("system-prompt canary (verbatim run %d bytes)", c.p.MinRun)
}

func (c canaryCheck) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		f := &in.Fields[i]
		if !isSystemPrompt(f) {
			continue
		}
		d, err := sanitize.NewLeakDetector(f.Text, []string{c.canary}, c.p.MinRun)
		if err != nil {
			return err
		}
		call.Set(leakKey{}, d)
		f.Text = sanitize.AppendCanary(f.Text, c.canary)
		return nil
	}
	return nil
}

// isSystemPrompt reports whether f is the text of a system or developer
// message, or the Responses instructions.
func isSystemPrompt(f *TextField) bool {
	return (f.Role == "system" || f.Role == "developer") &&
		(f.Path == "instructions" || strings.HasSuffix(f.Path, ".content"))
}
