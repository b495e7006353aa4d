package secureaitest

import (
	"encoding/json"
	"strings"
	"time"
)

// responsesRequest holds the fields of a Responses API request the fake
// uses. Raw fields are echoed in the response object as sent.
type responsesRequest struct {
	Model           *string         `json:"model"`
	Input           json.RawMessage `json:"input"`
	Instructions    json.RawMessage `json:"instructions"`
	MaxOutputTokens *int            `json:"max_output_tokens"`
	MaxToolCalls    json.RawMessage `json:"max_tool_calls"`
	Store           *bool           `json:"store"`
	Stream          bool            `json:"stream"`
	StreamOptions   *struct {
		IncludeObfuscation *bool `json:"include_obfuscation"`
	} `json:"stream_options"`
	Metadata             json.RawMessage `json:"metadata"`
	ParallelToolCalls    json.RawMessage `json:"parallel_tool_calls"`
	PreviousResponseID   json.RawMessage `json:"previous_response_id"`
	PromptCacheKey       json.RawMessage `json:"prompt_cache_key"`
	PromptCacheRetention json.RawMessage `json:"prompt_cache_retention"`
	Reasoning            *struct {
		Effort  json.RawMessage `json:"effort"`
		Summary json.RawMessage `json:"summary"`
	} `json:"reasoning"`
	SafetyIdentifier json.RawMessage `json:"safety_identifier"`
	ServiceTier      string          `json:"service_tier"`
	Temperature      json.RawMessage `json:"temperature"`
	Text             json.RawMessage `json:"text"`
	ToolChoice       json.RawMessage `json:"tool_choice"`
	Tools            json.RawMessage `json:"tools"`
	TopLogprobs      json.RawMessage `json:"top_logprobs"`
	TopP             json.RawMessage `json:"top_p"`
	Truncation       json.RawMessage `json:"truncation"`
	User             json.RawMessage `json:"user"`
}

// The response object, fields in the order the real API sends them.
type responseObject struct {
	ID                   string             `json:"id"`
	Object               string             `json:"object"`
	CreatedAt            int64              `json:"created_at"`
	Status               string             `json:"status"`
	Background           bool               `json:"background"`
	CompletedAt          *int64             `json:"completed_at"`
	Error                json.RawMessage    `json:"error"`
	FrequencyPenalty     float64            `json:"frequency_penalty"`
	IncompleteDetails    *incompleteDetails `json:"incomplete_details"`
	Instructions         json.RawMessage    `json:"instructions"`
	MaxOutputTokens      *int               `json:"max_output_tokens"`
	MaxToolCalls         json.RawMessage    `json:"max_tool_calls"`
	Model                string             `json:"model"`
	Moderation           json.RawMessage    `json:"moderation"`
	Output               []outputMessage    `json:"output"`
	ParallelToolCalls    json.RawMessage    `json:"parallel_tool_calls"`
	PresencePenalty      float64            `json:"presence_penalty"`
	PreviousResponseID   json.RawMessage    `json:"previous_response_id"`
	PromptCacheKey       json.RawMessage    `json:"prompt_cache_key"`
	PromptCacheRetention json.RawMessage    `json:"prompt_cache_retention"`
	Reasoning            reasoningEcho      `json:"reasoning"`
	SafetyIdentifier     json.RawMessage    `json:"safety_identifier"`
	ServiceTier          string             `json:"service_tier"`
	Store                bool               `json:"store"`
	Temperature          json.RawMessage    `json:"temperature"`
	Text                 json.RawMessage    `json:"text"`
	ToolChoice           json.RawMessage    `json:"tool_choice"`
	Tools                json.RawMessage    `json:"tools"`
	TopLogprobs          json.RawMessage    `json:"top_logprobs"`
	TopP                 json.RawMessage    `json:"top_p"`
	Truncation           json.RawMessage    `json:"truncation"`
	Usage                *responseUsage     `json:"usage"`
	User                 json.RawMessage    `json:"user"`
	Metadata             json.RawMessage    `json:"metadata"`
}

type incompleteDetails struct {
	Reason string `json:"reason"`
}

type reasoningEcho struct {
	Effort  json.RawMessage `json:"effort"`
	Summary json.RawMessage `json:"summary"`
}

type outputMessage struct {
	ID      string       `json:"id"`
	Type    string       `json:"type"`
	Status  string       `json:"status"`
	Content []outputText `json:"content"`
	Role    string       `json:"role"`
}

type outputText struct {
	Type        string     `json:"type"`
	Annotations []struct{} `json:"annotations"`
	Logprobs    []struct{} `json:"logprobs"`
	Text        string     `json:"text"`
}

type responseUsage struct {
	InputTokens        int `json:"input_tokens"`
	InputTokensDetails struct {
		CacheWriteTokens int `json:"cache_write_tokens"`
		CachedTokens     int `json:"cached_tokens"`
	} `json:"input_tokens_details"`
	OutputTokens        int `json:"output_tokens"`
	OutputTokensDetails struct {
		ReasoningTokens int `json:"reasoning_tokens"`
	} `json:"output_tokens_details"`
	TotalTokens int `json:"total_tokens"`
}

// Stream events, fields in the order the real API sends them.
type (
	responseEvent struct {
		Type           string          `json:"type"`
		Response       *responseObject `json:"response"`
		SequenceNumber int             `json:"sequence_number"`
	}
	itemEvent struct {
		Type           string        `json:"type"`
		Item           outputMessage `json:"item"`
		OutputIndex    int           `json:"output_index"`
		SequenceNumber int           `json:"sequence_number"`
	}
	partEvent struct {
		Type           string     `json:"type"`
		ContentIndex   int        `json:"content_index"`
		ItemID         string     `json:"item_id"`
		OutputIndex    int        `json:"output_index"`
		Part           outputText `json:"part"`
		SequenceNumber int        `json:"sequence_number"`
	}
	textDeltaEvent struct {
		Type           string     `json:"type"`
		ContentIndex   int        `json:"content_index"`
		Delta          string     `json:"delta"`
		ItemID         string     `json:"item_id"`
		Logprobs       []struct{} `json:"logprobs"`
		Obfuscation    string     `json:"obfuscation,omitempty"`
		OutputIndex    int        `json:"output_index"`
		SequenceNumber int        `json:"sequence_number"`
	}
	textDoneEvent struct {
		Type           string     `json:"type"`
		ContentIndex   int        `json:"content_index"`
		ItemID         string     `json:"item_id"`
		Logprobs       []struct{} `json:"logprobs"`
		OutputIndex    int        `json:"output_index"`
		SequenceNumber int        `json:"sequence_number"`
		Text           string     `json:"text"`
	}
)

// orDefault returns raw, or def if the request did not send the field.
func orDefault(raw json.RawMessage, def string) json.RawMessage {
	if raw == nil {
		return json.RawMessage(def)
	}
	return raw
}

// inputBytes returns the bytes of text in a Responses input: a string or an
// array of items.
func inputBytes(raw json.RawMessage) (n, items int) {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return len(s), 1
	}
	var list []struct {
		Content   json.RawMessage `json:"content"`
		Output    json.RawMessage `json:"output"`
		Arguments string          `json:"arguments"`
	}
	if json.Unmarshal(raw, &list) != nil {
		return 0, 0
	}
	for _, it := range list {
		n += contentText(it.Content) + contentText(it.Output) + len(it.Arguments)
	}
	return n, len(list)
}

func (c *call) responses() {
	var req responsesRequest
	if !c.decode(&req) {
		return
	}
	if req.Model == nil || *req.Model == "" {
		c.missing("model")
		return
	}
	if !c.checkInt("max_output_tokens", req.MaxOutputTokens, 16, 1<<20) {
		return
	}

	n, items := inputBytes(req.Input)
	var instructions string
	json.Unmarshal(req.Instructions, &instructions)
	inputTokens := estimateTokens(n+len(instructions)) + 3*items

	reply, _ := c.s.snapshot()
	words := splitWords(reply)
	incomplete := req.MaxOutputTokens != nil && *req.MaxOutputTokens < len(words)
	if incomplete {
		words = words[:*req.MaxOutputTokens]
	}
	text := strings.Join(words, "")

	usage := &responseUsage{InputTokens: inputTokens, OutputTokens: len(words)}
	usage.TotalTokens = usage.InputTokens + usage.OutputTokens

	idHex := c.s.hexID(50)
	obj := responseObject{
		ID:                   "resp_" + idHex,
		Object:               "response",
		CreatedAt:            time.Now().Unix(),
		Error:                null(),
		Instructions:         orDefault(req.Instructions, "null"),
		MaxOutputTokens:      req.MaxOutputTokens,
		MaxToolCalls:         orDefault(req.MaxToolCalls, "null"),
		Model:                *req.Model,
		Moderation:           null(),
		Output:               []outputMessage{},
		ParallelToolCalls:    orDefault(req.ParallelToolCalls, "true"),
		PreviousResponseID:   orDefault(req.PreviousResponseID, "null"),
		PromptCacheKey:       orDefault(req.PromptCacheKey, "null"),
		PromptCacheRetention: orDefault(req.PromptCacheRetention, "null"),
		Reasoning:            reasoningEcho{Effort: null(), Summary: null()},
		SafetyIdentifier:     orDefault(req.SafetyIdentifier, "null"),
		ServiceTier:          "auto",
		Store:                req.Store == nil || *req.Store,
		Temperature:          orDefault(req.Temperature, "1"),
		Text:                 orDefault(req.Text, `{"format":{"type":"text"},"verbosity":"medium"}`),
		ToolChoice:           orDefault(req.ToolChoice, `"auto"`),
		Tools:                orDefault(req.Tools, "[]"),
		TopLogprobs:          orDefault(req.TopLogprobs, "0"),
		TopP:                 orDefault(req.TopP, "1"),
		Truncation:           orDefault(req.Truncation, `"disabled"`),
		User:                 orDefault(req.User, "null"),
		Metadata:             orDefault(req.Metadata, "{}"),
	}
	if req.Reasoning != nil {
		obj.Reasoning = reasoningEcho{orDefault(req.Reasoning.Effort, "null"), orDefault(req.Reasoning.Summary, "null")}
	}
	if req.ServiceTier != "" && req.ServiceTier != "auto" {
		obj.ServiceTier = req.ServiceTier
	}

	// The final state of the response.
	msgStatus := "completed"
	done := obj
	done.ServiceTier = serviceTier(req.ServiceTier)
	done.Usage = usage
	if incomplete {
		msgStatus = "incomplete"
		done.Status = "incomplete"
		done.IncompleteDetails = &incompleteDetails{Reason: "max_output_tokens"}
	} else {
		done.Status = "completed"
		completedAt := time.Now().Unix()
		done.CompletedAt = &completedAt
	}
	msgID := "msg_" + idHex[:16] + c.s.hexID(34)
	part := outputText{Type: "output_text", Annotations: []struct{}{}, Logprobs: []struct{}{}, Text: text}
	msg := outputMessage{ID: msgID, Type: "message", Status: msgStatus, Content: []outputText{part}, Role: "assistant"}
	done.Output = []outputMessage{msg}

	if !req.Stream {
		c.writeJSON(done, usage.TotalTokens)
		return
	}

	obfuscate := req.StreamOptions == nil || req.StreamOptions.IncludeObfuscation == nil ||
		*req.StreamOptions.IncludeObfuscation
	var frames [][]byte
	emit := func(typ string, ev any) {
		b, err := json.Marshal(ev)
		if err != nil {
			panic("secureaitest: " + err.Error())
		}
		fr := make([]byte, 0, len(b)+len(typ)+16)
		fr = append(fr, "event: "...)
		fr = append(fr, typ...)
		fr = append(fr, "\ndata: "...)
		fr = append(fr, b...)
		frames = append(frames, append(fr, "\n\n"...))
	}
	seq := func() int { return len(frames) }

	obj.Status = "in_progress"
	emit("response.created", responseEvent{"response.created", &obj, seq()})
	emit("response.in_progress", responseEvent{"response.in_progress", &obj, seq()})
	added := outputMessage{ID: msgID, Type: "message", Status: "in_progress", Content: []outputText{}, Role: "assistant"}
	emit("response.output_item.added", itemEvent{"response.output_item.added", added, 0, seq()})
	empty := part
	empty.Text = ""
	emit("response.content_part.added", partEvent{"response.content_part.added", 0, msgID, 0, empty, seq()})
	for _, w := range words {
		ev := textDeltaEvent{Type: "response.output_text.delta", Delta: w, ItemID: msgID, Logprobs: []struct{}{}, SequenceNumber: seq()}
		if obfuscate {
			ev.Obfuscation = c.s.alnumID(16 - len(w)%16)
		}
		emit(ev.Type, ev)
	}
	emit("response.output_text.done", textDoneEvent{"response.output_text.done", 0, msgID, []struct{}{}, 0, seq(), text})
	emit("response.content_part.done", partEvent{"response.content_part.done", 0, msgID, 0, part, seq()})
	emit("response.output_item.done", itemEvent{"response.output_item.done", msg, 0, seq()})
	main := len(frames)
	final := "response.completed"
	if incomplete {
		final = "response.incomplete"
	}
	emit(final, responseEvent{final, &done, seq()})
	c.stream(frames, main, usage.TotalTokens)
}
