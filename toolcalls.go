package secureai

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"strings"
	"sync"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/sanitize"
)

// WithoutToolCallCheck turns off the built-in tool-call check of stage 10,
// which is on by default: every tool or function call in an answer must
// name a function the request offered, with arguments that are valid JSON
// and match that function's parameter schema, before the caller sees it;
// otherwise the answer is refused with ErrOutputBlocked, Check
// "tool_calls" and Reason "tool_not_allowed" or "tool_arguments_invalid".
// On streams the arguments are held back until the call is complete and
// checked. The argument values are never logged.
func WithoutToolCallCheck() Option {
	return func(c *config) error {
		c.toolsUnchecked = true
		return nil
	}
}

type toolsKey struct{}

// requestTools returns the functions a chat request offers, by name, with
// their parameter schemas; nil when it offers none.
func chatTools(r *openai.ChatCompletionRequest) map[string]any {
	if len(r.Tools) == 0 && len(r.Functions) == 0 {
		return nil
	}
	m := make(map[string]any, len(r.Tools)+len(r.Functions))
	for _, t := range r.Tools {
		if t.Function != nil {
			m[t.Function.Name] = t.Function.Parameters
		}
	}
	for _, f := range r.Functions {
		m[f.Name] = f.Parameters
	}
	return m
}

// responsesTools returns the function tools of a Responses request.
func responsesTools(r *openai.CreateResponseRequest) map[string]any {
	var m map[string]any
	for _, t := range r.Tools {
		if t.Type == openai.ToolTypeFunction && t.Function != nil {
			if m == nil {
				m = map[string]any{}
			}
			m[t.Function.Name] = t.Function.Parameters
		}
	}
	return m
}

// schemaCache keeps compiled tool schemas by the hash of their JSON, so
// that a request's tools are compiled once however many calls offer them.
// It holds at most max entries and starts over when full.
type schemaCache struct {
	mu  sync.Mutex
	m   map[[32]byte]*sanitize.ToolSchemas
	max int
}

func newSchemaCache(max int) *schemaCache {
	return &schemaCache{m: map[[32]byte]*sanitize.ToolSchemas{}, max: max}
}

func (c *schemaCache) get(tools map[string]any) (*sanitize.ToolSchemas, error) {
	js, err := json.Marshal(tools) // map keys are sorted: same tools, same bytes
	if err != nil {
		return nil, err
	}
	key := sha256.Sum256(js)
	c.mu.Lock()
	s := c.m[key]
	c.mu.Unlock()
	if s != nil {
		return s, nil
	}
	if s, err = sanitize.NewToolSchemas(tools); err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[key] = s
	c.mu.Unlock()
	return s, nil
}

// toolCallCheck validates the tool calls of an answer against the
// request's tools.
type toolCallCheck struct{ c *schemaCache }

func (toolCallCheck) String() string { return "tool calls (allowlist and argument schemas)" }

func (t toolCallCheck) CheckOutput(_ context.Context, call *Call, out *Output) error {
	calls := toolCallsOf(out.Fields)
	if len(calls) == 0 {
		return nil
	}
	tools, _ := call.Value(toolsKey{}).(map[string]any)
	return t.validate(call, tools, calls)
}

type toolCall struct{ name, args string }

func (t toolCallCheck) validate(call *Call, tools map[string]any, calls []toolCall) error {
	var schemas *sanitize.ToolSchemas
	if len(tools) > 0 {
		var err error
		if schemas, err = t.c.get(tools); err != nil {
			return &Error{Kind: ErrOutputBlocked, Stage: StageOutput, Check: "tool_calls", Reason: "tool_schema_invalid", Err: err}
		}
	}
	for _, tc := range calls {
		var err error
		if schemas == nil {
			err = sanitize.ErrToolNotAllowed
		} else {
			err = schemas.Validate(tc.name, tc.args)
		}
		if err == nil {
			continue
		}
		reason := "tool_arguments_invalid"
		if errors.Is(err, sanitize.ErrToolNotAllowed) {
			reason = "tool_not_allowed"
		}
		call.AddFinding(Finding{Kind: "tool_call", Type: reason, Count: 1})
		return &Error{Kind: ErrOutputBlocked, Stage: StageOutput, Check: "tool_calls", Reason: reason, Err: err}
	}
	return nil
}

// toolCallsOf pairs the name and arguments fields of the tool and function
// calls in an answer's text view (chat: choices[i].message.tool_calls[j].
// function.{name,arguments} and function_call.{name,arguments};
// Responses: output[i].{name,arguments} of function_call items).
func toolCallsOf(fields []TextField) []toolCall {
	var calls []toolCall
	names := map[string]string{}
	for _, f := range fields {
		if p, ok := strings.CutSuffix(f.Path, ".name"); ok {
			names[p] = f.Text
		}
	}
	for _, f := range fields {
		if p, ok := strings.CutSuffix(f.Path, ".arguments"); ok {
			calls = append(calls, toolCall{name: names[p], args: f.Text})
		}
	}
	return calls
}
