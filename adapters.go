package secureai

import (
	"maps"
	"reflect"
	"slices"
	"strconv"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/internal/tokens"
)

// endpoint adapts one request type to the pipeline: the policy that bounds
// it, the walk over its text fields, and the deep copy that makes a rewrite
// safe (the caller's request and its slices are never written to).
type endpoint[Req any] struct {
	kind  Endpoint
	model func(*Req) string
	// policy applies stage 2 and returns the output cap per choice and the
	// number of choices, for the budget estimate.
	policy func(p *config, call *Call, r *Req) (maxOut, choices int, err error)
	walk   func(r *Req, w *walker)
	clone  func(r *Req)
	// estimate describes the prompt beyond its texts (messages, images,
	// tools) for the token bound; nil: one message per text.
	estimate func(r *Req) tokens.Estimate
	// tools returns the functions the request offers, by name, with their
	// parameter schemas, for the tool-call check; nil: no tool calls.
	tools func(r *Req) map[string]any
	// images returns the request's image URLs, for the moderation check.
	images func(r *Req) []string
}

var chatEndpoint = &endpoint[openai.ChatCompletionRequest]{
	kind:     EndpointChat,
	model:    func(r *openai.ChatCompletionRequest) string { return r.Model },
	policy:   (*config).chatPolicy,
	walk:     walkChat,
	clone:    cloneChat,
	estimate: chatEstimate,
	tools:    chatTools,
	images:   chatImages,
}

var responsesEndpoint = &endpoint[openai.CreateResponseRequest]{
	kind:     EndpointResponses,
	model:    func(r *openai.CreateResponseRequest) string { return r.Model },
	policy:   (*config).responsesPolicy,
	walk:     walkResponses,
	clone:    cloneResponses,
	estimate: responsesEstimate,
	tools:    responsesTools,
}

var embeddingsEndpoint = &endpoint[openai.EmbeddingRequest]{
	kind:   EndpointEmbeddings,
	model:  func(r *openai.EmbeddingRequest) string { return string(r.Model) },
	policy: (*config).embeddingsPolicy,
	walk: func(r *openai.EmbeddingRequest, w *walker) {
		w.anyv(&r.Input, "user", "input")
		walkExtraBody(&r.ExtraBody, w)
	},
	clone: func(*openai.EmbeddingRequest) {}, // anyv replaces Input and ExtraBody wholesale
}

var moderationsEndpoint = &endpoint[openai.ModerationRequest]{
	kind:   EndpointModerations,
	model:  func(r *openai.ModerationRequest) string { return r.Model },
	policy: (*config).moderationsPolicy,
	walk:   func(r *openai.ModerationRequest, w *walker) { w.str(&r.Input, "user", "input") },
	clone:  func(*openai.ModerationRequest) {},
}

func itoa(i int) string { return strconv.Itoa(i) }

// pathCache holds the paths base[i]suffix of the first indices, made once,
// so that the walks do not build the common paths on every call.
type pathCache struct {
	base, suffix string
	paths        []string
}

func newPathCache(base, suffix string, n int) *pathCache {
	c := &pathCache{base: base, suffix: suffix, paths: make([]string, n)}
	for i := range c.paths {
		c.paths[i] = base + "[" + itoa(i) + "]" + suffix
	}
	return c
}

// at returns the path of index i.
func (c *pathCache) at(i int) string {
	if i < len(c.paths) {
		return c.paths[i]
	}
	return c.base + "[" + itoa(i) + "]" + c.suffix
}

// The paths of the chat messages and choices.
var (
	msgPaths           = newPathCache("messages", "", DefaultMaxMessages)
	msgContentPaths    = newPathCache("messages", ".content", DefaultMaxMessages)
	choicePaths        = newPathCache("choices", ".message", 2*DefaultMaxChoices)
	choiceContentPaths = newPathCache("choices", ".message.content", 2*DefaultMaxChoices)
)

func walkChat(r *openai.ChatCompletionRequest, w *walker) {
	for i := range r.Messages {
		m := &r.Messages[i]
		p := msgPaths.at(i)
		w.str(&m.Content, m.Role, msgContentPaths.at(i))
		for j := range m.MultiContent {
			w.str(&m.MultiContent[j].Text, m.Role, p+".content["+itoa(j)+"].text")
		}
		w.strAt(&m.Refusal, m.Role, p, ".refusal")
		w.strAt(&m.Name, m.Role, p, ".name")
		w.strAt(&m.ReasoningContent, m.Role, p, ".reasoning_content")
		if m.FunctionCall != nil {
			w.str(&m.FunctionCall.Name, m.Role, p+".function_call.name")
			w.str(&m.FunctionCall.Arguments, m.Role, p+".function_call.arguments")
		}
		for j := range m.ToolCalls {
			tp := p + ".tool_calls[" + itoa(j) + "].function"
			w.str(&m.ToolCalls[j].Function.Name, m.Role, tp+".name")
			w.str(&m.ToolCalls[j].Function.Arguments, m.Role, tp+".arguments")
		}
	}
	w.strs(r.Stop, "", "stop")
	walkTools(r.Tools, w)
	for i := range r.Functions {
		walkFunction(&r.Functions[i], w, "functions["+itoa(i)+"]")
	}
	if r.Prediction != nil {
		w.str(&r.Prediction.Content, "", "prediction.content")
	}
	if r.ResponseFormat != nil && r.ResponseFormat.JSONSchema != nil {
		s := r.ResponseFormat.JSONSchema
		w.str(&s.Name, "", "response_format.json_schema.name")
		w.str(&s.Description, "", "response_format.json_schema.description")
		w.marshaler(&s.Schema, "response_format.json_schema.schema")
	}
	w.strMap(r.Metadata, "metadata")
	w.strs(r.GuidedChoice, "", "guided_choice")
	walkMap(&r.ChatTemplateKwargs, w, "chat_template_kwargs")
}

func walkTools(tools []openai.Tool, w *walker) {
	for i := range tools {
		p := "tools[" + itoa(i) + "]"
		if tools[i].Function != nil {
			walkFunction(tools[i].Function, w, p+".function")
		}
		walkMap(&tools[i].Parameters, w, p)
	}
}

func walkFunction(f *openai.FunctionDefinition, w *walker, p string) {
	w.str(&f.Name, "", p+".name")
	w.str(&f.Description, "", p+".description")
	w.anyv(&f.Parameters, "", p+".parameters")
}

// walkMap visits a map[string]any through its JSON form.
func walkMap(m *map[string]any, w *walker, path string) {
	if len(*m) == 0 {
		return
	}
	var v any = *m
	w.anyv(&v, "", path)
	if w.apply {
		*m, _ = v.(map[string]any)
	}
}

func walkExtraBody(m *map[string]any, w *walker) { walkMap(m, w, "extra_body") }

func cloneChat(r *openai.ChatCompletionRequest) {
	r.Messages = slices.Clone(r.Messages)
	for i := range r.Messages {
		m := &r.Messages[i]
		m.MultiContent = slices.Clone(m.MultiContent)
		m.ToolCalls = slices.Clone(m.ToolCalls)
		if m.FunctionCall != nil {
			fc := *m.FunctionCall
			m.FunctionCall = &fc
		}
	}
	r.Stop = slices.Clone(r.Stop)
	r.Tools = cloneTools(r.Tools)
	r.Functions = slices.Clone(r.Functions)
	if r.Prediction != nil {
		p := *r.Prediction
		r.Prediction = &p
	}
	if r.ResponseFormat != nil {
		f := *r.ResponseFormat
		if f.JSONSchema != nil {
			s := *f.JSONSchema
			f.JSONSchema = &s
		}
		r.ResponseFormat = &f
	}
	r.Metadata = maps.Clone(r.Metadata)
	r.GuidedChoice = slices.Clone(r.GuidedChoice)
}

func cloneTools(tools []openai.Tool) []openai.Tool {
	tools = slices.Clone(tools)
	for i := range tools {
		if tools[i].Function != nil {
			f := *tools[i].Function
			tools[i].Function = &f
		}
	}
	return tools
}

func walkResponses(r *openai.CreateResponseRequest, w *walker) {
	w.str(&r.Instructions, "system", "instructions")
	w.anyv(&r.Input, "user", "input")
	walkTools(r.Tools, w)
	if r.Prompt != nil {
		walkMap(&r.Prompt.Variables, w, "prompt.variables")
	}
	walkMap(&r.Metadata, w, "metadata")
	if r.Text != nil && r.Text.Format != nil {
		f := r.Text.Format
		w.str(&f.Name, "", "text.format.name")
		w.str(&f.Description, "", "text.format.description")
		w.anyv(&f.Schema, "", "text.format.schema")
	}
	walkExtraBody(&r.ExtraBody, w)
}

func cloneResponses(r *openai.CreateResponseRequest) {
	r.Tools = cloneTools(r.Tools)
	if r.Prompt != nil {
		p := *r.Prompt
		r.Prompt = &p
	}
	if r.Text != nil {
		t := *r.Text
		if t.Format != nil {
			f := *t.Format
			t.Format = &f
		}
		r.Text = &t
	}
}

// walkChatOutput visits the texts of a chat answer.
func walkChatOutput(r *openai.ChatCompletionResponse, w *walker) {
	for i := range r.Choices {
		m := &r.Choices[i].Message
		p := choicePaths.at(i)
		w.str(&m.Content, "assistant", choiceContentPaths.at(i))
		w.strAt(&m.Refusal, "assistant", p, ".refusal")
		w.strAt(&m.ReasoningContent, "assistant", p, ".reasoning_content")
		for j := range m.MultiContent {
			w.str(&m.MultiContent[j].Text, "assistant", p+".content["+itoa(j)+"].text")
		}
		if m.FunctionCall != nil {
			w.str(&m.FunctionCall.Name, "assistant", p+".function_call.name")
			w.str(&m.FunctionCall.Arguments, "assistant", p+".function_call.arguments")
		}
		for j := range m.ToolCalls {
			tp := p + ".tool_calls[" + itoa(j) + "].function"
			w.str(&m.ToolCalls[j].Function.Name, "assistant", tp+".name")
			w.str(&m.ToolCalls[j].Function.Arguments, "assistant", tp+".arguments")
		}
	}
}

// walkResponsesOutput visits the texts of a Responses answer.
func walkResponsesOutput(r *openai.CreateResponseResponse, w *walker) {
	for i := range r.Output {
		w.anyv(&r.Output[i], "assistant", "output["+itoa(i)+"]")
	}
	w.str(&r.OutputText, "assistant", "output_text")
}

// sliceLen returns the length of v when it is a slice or array, else 1 (a
// single string or object), or 0 for nil.
func sliceLen(v any) int {
	if v == nil {
		return 0
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		return rv.Len()
	}
	return 1
}
