package secureai

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/internal/tokens"
	"github.com/secureai-go/secureai/ratelimit"
)

// Releaser is an optional power of a [RateLimiter] that holds something for
// the length of a call, such as a concurrency slot: Release is called once,
// under a context detached from the caller's cancellation, when a call that
// the limiter allowed ends (for a stream: when it ends, is closed, is cut or
// its context is cancelled).
type Releaser interface {
	Release(ctx context.Context, call *Call)
}

// WithLimiter fills stage 3 (request rates and concurrent calls) and stage
// 6 (token and spend budgets, reserved before the call and reconciled with
// the real usage after it) with a [ratelimit.Limiter], in memory or shared
// through Redis. The scopes are the caller's pseudonym (never the raw ID),
// group, tier and the global scope; the model prices the spend.
//
// The token reservation starts from a cheap upper bound of the prompt
// (bytes, message framing, images and tool schemas at their documented
// costs); only when that bound would be refused is the prompt counted
// exactly with the model's tokenizer.
func WithLimiter(l *ratelimit.Limiter) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("secureai: WithLimiter: nil limiter; use Without to leave the slots empty")
		}
		a := &limiterSlots{l: l}
		c.rateLimiter, c.budget, c.limiter = a, a, l
		c.slots[StageRateLimit], c.slots[StageBudget] = slotSet, slotSet
		return nil
	}
}

// DefaultRateRules are the request-rate rules of the limiter a client gets
// when it is given none: per caller (by pseudonym), at most 5 requests a
// second with bursts of 10, 120 a minute, and 8 calls in flight (a stream
// counts until it ends). They stop a runaway loop or a stolen session from
// flooding the upstream without getting in the way of a person using a
// chat; anonymous calls (AllowAnonymous) have no caller scope and are not
// limited by them. There is no default token or spend budget: those depend
// on what you bought; set them with WithLimiter.
func DefaultRateRules() ratelimit.Rules {
	return ratelimit.Rules{Default: ratelimit.TierRules{Caller: ratelimit.Limits{
		Requests:   []ratelimit.Rate{{Count: 5, Per: time.Second, Burst: 10}, ratelimit.PerMinute(120)},
		Concurrent: 8,
	}}}
}

// defaultRateLimiter is stage 3 of a client given no limiter: an
// in-memory ratelimit.Limiter with DefaultRateRules and no budget.
func defaultRateLimiter() (*limiterSlots, error) {
	l, err := ratelimit.New(ratelimit.Options{Rules: DefaultRateRules()})
	if err != nil {
		return nil, err
	}
	return &limiterSlots{l: l, what: "in-memory, DefaultRateRules: 5/s (burst 10) and 120/min per caller, 8 in flight"}, nil
}

// limiterSlots adapts a ratelimit.Limiter to the RateLimiter (with
// Releaser) and Budget slots.
type limiterSlots struct {
	l    *ratelimit.Limiter
	what string // for Controls; empty: "ratelimit.Limiter"
}

type permitKey struct{}

// String describes the limiter for Client.Controls.
func (a *limiterSlots) checkName() string { return "ratelimit" }

func (a *limiterSlots) String() string {
	if a.what != "" {
		return "ratelimit.Limiter (" + a.what + ")"
	}
	return "ratelimit.Limiter"
}

func subject(call *Call) ratelimit.Subject {
	return ratelimit.Subject{Caller: call.Pseudonym, Group: call.Caller.Group, Tier: call.Caller.Tier, Model: call.Model}
}

func (a *limiterSlots) Allow(ctx context.Context, call *Call) error {
	p, err := a.l.Allow(ctx, subject(call))
	if err != nil {
		return err
	}
	call.Set(permitKey{}, p)
	return nil
}

func (a *limiterSlots) Release(ctx context.Context, call *Call) {
	if p, ok := call.Value(permitKey{}).(*ratelimit.Permit); ok {
		_ = p.Release(ctx)
	}
}

func (a *limiterSlots) Reserve(ctx context.Context, call *Call, est Estimate) (Reservation, error) {
	subj := subject(call)
	amt := ratelimit.Amount{InputTokens: int64(est.InputTokens), OutputTokens: int64(est.OutputTokens())}
	r, err := a.l.Reserve(ctx, subj, amt)
	if err != nil && errors.Is(err, ratelimit.ErrBudgetExceeded) && est.CountInputTokens != nil {
		// The cheap bound does not fit: count the prompt exactly, the rare
		// and expensive path.
		if n, cerr := est.CountInputTokens(); cerr == nil && n < est.InputTokens {
			amt.InputTokens = int64(n)
			r, err = a.l.Reserve(ctx, subj, amt)
		}
	}
	if err != nil {
		return nil, err
	}
	return limiterReservation{r}, nil
}

type limiterReservation struct{ r *ratelimit.Reservation }

func (v limiterReservation) Commit(ctx context.Context, u Usage) error {
	return v.r.Commit(ctx, ratelimit.Amount{InputTokens: int64(u.InputTokens), OutputTokens: int64(u.OutputTokens)})
}

func (v limiterReservation) Cancel(ctx context.Context) error { return v.r.Cancel(ctx) }

// ThresholdAuditor returns a callback for [ratelimit.Options.OnThreshold]
// that writes each crossed budget threshold (50/80/100 %) to sink as an
// audit event of kind "budget_threshold", for the alert rules. Build the
// sink first, give the callback to the limiter, then give both to [New].
func ThresholdAuditor(sink audit.Sink) func(ratelimit.ThresholdEvent) {
	return func(e ratelimit.ThresholdEvent) {
		ev := audit.Event{Kind: audit.KindBudgetThreshold, Time: e.Time, Stage: string(StageBudget),
			AlertType: e.Rule, AlertValue: e.Used / max(e.Limit, 1e-12), AlertThreshold: float64(e.Percent) / 100,
			Outcome: audit.OutcomeOK}
		switch e.Scope.Kind {
		case ratelimit.KindCaller:
			ev.Caller = e.Scope.Name
		case ratelimit.KindGroup:
			ev.Group = e.Scope.Name
		}
		ev.Tier = e.Scope.Tier
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sink.Write(ctx, ev)
	}
}

// StoreAuditor returns a callback for [ratelimit.Options.OnStoreChange]
// that writes the limiter's switches to and from its failure policy (store
// unreachable, back) to sink as audit events.
func StoreAuditor(sink audit.Sink) func(ratelimit.StoreEvent) {
	return func(e ratelimit.StoreEvent) {
		ev := audit.Event{Kind: audit.KindAlert, Time: e.Time, Stage: string(StageRateLimit), AlertType: "limiter_store_recovered",
			Outcome: audit.OutcomeOK}
		if e.Degraded {
			ev.AlertType, ev.Outcome, ev.ErrorType = "limiter_store_unavailable", audit.OutcomeError, "limiter_unavailable"
			if e.FailOpen {
				ev.AlertType = "limiter_store_unavailable_fail_open"
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = sink.Write(ctx, ev)
	}
}

// The per-endpoint prompt estimates for the budget: the texts' bytes come
// from the input view; these add what the texts do not show.

func chatEstimate(r *openai.ChatCompletionRequest) tokens.Estimate {
	e := tokens.Estimate{Messages: len(r.Messages), Tools: len(r.Tools) + len(r.Functions)}
	for i := range r.Messages {
		for _, p := range r.Messages[i].MultiContent {
			if p.ImageURL != nil {
				e.Images = append(e.Images, tokens.ParseImageDetail(string(p.ImageURL.Detail)))
			}
		}
	}
	for i := range r.Tools {
		e.ToolSchemaBytes += jsonSize(r.Tools[i])
	}
	for i := range r.Functions {
		e.ToolSchemaBytes += jsonSize(r.Functions[i])
	}
	return e
}

func responsesEstimate(r *openai.CreateResponseRequest) tokens.Estimate {
	e := tokens.Estimate{Messages: max(sliceLen(r.Input), 1), Tools: len(r.Tools)}
	if _, ok := r.Input.(string); !ok && r.Input != nil {
		w := walker{}
		if tree, ok := w.tree(r.Input); ok {
			e.Images = appendImages(e.Images, tree)
		}
	}
	for i := range r.Tools {
		e.ToolSchemaBytes += jsonSize(r.Tools[i])
	}
	return e
}

// appendImages finds the input_image parts of a Responses input tree.
func appendImages(out []tokens.ImageDetail, t any) []tokens.ImageDetail {
	switch v := t.(type) {
	case []any:
		for _, x := range v {
			out = appendImages(out, x)
		}
	case map[string]any:
		if v["type"] == "input_image" {
			d, _ := v["detail"].(string)
			return append(out, tokens.ParseImageDetail(d))
		}
		for _, x := range v {
			out = appendImages(out, x)
		}
	}
	return out
}

func jsonSize(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 0
	}
	return len(b)
}
