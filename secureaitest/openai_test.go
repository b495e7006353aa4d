package secureaitest_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/secureaitest"
)

const oaiKey = "sk-test-0123456789abcdefghijklmnopqrstuvwxyzABCD"

// An oaiTransport is a way to reach a Server.
type oaiTransport struct {
	name string
	mem  bool
}

var oaiTransports = []oaiTransport{{"socket", false}, {"memory", true}}

// config returns a go-openai configuration that reaches s with key.
func (tr oaiTransport) config(s *secureaitest.Server, key string) openai.ClientConfig {
	cfg := openai.DefaultConfig(key)
	cfg.BaseURL = s.URL()
	if tr.mem {
		cfg.HTTPClient = &http.Client{Transport: s.Transport()}
	}
	return cfg
}

func (tr oaiTransport) client(s *secureaitest.Server, key string) *openai.Client {
	return openai.NewClientWithConfig(tr.config(s, key))
}

// httpClient returns a raw HTTP client that reaches s.
func (tr oaiTransport) httpClient(s *secureaitest.Server) *http.Client {
	if tr.mem {
		return &http.Client{Transport: s.Transport()}
	}
	return &http.Client{}
}

// post sends body to path (under /v1) with key, and returns the status, the
// headers and the body of the answer.
func (tr oaiTransport) post(t *testing.T, s *secureaitest.Server, key, path, body string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := tr.httpClient(s).Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: reading body: %v", path, err)
	}
	return resp.StatusCode, resp.Header, b
}

func oaiUserMessage(text string) []openai.ChatCompletionMessage {
	return []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: text}}
}

func TestChatCompletion(t *testing.T) {
	tests := []struct {
		name       string
		reply      string
		req        openai.ChatCompletionRequest
		wantText   string
		wantFinish openai.FinishReason
		wantTokens int // completion tokens
	}{
		{
			name:       "default reply",
			req:        openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("Hi")},
			wantText:   secureaitest.DefaultReply,
			wantFinish: openai.FinishReasonStop,
			wantTokens: 6,
		},
		{
			name:       "max_tokens truncates",
			reply:      "one two three four",
			req:        openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("Hi"), MaxTokens: 2},
			wantText:   "one two",
			wantFinish: openai.FinishReasonLength,
			wantTokens: 2,
		},
		{
			name:       "max_completion_tokens truncates",
			reply:      "one two three four",
			req:        openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("Hi"), MaxCompletionTokens: 3},
			wantText:   "one two three",
			wantFinish: openai.FinishReasonLength,
			wantTokens: 3,
		},
		{
			name:       "limit not reached",
			reply:      "one two",
			req:        openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("Hi"), MaxTokens: 5},
			wantText:   "one two",
			wantFinish: openai.FinishReasonStop,
			wantTokens: 2,
		},
		{
			name:       "n choices",
			reply:      "a b",
			req:        openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("Hi"), N: 3},
			wantText:   "a b",
			wantFinish: openai.FinishReasonStop,
			wantTokens: 6,
		},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				if tt.reply != "" {
					s.SetReply(tt.reply)
				}
				resp, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), tt.req)
				if err != nil {
					t.Fatalf("CreateChatCompletion: %v", err)
				}
				n := max(tt.req.N, 1)
				if len(resp.Choices) != n {
					t.Fatalf("got %d choices, want %d", len(resp.Choices), n)
				}
				for i, ch := range resp.Choices {
					if ch.Index != i || ch.Message.Content != tt.wantText || ch.FinishReason != tt.wantFinish ||
						ch.Message.Role != openai.ChatMessageRoleAssistant {
						t.Errorf("choice %d = %+v, want text %q, finish %q", i, ch, tt.wantText, tt.wantFinish)
					}
				}
				if !strings.HasPrefix(resp.ID, "chatcmpl-") || resp.Object != "chat.completion" || resp.Model != tt.req.Model {
					t.Errorf("id, object, model = %q, %q, %q", resp.ID, resp.Object, resp.Model)
				}
				// "Hi" is 2 bytes: ceil(2/4) + 3 for one message.
				if resp.Usage.PromptTokens != 4 || resp.Usage.CompletionTokens != tt.wantTokens ||
					resp.Usage.TotalTokens != 4+tt.wantTokens {
					t.Errorf("usage = %+v, want prompt 4, completion %d", resp.Usage, tt.wantTokens)
				}
				h := resp.Header()
				if h.Get("Content-Type") != "application/json" || !strings.HasPrefix(h.Get("X-Request-Id"), "req_") ||
					h.Get("Openai-Version") != "2020-10-01" || h.Get("X-Ratelimit-Limit-Requests") == "" {
					t.Errorf("headers = %v", h)
				}
				rl := resp.GetRateLimitHeaders()
				if rl.LimitRequests != 10000 || rl.RemainingRequests != 9999 {
					t.Errorf("rate limit headers = %+v", rl)
				}
			})
		}
	}
}

func TestChatCompletionStream(t *testing.T) {
	tests := []struct {
		name       string
		reply      string
		n          int
		maxTokens  int
		usage      bool
		wantFinish openai.FinishReason
	}{
		{name: "text", reply: "Hello there,  gopher! ", wantFinish: openai.FinishReasonStop},
		{name: "include usage", reply: "Hello there", usage: true, wantFinish: openai.FinishReasonStop},
		{name: "length", reply: "one two three", maxTokens: 1, usage: true, wantFinish: openai.FinishReasonLength},
		{name: "n3", reply: "x y z", n: 3, usage: true, wantFinish: openai.FinishReasonStop},
		{name: "empty reply", reply: "", wantFinish: openai.FinishReasonStop},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				s.SetReply(tt.reply)
				req := openai.ChatCompletionRequest{
					Model:     openai.GPT4o,
					Messages:  oaiUserMessage("Tell me"),
					N:         tt.n,
					MaxTokens: tt.maxTokens,
				}
				if tt.usage {
					req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
				}
				stream, err := tr.client(s, oaiKey).CreateChatCompletionStream(t.Context(), req)
				if err != nil {
					t.Fatalf("CreateChatCompletionStream: %v", err)
				}
				defer stream.Close()
				n := max(tt.n, 1)
				texts := make([]string, n)
				finishes := make([]openai.FinishReason, n)
				var usage *openai.Usage
				for {
					chunk, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("Recv: %v", err)
					}
					if chunk.Object != "chat.completion.chunk" || chunk.Model != openai.GPT4o {
						t.Errorf("chunk object, model = %q, %q", chunk.Object, chunk.Model)
					}
					if chunk.Usage != nil {
						usage = chunk.Usage
						if len(chunk.Choices) != 0 {
							t.Errorf("usage chunk has %d choices", len(chunk.Choices))
						}
					}
					for _, ch := range chunk.Choices {
						texts[ch.Index] += ch.Delta.Content
						if ch.FinishReason != "" {
							finishes[ch.Index] = ch.FinishReason
						}
					}
				}
				want := tt.reply
				if tt.maxTokens > 0 {
					want = "one"
				}
				for i := range n {
					if texts[i] != want || finishes[i] != tt.wantFinish {
						t.Errorf("choice %d: text %q, finish %q; want %q, %q", i, texts[i], finishes[i], want, tt.wantFinish)
					}
				}
				if tt.usage != (usage != nil) {
					t.Fatalf("usage chunk = %v, want one: %v", usage, tt.usage)
				}
				if usage != nil && usage.TotalTokens != usage.PromptTokens+usage.CompletionTokens {
					t.Errorf("usage = %+v", usage)
				}
				if ct := stream.Header().Get("Content-Type"); ct != "text/event-stream; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
			})
		}
	}
}

func TestResponses(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name+"/plain", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			store := false
			resp, err := tr.client(s, oaiKey).CreateResponse(t.Context(), openai.CreateResponseRequest{
				Model:        "gpt-4.1-nano",
				Input:        "Say hello",
				Instructions: "Be brief.",
				Store:        &store,
				Metadata:     map[string]any{"run": "test"},
			})
			if err != nil {
				t.Fatalf("CreateResponse: %v", err)
			}
			if got := resp.GetOutputText(); got != secureaitest.DefaultReply {
				t.Errorf("output text = %q", got)
			}
			if !strings.HasPrefix(resp.ID, "resp_") || resp.Object != "response" || resp.Status != openai.ResponseStatusCompleted ||
				resp.Model != "gpt-4.1-nano" || resp.Store || resp.Instructions != "Be brief." ||
				resp.Metadata["run"] != "test" || resp.CompletedAt == nil {
				t.Errorf("response = %+v", resp)
			}
			if u := resp.Usage; u == nil || u.OutputTokens != 6 || u.TotalTokens != u.InputTokens+u.OutputTokens {
				t.Errorf("usage = %+v", u)
			}
		})
		t.Run(tr.name+"/store default", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			resp, err := tr.client(s, oaiKey).CreateResponse(t.Context(), openai.CreateResponseRequest{Model: "gpt-4.1", Input: "x"})
			if err != nil {
				t.Fatalf("CreateResponse: %v", err)
			}
			if !resp.Store {
				t.Error("store = false, want the real default true")
			}
		})
		t.Run(tr.name+"/max_output_tokens", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.SetReply(strings.Repeat("word ", 20))
			resp, err := tr.client(s, oaiKey).CreateResponse(t.Context(), openai.CreateResponseRequest{
				Model: "gpt-4.1", Input: "x", MaxOutputTokens: 16,
			})
			if err != nil {
				t.Fatalf("CreateResponse: %v", err)
			}
			if resp.Status != openai.ResponseStatusIncomplete || resp.IncompleteDetails == nil ||
				resp.IncompleteDetails.Reason != "max_output_tokens" || resp.MaxOutputTokens == nil || *resp.MaxOutputTokens != 16 {
				t.Errorf("response = %+v", resp)
			}
			if got := resp.GetOutputText(); got != strings.Repeat("word ", 16)[:len("word ")*16-1] {
				t.Errorf("output text = %q", got)
			}
		})
		t.Run(tr.name+"/max_output_tokens below 16", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			_, err := tr.client(s, oaiKey).CreateResponse(t.Context(), openai.CreateResponseRequest{
				Model: "gpt-4.1", Input: "x", MaxOutputTokens: 5,
			})
			var apiErr *openai.APIError
			if !errors.As(err, &apiErr) || apiErr.HTTPStatusCode != 400 || apiErr.Code != "integer_below_min_value" {
				t.Errorf("err = %v, want a 400 integer_below_min_value", err)
			}
		})
	}
}

func TestResponseStream(t *testing.T) {
	for _, tr := range oaiTransports {
		for _, incomplete := range []bool{false, true} {
			name := tr.name + "/completed"
			if incomplete {
				name = tr.name + "/incomplete"
			}
			t.Run(name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				reply := "The quick brown fox."
				req := openai.CreateResponseRequest{Model: "gpt-4.1-nano", Input: "Say something"}
				if incomplete {
					reply = strings.Repeat("la ", 17) + "end"
					req.MaxOutputTokens = 16
				}
				s.SetReply(reply)
				stream, err := tr.client(s, oaiKey).CreateResponseStream(t.Context(), req)
				if err != nil {
					t.Fatalf("CreateResponseStream: %v", err)
				}
				defer stream.Close()
				var (
					types []openai.ResponseStreamEventType
					text  string
					last  *openai.CreateResponseResponse
				)
				for i := 0; ; i++ {
					ev, err := stream.Recv()
					if errors.Is(err, io.EOF) {
						break
					}
					if err != nil {
						t.Fatalf("Recv: %v", err)
					}
					if ev.SequenceNumber != i {
						t.Errorf("event %d has sequence_number %d", i, ev.SequenceNumber)
					}
					if len(types) == 0 || types[len(types)-1] != ev.Type {
						types = append(types, ev.Type)
					}
					if ev.Type == openai.ResponseStreamEventOutputTextDelta {
						text += ev.Delta
					}
					if ev.Response != nil {
						last = ev.Response
					}
				}
				final := openai.ResponseStreamEventCompleted
				want := reply
				if incomplete {
					final = openai.ResponseStreamEventIncomplete
					want = strings.Repeat("la ", 16)[:len("la ")*16-1]
				}
				wantTypes := []openai.ResponseStreamEventType{
					openai.ResponseStreamEventCreated,
					openai.ResponseStreamEventInProgress,
					openai.ResponseStreamEventOutputItemAdded,
					openai.ResponseStreamEventContentPartAdded,
					openai.ResponseStreamEventOutputTextDelta,
					openai.ResponseStreamEventOutputTextDone,
					openai.ResponseStreamEventContentPartDone,
					openai.ResponseStreamEventOutputItemDone,
					final,
				}
				if !slices.Equal(types, wantTypes) {
					t.Errorf("event types = %v\nwant %v", types, wantTypes)
				}
				if text != want {
					t.Errorf("text = %q, want %q", text, want)
				}
				if last == nil || last.GetOutputText() != want || last.Usage == nil || last.Usage.OutputTokens != 16 && incomplete {
					t.Errorf("final response = %+v", last)
				}
			})
		}
	}
}

func TestEmbeddings(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			client := tr.client(s, oaiKey)
			float, err := client.CreateEmbeddings(t.Context(), openai.EmbeddingRequest{
				Input: []string{"alpha", "beta"},
				Model: openai.SmallEmbedding3,
			})
			if err != nil {
				t.Fatalf("CreateEmbeddings: %v", err)
			}
			if float.Object != "list" || len(float.Data) != 2 || float.Model != openai.SmallEmbedding3 {
				t.Fatalf("response = %+v", float)
			}
			for i, d := range float.Data {
				if d.Index != i || d.Object != "embedding" || len(d.Embedding) != secureaitest.DefaultEmbeddingDimensions {
					t.Errorf("data[%d] = %+v", i, d)
				}
			}
			if reflect.DeepEqual(float.Data[0].Embedding, float.Data[1].Embedding) {
				t.Error("different inputs gave the same vector")
			}
			if float.Usage.PromptTokens != 3 || float.Usage.TotalTokens != 3 { // ceil(5/4) + ceil(4/4)
				t.Errorf("usage = %+v", float.Usage)
			}

			b64, err := client.CreateEmbeddings(t.Context(), openai.EmbeddingRequest{
				Input:          []string{"alpha", "beta"},
				Model:          openai.SmallEmbedding3,
				EncodingFormat: openai.EmbeddingEncodingFormatBase64,
			})
			if err != nil {
				t.Fatalf("CreateEmbeddings base64: %v", err)
			}
			for i := range b64.Data {
				if !reflect.DeepEqual(b64.Data[i].Embedding, float.Data[i].Embedding) {
					t.Errorf("base64 vector %d = %v, want %v", i, b64.Data[i].Embedding, float.Data[i].Embedding)
				}
			}

			dims, err := client.CreateEmbeddings(t.Context(), openai.EmbeddingRequestStrings{
				Input: []string{"alpha"}, Model: openai.SmallEmbedding3, Dimensions: 40,
			})
			if err != nil {
				t.Fatalf("CreateEmbeddings dimensions: %v", err)
			}
			if got := len(dims.Data[0].Embedding); got != 40 {
				t.Errorf("got %d dimensions, want 40", got)
			}
			var norm float64
			for _, x := range dims.Data[0].Embedding {
				norm += float64(x) * float64(x)
			}
			if norm < 0.999 || norm > 1.001 {
				t.Errorf("squared norm = %v, want 1", norm)
			}

			tokens, err := client.CreateEmbeddings(t.Context(), openai.EmbeddingRequestTokens{
				Input: [][]int{{1, 2, 3}}, Model: openai.SmallEmbedding3,
			})
			if err != nil {
				t.Fatalf("CreateEmbeddings tokens: %v", err)
			}
			if tokens.Usage.PromptTokens != 3 || len(tokens.Data) != 1 {
				t.Errorf("token input: %+v", tokens)
			}

			code, _, body := tr.post(t, s, oaiKey, "/embeddings", `{"model":"text-embedding-3-small","input":"same"}`)
			code2, _, body2 := tr.post(t, s, oaiKey, "/embeddings", `{"model":"text-embedding-3-small","input":"same"}`)
			if code != 200 || code2 != 200 || !bytes.Equal(oaiVector(t, body), oaiVector(t, body2)) {
				t.Errorf("the same input gave different vectors:\n%s\n%s", body, body2)
			}
		})
	}
}

// oaiVector returns the first embedding of an embeddings answer, as JSON.
func oaiVector(t *testing.T, body []byte) []byte {
	t.Helper()
	var resp struct {
		Data []struct {
			Embedding json.RawMessage `json:"embedding"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || len(resp.Data) == 0 {
		t.Fatalf("bad embeddings answer %s: %v", body, err)
	}
	return resp.Data[0].Embedding
}

func TestModerations(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.FlagWords("Stab")
			client := tr.client(s, oaiKey)
			tests := []struct {
				input string
				want  bool
			}{
				{"I will stab you", true},
				{"STAB", true},
				{"a stable table", false},
				{"hello", false},
			}
			for _, tt := range tests {
				resp, err := client.Moderations(t.Context(), openai.ModerationRequest{Input: tt.input, Model: openai.ModerationOmniLatest})
				if err != nil {
					t.Fatalf("Moderations(%q): %v", tt.input, err)
				}
				if !strings.HasPrefix(resp.ID, "modr-") || resp.Model != openai.ModerationOmniLatest || len(resp.Results) != 1 {
					t.Fatalf("response = %+v", resp)
				}
				r := resp.Results[0]
				if r.Flagged != tt.want || r.Categories.Harassment != tt.want || r.Categories.Violence != tt.want ||
					r.Categories.Hate || (tt.want && r.CategoryScores.Violence < 0.5) || (!tt.want && r.CategoryScores.Violence > 0.1) {
					t.Errorf("Moderations(%q) = %+v, want flagged %v", tt.input, r, tt.want)
				}
			}

			// An array of strings gets one result per string.
			code, _, body := tr.post(t, s, oaiKey, "/moderations", `{"input":["fine","stab"]}`)
			var resp struct {
				Model   string `json:"model"`
				Results []struct {
					Flagged bool                `json:"flagged"`
					Types   map[string][]string `json:"category_applied_input_types"`
				} `json:"results"`
			}
			if err := json.Unmarshal(body, &resp); code != 200 || err != nil {
				t.Fatalf("status %d, %s: %v", code, body, err)
			}
			if len(resp.Results) != 2 || resp.Results[0].Flagged || !resp.Results[1].Flagged ||
				resp.Model != "omni-moderation-latest" || len(resp.Results[0].Types) != 13 {
				t.Errorf("answer = %s", body)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name, key, path, body string
		wantStatus            int
		wantType, wantCode    string
		wantParam             string
		wantMessage           string
	}{
		{
			name: "unknown path", key: oaiKey, path: "/models/gpt-4o", body: `{}`,
			wantStatus: 404, wantType: "invalid_request_error", wantMessage: "Invalid URL (POST /v1/models/gpt-4o)",
		},
		{
			name: "invalid JSON", key: oaiKey, path: "/chat/completions", body: `{"model":`,
			wantStatus: 400, wantType: "invalid_request_error", wantMessage: "We could not parse the JSON body",
		},
		{
			name: "wrong type", key: oaiKey, path: "/chat/completions", body: `{"model":"gpt-4o","messages":"hi"}`,
			wantStatus: 400, wantType: "invalid_request_error", wantCode: "invalid_type", wantParam: "messages",
		},
		{
			name: "missing model", key: oaiKey, path: "/chat/completions", body: `{"messages":[{"role":"user","content":"hi"}]}`,
			wantStatus: 400, wantType: "invalid_request_error", wantMessage: "you must provide a model parameter",
		},
		{
			name: "missing messages", key: oaiKey, path: "/chat/completions", body: `{"model":"gpt-4o"}`,
			wantStatus: 400, wantType: "invalid_request_error", wantCode: "missing_required_parameter", wantParam: "messages",
		},
		{
			name: "n too small", key: oaiKey, path: "/chat/completions", body: `{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}],"n":0}`,
			wantStatus: 400, wantType: "invalid_request_error", wantCode: "integer_below_min_value", wantParam: "n",
		},
		{
			name: "empty embedding input", key: oaiKey, path: "/embeddings", body: `{"model":"text-embedding-3-small","input":""}`,
			wantStatus: 400, wantType: "invalid_request_error", wantMessage: "'$.input' is invalid",
		},
		{
			name: "bad encoding_format", key: oaiKey, path: "/embeddings", body: `{"model":"m","input":"x","encoding_format":"hex"}`,
			wantStatus: 400, wantType: "invalid_request_error", wantParam: "encoding_format",
		},
		{
			name: "missing key", key: "", path: "/chat/completions", body: `{}`,
			wantStatus: 401, wantType: "invalid_request_error", wantMessage: "You didn't provide an API key.",
		},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				code, h, body := tr.post(t, s, tt.key, tt.path, tt.body)
				if code != tt.wantStatus {
					t.Fatalf("status = %d, want %d; body %s", code, tt.wantStatus, body)
				}
				if ct := h.Get("Content-Type"); ct != "application/json; charset=utf-8" {
					t.Errorf("Content-Type = %q", ct)
				}
				var env struct {
					Error struct {
						Message string  `json:"message"`
						Type    string  `json:"type"`
						Param   *string `json:"param"`
						Code    *string `json:"code"`
					} `json:"error"`
				}
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatalf("body %s: %v", body, err)
				}
				e := env.Error
				if e.Type != tt.wantType || oaiDeref(e.Code) != tt.wantCode || oaiDeref(e.Param) != tt.wantParam ||
					!strings.Contains(e.Message, tt.wantMessage) {
					t.Errorf("error = %s", body)
				}
			})
		}
	}
}

func oaiDeref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func TestAuth(t *testing.T) {
	const rejected = "sk-test-rejected-key-0000000000000000000000abcd"
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.RejectKey(rejected)
			req := openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("hi")}
			tests := []struct {
				name, key, wantCode, wantMessage string
			}{
				{"rejected", rejected, "invalid_api_key", "Incorrect API key provided: sk-test-" + strings.Repeat("*", len(rejected)-12) + "abcd."},
				{"missing", "", "", "You didn't provide an API key."},
			}
			for _, tt := range tests {
				_, err := tr.client(s, tt.key).CreateChatCompletion(t.Context(), req)
				var apiErr *openai.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("%s: err = %v, want *openai.APIError", tt.name, err)
				}
				code, _ := apiErr.Code.(string)
				if apiErr.HTTPStatusCode != 401 || code != tt.wantCode || !strings.HasPrefix(apiErr.Message, tt.wantMessage) {
					t.Errorf("%s: error = %+v", tt.name, apiErr)
				}
				if strings.Contains(apiErr.Message, rejected) {
					t.Errorf("%s: the message shows the whole key: %q", tt.name, apiErr.Message)
				}
			}
			// Another key still works.
			if _, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), req); err != nil {
				t.Errorf("accepted key: %v", err)
			}
		})
	}
}

func TestAzureAPIKeyHeader(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.RejectKey("azure-key-rejected-00000000")
			for _, tt := range []struct {
				key  string
				want int
			}{{"azure-key-accepted-00000000", 200}, {"azure-key-rejected-00000000", 401}} {
				req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/moderations", strings.NewReader(`{"input":"x"}`))
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("api-key", tt.key)
				resp, err := tr.httpClient(s).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != tt.want {
					t.Errorf("api-key %s: status %d, want %d", tt.key, resp.StatusCode, tt.want)
				}
			}
			reqs := s.Requests()
			if len(reqs) != 2 || reqs[0].BearerKey() != "azure-key-accepted-00000000" {
				t.Errorf("requests = %+v", reqs)
			}
		})
	}
}

func TestRequests(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			client := tr.client(s, oaiKey)
			if _, err := client.CreateChatCompletion(t.Context(), openai.ChatCompletionRequest{
				Model: openai.GPT4oMini, Messages: oaiUserMessage("secret prompt"),
			}); err != nil {
				t.Fatal(err)
			}
			if _, err := client.Moderations(t.Context(), openai.ModerationRequest{Input: "x"}); err != nil {
				t.Fatal(err)
			}
			reqs := s.Requests()
			if len(reqs) != 2 {
				t.Fatalf("got %d requests, want 2", len(reqs))
			}
			r := reqs[0]
			if r.Method != http.MethodPost || r.Path != "/v1/chat/completions" || reqs[1].Path != "/v1/moderations" {
				t.Errorf("requests = %+v", reqs)
			}
			if got := r.Header.Get("Authorization"); got != "Bearer "+oaiKey {
				t.Errorf("Authorization = %q", got)
			}
			if r.BearerKey() != oaiKey {
				t.Errorf("BearerKey = %q", r.BearerKey())
			}
			m, err := r.JSON()
			if err != nil {
				t.Fatal(err)
			}
			if m["model"] != openai.GPT4oMini || !bytes.Contains(r.Body, []byte("secret prompt")) {
				t.Errorf("body = %s", r.Body)
			}

			// Requests returns copies.
			reqs[0].Body[0] = 'X'
			reqs[0].Header.Set("Authorization", "changed")
			if again := s.Requests(); again[0].Body[0] != '{' || again[0].Header.Get("Authorization") != "Bearer "+oaiKey {
				t.Error("Requests shares memory with the Server")
			}

			s.Enqueue(secureaitest.Fault{Status: 500})
			s.Reset()
			if got := s.Requests(); len(got) != 0 {
				t.Errorf("after Reset: %d requests", len(got))
			}
			if _, err := client.Moderations(t.Context(), openai.ModerationRequest{Input: "x"}); err != nil {
				t.Errorf("after Reset, the queued fault still applies: %v", err)
			}
		})
	}
}

func TestRequestJSON(t *testing.T) {
	tests := []struct {
		body    string
		wantErr bool
	}{
		{`{"n": 12345678901234567890}`, false},
		{`{"a":1} {"b":2}`, true},
		{`not json`, true},
		{``, true},
	}
	for _, tt := range tests {
		m, err := secureaitest.Request{Body: []byte(tt.body)}.JSON()
		if (err != nil) != tt.wantErr {
			t.Errorf("JSON(%q) error = %v, want error %v", tt.body, err, tt.wantErr)
		}
		if err == nil {
			if n, ok := m["n"].(json.Number); !ok || n.String() != "12345678901234567890" {
				t.Errorf("JSON(%q) = %v, want a json.Number", tt.body, m)
			}
		}
	}
}

func TestBearerKey(t *testing.T) {
	tests := []struct {
		header http.Header
		want   string
	}{
		{http.Header{"Authorization": {"Bearer sk-1"}}, "sk-1"},
		{http.Header{"Authorization": {"bearer  sk-2 "}}, "sk-2"},
		{http.Header{"Api-Key": {"az-3"}}, "az-3"},
		{http.Header{"Authorization": {"Basic abc"}, "Api-Key": {"az-4"}}, "az-4"},
		{http.Header{"Authorization": {"Basic abc"}}, ""},
		{http.Header{}, ""},
	}
	for _, tt := range tests {
		if got := (secureaitest.Request{Header: tt.header}).BearerKey(); got != tt.want {
			t.Errorf("BearerKey(%v) = %q, want %q", tt.header, got, tt.want)
		}
	}
}

func TestHandler(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.SetReply("via handler")
	w := &oaiRecorder{header: http.Header{}}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, "/v1/chat/completions",
		strings.NewReader(`{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+oaiKey)
	s.Handler().ServeHTTP(w, req)
	if w.code != 200 || !strings.Contains(w.body.String(), `"content": "via handler"`) {
		t.Errorf("status %d, body %s", w.code, w.body.String())
	}
	if len(s.Requests()) != 1 {
		t.Errorf("the handler did not record the request")
	}
}

// oaiRecorder is a minimal http.ResponseWriter.
type oaiRecorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *oaiRecorder) Header() http.Header { return r.header }
func (r *oaiRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}
func (r *oaiRecorder) Write(p []byte) (int, error) {
	r.WriteHeader(200)
	return r.body.Write(p)
}

func TestConcurrentUse(t *testing.T) {
	s := secureaitest.NewServer(t)
	done := make(chan error)
	const n = 20
	for i := range n {
		go func() {
			tr := oaiTransports[i%2]
			if i%3 == 0 {
				s.SetReply("changed")
				s.FlagWords("w")
				s.Enqueue(secureaitest.Fault{})
			}
			_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), openai.ChatCompletionRequest{
				Model: openai.GPT4oMini, Messages: oaiUserMessage("hi"),
			})
			s.Requests()
			done <- err
		}()
	}
	for range n {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
	if got := len(s.Requests()); got != n {
		t.Errorf("recorded %d requests, want %d", got, n)
	}
}

// TestRecordedHeadersAlike checks that both transports record the headers
// that net/http's client sends.
func TestRecordedHeadersAlike(t *testing.T) {
	var got []http.Header
	for _, tr := range oaiTransports {
		s := secureaitest.NewServer(t)
		tr.post(t, s, oaiKey, "/moderations?api-version=1", `{"input":"x"}`)
		r := s.Requests()[0]
		if r.Query.Get("api-version") != "1" {
			t.Errorf("%s: query = %v", tr.name, r.Query)
		}
		got = append(got, r.Header)
	}
	for _, name := range []string{"Authorization", "Content-Type", "Content-Length", "User-Agent", "Accept-Encoding"} {
		if got[0].Get(name) == "" || got[0].Get(name) != got[1].Get(name) {
			t.Errorf("%s: socket %q, memory %q", name, got[0].Get(name), got[1].Get(name))
		}
	}
}
