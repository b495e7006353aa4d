package secureaitest_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/secureaitest"
)

const oaiChatBody = `{"model":"gpt-4o-mini","messages":[{"role":"user","content":"top secret prompt"}]}`

func oaiChatRequest() openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{Model: openai.GPT4oMini, Messages: oaiUserMessage("top secret prompt")}
}

func TestFaultStatus(t *testing.T) {
	tests := []struct {
		status             int
		wantType, wantCode string
		wantMessage        string
	}{
		{400, "invalid_request_error", "", "Invalid request"},
		{401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided: sk-test-"},
		{403, "request_forbidden", "unsupported_country_region_territory", "not supported"},
		{404, "invalid_request_error", "model_not_found", "The model `gpt-4o-mini` does not exist"},
		{408, "invalid_request_error", "timeout", "timed out"},
		{409, "invalid_request_error", "conflict", "conflicts"},
		{429, "requests", "rate_limit_exceeded", "Rate limit reached for gpt-4o-mini"},
		{500, "server_error", "", "The server had an error"},
		{502, "server_error", "", "Bad Gateway"},
		{503, "server_error", "", "overloaded"},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+http.StatusText(tt.status), func(t *testing.T) {
				s := secureaitest.NewServer(t)
				s.Enqueue(secureaitest.Fault{Status: tt.status})
				_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
				var apiErr *openai.APIError
				if !errors.As(err, &apiErr) {
					t.Fatalf("err = %v, want *openai.APIError", err)
				}
				code, _ := apiErr.Code.(string)
				if apiErr.HTTPStatusCode != tt.status || apiErr.Type != tt.wantType || code != tt.wantCode ||
					!strings.Contains(apiErr.Message, tt.wantMessage) {
					t.Errorf("error = %+v", apiErr)
				}
				if strings.Contains(apiErr.Message, oaiKey) {
					t.Errorf("the error shows the key: %q", apiErr.Message)
				}
				// The fault was used up: the next request succeeds.
				if _, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest()); err != nil {
					t.Errorf("next request: %v", err)
				}
			})
		}
	}
}

func TestFaultRetryAfter(t *testing.T) {
	tests := []struct {
		name        string
		header      http.Header
		wantHeaders map[string]string
		wantWait    string
	}{
		{
			name:        "Retry-After",
			header:      http.Header{"Retry-After": {"2"}, "x-should-retry": {"true"}},
			wantHeaders: map[string]string{"Retry-After": "2", "X-Should-Retry": "true"},
			wantWait:    "Please try again in 2s.",
		},
		{
			name:        "Retry-After-Ms",
			header:      http.Header{"Retry-After-Ms": {"1378"}},
			wantHeaders: map[string]string{"Retry-After-Ms": "1378", "Retry-After": ""},
			wantWait:    "Please try again in 1.378s.",
		},
		{
			name:        "no Retry-After",
			wantHeaders: map[string]string{"Retry-After": "", "X-Ratelimit-Limit-Requests": ""},
			wantWait:    "Please try again in 1s.",
		},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				s.Enqueue(secureaitest.Fault{Status: 429, Header: tt.header})
				code, h, body := tr.post(t, s, oaiKey, "/chat/completions", oaiChatBody)
				if code != 429 {
					t.Fatalf("status = %d", code)
				}
				for k, want := range tt.wantHeaders {
					if got := h.Get(k); got != want {
						t.Errorf("header %s = %q, want %q", k, got, want)
					}
				}
				if !strings.HasPrefix(h.Get("X-Request-Id"), "req_") {
					t.Errorf("X-Request-Id = %q", h.Get("X-Request-Id"))
				}
				var env struct {
					Error struct {
						Message, Type, Code string
						Param               *string
					}
				}
				if err := json.Unmarshal(body, &env); err != nil {
					t.Fatal(err)
				}
				if env.Error.Type != "requests" || env.Error.Code != "rate_limit_exceeded" || env.Error.Param != nil ||
					!strings.Contains(env.Error.Message, tt.wantWait) {
					t.Errorf("body = %s", body)
				}
			})
		}
	}
}

func TestFaultHeaderOnSuccess(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{Header: http.Header{"X-Ratelimit-Remaining-Requests": {"0"}}})
			code, h, _ := tr.post(t, s, oaiKey, "/chat/completions", oaiChatBody)
			if code != 200 || h.Get("X-Ratelimit-Remaining-Requests") != "0" {
				t.Errorf("status %d, headers %v", code, h)
			}
		})
	}
}

func TestFaultBody(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			const html = "<html><body>502 Bad Gateway</body></html>"
			s.Enqueue(secureaitest.Fault{Status: 502, Body: html})
			_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
			var reqErr *openai.RequestError
			if !errors.As(err, &reqErr) || reqErr.HTTPStatusCode != 502 || string(reqErr.Body) != html {
				t.Errorf("err = %#v, want a *openai.RequestError with the body", err)
			}
		})
	}
}

func TestFaultQueueOrder(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{}, secureaitest.Fault{Status: 500})
			s.Enqueue(secureaitest.Fault{Status: 503})
			var got []int
			for range 4 {
				code, _, _ := tr.post(t, s, oaiKey, "/chat/completions", oaiChatBody)
				got = append(got, code)
			}
			if want := []int{200, 500, 503, 200}; !slices.Equal(got, want) {
				t.Errorf("statuses = %v, want %v", got, want)
			}
		})
	}
}

func TestFaultReset(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{Reset: true})
			_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
			if err == nil {
				t.Fatal("no error")
			}
			var opErr *net.OpError
			if !errors.Is(err, syscall.ECONNRESET) || !errors.As(err, &opErr) {
				t.Errorf("err = %v, want a *net.OpError wrapping ECONNRESET", err)
			}
			var apiErr *openai.APIError
			var reqErr *openai.RequestError
			if errors.As(err, &apiErr) || errors.As(err, &reqErr) {
				t.Errorf("err = %v is an API error, want a transport error", err)
			}
			if len(s.Requests()) != 1 {
				t.Errorf("the reset request was not recorded")
			}
			// The server still works.
			if _, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest()); err != nil {
				t.Errorf("next request: %v", err)
			}
		})
	}
}

func TestFaultCutAfterChat(t *testing.T) {
	for _, tr := range oaiTransports {
		for _, reset := range []bool{false, true} {
			name := tr.name + "/clean"
			if reset {
				name = tr.name + "/reset"
			}
			t.Run(name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				s.SetReply("one two three four five")
				s.Enqueue(secureaitest.Fault{CutAfter: 3, Reset: reset})
				req := oaiChatRequest()
				req.StreamOptions = &openai.StreamOptions{IncludeUsage: true}
				stream, err := tr.client(s, oaiKey).CreateChatCompletionStream(t.Context(), req)
				if err != nil {
					t.Fatal(err)
				}
				defer stream.Close()
				var text string
				var n int
				for {
					chunk, err := stream.Recv()
					if err != nil {
						if reset {
							if !errors.Is(err, syscall.ECONNRESET) {
								t.Errorf("err = %v, want ECONNRESET", err)
							}
						} else if err != io.EOF {
							t.Errorf("err = %v, want io.EOF", err)
						}
						break
					}
					n++
					if chunk.Usage != nil {
						t.Error("got the usage chunk")
					}
					for _, ch := range chunk.Choices {
						text += ch.Delta.Content
						if ch.FinishReason != "" {
							t.Error("got a finish chunk")
						}
					}
				}
				if n != 3 || text != "one two" {
					t.Errorf("got %d chunks, text %q; want 3 chunks, %q", n, text, "one two")
				}
			})
		}
	}
}

func TestFaultCutAfterRaw(t *testing.T) {
	tests := []struct {
		name, path, body, mustNot string
		cut, want                 int
	}{
		{"chat", "/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`, "[DONE]", 2, 2},
		{"chat beyond end", "/chat/completions", `{"model":"m","stream":true,"stream_options":{"include_usage":true},"messages":[{"role":"user","content":"x"}]}`, `"usage":{`, 1000, 8},
		{"responses", "/responses", `{"model":"m","input":"x","stream":true}`, "response.completed", 5, 5},
		{"responses beyond end", "/responses", `{"model":"m","input":"x","stream":true}`, "response.completed", 1000, 13},
	}
	for _, tr := range oaiTransports {
		for _, tt := range tests {
			t.Run(tr.name+"/"+tt.name, func(t *testing.T) {
				s := secureaitest.NewServer(t)
				s.Enqueue(secureaitest.Fault{CutAfter: tt.cut})
				code, _, body := tr.post(t, s, oaiKey, tt.path, tt.body)
				if code != 200 {
					t.Errorf("status %d", code)
				}
				if bytes.Contains(body, []byte(tt.mustNot)) {
					t.Errorf("body has %s:\n%s", tt.mustNot, body)
				}
				if got := bytes.Count(body, []byte("data: ")); got != tt.want {
					t.Errorf("got %d events, want %d", got, tt.want)
				}
				if !bytes.HasSuffix(body, []byte("}\n\n")) {
					t.Errorf("the stream does not end with a whole event:\n%s", body)
				}
			})
		}
	}
}

func TestFaultCutAfterResponses(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{CutAfter: 6})
			stream, err := tr.client(s, oaiKey).CreateResponseStream(t.Context(), openai.CreateResponseRequest{Model: "gpt-4.1", Input: "x"})
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			var n int
			for {
				ev, err := stream.Recv()
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
				n++
				if ev.Type == openai.ResponseStreamEventCompleted {
					t.Error("got response.completed")
				}
			}
			if n != 6 {
				t.Errorf("got %d events, want 6", n)
			}
		})
	}
}

func TestFaultEchoRequest(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name+"/200", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{EchoRequest: true})
			_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
			if err == nil {
				t.Fatal("no error")
			}
			var apiErr *openai.APIError
			var reqErr *openai.RequestError
			var syntaxErr *json.SyntaxError
			if errors.As(err, &apiErr) || errors.As(err, &reqErr) ||
				!(errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &syntaxErr)) {
				t.Errorf("err = %v, want a JSON decoding error", err)
			}

			// The raw answer holds the key and the prompt.
			s.Enqueue(secureaitest.Fault{EchoRequest: true})
			code, h, body := tr.post(t, s, oaiKey, "/chat/completions", oaiChatBody)
			if code != 200 || h.Get("Content-Type") != "application/json" {
				t.Errorf("status %d, headers %v", code, h)
			}
			if !bytes.Contains(body, []byte("Bearer "+oaiKey)) || !bytes.Contains(body, []byte("top secret prompt")) || json.Valid(body) {
				t.Errorf("body = %s, want invalid JSON with the key and prompt", body)
			}
		})
		t.Run(tr.name+"/502", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{Status: 502, EchoRequest: true})
			_, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
			var reqErr *openai.RequestError
			if !errors.As(err, &reqErr) {
				t.Fatalf("err = %v, want *openai.RequestError", err)
			}
			if reqErr.HTTPStatusCode != 502 || !bytes.Contains(reqErr.Body, []byte(oaiKey)) ||
				!bytes.Contains(reqErr.Body, []byte("top secret prompt")) {
				t.Errorf("error = %+v, body %s", reqErr, reqErr.Body)
			}
		})
	}
}

func TestFaultLatency(t *testing.T) {
	for _, tr := range oaiTransports {
		t.Run(tr.name+"/waits", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			const d = 30 * time.Millisecond
			s.Enqueue(secureaitest.Fault{Latency: d})
			start := time.Now()
			resp, err := tr.client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed < d {
				t.Errorf("answered after %v, want at least %v", elapsed, d)
			}
			if ms := resp.Header().Get("Openai-Processing-Ms"); ms == "" || ms == "0" {
				t.Errorf("Openai-Processing-Ms = %q", ms)
			}
		})
		t.Run(tr.name+"/cancelled", func(t *testing.T) {
			s := secureaitest.NewServer(t)
			s.Enqueue(secureaitest.Fault{Latency: time.Hour})
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			start := time.Now()
			_, err := tr.client(s, oaiKey).CreateChatCompletion(ctx, oaiChatRequest())
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want context.DeadlineExceeded", err)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("cancellation took %v", elapsed)
			}
		})
		t.Run(tr.name+"/close", func(t *testing.T) {
			s := secureaitest.StartServer()
			defer s.Close()
			s.Enqueue(secureaitest.Fault{Latency: time.Hour})
			errc := make(chan error)
			go func() {
				_, err := tr.client(s, oaiKey).CreateChatCompletion(context.Background(), oaiChatRequest())
				errc <- err
			}()
			for len(s.Requests()) == 0 {
				time.Sleep(time.Millisecond)
			}
			start := time.Now()
			s.Close()
			if err := <-errc; err == nil {
				t.Error("no error")
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("Close took %v", elapsed)
			}
		})
	}
}

func TestEnqueuePanics(t *testing.T) {
	s := secureaitest.NewServer(t)
	for _, status := range []int{-1, 100, 199, 600} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Enqueue(Fault{Status: %d}) did not panic", status)
				}
			}()
			s.Enqueue(secureaitest.Fault{Status: status})
		}()
	}
}

func TestTransportClosedServer(t *testing.T) {
	s := secureaitest.StartServer()
	s.Close()
	s.Close() // twice is fine
	_, err := oaiTransports[1].client(s, oaiKey).CreateChatCompletion(t.Context(), oaiChatRequest())
	var opErr *net.OpError
	if !errors.Is(err, syscall.ECONNREFUSED) || !errors.As(err, &opErr) {
		t.Errorf("err = %v, want a *net.OpError wrapping ECONNREFUSED", err)
	}
}

// TestTransportEarlyClose checks that the handler of a stream ends when the
// client stops reading; goleak in TestMain checks that no goroutine is left.
func TestTransportEarlyClose(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.SetReply(strings.Repeat("many words ", 500))
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/chat/completions",
		strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+oaiKey)
	resp, err := (&http.Client{Transport: s.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "data: {") {
		t.Fatalf("first line %q, %v", line, err)
	}
	resp.Body.Close()
	if _, err := resp.Body.Read(make([]byte, 1)); err == nil {
		t.Error("read after Close succeeded")
	}
	done := make(chan struct{})
	go func() {
		s.Close() // waits for the handler
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not end after the body was closed")
	}
}

func TestTransportCancelMidStream(t *testing.T) {
	s := secureaitest.NewServer(t)
	s.SetReply(strings.Repeat("word ", 500))
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := oaiTransports[1].client(s, oaiKey).CreateChatCompletionStream(ctx, oaiChatRequest())
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel()
	for {
		if _, err := stream.Recv(); err != nil {
			if !errors.Is(err, context.Canceled) {
				t.Errorf("err = %v, want context.Canceled", err)
			}
			break
		}
	}
}

// TestCloseUnreadStream checks that Close ends a stream that its client
// does not read, whose handler is blocked writing. (Only in memory, where
// every write blocks until read: a socket would need megabytes of stream to
// fill its buffers.)
func TestCloseUnreadStream(t *testing.T) {
	for _, tr := range oaiTransports[1:] {
		t.Run(tr.name, func(t *testing.T) {
			s := secureaitest.StartServer()
			defer s.Close()
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/chat/completions",
				strings.NewReader(`{"model":"m","stream":true,"messages":[{"role":"user","content":"x"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+oaiKey)
			resp, err := tr.httpClient(s).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			done := make(chan struct{})
			go func() {
				s.Close()
				close(done)
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Close did not end the stream")
			}
			if _, err := io.Copy(io.Discard, resp.Body); err == nil {
				t.Error("the stream ended cleanly after Close")
			}
		})
	}
}
