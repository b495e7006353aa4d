package secureai

import (
	"errors"
	"testing"

	"github.com/sashabaranov/go-openai"
)

func TestIsPinned(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  bool
	}{
		{"gpt-4o-2024-08-06", true},
		{"gpt-4.1-nano-2025-04-14", true},
		{"o3-mini-2025-01-31", true},
		{"gpt-4-0613", true},
		{"gpt-3.5-turbo-0125", true},
		{"gpt-4-1106-preview", true},
		{"omni-moderation-2024-09-26", true},
		{"ft:gpt-4o-2024-08-06:acme::abc123", true},
		{"gpt-4o", false},
		{"o3-mini", false},
		{"gpt-5", false},
		{"omni-moderation-latest", false},
		{"text-embedding-3-small", false},
		{"chatgpt-4o-latest", false},
		{"2024-08-06", false},
		{"", false},
	} {
		t.Run(tc.model, func(t *testing.T) {
			if got := isPinned(tc.model); got != tc.want {
				t.Errorf("isPinned(%q) = %v, want %v", tc.model, got, tc.want)
			}
		})
	}
}

func TestIsReasoningUsesGoOpenAI(t *testing.T) {
	for _, tc := range []struct {
		model string
		want  bool
	}{
		{"o1-2024-12-17", true},
		{"o3-mini-2025-01-31", true},
		{"o4-mini-2025-04-16", true},
		{"gpt-5-2025-08-07", true},
		{"ft:o4-mini-2025-04-16:acme::x", true},
		{"gpt-4o-2024-08-06", false},
		{"gpt-4.1-nano-2025-04-14", false},
	} {
		t.Run(tc.model, func(t *testing.T) {
			if got := isReasoning(tc.model); got != tc.want {
				t.Errorf("isReasoning(%q) = %v, want %v", tc.model, got, tc.want)
			}
		})
	}
}

func testConfig(t *testing.T, opts ...Option) *config {
	t.Helper()
	cfg := defaultConfig()
	for _, o := range append([]Option{WithModels("gpt-4o-2024-08-06", "o3-mini-2025-01-31")}, opts...) {
		if err := o(cfg); err != nil {
			t.Fatal(err)
		}
	}
	return cfg
}

func TestChatPolicyOutputCap(t *testing.T) {
	cfg := testConfig(t, WithOutputTokens(100, 500))
	msgs := []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}
	for _, tc := range []struct {
		name              string
		req               openai.ChatCompletionRequest
		wantMax, wantComp int
	}{
		{"default", openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06"}, 100, 0},
		{"kept", openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", MaxTokens: 42}, 42, 0},
		{"clamped", openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", MaxTokens: 9000}, 500, 0},
		{"completion field moved", openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", MaxCompletionTokens: 77}, 77, 0},
		{"smaller of both", openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", MaxTokens: 90, MaxCompletionTokens: 60}, 60, 0},
		{"reasoning default", openai.ChatCompletionRequest{Model: "o3-mini-2025-01-31"}, 0, 100},
		{"reasoning moves max_tokens", openai.ChatCompletionRequest{Model: "o3-mini-2025-01-31", MaxTokens: 50}, 0, 50},
		{"reasoning clamped", openai.ChatCompletionRequest{Model: "o3-mini-2025-01-31", MaxCompletionTokens: 5000}, 0, 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.req
			r.Messages = msgs
			call := &Call{Pseudonym: "u_x"}
			capTokens, n, err := cfg.chatPolicy(call, &r)
			if err != nil {
				t.Fatal(err)
			}
			if r.MaxTokens != tc.wantMax || r.MaxCompletionTokens != tc.wantComp {
				t.Errorf("max_tokens=%d max_completion_tokens=%d, want %d %d", r.MaxTokens, r.MaxCompletionTokens, tc.wantMax, tc.wantComp)
			}
			if capTokens != max(tc.wantMax, tc.wantComp) || n != 1 {
				t.Errorf("cap=%d n=%d", capTokens, n)
			}
			if r.SafetyIdentifier != "u_x" {
				t.Errorf("safety_identifier = %q", r.SafetyIdentifier)
			}
			// go-openai's own validation accepts what the policy produced.
			if err := openai.NewReasoningValidator().Validate(r); err != nil {
				t.Errorf("go-openai refuses the policy's request: %v", err)
			}
		})
	}
}

func TestPolicyRefusals(t *testing.T) {
	cfg := testConfig(t, WithLimits(Limits{MaxMessages: 2, MaxChoices: 2, MaxTools: 1}))
	m := "gpt-4o-2024-08-06"
	one := []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}
	fn := &openai.FunctionDefinition{Name: "f"}
	chat := []struct {
		name   string
		req    openai.ChatCompletionRequest
		kind   error
		reason string
	}{
		{"unknown model", openai.ChatCompletionRequest{Model: "gpt-4o", Messages: one}, ErrModelNotAllowed, "model_not_on_allowlist"},
		{"no model", openai.ChatCompletionRequest{Messages: one}, ErrModelNotAllowed, "model_missing"},
		{"no messages", openai.ChatCompletionRequest{Model: m}, ErrPolicy, "no_messages"},
		{"too many messages", openai.ChatCompletionRequest{Model: m, Messages: append(append(one, one...), one...)}, ErrInputRejected, "too_many_messages"},
		{"n", openai.ChatCompletionRequest{Model: m, Messages: one, N: 3}, ErrPolicy, "too_many_choices"},
		{"store", openai.ChatCompletionRequest{Model: m, Messages: one, Store: true}, ErrPolicy, "store_requested"},
		{"tools", openai.ChatCompletionRequest{Model: m, Messages: one, Tools: []openai.Tool{{Type: "function", Function: fn}, {Type: "function", Function: fn}}}, ErrPolicy, "too_many_tools"},
		{"web search", openai.ChatCompletionRequest{Model: m, Messages: one, Tools: []openai.Tool{{Type: openai.ToolTypeWebSearch}}}, ErrPolicy, "hosted_tool_not_allowed"},
		{"temperature", openai.ChatCompletionRequest{Model: m, Messages: one, Temperature: 2.5}, ErrPolicy, "temperature_out_of_range"},
		{"negative cap", openai.ChatCompletionRequest{Model: m, Messages: one, MaxTokens: -1}, ErrPolicy, "negative_output_cap"},
		{"stream flag on plain call", openai.ChatCompletionRequest{Model: m, Messages: one, Stream: true}, ErrPolicy, "stream_flag_on_plain_call"},
	}
	for _, tc := range chat {
		t.Run("chat/"+tc.name, func(t *testing.T) {
			r := tc.req
			_, _, err := cfg.chatPolicy(&Call{}, &r)
			assertRefusal(t, err, tc.kind, tc.reason)
		})
	}
	resp := []struct {
		name   string
		req    openai.CreateResponseRequest
		reason string
	}{
		{"store", openai.CreateResponseRequest{Model: m, Input: "x", Store: new(true)}, "store_requested"},
		{"previous id", openai.CreateResponseRequest{Model: m, Input: "x", PreviousResponseID: "resp_1"}, "previous_response_id_needs_store"},
		{"conversation", openai.CreateResponseRequest{Model: m, Input: "x", Conversation: "conv_1"}, "conversation_needs_store"},
		{"background", openai.CreateResponseRequest{Model: m, Input: "x", Background: true}, "background_needs_store"},
		{"prompt template", openai.CreateResponseRequest{Model: m, Prompt: &openai.ResponsePrompt{ID: "pmpt_1"}}, "prompt_template_not_allowed"},
		{"extra body model", openai.CreateResponseRequest{Model: m, Input: "x", ExtraBody: map[string]any{"model": "gpt-4o", "store": true}}, "extra_body_key_not_allowed"},
		{"mcp", openai.CreateResponseRequest{Model: m, Input: "x", Tools: []openai.Tool{{Type: openai.ToolTypeMCP, Parameters: map[string]any{"server_url": "https://mcp.example.com"}}}}, "hosted_tool_not_allowed"},
		{"no input", openai.CreateResponseRequest{Model: m}, "no_input"},
	}
	for _, tc := range resp {
		t.Run("responses/"+tc.name, func(t *testing.T) {
			r := tc.req
			_, _, err := cfg.responsesPolicy(&Call{}, &r)
			assertRefusal(t, err, ErrPolicy, tc.reason)
		})
	}
	t.Run("embeddings/token input", func(t *testing.T) {
		r := openai.EmbeddingRequestTokens{Model: "text-embedding-3-small", Input: [][]int{{1, 2}}}.Convert()
		cfg := testConfig(t, WithFloatingModels("text-embedding-3-small"))
		_, _, err := cfg.embeddingsPolicy(&Call{}, &r)
		assertRefusal(t, err, ErrPolicy, "non_text_input")
	})
}

func TestResponsesPolicySetsStoreFalse(t *testing.T) {
	cfg := testConfig(t)
	r := openai.CreateResponseRequest{Model: "gpt-4o-2024-08-06", Input: "x", MaxOutputTokens: 1 << 20}
	if _, _, err := cfg.responsesPolicy(&Call{Pseudonym: "u_1"}, &r); err != nil {
		t.Fatal(err)
	}
	if r.Store == nil || *r.Store {
		t.Errorf("store = %v, want explicit false", r.Store)
	}
	if r.MaxOutputTokens != DefaultMaxOutputTokens || r.SafetyIdentifier != "u_1" {
		t.Errorf("max_output_tokens=%d safety_identifier=%q", r.MaxOutputTokens, r.SafetyIdentifier)
	}
}

func TestAllowedLoosenings(t *testing.T) {
	cfg := testConfig(t, AllowStore(), AllowExtraBodyKeys("reasoning_summary"), AllowPromptTemplates("pmpt_1"),
		AllowHostedTools(openai.ToolTypeMCP, openai.ToolTypeWebSearch), AllowMCPServers("https://mcp.example.com"))
	r := openai.CreateResponseRequest{Model: "gpt-4o-2024-08-06", Prompt: &openai.ResponsePrompt{ID: "pmpt_1"},
		Store: new(true), PreviousResponseID: "resp_1", ExtraBody: map[string]any{"reasoning_summary": "auto"},
		Tools: []openai.Tool{{Type: openai.ToolTypeWebSearch}, {Type: openai.ToolTypeMCP, Parameters: map[string]any{"server_url": "https://mcp.example.com"}}}}
	if _, _, err := cfg.responsesPolicy(&Call{}, &r); err != nil {
		t.Fatal(err)
	}
	if !*r.Store {
		t.Error("store was overridden although allowed")
	}
	r.Tools[1].Parameters["server_url"] = "https://evil.example.net"
	_, _, err := cfg.responsesPolicy(&Call{}, &r)
	assertRefusal(t, err, ErrPolicy, "mcp_server_not_allowed")
}

func TestOptionsRefuseProtectedAndBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		opt  Option
	}{
		{"extra body model", AllowExtraBodyKeys("model")},
		{"extra body store", AllowExtraBodyKeys("store")},
		{"extra body cap", AllowExtraBodyKeys("max_output_tokens")},
		{"floating in WithModels", WithModels("gpt-4o")},
		{"negative limits", WithLimits(Limits{MaxMessages: -1})},
		{"bad output tokens", WithOutputTokens(10, 5)},
		{"zero output tokens", WithOutputTokens(0, 5)},
		{"negative retry", WithRetry(RetryPolicy{MaxRetries: -1})},
		{"nil transport", WithTransport(nil)},
		{"nil provider", WithKeyProvider(nil)},
		{"nil limiter", WithRateLimiter(nil)},
		{"nil check", WithInputChecks(nil)},
		{"short pseudonym key", WithPseudonymKey(secretOf("short"))},
		{"bad stage", Without(StageKey)},
		{"temperature", WithTemperatureRange(1, 3)},
		{"not a hosted tool", AllowHostedTools(openai.ToolTypeFunction)},
		{"http mcp", AllowMCPServers("http://mcp.example.com")},
		{"negative response bytes", WithMaxResponseBytes(-1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.opt(defaultConfig()); err == nil {
				t.Error("option accepted a bad value")
			}
		})
	}
}

func assertRefusal(t *testing.T, err error, kind error, reason string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("err = %v, want %v", err, kind)
	}
	e, ok := errors.AsType[*Error](err)
	if !ok {
		t.Fatalf("err %T is not *Error", err)
	}
	if e.Reason != reason {
		t.Errorf("reason = %q, want %q", e.Reason, reason)
	}
}
