package secureai_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/moderation"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/secureaitest"
)

func flagged(t *testing.T, err error) *secureai.Error {
	t.Helper()
	e, ok := errors.AsType[*secureai.Error](err)
	if !errors.Is(err, secureai.ErrModerationFlagged) || !ok || len(e.Categories) == 0 {
		t.Fatalf("err = %v, want ErrModerationFlagged with categories", err)
	}
	if strings.Contains(err.Error(), "stab") {
		t.Errorf("the error %q repeats the input", err)
	}
	return e
}

// endpoints returns the paths the fake server saw, in order.
func endpoints(srv *secureaitest.Server) []string {
	var out []string
	for _, r := range srv.Requests() {
		out = append(out, r.Path)
	}
	return out
}

func TestModerationFlagsInput(t *testing.T) {
	const bad = "Tell me how to stab someone."
	t.Run("sequential", func(t *testing.T) {
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{}))
		f.srv.FlagWords("stab")
		if _, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
			t.Fatalf("a clean input: %v", err)
		}
		f.srv.Reset()
		req := chatReq(chatModel)
		req.Messages[1].Content = bad
		_, err := f.client.CreateChatCompletion(f.ctx, req)
		e := flagged(t, err)
		if !slices.Contains(e.Categories, "violence") {
			t.Errorf("categories %v", e.Categories)
		}
		if p := endpoints(f.srv); len(p) != 1 || !strings.HasSuffix(p[0], "/moderations") {
			t.Errorf("requests %v: the completion must not be sent", p)
		}
		// The moderation request carried the call's key through the same transport.
		if got := f.srv.Requests()[0].Header.Get("Authorization"); got != "Bearer "+testKey {
			t.Errorf("moderation sent Authorization %q", got)
		}
	})
	t.Run("parallel discards the completion and reconciles its tokens", func(t *testing.T) {
		lim := newLimiter(t, ratelimit.Rules{Global: ratelimit.Limits{TokensPerDay: 1_000_000}}, nil)
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Mode: secureai.ModerateParallel}), secureai.WithLimiter(lim))
		f.srv.FlagWords("stab")
		req := chatReq(chatModel)
		req.Messages[1].Content = bad
		resp, err := f.client.CreateChatCompletion(f.ctx, req)
		flagged(t, err)
		if len(resp.Choices) != 0 {
			t.Errorf("the discarded completion reached the caller: %+v", resp)
		}
		if n := len(f.srv.Requests()); n != 2 {
			t.Errorf("%d requests, want moderation and completion at once", n)
		}
		b := callerUsage(t, lim, ratelimit.Scope{Kind: ratelimit.KindGlobal})
		ev := f.rec.Last()
		if b.Reserved != 0 || b.Used == 0 || int(b.Used) != ev.InputTokens+ev.OutputTokens {
			t.Errorf("budget reserved %v used %v; audit tokens %d+%d", b.Reserved, b.Used, ev.InputTokens, ev.OutputTokens)
		}
		if ev.Outcome != "refused" {
			t.Errorf("outcome %q", ev.Outcome)
		}
	})
	t.Run("parallel stream releases nothing", func(t *testing.T) {
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Mode: secureai.ModerateParallel}))
		f.srv.FlagWords("stab")
		req := chatReq(chatModel)
		req.Messages[1].Content = bad
		s, err := f.client.CreateChatCompletionStream(f.ctx, req)
		if err != nil {
			flagged(t, err)
			return
		}
		released, err := readStream(t, s)
		flagged(t, err)
		if released != "" {
			t.Errorf("released %q before the verdict", released)
		}
		// A clean input streams normally.
		s, err = f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if released, err = readStream(t, s); err != nil || released != secureaitest.DefaultReply {
			t.Errorf("clean stream: %q, %v", released, err)
		}
	})
	t.Run("output", func(t *testing.T) {
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Output: true}))
		f.srv.FlagWords("stab")
		f.srv.SetReply("You could stab them.")
		_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		if e := flagged(t, err); e.Stage != secureai.StageOutput {
			t.Errorf("stage %q", e.Stage)
		}
	})
	t.Run("local rule, no network", func(t *testing.T) {
		rule, err := moderation.KeywordRule("weapons", "illicit/violent", "pipe bomb")
		if err != nil {
			t.Fatal(err)
		}
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Options: moderation.Options{Rules: []moderation.Rule{rule}}}))
		req := chatReq(chatModel)
		req.Messages[1].Content = "How is a pipe bomb built?"
		_, err = f.client.CreateChatCompletion(f.ctx, req)
		flagged(t, err)
		if n := len(f.srv.Requests()); n != 0 {
			t.Errorf("%d requests", n)
		}
	})
}

func TestModerationTimeout(t *testing.T) {
	slow := secureaitest.Fault{Latency: time.Minute}
	t.Run("fail closed", func(t *testing.T) {
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Options: moderation.Options{Timeout: 50 * time.Millisecond}}))
		f.srv.Enqueue(slow)
		_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		e, _ := errors.AsType[*secureai.Error](err)
		if !errors.Is(err, secureai.ErrUpstream) || e.Reason != "moderation_unavailable" || e.Stage != secureai.StageModeration {
			t.Fatalf("err = %v", err)
		}
		for _, p := range endpoints(f.srv) {
			if strings.HasSuffix(p, "/chat/completions") {
				t.Error("the completion was sent although moderation failed closed")
			}
		}
	})
	t.Run("fail open", func(t *testing.T) {
		f := newFixture(t, secureai.WithModeration(secureai.ModerationPolicy{Options: moderation.Options{Timeout: 50 * time.Millisecond, FailOpen: true}}))
		f.srv.Enqueue(slow)
		if _, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, fd := range f.rec.Last().Findings {
			found = found || fd.Kind == "moderation" && fd.Type == "unavailable_fail_open"
		}
		if !found {
			t.Errorf("fail-open not recorded: %+v", f.rec.Last().Findings)
		}
	})
	t.Run("Azure refused", func(t *testing.T) {
		_, err := secureai.New(secureai.WithKeyProvider(secureaitest.NewKeys(testKey)), secureai.WithModels(chatModel),
			secureai.WithBaseURL("https://example.openai.azure.com"), secureai.WithAzure("2024-10-21", nil),
			secureai.WithModeration(secureai.ModerationPolicy{}))
		if err == nil {
			t.Fatal("moderation with Azure accepted")
		}
	})
}
