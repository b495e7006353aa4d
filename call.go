package secureai

import (
	"sync"
	"time"
)

// Endpoint names an upstream API a [Client] covers.
type Endpoint string

// The covered endpoints. Any other upstream API is not reachable through a
// [Client].
const (
	EndpointChat        Endpoint = "chat.completions"
	EndpointResponses   Endpoint = "responses"
	EndpointEmbeddings  Endpoint = "embeddings"
	EndpointModerations Endpoint = "moderations"
)

// operation is the OpenTelemetry gen_ai.operation.name of an endpoint.
func (e Endpoint) operation() string {
	switch e {
	case EndpointChat:
		return "chat"
	case EndpointEmbeddings:
		return "embeddings"
	case EndpointResponses:
		return "responses"
	case EndpointModerations:
		return "moderations"
	}
	return string(e)
}

// Call is the per-call state that the pipeline hands to every stage slot:
// who calls, which endpoint and model, and a small value store in which an
// input stage leaves what an output stage needs later (the pseudonyms to
// restore, a canary token). One Call lives for one API call (for a stream,
// until the stream ends). Its exported fields are set by the pipeline before
// the first slot runs and must be treated as read-only by slots; Set and
// Value are safe for concurrent use.
type Call struct {
	// ID is the request ID, also written to the audit event.
	ID string
	// Endpoint is the API called.
	Endpoint Endpoint
	// Model is the requested model, after policy.
	Model string
	// Stream reports a streaming call.
	Stream bool
	// Caller is the caller from the context (zero for an anonymous call).
	Caller Caller
	// Pseudonym is the keyed-hash pseudonym of Caller.ID ("" when anonymous).
	Pseudonym string
	// Environment is the client's deployment environment.
	Environment string
	// Start is when the call entered the pipeline.
	Start time.Time

	mu       sync.Mutex
	kv       [4]callValue // the first values set, in order
	nkv      int
	values   map[any]any // the values past the first four
	stage    Stage       // the stage running now, for AddFinding
	findings []stagedFinding
	scans    *scanCache // the built-in checks' shared scans, during stages 4 and 5
}

// callValue is one value of Call.Set.
type callValue struct{ key, value any }

type stagedFinding struct {
	stage Stage
	Finding
}

// enter records the stage that runs now.
func (c *Call) enter(s Stage) {
	c.mu.Lock()
	c.stage = s
	c.mu.Unlock()
}

// Finding is what a check found, as kinds and counts only (never the text):
// it goes to the audit event. Kind is the class ("pii", "secret",
// "injection", "invisible_text", "deny_rule", ...), Type narrows it
// ("email", "aws_access_key_id").
type Finding struct {
	Kind  string
	Type  string
	Count int
}

// AddFinding records what a check found, for the audit event. The pipeline
// adds the stage (input or output) in which it was reported. Safe for
// concurrent use.
func (c *Call) AddFinding(f Finding) {
	c.mu.Lock()
	c.findings = append(c.findings, stagedFinding{c.stage, f})
	c.mu.Unlock()
}

// Set stores a value for later stages of the same call. Use an unexported
// key type, as with context keys.
func (c *Call) Set(key, value any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.nkv {
		if c.kv[i].key == key {
			c.kv[i].value = value
			return
		}
	}
	if c.nkv < len(c.kv) && c.values == nil {
		c.kv[c.nkv] = callValue{key, value}
		c.nkv++
		return
	}
	if c.values == nil {
		c.values = make(map[any]any)
	}
	c.values[key] = value
}

// Value returns what [Call.Set] stored under key, or nil.
func (c *Call) Value(key any) any {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.nkv {
		if c.kv[i].key == key {
			return c.kv[i].value
		}
	}
	return c.values[key]
}

// TextField is one string field of a request or response that the checks
// see: message content, a multi-content text part, a name, a tool or
// function description or argument, Responses instructions and input items.
// A check may rewrite Text (redaction); the pipeline writes the change back
// into the request sent upstream (or the response returned).
type TextField struct {
	// Path locates the field, e.g. "messages[2].content",
	// "tools[0].function.description", "input[1].content[0].text".
	Path string
	// Role is the chat role of the message the field belongs to ("system",
	// "user", "assistant", "tool", "developer"), when known.
	Role string
	// Text is the field's value.
	Text string
}

// Input is the text view of a request that input checks see. Checks run in
// order; each sees the rewrites of those before it.
type Input struct {
	Endpoint Endpoint
	Model    string
	Fields   []TextField
}

// Bytes returns the total size of the texts in bytes.
func (in *Input) Bytes() int {
	n := 0
	for i := range in.Fields {
		n += len(in.Fields[i].Text)
	}
	return n
}

// Output is the text view of a non-streamed answer that output checks see
// (choice contents, refusals, tool-call arguments, Responses output items).
// Checks may rewrite Text.
type Output struct {
	Endpoint Endpoint
	Model    string
	Fields   []TextField
}

// Usage is the token usage of a finished call, as reported by the upstream.
type Usage struct {
	InputTokens  int
	OutputTokens int
}

// Estimate is the upper bound of what a call may consume, known before it is
// sent: what a budget reserves.
type Estimate struct {
	// InputTokens is an upper bound of the prompt tokens.
	InputTokens int
	// MaxOutputTokens is the output cap per choice, as sent upstream.
	MaxOutputTokens int
	// Choices is the number of choices requested (n), at least 1.
	Choices int
	// CountInputTokens counts the prompt tokens exactly with the model's
	// tokenizer (texts exact, framing, images and tools still bounded). It
	// costs milliseconds on a large prompt: call it only when InputTokens
	// would be refused. Nil when no exact count is possible.
	CountInputTokens func() (int, error)
}

// OutputTokens returns the upper bound of output tokens: Choices ×
// MaxOutputTokens.
func (e Estimate) OutputTokens() int { return max(e.Choices, 1) * e.MaxOutputTokens }
