// Command quickstart shows secureai in one minute, with no API key: it
// builds a client against an embedded fake OpenAI server, makes an allowed
// call, shows three refusals with their typed errors, and prints the audit
// events the calls left.
//
//	go run ./examples/quickstart
//
// With OPENAI_API_KEY set, -live calls the real API instead.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

func main() {
	live := flag.Bool("live", false, "call the real OpenAI API with the key in OPENAI_API_KEY")
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := run(ctx, os.Stdout, *live); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// model is a pinned snapshot: floating aliases such as "gpt-4o-mini" are
// refused unless allowed with secureai.WithFloatingModels.
const model = "gpt-4o-mini-2024-07-18"

func run(ctx context.Context, out io.Writer, live bool) error {
	var events bytes.Buffer
	sink, err := audit.NewJSONSink(&events)
	if err != nil {
		return err
	}
	opts := []secureai.Option{
		secureai.WithModels(model),
		secureai.WithEnvironment("dev"),
		secureai.WithOutputTokens(256, 1024),
		secureai.WithLimits(secureai.Limits{MaxInputBytes: 16 << 10}),
		secureai.WithAuditSink(sink),
	}
	if live {
		env, err := keyprovider.Env("OPENAI_API_KEY")
		if err != nil {
			return err
		}
		opts = append(opts, secureai.WithKeyProvider(env))
		fmt.Fprintln(out, "mode: live, https://api.openai.com/v1")
	} else {
		srv := secureaitest.StartServer() // a fake OpenAI server on 127.0.0.1
		defer srv.Close()
		srv.SetReply("Hello! I am the fake OpenAI server, answering through secureai.")
		opts = append(opts,
			secureai.WithBaseURL(srv.URL()),
			secureai.WithKeyProvider(keyprovider.Static("sk-test-quickstart-0000000000000000000000")))
		fmt.Fprintln(out, "mode: embedded fake OpenAI server at", srv.URL())
	}

	client, err := secureai.New(opts...)
	if err != nil {
		return err
	}
	defer client.Close(context.WithoutCancel(ctx))

	fmt.Fprintln(out, "\ncontrols:")
	for _, c := range client.Controls() {
		state := "off"
		if c.On {
			state = "on "
		}
		fmt.Fprintf(out, "  %-3s %-10s %s\n", state, c.Stage, c.What)
	}

	// Your auth middleware puts the caller in the context.
	userCtx := secureai.WithCaller(ctx, secureai.Caller{ID: "alice@example.com", Group: "support", Tier: "pro"})
	req := openai.ChatCompletionRequest{
		Model:    model,
		Messages: []openai.ChatCompletionMessage{{Role: openai.ChatMessageRoleUser, Content: "Say hello in one sentence."}},
	}

	fmt.Fprintln(out, "\nallowed call:")
	resp, err := client.CreateChatCompletion(userCtx, req)
	if err != nil {
		return fmt.Errorf("allowed call failed: %w", err)
	}
	fmt.Fprintf(out, "  answer: %q\n  usage: %d prompt + %d completion tokens\n",
		resp.Choices[0].Message.Content, resp.Usage.PromptTokens, resp.Usage.CompletionTokens)

	fmt.Fprintln(out, "\nrefusals:")
	unpinned := req
	unpinned.Model = "gpt-4o"
	oversized := req
	oversized.Messages = []openai.ChatCompletionMessage{{Role: "user", Content: strings.Repeat("pad ", 8<<10)}}
	for _, r := range []struct {
		name string
		ctx  context.Context
		req  openai.ChatCompletionRequest
		want error
	}{
		{"no caller in context", ctx, req, secureai.ErrNoCaller},
		{"unpinned model alias", userCtx, unpinned, secureai.ErrModelNotAllowed},
		{"oversized request (32 KiB)", userCtx, oversized, secureai.ErrInputRejected},
	} {
		_, err := client.CreateChatCompletion(r.ctx, r.req)
		if !errors.Is(err, r.want) {
			return fmt.Errorf("%s: got %v, want %v", r.name, err, r.want)
		}
		e, _ := errors.AsType[*secureai.Error](err)
		fmt.Fprintf(out, "  %-28s errors.Is(err, %s) → stage=%s check=%s\n    error:   %v\n    for users: %s\n",
			r.name, sentinelName(r.want), e.Stage, e.Check, err, e.UserMessage())
	}

	fmt.Fprintln(out, "\naudit events (one per call, no prompt or answer text):")
	for line := range strings.SplitSeq(strings.TrimSpace(events.String()), "\n") {
		if !json.Valid([]byte(line)) {
			return fmt.Errorf("audit line is not JSON: %q", line)
		}
		fmt.Fprintln(out, " ", line)
	}
	return nil
}

func sentinelName(err error) string {
	switch err {
	case secureai.ErrNoCaller:
		return "ErrNoCaller"
	case secureai.ErrModelNotAllowed:
		return "ErrModelNotAllowed"
	case secureai.ErrInputRejected:
		return "ErrInputRejected"
	}
	return err.Error()
}
