package secureai_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/secureaitest"
)

// recorder is a fake for every slot: it logs each call in order, checks what
// the slot sees, and refuses when told to.
type recorder struct {
	mu      sync.Mutex
	log     []string
	refuse  string // slot name that refuses
	err     error
	est     secureai.Estimate
	used    []secureai.Usage
	cancels int
	inputs  []string
	outputs []string
	deltas  []string
}

func (r *recorder) hit(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, name)
	if r.refuse == name {
		return r.err
	}
	return nil
}

func (r *recorder) order() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.log)
}

type reservation struct{ r *recorder }

func (v reservation) Commit(_ context.Context, u secureai.Usage) error {
	v.r.mu.Lock()
	v.r.used = append(v.r.used, u)
	v.r.log = append(v.r.log, "commit")
	v.r.mu.Unlock()
	return nil
}

func (v reservation) Cancel(context.Context) error {
	v.r.mu.Lock()
	v.r.cancels++
	v.r.log = append(v.r.log, "cancel")
	v.r.mu.Unlock()
	return nil
}

// guard is a stream guard that redacts "fake" and holds nothing back.
type guard struct{ r *recorder }

func (g guard) Next(ch int, d string) (string, error) {
	g.r.mu.Lock()
	g.r.deltas = append(g.r.deltas, d)
	g.r.mu.Unlock()
	if err := g.r.hit("guard.next"); err != nil {
		return "", err
	}
	return strings.ReplaceAll(d, "fake", "[F]"), nil
}

func (g guard) End(int) (string, error) { return "", g.r.hit("guard.end") }

type streamingChecker struct {
	secureai.OutputCheckerFunc
	r *recorder
}

func (s streamingChecker) CheckStream(context.Context, *secureai.Call) secureai.StreamGuard {
	return guard{s.r}
}

func slotOptions(r *recorder) []secureai.Option {
	return []secureai.Option{
		secureai.WithRateLimiter(secureai.RateLimiterFunc(func(_ context.Context, c *secureai.Call) error {
			if c.Caller.ID != "alice@example.com" || c.Pseudonym == "" || c.ID == "" {
				return errors.New("rate limiter saw a wrong call")
			}
			return r.hit("ratelimit")
		})),
		secureai.WithInputHygiene(secureai.InputCheckerFunc(func(_ context.Context, _ *secureai.Call, in *secureai.Input) error {
			return r.hit("hygiene")
		})),
		secureai.WithInputChecks(
			secureai.InputCheckerFunc(func(_ context.Context, c *secureai.Call, in *secureai.Input) error {
				for i := range in.Fields {
					r.mu.Lock()
					r.inputs = append(r.inputs, in.Fields[i].Path+"="+in.Fields[i].Text)
					r.mu.Unlock()
					in.Fields[i].Text = strings.ReplaceAll(in.Fields[i].Text, "555-0100", "<PHONE_1>")
				}
				c.Set("pseudonyms", map[string]string{"<PHONE_1>": "555-0100"})
				c.AddFinding(secureai.Finding{Kind: "pii", Type: "phone", Count: 1})
				return r.hit("input.redact")
			}),
			secureai.InputCheckerFunc(func(_ context.Context, _ *secureai.Call, in *secureai.Input) error {
				for _, f := range in.Fields {
					if strings.Contains(f.Text, "555-0100") {
						return errors.New("second check saw unredacted text")
					}
				}
				return r.hit("input.second")
			})),
		secureai.WithBudget(secureai.BudgetFunc(func(_ context.Context, _ *secureai.Call, est secureai.Estimate) (secureai.Reservation, error) {
			r.mu.Lock()
			r.est = est
			r.mu.Unlock()
			if err := r.hit("budget"); err != nil {
				return nil, err
			}
			return reservation{r}, nil
		})),
		secureai.WithModerator(secureai.ModeratorFunc(func(_ context.Context, _ *secureai.Call, in *secureai.Input) error {
			for _, f := range in.Fields {
				if strings.Contains(f.Text, "555-0100") {
					return errors.New("moderation saw unredacted text")
				}
			}
			return r.hit("moderation")
		})),
		secureai.WithOutputChecks(streamingChecker{r: r, OutputCheckerFunc: func(_ context.Context, c *secureai.Call, out *secureai.Output) error {
			if c.Value("pseudonyms") == nil {
				return errors.New("output check lost the per-call state")
			}
			for i := range out.Fields {
				r.mu.Lock()
				r.outputs = append(r.outputs, out.Fields[i].Text)
				r.mu.Unlock()
				out.Fields[i].Text = strings.ReplaceAll(out.Fields[i].Text, "fake", "[F]")
			}
			c.AddFinding(secureai.Finding{Kind: "deny_rule", Type: "fake", Count: 1})
			return r.hit("output")
		}}),
	}
}

var wantOrder = []string{"ratelimit", "hygiene", "input.redact", "input.second", "budget", "moderation", "output", "commit"}

func TestSlotsRunInOrder(t *testing.T) {
	r := &recorder{}
	f := newFixture(t, slotOptions(r)...)
	f.ctx = secureai.WithCaller(f.ctx, secureai.Caller{ID: "alice@example.com", Purpose: "support_reply"})
	req := chatReq(chatModel)
	req.Messages[1].Content = "Call me at 555-0100."
	req.MaxTokens = 40
	resp, err := f.client.CreateChatCompletion(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.order(); !slices.Equal(got, wantOrder) {
		t.Errorf("order = %v\nwant    %v", got, wantOrder)
	}
	body, raw := lastBody(t, f.srv)
	_ = body
	if strings.Contains(string(raw.Body), "555-0100") || !strings.Contains(string(raw.Body), "PHONE_1") {
		t.Errorf("redaction not applied to the request sent: %s", raw.Body)
	}
	if req.Messages[1].Content != "Call me at 555-0100." {
		t.Error("caller's request was modified")
	}
	if !slices.Contains(r.inputs, "messages[1].content=Call me at 555-0100.") || !slices.Contains(r.inputs, "messages[0].content=You are terse.") {
		t.Errorf("input check saw %v", r.inputs)
	}
	if got := resp.Choices[0].Message.Content; strings.Contains(got, "fake") || !strings.Contains(got, "[F]") {
		t.Errorf("output rewrite not applied: %q", got)
	}
	if r.est.MaxOutputTokens != 40 || r.est.Choices != 1 || r.est.InputTokens < len("Call me at 555-0100.You are terse.") {
		t.Errorf("estimate %+v", r.est)
	}
	if len(r.used) != 1 || r.used[0].InputTokens != resp.Usage.PromptTokens || r.used[0].OutputTokens != resp.Usage.CompletionTokens {
		t.Errorf("commit %+v, usage %+v", r.used, resp.Usage)
	}
	ev := f.rec.Last()
	stages := []string{}
	for _, d := range ev.Decisions {
		stages = append(stages, d.Stage+":"+string(d.Verdict))
	}
	want := []string{"caller:allow", "policy:allow", "ratelimit:allow", "hygiene:allow", "input:modify", "budget:allow",
		"key:allow", "moderation:allow", "upstream:allow", "output:modify", "budget:allow"}
	if !slices.Equal(stages, want) {
		t.Errorf("audit decisions %v\nwant %v", stages, want)
	}
	wantFindings := []audit.Finding{{Stage: "input", Kind: "pii", Type: "phone", Count: 1}, {Stage: "output", Kind: "deny_rule", Type: "fake", Count: 1}}
	if !slices.Equal(ev.Findings, wantFindings) {
		t.Errorf("findings %+v", ev.Findings)
	}
	if !strings.HasPrefix(ev.InputHash, "h_") || !strings.HasPrefix(ev.SystemPromptHash, "h_") || ev.InputHash == ev.SystemPromptHash {
		t.Errorf("hashes %q %q", ev.InputHash, ev.SystemPromptHash)
	}
	if ev.Purpose != "support_reply" {
		t.Errorf("purpose %q", ev.Purpose)
	}
}

func TestSlotsRefuseWithTypedErrors(t *testing.T) {
	for _, tc := range []struct {
		slot     string
		kind     error
		stage    secureai.Stage
		sent     bool
		wantTail []string
	}{
		{"ratelimit", secureai.ErrRateLimited, secureai.StageRateLimit, false, nil},
		{"hygiene", secureai.ErrInputRejected, secureai.StageHygiene, false, nil},
		{"input.redact", secureai.ErrInputRejected, secureai.StageInput, false, nil},
		{"input.second", secureai.ErrInputRejected, secureai.StageInput, false, nil},
		{"budget", secureai.ErrBudgetExceeded, secureai.StageBudget, false, nil},
		{"moderation", secureai.ErrModerationFlagged, secureai.StageModeration, false, []string{"cancel"}},
		{"output", secureai.ErrOutputBlocked, secureai.StageOutput, true, []string{"commit"}},
	} {
		t.Run(tc.slot, func(t *testing.T) {
			cause := &retryErr{after: 3 * time.Second}
			r := &recorder{refuse: tc.slot, err: cause}
			f := newFixture(t, slotOptions(r)...)
			_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
			if !errors.Is(err, tc.kind) || !errors.Is(err, cause) {
				t.Fatalf("err = %v, want %v wrapping the slot's error", err, tc.kind)
			}
			e, _ := errors.AsType[*secureai.Error](err)
			if e.Stage != tc.stage || e.RetryAfter != 3*time.Second || e.Reason != "over_limit" {
				t.Errorf("stage=%s retryAfter=%v reason=%q", e.Stage, e.RetryAfter, e.Reason)
			}
			order := r.order()
			i := slices.Index(wantOrder, tc.slot)
			if want := append(slices.Clone(wantOrder[:i+1]), tc.wantTail...); !slices.Equal(order, want) {
				t.Errorf("order = %v, want %v", order, want)
			}
			if sent := len(f.srv.Requests()) > 0; sent != tc.sent {
				t.Errorf("request sent = %v", sent)
			}
			if f.rec.Len() != 1 || f.rec.Last().Outcome != audit.OutcomeRefused || f.rec.Last().Stage != string(tc.stage) {
				t.Errorf("audit %d events, last %+v", f.rec.Len(), f.rec.Last())
			}
		})
	}
}

// retryErr is what a leaf package's error looks like: its own type with
// RetryAfter and Code methods.
type retryErr struct{ after time.Duration }

func (e *retryErr) Error() string             { return "leaf: over limit" }
func (e *retryErr) RetryAfter() time.Duration { return e.after }
func (e *retryErr) Code() string              { return "over_limit" }

func TestStreamGuardSlot(t *testing.T) {
	r := &recorder{}
	f := newFixture(t, slotOptions(r)...)
	f.srv.SetReply("a fake answer from a fake server")
	s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
	if err != nil {
		t.Fatal(err)
	}
	var got strings.Builder
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range chunk.Choices {
			got.WriteString(c.Delta.Content)
		}
	}
	if got.String() != "a [F] answer from a [F] server" {
		t.Errorf("released %q", got.String())
	}
	if !slices.Contains(r.order(), "guard.end") || f.rec.Len() != 1 || f.rec.Last().Outcome != audit.OutcomeOK {
		t.Errorf("order %v, audit %+v", r.order(), f.rec.Last())
	}
	if len(r.used) != 1 || r.used[0].OutputTokens == 0 {
		t.Errorf("stream usage committed: %+v", r.used)
	}

	t.Run("refusal mid-stream", func(t *testing.T) {
		r := &recorder{refuse: "guard.next", err: errors.New("secret in output")}
		f := newFixture(t, slotOptions(r)...)
		s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, err = s.Recv()
			if err != nil {
				break
			}
		}
		if !errors.Is(err, secureai.ErrOutputBlocked) {
			t.Errorf("err = %v", err)
		}
		if _, again := s.Recv(); !errors.Is(again, secureai.ErrOutputBlocked) {
			t.Errorf("Recv after refusal = %v", again)
		}
		s.Close()
		if f.rec.Len() != 1 || f.rec.Last().Outcome != audit.OutcomeRefused {
			t.Errorf("audit %d %+v", f.rec.Len(), f.rec.Last())
		}
	})

	t.Run("plain checker holds the stream back", func(t *testing.T) {
		var seen []string
		f := newFixture(t, secureai.WithOutputChecks(secureai.OutputCheckerFunc(func(_ context.Context, _ *secureai.Call, out *secureai.Output) error {
			seen = append(seen, out.Fields[0].Text)
			out.Fields[0].Text = strings.ToUpper(out.Fields[0].Text)
			return nil
		})))
		s, err := f.client.CreateResponseStream(f.ctx, openai.CreateResponseRequest{Model: chatModel, Input: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		var deltas []string
		var done, completed string
		for {
			ev, err := s.Recv()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			switch ev.Type {
			case openai.ResponseStreamEventOutputTextDelta:
				deltas = append(deltas, ev.Delta)
			case openai.ResponseStreamEventOutputTextDone:
				done = ev.Text
			case openai.ResponseStreamEventCompleted:
				completed = ev.Response.GetOutputText()
				if strings.Contains(string(ev.Raw), secureaitest.DefaultReply) {
					t.Error("completed event's Raw still holds the original text")
				}
			}
		}
		want := strings.ToUpper(secureaitest.DefaultReply)
		if strings.Join(deltas, "") != want || done != want || completed != want {
			t.Errorf("deltas %q done %q completed %q", deltas, done, completed)
		}
		if len(seen) != 1 || seen[0] != secureaitest.DefaultReply {
			t.Errorf("checker saw %q", seen)
		}
	})
}
