package secureaitest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	openai "github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/secureaitest"
)

// In a test, use secureaitest.NewServer(t) instead: it closes the server
// when the test ends.
func ExampleStartServer() {
	s := secureaitest.StartServer()
	defer s.Close()
	s.SetReply("Hello, gopher!")

	cfg := openai.DefaultConfig("sk-test-example-key")
	cfg.BaseURL = s.URL()
	client := openai.NewClientWithConfig(cfg)

	resp, err := client.CreateChatCompletion(context.Background(), openai.ChatCompletionRequest{
		Model:    openai.GPT4oMini,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Hi!"}},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)

	r := s.Requests()[0]
	fmt.Println(r.Method, r.Path)
	// Output:
	// Hello, gopher!
	// POST /v1/chat/completions
}

func ExampleServer_Enqueue() {
	s := secureaitest.StartServer()
	defer s.Close()

	// The first request is rate limited, the second answered.
	s.Enqueue(secureaitest.Fault{
		Status: http.StatusTooManyRequests,
		Header: http.Header{"Retry-After": {"2"}},
	})

	cfg := openai.DefaultConfig("sk-test-example-key")
	cfg.BaseURL = s.URL()
	cfg.HTTPClient = &http.Client{Transport: s.Transport()} // in memory, no sockets
	client := openai.NewClientWithConfig(cfg)
	req := openai.ChatCompletionRequest{
		Model:    openai.GPT4oMini,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Hi!"}},
	}

	_, err := client.CreateChatCompletion(context.Background(), req)
	var apiErr *openai.APIError
	if errors.As(err, &apiErr) {
		fmt.Println(apiErr.HTTPStatusCode, apiErr.Code)
	}
	resp, err := client.CreateChatCompletion(context.Background(), req)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(resp.Choices[0].Message.Content)
	// Output:
	// 429 rate_limit_exceeded
	// Hello from the fake OpenAI server.
}
