package secureai_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

func ExampleNew() {
	srv := secureaitest.StartServer() // a fake OpenAI server on loopback
	defer srv.Close()

	client, err := secureai.New(
		secureai.WithKeyProvider(keyprovider.Static("sk-test-example-00000000000000000000")),
		secureai.WithModels("gpt-4o-2024-08-06"),
		secureai.WithBaseURL(srv.URL()),
		secureai.WithAuditSink(audit.SinkFunc(func(context.Context, audit.Event) error { return nil })),
	)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close(context.Background())

	ctx := secureai.WithCaller(context.Background(), secureai.Caller{ID: "alice", Group: "support"})
	resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{
		Model:    "gpt-4o-2024-08-06",
		Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "Hello?"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)
	// Output: Hello from the fake OpenAI server.
}

func ExampleNew_badConfiguration() {
	_, err := secureai.New(secureai.WithBaseURL("http://api.example.com/v1"), secureai.WithModels("gpt-4o"))
	fmt.Println(err)
	// Output:
	// secureai: WithModels: "gpt-4o" is not a pinned snapshot; use WithFloatingModels to allow a floating alias
	// secureai: no key provider; use WithKeyProvider
	// secureai: no model allowlist; use WithModels
	// secureai: base URL is plain http to non-loopback host "api.example.com"; use https
}

func ExampleError() {
	client, _ := secureai.New(
		secureai.WithKeyProvider(keyprovider.Static("sk-test-example-00000000000000000000")),
		secureai.WithModels("gpt-4o-2024-08-06"),
		secureai.WithAuditSink(audit.SinkFunc(func(context.Context, audit.Event) error { return nil })),
	)
	defer client.Close(context.Background())

	ctx := secureai.WithCaller(context.Background(), secureai.Caller{ID: "alice"})
	_, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o",
		Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}})

	fmt.Println(errors.Is(err, secureai.ErrModelNotAllowed))
	if e, ok := errors.AsType[*secureai.Error](err); ok {
		fmt.Println(e.Stage, e.Check, e.Reason)
		fmt.Println(e.UserMessage())
	}
	// Output:
	// true
	// policy model_allowlist model_not_on_allowlist
	// This request cannot be processed.
}

func ExampleWithCaller() {
	ctx := secureai.WithCaller(context.Background(), secureai.Caller{ID: "alice", Group: "support", Tier: "pro"})
	c, ok := secureai.CallerFrom(ctx)
	fmt.Println(c.ID, c.Group, c.Tier, ok)
	// Output: alice support pro true
}

func ExampleInputCheckerFunc() {
	srv := secureaitest.StartServer()
	defer srv.Close()
	// A check that redacts an employee number before the request leaves.
	redact := secureai.InputCheckerFunc(func(_ context.Context, _ *secureai.Call, in *secureai.Input) error {
		for i := range in.Fields {
			if in.Fields[i].Role == "user" {
				in.Fields[i].Text = "[redacted]"
			}
		}
		return nil
	})
	client, _ := secureai.New(
		secureai.WithKeyProvider(keyprovider.Static("sk-test-example-00000000000000000000")),
		secureai.WithModels("gpt-4o-2024-08-06"),
		secureai.WithBaseURL(srv.URL()),
		secureai.WithInputChecks(redact),
		secureai.WithAuditSink(audit.SinkFunc(func(context.Context, audit.Event) error { return nil })),
	)
	defer client.Close(context.Background())
	ctx := secureai.WithCaller(context.Background(), secureai.Caller{ID: "alice"})
	_, _ = client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06",
		Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "employee E-12345"}}})
	body, _ := srv.Requests()[0].JSON()
	fmt.Println(body["messages"])
	// Output: [map[content:[redacted] role:user]]
}
