package secureai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/moderation"
)

// ModerationMode says when the moderation pre-check runs.
type ModerationMode int

// The moderation modes.
const (
	// ModerateSequential checks the input first and sends the completion
	// only if it passes: the safest, and the slowest (two round trips).
	ModerateSequential ModerationMode = iota
	// ModerateParallel sends the moderation check and the completion at
	// once. A flagged input discards the completion (its tokens are
	// charged to the budget as used); a stream releases nothing before the
	// verdict.
	ModerateParallel
)

// ModerationPolicy configures the built-in moderation pre-check.
type ModerationPolicy struct {
	// Options configure the checker: model (default
	// omni-moderation-latest), per-category thresholds, local rules, fail
	// policy (fail-closed by default) and timeout. HTTPClient and BaseURL
	// are left empty: the client fills them with its own transport (the
	// same key, egress rules, TLS and retries) and base URL, so the check
	// never goes through the pipeline again.
	Options moderation.Options
	// Mode is sequential (the default) or parallel.
	Mode ModerationMode
	// Output also checks the answer with the same thresholds; a flagged
	// answer is refused with ErrModerationFlagged at stage 10. On streams
	// this holds each answer back until its end.
	Output bool
}

// WithModeration fills stage 8 with the moderation pre-check on the input
// as it will be sent (after redaction): the user-supplied texts (user
// messages, tool results, untrusted content) and the images of chat
// messages, through the OpenAI moderation endpoint. A flagged input is
// refused with ErrModerationFlagged, whose Categories name the categories
// or local rules that decided (never the text). When the endpoint fails,
// fail-closed (the default) refuses with ErrUpstream, Check "moderation",
// Reason "moderation_unavailable"; fail-open lets the call through and
// records "moderation_unavailable_fail_open" in the audit event.
//
// It is opt-in: it costs a second upstream call. Azure OpenAI has no
// moderation endpoint, so it is refused with WithAzure.
func WithModeration(p ModerationPolicy) Option {
	return func(c *config) error {
		if p.Options.HTTPClient != nil || p.Options.BaseURL != "" {
			return errors.New("secureai: WithModeration: leave HTTPClient and BaseURL empty; the client uses its own")
		}
		if p.Mode != ModerateSequential && p.Mode != ModerateParallel {
			return fmt.Errorf("secureai: WithModeration: unknown mode %d", p.Mode)
		}
		c.moderation = &p
		c.slots[StageModeration] = slotSet
		return nil
	}
}

// moderationCheck runs a moderation.Checker for the pipeline, as the
// Moderator of stage 8 (sequential), as the parallel check, and as an
// output check.
type moderationCheck struct {
	m    *moderation.Checker
	mode ModerationMode
}

// newModerationCheck builds the checker on the client's own transport.
func newModerationCheck(p *ModerationPolicy, h *httpLayer, baseURL string) (*moderationCheck, error) {
	opts := p.Options
	opts.HTTPClient = &http.Client{
		Transport: h, // RoundTrip: a clone per attempt
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // the HTTP layer already decides on redirects
		},
	}
	opts.BaseURL = strings.TrimRight(baseURL, "/")
	m, err := moderation.New(opts)
	if err != nil {
		return nil, fmt.Errorf("secureai: WithModeration: %w", err)
	}
	return &moderationCheck{m: m, mode: p.Mode}, nil
}

func (mc *moderationCheck) checkName() string { return "moderation" }

func (mc *moderationCheck) String() string {
	mode := "sequential"
	if mc.mode == ModerateParallel {
		mode = "parallel"
	}
	return "moderation (" + mc.m.Model() + ", " + mode + ")"
}

type imagesKey struct{}

// Moderate is the sequential pre-check of stage 8.
func (mc *moderationCheck) Moderate(ctx context.Context, call *Call, in *Input) error {
	return mc.check(ctx, call, moderationInput(call, in.Fields, true))
}

// moderationInput collects what the check reads: for inputs, the texts a
// user or a tool supplied and the request's images; for outputs, every
// text.
func moderationInput(call *Call, fields []TextField, input bool) moderation.Input {
	var mi moderation.Input
	for i := range fields {
		if !input || scored(&fields[i]) {
			mi.Texts = append(mi.Texts, fields[i].Text)
		}
	}
	if input {
		mi.ImageURLs, _ = call.Value(imagesKey{}).([]string)
	}
	return mi
}

// check runs the checker under a call state of its own (the key and scope
// of the call), so that it never races with the completion's HTTP state,
// and maps its answer.
func (mc *moderationCheck) check(ctx context.Context, call *Call, mi moderation.Input) error {
	own, err := ownState(ctx)
	if err != nil {
		return err
	}
	return mc.checkWith(ctx, own, call, mi)
}

// ownState copies the key and scope of the call in ctx into a fresh call
// state for the moderation request. Read it before the completion starts:
// the completion's HTTP layer may replace the key (a 401 refresh).
func ownState(ctx context.Context) (*callState, error) {
	st := stateFrom(ctx)
	if st == nil {
		return nil, errNoCallState
	}
	return &callState{key: st.key, scope: st.scope}, nil
}

func (mc *moderationCheck) checkWith(ctx context.Context, own *callState, call *Call, mi moderation.Input) error {
	v, err := mc.m.Check(context.WithValue(ctx, stateKey{}, own), mi)
	for _, cat := range v.Categories {
		call.AddFinding(Finding{Kind: "moderation", Type: cat, Count: 1})
	}
	for _, r := range v.Rules {
		call.AddFinding(Finding{Kind: "moderation", Type: "rule_" + r, Count: 1})
	}
	if err == nil {
		if v.Unavailable {
			call.AddFinding(Finding{Kind: "moderation", Type: "unavailable_fail_open", Count: 1})
		}
		return nil
	}
	if fe, ok := errors.AsType[*moderation.FlaggedError](err); ok {
		cats := append(append([]string(nil), fe.Categories...), fe.Rules...)
		return &Error{Kind: ErrModerationFlagged, Stage: StageModeration, Check: "moderation", Reason: "flagged", Categories: cats, Err: err}
	}
	if errors.Is(err, moderation.ErrInvalidInput) {
		return &Error{Kind: ErrInputRejected, Stage: StageModeration, Check: "moderation", Reason: "moderation_input_invalid", Err: err}
	}
	e := &Error{Kind: ErrUpstream, Stage: StageModeration, Check: "moderation", Reason: "moderation_unavailable", Err: err}
	if me, ok := errors.AsType[*moderation.Error](err); ok {
		e.StatusCode, e.RetryAfter = me.StatusCode, me.RetryAfter()
	}
	return e
}

// CheckOutput moderates an answer (ModerationPolicy.Output).
func (mc *moderationCheck) CheckOutput(ctx context.Context, call *Call, out *Output) error {
	err := mc.check(ctx, call, moderationInput(call, out.Fields, false))
	if e, ok := errors.AsType[*Error](err); ok {
		e.Stage = StageOutput
	}
	return err
}

// outputModeration is the output side; a distinct type so that
// Client.Controls names it.
type outputModeration struct{ *moderationCheck }

func (o outputModeration) String() string { return "output " + o.moderationCheck.String() }

// startParallel starts the moderation check of a call in parallel mode and
// returns a function that waits for its verdict. The goroutine always ends:
// the check is bounded by its timeout and by ctx.
func (mc *moderationCheck) startParallel(ctx context.Context, call *Call, in *Input) func() error {
	mi := moderationInput(call, in.Fields, true)
	done := make(chan error, 1)
	own, err := ownState(ctx)
	if err != nil {
		done <- err
	} else {
		go func() { done <- mc.checkWith(ctx, own, call, mi) }()
	}
	waited := false
	return func() error {
		if !waited {
			err, waited = <-done, true
		}
		return err
	}
}

// chatImages returns the image URLs of a chat request's messages.
func chatImages(r *openai.ChatCompletionRequest) []string {
	var urls []string
	for i := range r.Messages {
		for _, p := range r.Messages[i].MultiContent {
			if p.Type == openai.ChatMessagePartTypeImageURL && p.ImageURL != nil && p.ImageURL.URL != "" {
				urls = append(urls, p.ImageURL.URL)
			}
		}
	}
	return urls
}

// describeModeration describes stage 8 for Client.Controls.
func describeModeration(cfg *config) string {
	if cfg.parallelMod != nil {
		return cfg.parallelMod.String()
	}
	return describe(cfg.moderator)
}
