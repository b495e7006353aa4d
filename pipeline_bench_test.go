package secureai

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
)

// BenchmarkPipeline measures what the pipeline adds to a 4 KiB chat call,
// without the network: go-openai over an in-memory transport that answers
// at once ("raw"), and the same call through the default pipeline
// ("default") and with every content check off ("spine"). Their
// difference to raw is secureai's own cost.
func BenchmarkPipeline(b *testing.B) {
	const model = "gpt-4o-mini-2024-07-18"
	answer := `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"` + model +
		`","choices":[{"index":0,"message":{"role":"assistant","content":"The quick brown fox."},"finish_reason":"stop"}],` +
		`"usage":{"prompt_tokens":900,"completion_tokens":5,"total_tokens":905}}`
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		if r.Body != nil {
			_, _ = io.Copy(io.Discard, r.Body)
			r.Body.Close()
		}
		return &http.Response{StatusCode: 200, Request: r, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(answer))}, nil
	})
	req := openai.ChatCompletionRequest{Model: model, MaxTokens: 64, Messages: []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "You are a helpful assistant."},
		{Role: openai.ChatMessageRoleUser, Content: strings.Repeat("The quick brown fox jumps over the lazy dog while the audit log keeps count. ", 60)[:4096]},
	}}
	// 65 536 callers in turn: with the default per-caller limit (5/s,
	// 120/min), 4 096 of them allowed 20 000 calls a second, fewer than
	// the pipeline makes here.
	ctxs := make([]context.Context, 1<<16)
	for i := range ctxs {
		ctxs[i] = WithCaller(context.Background(), Caller{ID: "bench-user-" + strconv.Itoa(i), Group: "bench"})
	}
	b.Run("raw", func(b *testing.B) {
		cfg := openai.DefaultConfig("sk-test")
		cfg.HTTPClient = &http.Client{Transport: rt}
		c := openai.NewClientWithConfig(cfg)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.CreateChatCompletion(context.Background(), req); err != nil {
				b.Fatal(err)
			}
		}
	})
	run := func(b *testing.B, opts ...Option) {
		sink, _ := audit.NewJSONSink(io.Discard)
		c, err := New(append([]Option{WithKeyProvider(keyprovider.Static("sk-test-transport-0000000000000000")),
			WithModels(model), WithTransport(rt), WithAuditSink(sink)}, opts...)...)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close(context.Background())
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, err := c.CreateChatCompletion(ctxs[i%len(ctxs)], req); err != nil {
				b.Fatal(err)
			}
			i++
		}
	}
	b.Run("default", func(b *testing.B) { run(b) })
	b.Run("spine", func(b *testing.B) {
		run(b, Without(StageHygiene), Without(StageInput), Without(StageOutput))
	})
}
