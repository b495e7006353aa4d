package secureai

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/secureai-go/secureai/sanitize"
)

// The built-in checks of stage 5 run in this order, before the checks of
// WithInputChecks: secrets and personal data (redaction), prompt-injection
// heuristics, deny rules, then spotlighting of untrusted content (last,
// because it transforms the text the others read). Each can be turned off
// on its own with [WithoutInputCheck]; Without(StageInput) turns off all of
// them and the user checks.

// The names of the built-in input checks, for [WithoutInputCheck] and as
// the Check of their refusals.
const (
	CheckRedaction = "redaction" // secrets and personal data: WithRedaction
	CheckInjection = "injection" // prompt-injection heuristics: WithInjectionCheck
	CheckSpotlight = "spotlight" // spotlighting of untrusted content: WithSpotlighting
)

// WithoutInputCheck turns off built-in input checks by name
// ([CheckRedaction], [CheckInjection], [CheckSpotlight]) so that a review
// sees the choice; [Client.Controls] reports what stays on. An unknown name
// is refused. Turning off CheckRedaction also turns off its output side
// (secrets redacted in answers, pseudonyms restored).
func WithoutInputCheck(names ...string) Option {
	return func(c *config) error {
		for _, n := range names {
			switch n {
			case CheckRedaction, CheckInjection, CheckSpotlight:
				if c.inputOff == nil {
					c.inputOff = map[string]bool{}
				}
				c.inputOff[n] = true
			default:
				return fmt.Errorf("secureai: WithoutInputCheck: unknown check %q", n)
			}
		}
		return nil
	}
}

// WithDenyRules adds user-supplied deny rules (a department's banned
// topics, restricted commands, confidential project names) to stage 5:
// every text field of the request is matched in one pass, and a match
// refuses the call with ErrInputRejected, Check "deny" and Reason
// "deny_<rule>". The keywords are never logged; audit events carry the
// rule names and counts.
func WithDenyRules(rules ...sanitize.DenyRule) Option {
	return func(c *config) error {
		d, err := sanitize.NewDenyList(rules...)
		if err != nil {
			return fmt.Errorf("secureai: WithDenyRules: %w", err)
		}
		c.deny = d
		return nil
	}
}

// SpotlightPolicy says how stage 5 spotlights untrusted content (Hines et
// al. 2024): the parts of messages marked with [sanitize.Untrusted], and
// tool and function results, which are untrusted by default.
type SpotlightPolicy struct {
	// Mode is the transformation: delimiters with a random per-call tag
	// (the default), datamarking (every space replaced by a marker), or
	// base64 encoding.
	Mode sanitize.SpotlightMode
	// TrustToolResults leaves tool and function results as they are.
	// Default false: they are spotlighted like marked content, since a tool
	// that fetched a web page or an e-mail returns someone else's text.
	TrustToolResults bool
}

// WithSpotlighting sets how untrusted content is spotlighted. Default: on,
// with delimiters, for marked content and tool results. The matching
// instruction is appended to the system (or developer) message, or to the
// Responses instructions; a request without either gets the instruction
// in front of its first spotlighted text.
func WithSpotlighting(p SpotlightPolicy) Option {
	return func(c *config) error {
		switch p.Mode {
		case sanitize.SpotlightDelimit, sanitize.SpotlightDatamark, sanitize.SpotlightEncode:
		default:
			return fmt.Errorf("secureai: WithSpotlighting: unknown mode %d", p.Mode)
		}
		c.spotlight = &p
		return nil
	}
}

// WithMarkupStripping removes HTML and script markup from the texts a user
// or a tool supplied (user messages, tool results, marked content) before
// they are sent ([sanitize.StripMarkup], bluemonday's strict policy): tags
// and comments go, script and style elements go with their content, and
// character references are decoded. What was removed goes to the audit
// event (kind "injection", types "markup_*").
//
// Default: off, because questions about code contain markup legitimately
// ("why does my <div> collapse?" loses its point). Turn it on for
// applications whose users paste web content that is never about markup.
func WithMarkupStripping() Option {
	return func(c *config) error {
		c.stripMarkup = true
		return nil
	}
}

// markupStripper is the check of WithMarkupStripping.
type markupStripper struct{}

func (markupStripper) String() string { return "markup stripping (bluemonday strict)" }

func (markupStripper) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		f := &in.Fields[i]
		if !scored(f) || strings.IndexByte(f.Text, '<') < 0 {
			continue
		}
		text, fs := sanitize.StripMarkup(f.Text)
		if len(fs) > 0 {
			slices.SortStableFunc(fs, func(a, b sanitize.Finding) int { return strings.Compare(a.Type, b.Type) })
			reportFindings(call, fs)
			f.Text = text
		}
	}
	return nil
}

// builtinInputChecks returns the built-in checks of stage 5 that cfg leaves
// on, in their order.
func builtinInputChecks(cfg *config) ([]InputChecker, error) {
	var out []InputChecker
	if cfg.prompts != nil && cfg.prompts.require {
		out = append(out, cfg.prompts)
	}
	if cfg.stripMarkup { // first: the other checks see the text as the model will
		out = append(out, markupStripper{})
	}
	if !cfg.inputOff[CheckRedaction] {
		p := sanitize.DefaultPolicy()
		if cfg.redaction != nil {
			p = *cfg.redaction
		}
		out = append(out, &redactor{p: p, s: cfg.scan})
	}
	if !cfg.inputOff[CheckInjection] {
		ic, err := newInjectionCheck(cfg.injection, cfg.scan)
		if err != nil {
			return nil, err
		}
		out = append(out, ic)
	}
	if cfg.deny != nil {
		out = append(out, denyCheck{cfg.deny})
	}
	if !cfg.inputOff[CheckSpotlight] {
		p := SpotlightPolicy{}
		if cfg.spotlight != nil {
			p = *cfg.spotlight
		}
		out = append(out, spotlighter{p})
	}
	if cfg.leak != nil {
		cc, err := newCanaryCheck(*cfg.leak)
		if err != nil {
			return nil, err
		}
		out = append(out, cc)
	}
	return out, nil
}

// denyCheck refuses a request in which a deny rule matches.
type denyCheck struct{ d *sanitize.DenyList }

func (d denyCheck) String() string { return d.d.String() }

func (d denyCheck) CheckInput(_ context.Context, call *Call, in *Input) error {
	for i := range in.Fields {
		if fs := d.d.Scan(in.Fields[i].Text); len(fs) > 0 {
			reportFindings(call, fs)
			return refuse(ErrInputRejected, StageInput, "deny", "deny_"+fs[0].Type)
		}
	}
	return nil
}

// spotlighter rewrites untrusted content per its policy.
type spotlighter struct{ p SpotlightPolicy }

func (s spotlighter) String() string {
	what := "marked content and tool results"
	if s.p.TrustToolResults {
		what = "marked content"
	}
	return "spotlighting (" + s.p.Mode.String() + ": " + what + ")"
}

// isToolResult reports whether f is the output of a tool or function: a
// chat message of role "tool" or "function", or a Responses
// function_call_output item's output.
func isToolResult(f *TextField) bool {
	return f.Role == "tool" || f.Role == "function" ||
		f.Role == "" && strings.HasSuffix(f.Path, ".output") && strings.HasPrefix(f.Path, "input[")
}

func (s spotlighter) CheckInput(_ context.Context, call *Call, in *Input) error {
	marker := ""
	first := -1
	for i := range in.Fields {
		f := &in.Fields[i]
		tool := !s.p.TrustToolResults && isToolResult(f)
		marked := hasEnvelope(f.Text)
		if !tool && !marked {
			continue
		}
		if marker == "" {
			marker = spotlightMarker(s.p.Mode)
		}
		if tool {
			f.Text = sanitize.Spotlight(sanitize.SpotlightUntrusted(f.Text, s.p.Mode, marker), s.p.Mode, marker)
		} else {
			f.Text = sanitize.SpotlightUntrusted(f.Text, s.p.Mode, marker)
		}
		if first < 0 {
			first = i
		}
		call.AddFinding(Finding{Kind: "untrusted", Type: "spotlighted_" + s.p.Mode.String(), Count: 1})
	}
	if first < 0 {
		return nil
	}
	instr := sanitize.SpotlightInstruction(s.p.Mode, marker)
	for i := range in.Fields {
		f := &in.Fields[i]
		if isSystemPrompt(f) {
			f.Text += "\n\n" + instr
			return nil
		}
	}
	in.Fields[first].Text = instr + "\n\n" + in.Fields[first].Text
	return nil
}

// spotlightMarker returns the marker for one call: a fresh random tag for
// delimiters (content cannot guess it to close the block early), the
// default datamark otherwise.
func spotlightMarker(m sanitize.SpotlightMode) string {
	if m == sanitize.SpotlightDelimit {
		return sanitize.NewSpotlightMarker()
	}
	return ""
}

// errInjectionSetup wraps the detector's refusal of the options.
var errInjectionSetup = errors.New("secureai: WithInjectionCheck")
