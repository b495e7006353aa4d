package secureai

import (
	"encoding/hex"
	"errors"
	"math"
	"strings"
	"sync"

	"github.com/sashabaranov/go-openai"
)

// isPinned reports whether a model name names a fixed snapshot: a date
// suffix (-2024-08-06), a four-digit snapshot (-0613, -1106-preview), or a
// fine-tuned model (ft:...).
func isPinned(m string) bool {
	if strings.HasPrefix(m, "ft:") {
		return true
	}
	m = strings.TrimSuffix(m, "-preview")
	if n := len(m); n > 11 && m[n-11] == '-' && m[n-6] == '-' && m[n-3] == '-' &&
		digits(m[n-10:n-6]) && digits(m[n-5:n-3]) && digits(m[n-2:]) {
		return true
	}
	if n := len(m); n > 5 && m[n-5] == '-' && digits(m[n-4:]) {
		return true
	}
	return false
}

func digits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// isReasoning reports whether the chat API refuses max_tokens for a model,
// as go-openai's own reasoning-model validation decides (no hand-kept list).
// A fine-tuned model is judged by its base model.
func isReasoning(m string) bool {
	if base, ok := strings.CutPrefix(m, "ft:"); ok {
		m, _, _ = strings.Cut(base, ":")
	}
	err := openai.NewReasoningValidator().Validate(openai.ChatCompletionRequest{Model: m, MaxTokens: 1})
	return errors.Is(err, openai.ErrReasoningModelMaxTokensDeprecated)
}

// pseudonym returns the keyed-hash pseudonym of a caller ID: "u_" and 32 hex
// digits of HMAC-SHA-256 under k's key. Empty for an empty ID.
func (k *keyedHash) pseudonym(id string) string {
	if id == "" {
		return ""
	}
	k.h.Reset()
	k.h.Write(bytesOf(id))
	var out [2 + 32]byte
	out[0], out[1] = 'u', '_'
	hex.Encode(out[2:], k.h.Sum(k.sum[:0])[:16])
	return string(out[:])
}

// pseudonymCache remembers recent pseudonyms: callers recur, and an HMAC
// costs microseconds. It holds at most maxPseudonyms entries; when full it
// starts over.
type pseudonymCache struct {
	mu sync.RWMutex
	m  map[string]string
}

const maxPseudonyms = 1 << 16

// get returns the pseudonym of id, computed with a keyedHash from hashes
// when it is not in the cache.
func (pc *pseudonymCache) get(hashes *sync.Pool, id string) string {
	pc.mu.RLock()
	p, ok := pc.m[id]
	pc.mu.RUnlock()
	if ok {
		return p
	}
	k := hashes.Get().(*keyedHash)
	p = k.pseudonym(id)
	hashes.Put(k)
	pc.mu.Lock()
	if pc.m == nil || len(pc.m) >= maxPseudonyms {
		pc.m = make(map[string]string)
	}
	pc.m[id] = p
	pc.mu.Unlock()
	return p
}

func policyErr(check, reason string) *Error { return refuse(ErrPolicy, StagePolicy, check, reason) }

func (c *config) checkModel(model string) (reasoning bool, err error) {
	if model == "" {
		return false, refuse(ErrModelNotAllowed, StagePolicy, "model_allowlist", "model_missing")
	}
	reasoning, ok := c.models[model]
	if !ok {
		return false, refuse(ErrModelNotAllowed, StagePolicy, "model_allowlist", "model_not_on_allowlist")
	}
	return reasoning, nil
}

// outputCap returns the output cap to send: the smallest value the request
// set, the default when it set none, clamped to the limit.
func (c *config) outputCap(vals ...int) (int, error) {
	want := 0
	for _, v := range vals {
		if v < 0 {
			return 0, policyErr("max_tokens", "negative_output_cap")
		}
		if v > 0 && (want == 0 || v < want) {
			want = v
		}
	}
	if want == 0 {
		want = c.defaultOutput
	}
	return min(want, c.maxOutput), nil
}

func (c *config) checkTemp(t, topP float32) error {
	if math.IsNaN(float64(t)) || (t != 0 && (t < c.minTemp || t > c.maxTemp)) {
		return policyErr("temperature", "temperature_out_of_range")
	}
	if math.IsNaN(float64(topP)) || topP < 0 || topP > 1 {
		return policyErr("top_p", "top_p_out_of_range")
	}
	return nil
}

func (c *config) checkTools(tools []openai.Tool, extra int) error {
	if len(tools)+extra > c.maxTools {
		return policyErr("max_tools", "too_many_tools")
	}
	for i := range tools {
		t := tools[i].Type
		switch t {
		case openai.ToolTypeWebSearch, openai.ToolTypeWebSearchPreview:
			if !c.hostedTools[t] {
				return policyErr("hosted_tools", "hosted_tool_not_allowed")
			}
		case openai.ToolTypeMCP:
			if !c.hostedTools[t] {
				return policyErr("hosted_tools", "hosted_tool_not_allowed")
			}
			u, _ := tools[i].Parameters["server_url"].(string)
			if _, connector := tools[i].Parameters["connector_id"]; connector || !c.mcpServers[u] {
				return policyErr("hosted_tools", "mcp_server_not_allowed")
			}
		}
	}
	return nil
}

func (c *config) checkExtraBody(m map[string]any) error {
	for k := range m {
		if !c.extraBodyKeys[k] {
			return policyErr("extra_body", "extra_body_key_not_allowed")
		}
	}
	return nil
}

func (c *config) chatPolicy(call *Call, r *openai.ChatCompletionRequest) (int, int, error) {
	reasoning, err := c.checkModel(r.Model)
	if err != nil {
		return 0, 0, err
	}
	if r.Stream && !call.Stream {
		return 0, 0, policyErr("stream", "stream_flag_on_plain_call")
	}
	r.Stream = call.Stream
	switch {
	case len(r.Messages) == 0:
		return 0, 0, policyErr("max_messages", "no_messages")
	case len(r.Messages) > c.maxMessages:
		return 0, 0, refuse(ErrInputRejected, StagePolicy, "max_messages", "too_many_messages")
	case r.N < 0 || r.N > c.maxChoices:
		return 0, 0, policyErr("max_choices", "too_many_choices")
	case r.Store && !c.allowStore:
		return 0, 0, policyErr("store", "store_requested")
	case r.TopLogProbs < 0 || r.TopLogProbs > 20:
		return 0, 0, policyErr("top_logprobs", "top_logprobs_out_of_range")
	}
	if err := c.checkTools(r.Tools, len(r.Functions)); err != nil {
		return 0, 0, err
	}
	if err := c.checkTemp(r.Temperature, r.TopP); err != nil {
		return 0, 0, err
	}
	capTokens, err := c.outputCap(r.MaxTokens, r.MaxCompletionTokens)
	if err != nil {
		return 0, 0, err
	}
	if reasoning {
		r.MaxTokens, r.MaxCompletionTokens = 0, capTokens
	} else {
		r.MaxTokens, r.MaxCompletionTokens = capTokens, 0
	}
	if call.Stream {
		r.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
	} else {
		r.StreamOptions = nil
	}
	r.SafetyIdentifier = call.Pseudonym
	if r.User != "" {
		r.User = call.Pseudonym
	}
	return capTokens, max(r.N, 1), nil
}

func (c *config) responsesPolicy(call *Call, r *openai.CreateResponseRequest) (int, int, error) {
	if _, err := c.checkModel(r.Model); err != nil {
		return 0, 0, err
	}
	if r.Stream && !call.Stream {
		return 0, 0, policyErr("stream", "stream_flag_on_plain_call")
	}
	r.Stream = call.Stream
	if !c.allowStore {
		switch {
		case r.Store != nil && *r.Store:
			return 0, 0, policyErr("store", "store_requested")
		case r.PreviousResponseID != "":
			return 0, 0, policyErr("store", "previous_response_id_needs_store")
		case r.Conversation != nil:
			return 0, 0, policyErr("store", "conversation_needs_store")
		case r.Background:
			return 0, 0, policyErr("store", "background_needs_store")
		}
		r.Store = new(false)
	}
	if r.Input == nil && r.Prompt == nil {
		return 0, 0, policyErr("input", "no_input")
	}
	if sliceLen(r.Input) > c.maxMessages {
		return 0, 0, refuse(ErrInputRejected, StagePolicy, "max_messages", "too_many_input_items")
	}
	if r.Prompt != nil && !c.promptTemplates[r.Prompt.ID] {
		return 0, 0, policyErr("prompt_template", "prompt_template_not_allowed")
	}
	if err := c.checkTools(r.Tools, 0); err != nil {
		return 0, 0, err
	}
	if err := c.checkExtraBody(r.ExtraBody); err != nil {
		return 0, 0, err
	}
	var t, p float32
	if r.Temperature != nil {
		t = *r.Temperature
	}
	if r.TopP != nil {
		p = *r.TopP
	}
	if err := c.checkTemp(t, p); err != nil {
		return 0, 0, err
	}
	if r.MaxToolCalls < 0 || r.TopLogprobs < 0 || r.TopLogprobs > 20 {
		return 0, 0, policyErr("bounds", "negative_or_out_of_range")
	}
	capTokens, err := c.outputCap(r.MaxOutputTokens)
	if err != nil {
		return 0, 0, err
	}
	r.MaxOutputTokens = capTokens
	r.SafetyIdentifier = call.Pseudonym
	if r.User != "" {
		r.User = call.Pseudonym
	}
	return capTokens, 1, nil
}

// maxEmbeddingInputs is the API's own bound on inputs per request.
const maxEmbeddingInputs = 2048

func (c *config) embeddingsPolicy(call *Call, r *openai.EmbeddingRequest) (int, int, error) {
	if _, err := c.checkModel(string(r.Model)); err != nil {
		return 0, 0, err
	}
	switch in := r.Input.(type) {
	case string:
	case []string:
		if len(in) > maxEmbeddingInputs {
			return 0, 0, policyErr("max_inputs", "too_many_inputs")
		}
	case []any:
		for _, v := range in {
			if _, ok := v.(string); !ok {
				return 0, 0, policyErr("input", "non_text_input")
			}
		}
		if len(in) > maxEmbeddingInputs {
			return 0, 0, policyErr("max_inputs", "too_many_inputs")
		}
	default:
		// Token arrays cannot be read by the input checks.
		return 0, 0, policyErr("input", "non_text_input")
	}
	if err := c.checkExtraBody(r.ExtraBody); err != nil {
		return 0, 0, err
	}
	if r.Dimensions < 0 {
		return 0, 0, policyErr("bounds", "negative_dimensions")
	}
	if r.User != "" {
		r.User = call.Pseudonym
	}
	return 0, 1, nil
}

func (c *config) moderationsPolicy(_ *Call, r *openai.ModerationRequest) (int, int, error) {
	if _, err := c.checkModel(r.Model); err != nil {
		return 0, 0, err
	}
	return 0, 1, nil
}
