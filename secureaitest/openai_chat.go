package secureaitest

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

// chatRequest holds the fields of a chat completion request the fake uses.
type chatRequest struct {
	Model               *string       `json:"model"`
	Messages            []chatMessage `json:"messages"`
	N                   *int          `json:"n"`
	MaxTokens           *int          `json:"max_tokens"`
	MaxCompletionTokens *int          `json:"max_completion_tokens"`
	Stream              bool          `json:"stream"`
	StreamOptions       *struct {
		IncludeUsage       bool  `json:"include_usage"`
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
	ServiceTier string `json:"service_tier"`
}

type chatMessage struct {
	Role    string          `json:"role"`
	Content json.RawMessage `json:"content"`
}

// contentText returns the number of bytes of text in a message content,
// which is a string or an array of parts.
func contentText(raw json.RawMessage) int {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(s)
	}
	var parts []struct {
		Text   string `json:"text"`
		Output string `json:"output"`
	}
	if json.Unmarshal(raw, &parts) == nil {
		n := 0
		for _, p := range parts {
			n += len(p.Text) + len(p.Output)
		}
		return n
	}
	return 0
}

// The chat completion object, fields in the order the real API sends them.
type chatCompletion struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	Choices           []chatChoice `json:"choices"`
	Usage             chatUsage    `json:"usage"`
	ServiceTier       string       `json:"service_tier"`
	SystemFingerprint string       `json:"system_fingerprint"`
}

type chatChoice struct {
	Index        int             `json:"index"`
	Message      chatReplyMsg    `json:"message"`
	Logprobs     json.RawMessage `json:"logprobs"` // null
	FinishReason string          `json:"finish_reason"`
}

type chatReplyMsg struct {
	Role        string          `json:"role"`
	Content     json.RawMessage `json:"content"` // a string, or null with tool calls
	Refusal     json.RawMessage `json:"refusal"` // null
	ToolCalls   []toolCallJSON  `json:"tool_calls,omitempty"`
	Annotations []struct{}      `json:"annotations"`
}

type toolCallJSON struct {
	Index    *int             `json:"index,omitempty"` // in stream deltas only
	ID       string           `json:"id,omitempty"`
	Type     string           `json:"type,omitempty"`
	Function toolFunctionJSON `json:"function"`
}

type toolFunctionJSON struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

type toolCallDelta struct {
	ToolCalls []toolCallJSON `json:"tool_calls"`
}

type chatUsage struct {
	PromptTokens        int `json:"prompt_tokens"`
	CompletionTokens    int `json:"completion_tokens"`
	TotalTokens         int `json:"total_tokens"`
	PromptTokensDetails struct {
		CachedTokens int `json:"cached_tokens"`
		AudioTokens  int `json:"audio_tokens"`
	} `json:"prompt_tokens_details"`
	CompletionTokensDetails struct {
		ReasoningTokens          int `json:"reasoning_tokens"`
		AudioTokens              int `json:"audio_tokens"`
		AcceptedPredictionTokens int `json:"accepted_prediction_tokens"`
		RejectedPredictionTokens int `json:"rejected_prediction_tokens"`
	} `json:"completion_tokens_details"`
}

// A chunk of a streamed chat completion.
type chatChunk struct {
	ID                string          `json:"id"`
	Object            string          `json:"object"`
	Created           int64           `json:"created"`
	Model             string          `json:"model"`
	ServiceTier       string          `json:"service_tier"`
	SystemFingerprint string          `json:"system_fingerprint"`
	Choices           []chunkChoice   `json:"choices"`
	Usage             json.RawMessage `json:"usage,omitempty"` // absent, null or the usage
	Obfuscation       string          `json:"obfuscation,omitempty"`
}

type chunkChoice struct {
	Index        int             `json:"index"`
	Delta        any             `json:"delta"`
	Logprobs     json.RawMessage `json:"logprobs"` // null
	FinishReason *string         `json:"finish_reason"`
}

type roleDelta struct {
	Role    string          `json:"role"`
	Content string          `json:"content"`
	Refusal json.RawMessage `json:"refusal"` // null
}

type contentDelta struct {
	Content string `json:"content"`
}

// The fake's system fingerprint, shaped like the real ones.
const systemFingerprint = "fp_5ec0a17e57"

// null returns the JSON null literal.
func null() json.RawMessage { return json.RawMessage("null") }

func (c *call) chatCompletions() {
	var req chatRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Model == nil || *req.Model == "":
		c.writeError(http.StatusBadRequest, apiError{
			Message: "you must provide a model parameter",
			Type:    "invalid_request_error",
		})
		return
	case req.Messages == nil:
		c.missing("messages")
		return
	case len(req.Messages) == 0:
		c.writeError(http.StatusBadRequest, apiError{
			Message: "Invalid 'messages': empty array. Expected an array with minimum length 1, " +
				"but got an empty array instead.",
			Type:  "invalid_request_error",
			Param: "messages",
			Code:  "empty_array",
		})
		return
	}
	if !c.checkInt("n", req.N, 1, 128) ||
		!c.checkInt("max_tokens", req.MaxTokens, 1, 1<<20) ||
		!c.checkInt("max_completion_tokens", req.MaxCompletionTokens, 1, 1<<20) {
		return
	}
	n := 1
	if req.N != nil {
		n = *req.N
	}

	textBytes := 0
	for _, m := range req.Messages {
		textBytes += contentText(m.Content)
	}
	promptTokens := estimateTokens(textBytes) + 3*len(req.Messages)

	words, _, tc := c.s.answer(c.body)
	finish := "stop"
	limit := req.MaxCompletionTokens
	if limit == nil {
		limit = req.MaxTokens
	}
	if limit != nil && *limit < len(words) {
		words, finish = words[:*limit], "length"
	}
	if tc != nil {
		words, finish = nil, "tool_calls"
	}
	var usage chatUsage
	usage.PromptTokens = promptTokens
	usage.CompletionTokens = len(words) * n
	usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens

	id := "chatcmpl-" + c.s.alnumID(29)
	created := time.Now().Unix()
	tier := serviceTier(req.ServiceTier)

	var call *toolCallJSON
	if tc != nil {
		call = &toolCallJSON{ID: "call_" + c.s.alnumID(24), Type: "function", Function: toolFunctionJSON{Name: tc.name, Arguments: tc.args}}
		usage.CompletionTokens = estimateTokens(len(tc.args)+len(tc.name)) * n
		usage.TotalTokens = usage.PromptTokens + usage.CompletionTokens
	}
	if req.Stream {
		c.chatStream(&req, id, created, tier, words, finish, n, usage, call)
		return
	}
	text := strings.Join(words, "")
	resp := chatCompletion{
		ID:                id,
		Object:            "chat.completion",
		Created:           created,
		Model:             *req.Model,
		Usage:             usage,
		ServiceTier:       tier,
		SystemFingerprint: systemFingerprint,
	}
	content := json.RawMessage(nil)
	if call == nil {
		content, _ = json.Marshal(text)
	} else {
		content = null()
	}
	for i := range n {
		msg := chatReplyMsg{Role: "assistant", Content: content, Refusal: null(), Annotations: []struct{}{}}
		if call != nil {
			msg.ToolCalls = []toolCallJSON{*call}
		}
		resp.Choices = append(resp.Choices, chatChoice{
			Index:        i,
			Message:      msg,
			Logprobs:     null(),
			FinishReason: finish,
		})
	}
	c.writeJSON(resp, usage.TotalTokens)
}

// serviceTier returns the tier the real API reports for a requested one.
func serviceTier(requested string) string {
	switch requested {
	case "flex", "priority", "scale":
		return requested
	}
	return "default"
}

// chatStream answers a chat completion as server-sent events, in the order
// the real API sends them: per choice a role chunk and its first word, then
// the other words round-robin over the choices, one finish chunk per choice,
// the usage chunk if asked for, and "data: [DONE]".
func (c *call) chatStream(req *chatRequest, id string, created int64, tier string,
	words []string, finish string, n int, usage chatUsage, call *toolCallJSON) {
	includeUsage := req.StreamOptions != nil && req.StreamOptions.IncludeUsage
	obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil ||
		*req.StreamOptions.IncludeObfuscation

	var frames [][]byte
	chunk := func(choices []chunkChoice, u json.RawMessage) {
		ch := chatChunk{
			ID:                id,
			Object:            "chat.completion.chunk",
			Created:           created,
			Model:             *req.Model,
			ServiceTier:       tier,
			SystemFingerprint: systemFingerprint,
			Choices:           choices,
			Usage:             u,
		}
		if obfuscate {
			ch.Obfuscation = c.s.alnumID(1 + len(frames)%9)
		}
		b, err := json.Marshal(ch)
		if err != nil {
			panic("secureaitest: " + err.Error())
		}
		frames = append(frames, dataFrame(b))
	}
	var noUsage json.RawMessage
	if includeUsage {
		noUsage = null()
	}
	delta := func(i int, d any, finish *string) {
		chunk([]chunkChoice{{Index: i, Delta: d, Logprobs: null(), FinishReason: finish}}, noUsage)
	}
	for i := range n {
		delta(i, roleDelta{Role: "assistant", Refusal: null()}, nil)
		if len(words) > 0 {
			delta(i, contentDelta{words[0]}, nil)
		}
	}
	for _, w := range words[min(1, len(words)):] {
		for i := range n {
			delta(i, contentDelta{w}, nil)
		}
	}
	if call != nil {
		for i := range n {
			first := *call
			first.Index, first.Function.Arguments = new(0), ""
			delta(i, toolCallDelta{[]toolCallJSON{first}}, nil)
			args := call.Function.Arguments
			for k := range 3 {
				part := args[len(args)*k/3 : len(args)*(k+1)/3]
				delta(i, toolCallDelta{[]toolCallJSON{{Index: new(0), Function: toolFunctionJSON{Arguments: part}}}}, nil)
			}
		}
	}
	for i := range n {
		delta(i, struct{}{}, &finish)
	}
	main := len(frames)
	if includeUsage {
		u, err := json.Marshal(usage)
		if err != nil {
			panic("secureaitest: " + err.Error())
		}
		chunk([]chunkChoice{}, u)
	}
	frames = append(frames, []byte("data: [DONE]\n\n"))
	c.stream(frames, main, usage.TotalTokens)
}

// dataFrame frames a JSON payload as a data-only server-sent event.
func dataFrame(payload []byte) []byte {
	b := make([]byte, 0, len(payload)+8)
	b = append(b, "data: "...)
	b = append(b, payload...)
	return append(b, "\n\n"...)
}

// stream sends frames as a text/event-stream, flushing after each. main is
// the number of frames before the closing ones (usage chunk and [DONE], or
// response.completed), where a CutAfter fault stops at the latest.
func (c *call) stream(frames [][]byte, main, tokens int) {
	f := c.fault
	cut := f.CutAfter > 0
	if cut && !f.Reset {
		c.w.Header().Set("Connection", "close")
	}
	c.writeHeader(http.StatusOK, "text/event-stream; charset=utf-8", headersOK, tokens)
	if cut {
		frames = frames[:min(f.CutAfter, main)]
	}
	rc := http.NewResponseController(c.w)
	rc.Flush()
	for _, fr := range frames {
		if c.r.Context().Err() != nil {
			return
		}
		if _, err := c.w.Write(fr); err != nil {
			return
		}
		if rc.Flush() != nil {
			return
		}
	}
	if cut && f.Reset {
		c.reset()
	}
}
