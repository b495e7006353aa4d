package secureai

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"strings"

	"github.com/secureai-go/secureai/sanitize"
)

// WithSystemPrompts loads system prompts as pinned artefacts: each name in
// pins is read from fsys (an embed.FS, os.DirFS, ...) and its SHA-256 must
// equal the pin (hex, optionally "sha256:"-prefixed), so that a prompt
// changed without a new pin is refused when the client is built, as is a
// prompt that holds a secret, a connection string with credentials or an
// internal address (see [sanitize.LoadSystemPrompt]). [Client.SystemPrompt]
// returns a loaded prompt by name.
//
// With require, every chat and Responses request must carry one of the
// loaded prompts, unchanged, as its system or developer message (or
// instructions); any other system prompt is refused with ErrPolicy, Check
// "system_prompt", Reason "system_prompt_not_pinned". Without it the
// prompts are only loaded and checked.
func WithSystemPrompts(fsys fs.FS, pins map[string]string, require bool) Option {
	return func(c *config) error {
		if fsys == nil || len(pins) == 0 {
			return errors.New("secureai: WithSystemPrompts: no file system or no pins")
		}
		loaded := make(map[string]sanitize.SystemPrompt, len(pins))
		var errs []error
		for _, name := range slices.Sorted(maps.Keys(pins)) {
			p, err := sanitize.LoadSystemPrompt(fsys, name, pins[name])
			if err != nil {
				errs = append(errs, err)
				continue
			}
			loaded[name] = p
		}
		if err := errors.Join(errs...); err != nil {
			return fmt.Errorf("secureai: WithSystemPrompts: %w", err)
		}
		c.prompts = &pinnedPrompts{byName: loaded, require: require, texts: map[string]string{}}
		for name, p := range loaded {
			c.prompts.texts[p.Text] = name
		}
		return nil
	}
}

// pinnedPrompts are the loaded system prompts.
type pinnedPrompts struct {
	byName  map[string]sanitize.SystemPrompt
	texts   map[string]string // prompt text → name
	require bool
}

// SystemPrompt returns the text of the system prompt loaded under name by
// [WithSystemPrompts], and false when there is none.
func (c *Client) SystemPrompt(name string) (string, bool) {
	if c.cfg.prompts == nil {
		return "", false
	}
	p, ok := c.cfg.prompts.byName[name]
	return p.Text, ok
}

func (p *pinnedPrompts) String() string {
	return fmt.Sprintf("pinned system prompts (%d, required)", len(p.byName))
}

// CheckInput refuses a request whose system prompt is not a pinned one. It
// runs first in stage 5, before any check rewrites the system prompt.
func (p *pinnedPrompts) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		f := &in.Fields[i]
		if f.Role != "system" && f.Role != "developer" || strings.HasSuffix(f.Path, ".name") {
			continue
		}
		name, ok := p.texts[f.Text]
		if !ok {
			return refuse(ErrPolicy, StageInput, "system_prompt", "system_prompt_not_pinned")
		}
		call.AddFinding(Finding{Kind: "system_prompt", Type: "pinned_" + name, Count: 1})
	}
	return nil
}
