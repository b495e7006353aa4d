package secureai_test

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/secureaitest"
)

// TestChatBodyOnTheWire: a chat request the pipeline lets through unchanged
// reaches the server as the bytes go-openai itself encodes for it (with the
// fields the policy sets), on the first attempt and on a retry, plain and
// streamed.
func TestChatBodyOnTheWire(t *testing.T) {
	for _, stream := range []bool{false, true} {
		f := newFixture(t)
		req := chatReq(chatModel)
		req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: "user", MultiContent: []openai.ChatMessagePart{
			{Type: openai.ChatMessagePartTypeText, Text: "What is <b>bold</b> & why?"},
		}})
		f.srv.Enqueue(secureaitest.Fault{Status: 500})
		if stream {
			s, err := f.client.CreateChatCompletionStream(f.ctx, req)
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := s.Recv(); err != nil {
					break
				}
			}
			s.Close()
		} else if _, err := f.client.CreateChatCompletion(f.ctx, req); err != nil {
			t.Fatal(err)
		}
		reqs := f.srv.Requests()
		if len(reqs) != 2 {
			t.Fatalf("stream %v: %d requests, want the failed one and its retry", stream, len(reqs))
		}
		if !bytes.Equal(reqs[0].Body, reqs[1].Body) {
			t.Fatalf("stream %v: the retry sent another body:\n%s\n%s", stream, reqs[0].Body, reqs[1].Body)
		}
		var sent openai.ChatCompletionRequest
		if err := json.Unmarshal(reqs[1].Body, &sent); err != nil {
			t.Fatal(err)
		}
		want := req
		want.MaxTokens, want.SafetyIdentifier = sent.MaxTokens, sent.SafetyIdentifier
		want.Stream, want.StreamOptions = sent.Stream, sent.StreamOptions
		if sent.MaxTokens == 0 || sent.SafetyIdentifier == "" || sent.Stream != stream {
			t.Fatalf("stream %v: the policy's fields are missing: %s", stream, reqs[1].Body)
		}
		wantBody, err := json.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(reqs[1].Body, wantBody) {
			t.Errorf("stream %v: sent\n%s\ngo-openai encodes\n%s", stream, reqs[1].Body, wantBody)
		}
	}
}
