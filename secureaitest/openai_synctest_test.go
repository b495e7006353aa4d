package secureaitest_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	openai "github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/secureaitest"
)

// TestTransportSynctest checks that the in-memory transport serves requests
// inside a synctest bubble, where a fault's latency passes in fake time.
func TestTransportSynctest(t *testing.T) {
	// The Server is created outside the bubble: its listener blocks in
	// network I/O, which would stop the bubble's clock.
	s := secureaitest.NewServer(t)
	realStart := time.Now()
	synctest.Test(t, func(t *testing.T) {
		cfg := openai.DefaultConfig(oaiKey)
		cfg.BaseURL = s.URL()
		cfg.HTTPClient = &http.Client{Transport: s.Transport()}
		client := openai.NewClientWithConfig(cfg)

		s.Enqueue(secureaitest.Fault{Latency: 10 * time.Second})
		start := time.Now()
		resp, err := client.CreateChatCompletion(t.Context(), oaiChatRequest())
		if err != nil {
			t.Fatalf("CreateChatCompletion: %v", err)
		}
		if got := time.Since(start); got != 10*time.Second {
			t.Errorf("answered after %v of fake time, want 10s", got)
		}
		if got := resp.Header().Get("Openai-Processing-Ms"); got != "10000" {
			t.Errorf("Openai-Processing-Ms = %q, want 10000", got)
		}

		// A deadline ends the wait, in fake time too.
		s.Enqueue(secureaitest.Fault{Latency: time.Hour})
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Second)
		defer cancel()
		start = time.Now()
		_, err = client.CreateChatCompletion(ctx, oaiChatRequest())
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("err = %v, want context.DeadlineExceeded", err)
		}
		if got := time.Since(start); got != 3*time.Second {
			t.Errorf("gave up after %v of fake time, want 3s", got)
		}

		// Streams work in the bubble.
		s.Enqueue(secureaitest.Fault{Latency: time.Minute})
		stream, err := client.CreateChatCompletionStream(t.Context(), oaiChatRequest())
		if err != nil {
			t.Fatalf("CreateChatCompletionStream: %v", err)
		}
		defer stream.Close()
		var text string
		for {
			chunk, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("Recv: %v", err)
			}
			for _, ch := range chunk.Choices {
				text += ch.Delta.Content
			}
		}
		if text != secureaitest.DefaultReply {
			t.Errorf("streamed text = %q", text)
		}
	})
	if elapsed := time.Since(realStart); elapsed > 5*time.Second {
		t.Errorf("the test took %v of real time", elapsed)
	}
}
