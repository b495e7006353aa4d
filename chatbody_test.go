package secureai

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"
)

// errCaptured ends a go-openai call once its request body is captured.
var errCaptured = errors.New("captured")

// captureDoer is an openai.HTTPDoer that keeps the body of each request
// and answers none; with splice set it first does what the HTTP layer
// does with a chat request's encoded messages.
type captureDoer struct {
	splice  bool
	spliced bool // the messages went into go-openai's body
	bodies  [][]byte
}

func (d *captureDoer) Do(req *http.Request) (*http.Response, error) {
	if d.splice {
		if cb := chatBodyFrom(req.Context()); cb != nil {
			spliced, err := cb.apply(req)
			if err != nil {
				return nil, err
			}
			d.spliced = spliced
		}
	}
	b, err := io.ReadAll(req.Body)
	if err != nil {
		return nil, err
	}
	if req.ContentLength != int64(len(b)) {
		return nil, errors.New("ContentLength is not the body's length")
	}
	if req.GetBody != nil { // a retry's body is the same
		rb, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		again, _ := io.ReadAll(rb)
		if !bytes.Equal(again, b) {
			return nil, errors.New("GetBody gives another body")
		}
	}
	d.bodies = append(d.bodies, b)
	return nil, errCaptured
}

// chatBodies returns the body raw go-openai sends for req and the one the
// pipeline sends (go-openai given the request without its messages, and
// the HTTP layer putting them back), for a plain call or a stream, and the
// errors of both calls with errCaptured taken as success. It fails t when
// the pipeline's body was sent without the messages put into go-openai's
// (the whole request encoded again), which a request with messages never
// needs.
func chatBodies(t testing.TB, req openai.ChatCompletionRequest, stream bool) (raw, ours []byte, rawErr, ourErr error) {
	t.Helper()
	call := func(splice bool) ([]byte, error) {
		d := &captureDoer{splice: splice}
		cfg := openai.DefaultConfig("sk-test-chatbody-00000000000000000000")
		cfg.HTTPClient = d
		c := openai.NewClientWithConfig(cfg)
		ctx, r := context.Background(), req
		if splice {
			ctx, r = withChatBody(ctx, &req, stream)
		}
		var err error
		if stream {
			_, err = c.CreateChatCompletionStream(ctx, r)
		} else {
			_, err = c.CreateChatCompletion(ctx, r)
		}
		if errors.Is(err, errCaptured) {
			err = nil
			if splice && req.Messages != nil && !d.spliced {
				t.Errorf("the body of %+v was encoded again, not spliced", req)
			}
		}
		if len(d.bodies) > 1 {
			t.Fatalf("%d requests for one call", len(d.bodies))
		}
		if len(d.bodies) == 1 {
			return d.bodies[0], err
		}
		return nil, err
	}
	raw, rawErr = call(false)
	ours, ourErr = call(true)
	return raw, ours, rawErr, ourErr
}

// TestChatBodyMatchesGoOpenAI sends chat requests of every message shape
// and many request fields through go-openai as it is and as the pipeline
// uses it: the bodies are the same bytes, plain and streamed, and a
// request go-openai refuses is refused alike, with nothing sent.
func TestChatBodyMatchesGoOpenAI(t *testing.T) {
	tricky := "<script>alert('x')</script> & \u2028\u2029 \x00 \x1f \"quoted\" \\ back \xff\xfe invalid, émoji 👩‍💻, RTL \u05e9\u05dc\u05d5\u05dd, tag \U000E0041"
	long := strings.Repeat(tricky+"\b\f\n\r\t\x7f\xe2\x80\xa8\xed\xa0\x80 ", 8) // escaped by jsonstr
	schema := jsonschema.Definition{Type: jsonschema.Object, Properties: map[string]jsonschema.Definition{
		"city": {Type: jsonschema.String, Description: "a <city> & region"},
	}, Required: []string{"city"}}
	full := openai.ChatCompletionRequest{
		Model: `gpt-4o-mini-2024-07-18`,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You are a helpful assistant."},
			{Role: openai.ChatMessageRoleDeveloper, Content: tricky, Name: "dev<1>"},
			{Role: openai.ChatMessageRoleUser, Content: long, Name: `"content":"\u0000"`},
			{Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{
				{Type: openai.ChatMessagePartTypeText, Text: tricky},
				{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: "https://example.com/a.png?x=1&y=<2>", Detail: openai.ImageURLDetailLow}},
			}},
			{Role: openai.ChatMessageRoleAssistant, Refusal: "no & never", ReasoningContent: "because <reasons>", ToolCalls: []openai.ToolCall{
				{ID: "call_1", Type: openai.ToolTypeFunction, Function: openai.FunctionCall{Name: "weather", Arguments: `{"city":"Z\u00fcrich <&>"}`}},
			}},
			{Role: openai.ChatMessageRoleTool, ToolCallID: "call_1", Content: `{"temp": 21, "note": "</tool>"}`},
			{Role: openai.ChatMessageRoleTool, ToolCallID: "call_\u0000", Content: long + `"content":"\u0000"`},
			{Role: openai.ChatMessageRoleFunction, Name: "legacy", FunctionCall: &openai.FunctionCall{Name: "f", Arguments: "{}"}},
			{Role: openai.ChatMessageRoleUser},
		},
		MaxTokens:        64,
		Temperature:      0.5,
		TopP:             0.9,
		N:                1,
		Stop:             []string{"</end>", "&&"},
		PresencePenalty:  0.1,
		FrequencyPenalty: 0.2,
		LogitBias:        map[string]int{"50256": -100, "1": 5},
		User:             "u_<1>",
		Seed:             new(int),
		Tools: []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
			Name: "weather", Description: "Weather for a <city> & more", Parameters: schema, Strict: true,
		}}},
		ToolChoice: "auto",
		ResponseFormat: &openai.ChatCompletionResponseFormat{Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
			JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{Name: "answer", Schema: &schema, Strict: true}},
		Metadata:         map[string]string{"team": "a&b", "z": "<1>"},
		SafetyIdentifier: "u_f9f6f52be1d1e62d296b8f60ba0a42ea",
		ServiceTier:      openai.ServiceTierDefault,
	}
	cases := map[string]openai.ChatCompletionRequest{
		"full":               full,
		"one message":        {Model: "gpt-4o-mini-2024-07-18", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: strings.Repeat("The quick brown fox. ", 200)}}, MaxTokens: 64},
		"empty messages":     {Model: "gpt-4o-mini-2024-07-18", Messages: []openai.ChatCompletionMessage{}},
		"nil messages":       {Model: "gpt-4o-mini-2024-07-18"},
		"model with escapes": {Model: `we"ird\model` + "\u2028<&>", Messages: full.Messages[:2]},
		"empty model":        {Messages: full.Messages[:1]},
		"invalid UTF-8 only": {Model: "gpt-4o-mini-2024-07-18", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "\xc3\x28\xa0\xa1\xe2\x28\xa1\xf0\x28\x8c\xbc"}}},
		"both contents":      {Model: "gpt-4o-mini-2024-07-18", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "a", MultiContent: []openai.ChatMessagePart{{Type: "text", Text: "b"}}}}},
		"both, long":         {Model: "gpt-4o-mini-2024-07-18", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: long, MultiContent: []openai.ChatMessagePart{{Type: "text", Text: "b"}}}}},
		"reasoning model":    {Model: "o3-mini-2025-01-31", Messages: full.Messages[:1], MaxTokens: 64}, // go-openai refuses max_tokens here
	}
	for name, req := range cases {
		for _, stream := range []bool{false, true} {
			raw, ours, rawErr, ourErr := chatBodies(t, req, stream)
			if (rawErr == nil) != (ourErr == nil) || (rawErr != nil && rawErr.Error() != ourErr.Error()) {
				t.Errorf("%s (stream %v): errors differ: go-openai %v, pipeline %v", name, stream, rawErr, ourErr)
			}
			if !bytes.Equal(raw, ours) {
				t.Errorf("%s (stream %v): bodies differ:\ngo-openai %s\npipeline  %s", name, stream, raw, ours)
			}
			if rawErr == nil && raw == nil {
				t.Errorf("%s (stream %v): nothing sent", name, stream)
			}
		}
	}
}

// TestChatBodyFallback: where go-openai's body for the request without
// messages does not have ,"messages":null after the model, the body is the
// whole request's json.Marshal; messagesAt finds the place only there.
func TestChatBodyFallback(t *testing.T) {
	req := openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi <there>"}}}
	_, light := withChatBody(context.Background(), &req, true)
	if light.Messages != nil {
		t.Fatal("go-openai is given the messages")
	}
	ctx, _ := withChatBody(context.Background(), &req, true)
	cb := chatBodyFrom(ctx)
	if cb == nil {
		t.Fatal("no encoded messages in the context")
	}
	for _, light := range []string{`{"messages":null,"model":"m"}`, `{"model":"m"}`, ``, `{"model":"m\"`} {
		hr, err := http.NewRequest(http.MethodPost, "http://127.0.0.1/v1/chat/completions", strings.NewReader(light))
		if err != nil {
			t.Fatal(err)
		}
		if spliced, err := cb.apply(hr); err != nil || spliced {
			t.Fatalf("apply after %q: spliced %v, error %v", light, spliced, err)
		}
		got, _ := io.ReadAll(hr.Body)
		want := `{"model":"m","messages":[{"role":"user","content":"hi \u003cthere\u003e"}],"stream":true}`
		if string(got) != want || hr.ContentLength != int64(len(want)) {
			t.Errorf("after %q: body %s (length %d), want %s", light, got, hr.ContentLength, want)
		}
	}
	for in, want := range map[string]int{
		`{"model":"a","messages":null}`:               12,
		`{"model":"a\\","messages":null}`:             14,
		`{"model":"a\",\"messages\":null","x":1}`:     -1,
		`{"model":"a\\\",\"messages\":null\\","m":1}`: -1,
		`{"model":"","messages":null`:                 11,
		`{"model":"a"`:                                -1,
		`{"model":"a`:                                 -1,
		`{"model":1,"messages":null}`:                 -1,
	} {
		if got := messagesAt([]byte(in)); got != want {
			t.Errorf("messagesAt(%s) = %d, want %d", in, got, want)
		}
	}
}

// FuzzChatBody holds the pipeline's chat bodies to go-openai's for any
// model, role, name and content, as text or as parts.
func FuzzChatBody(f *testing.F) {
	f.Add("gpt-4o-mini-2024-07-18", "user", "", "hello", false, false)
	f.Add(`m"\`, "system", "n<>", "<script>&\u2028\xff", true, true)
	f.Add("", "", "", "", false, true)
	f.Fuzz(func(t *testing.T, model, role, name, content string, parts, stream bool) {
		msg := openai.ChatCompletionMessage{Role: role, Name: name, Content: content}
		if parts {
			msg.Content = ""
			msg.MultiContent = []openai.ChatMessagePart{{Type: openai.ChatMessagePartTypeText, Text: content},
				{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: name}}}
		}
		long := openai.ChatCompletionMessage{Role: role, Content: strings.Repeat(content+"x", longText/(len(content)+1)+1)}
		req := openai.ChatCompletionRequest{Model: model, Messages: []openai.ChatCompletionMessage{msg, {Role: "user", Content: name}, long}, User: content}
		raw, ours, rawErr, ourErr := chatBodies(t, req, stream)
		if (rawErr == nil) != (ourErr == nil) || !bytes.Equal(raw, ours) {
			t.Fatalf("go-openai %s (%v), pipeline %s (%v)", raw, rawErr, ours, ourErr)
		}
	})
}

// TestEncodeMessageLong: a long text content is left out of the message's
// encoding, to be escaped into the body, and a short one is not.
func TestEncodeMessageLong(t *testing.T) {
	text := strings.Repeat("a <b> & \"c\"\n", longText/12+1)
	p, ok := encodeMessage(&openai.ChatCompletionMessage{Role: "user", Content: text, Name: "n"})
	if !ok || p.tail == nil || p.text != text || string(p.head) != `{"role":"user","content":` || string(p.tail) != `,"name":"n"}` {
		t.Errorf("long: %q %q %q %v", p.head, p.text, p.tail, ok)
	}
	p, ok = encodeMessage(&openai.ChatCompletionMessage{Role: "user", Content: "short"})
	if !ok || p.tail != nil || string(p.head) != `{"role":"user","content":"short"}` {
		t.Errorf("short: %q %q %q %v", p.head, p.text, p.tail, ok)
	}
}
