package secureai_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/secureaitest"
)

func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

func repeat(f secureaitest.Fault, n int) []secureaitest.Fault {
	out := make([]secureaitest.Fault, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestUpstreamFaults drives every fault of the fake server through the
// client inside a synctest bubble (fake time: backoff and Retry-After waits
// take no real time) and checks the typed error, RetryAfter, the retry
// count and the single audit event.
func TestUpstreamFaults(t *testing.T) {
	srv := secureaitest.NewServer(t) // outside the bubble: its listener blocks in I/O
	type want struct {
		ok         bool
		kind       error
		status     int
		retries    int
		retryAfter time.Duration
		reason     string
		minElapsed time.Duration
		apiErr     bool
		netErr     bool
		reqErr     bool
	}
	cases := []struct {
		name   string
		faults []secureaitest.Fault
		setup  func(*secureaitest.Keys)
		want   want
	}{
		{"429 with Retry-After", repeat(secureaitest.Fault{Status: 429, Header: hdr("Retry-After", "2")}, 3), nil,
			want{kind: secureai.ErrUpstream, status: 429, retries: 2, retryAfter: 2 * time.Second, reason: "rate_limit_exceeded", minElapsed: 4 * time.Second, apiErr: true}},
		{"429 without Retry-After", repeat(secureaitest.Fault{Status: 429}, 3), nil,
			want{kind: secureai.ErrUpstream, status: 429, retries: 2, reason: "rate_limit_exceeded", apiErr: true}},
		{"429 Retry-After-Ms then ok", []secureaitest.Fault{{Status: 429, Header: hdr("Retry-After-Ms", "1500")}}, nil,
			want{ok: true, retries: 1, minElapsed: 1500 * time.Millisecond}},
		{"429 Retry-After HTTP date then ok", []secureaitest.Fault{{Status: 429, Header: hdr("Retry-After", "date+3s")}}, nil,
			want{ok: true, retries: 1, minElapsed: time.Second}},
		{"429 Retry-After too long", []secureaitest.Fault{{Status: 429, Header: hdr("Retry-After", "120")}}, nil,
			want{kind: secureai.ErrUpstream, status: 429, retries: 0, retryAfter: 120 * time.Second, reason: "rate_limit_exceeded", apiErr: true}},
		{"503 then ok", []secureaitest.Fault{{Status: 503}}, nil, want{ok: true, retries: 1}},
		{"503 x-should-retry false", []secureaitest.Fault{{Status: 503, Header: hdr("x-should-retry", "false")}}, nil,
			want{kind: secureai.ErrUpstream, status: 503, retries: 0, apiErr: true, reason: "status_503"}},
		{"500 every time", repeat(secureaitest.Fault{Status: 500}, 3), nil,
			want{kind: secureai.ErrUpstream, status: 500, retries: 2, apiErr: true, reason: "status_500"}},
		{"400 never retried", []secureaitest.Fault{{Status: 400, Header: hdr("x-should-retry", "true")}}, nil,
			want{kind: secureai.ErrUpstream, status: 400, retries: 0, apiErr: true, reason: "status_400"}},
		{"404 never retried", []secureaitest.Fault{{Status: 404}}, nil,
			want{kind: secureai.ErrUpstream, status: 404, retries: 0, apiErr: true, reason: "model_not_found"}},
		{"connection reset every time", repeat(secureaitest.Fault{Reset: true}, 3), nil,
			want{kind: secureai.ErrUpstream, retries: 2, reason: "transport", netErr: true}},
		{"connection reset then ok", []secureaitest.Fault{{Reset: true}}, nil, want{ok: true, retries: 1}},
		{"401 with a key that cannot refresh", nil, func(k *secureaitest.Keys) {}, want{kind: secureai.ErrKeyUnavailable, status: 401, retries: 0, reason: "invalid_api_key", apiErr: true}},
		{"401 refreshed once", nil, func(k *secureaitest.Keys) { k.RotateOnInvalidate(rotatedKey) }, want{ok: true, retries: 1}},
		{"malformed JSON echo", []secureaitest.Fault{{EchoRequest: true}}, nil,
			want{kind: secureai.ErrUpstream, retries: 0, reason: "malformed_response"}},
		{"malformed error body echo", repeat(secureaitest.Fault{Status: 502, EchoRequest: true}, 3), nil,
			want{kind: secureai.ErrUpstream, status: 502, retries: 2, reason: "status_502", reqErr: true}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				srv.Reset()
				for _, f := range tc.faults {
					if f.Header.Get("Retry-After") == "date+3s" { // a date in the bubble's fake time
						f.Header = hdr("Retry-After", time.Now().Add(3*time.Second).UTC().Format(http.TimeFormat))
					}
					srv.Enqueue(f)
				}
				keys := secureaitest.NewKeys(testKey)
				if tc.setup != nil {
					keys = secureaitest.NewKeys(rejectedKey)
					srv.RejectKey(rejectedKey)
					tc.setup(keys)
				}
				rec := &secureaitest.AuditRecorder{}
				c, err := secureai.New(secureai.WithKeyProvider(keys), secureai.WithBaseURL(srv.URL()),
					secureai.WithTransport(srv.Transport()), secureai.WithModels(chatModel), secureai.WithAuditSink(rec))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(context.Background())
				ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: "bob"})
				start := time.Now()
				resp, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
				elapsed := time.Since(start)
				w := tc.want
				if w.ok {
					if err != nil || len(resp.Choices) == 0 {
						t.Fatalf("err = %v", err)
					}
				} else {
					if !errors.Is(err, w.kind) {
						t.Fatalf("err = %v, want %v", err, w.kind)
					}
					e, _ := errors.AsType[*secureai.Error](err)
					if e.StatusCode != w.status || e.Retries != w.retries || e.RetryAfter != w.retryAfter || e.Reason != w.reason {
						t.Errorf("status=%d retries=%d retryAfter=%v reason=%q; want %d %d %v %q",
							e.StatusCode, e.Retries, e.RetryAfter, e.Reason, w.status, w.retries, w.retryAfter, w.reason)
					}
					if apiErr, ok := errors.AsType[*openai.APIError](err); ok != w.apiErr || (ok && apiErr.HTTPStatusCode != w.status) {
						t.Errorf("errors.As *openai.APIError = %v, want %v", ok, w.apiErr)
					}
					if _, ok := errors.AsType[*net.OpError](err); ok != w.netErr {
						t.Errorf("errors.As *net.OpError = %v, want %v", ok, w.netErr)
					}
					if w.netErr && !errors.Is(err, syscall.ECONNRESET) {
						t.Errorf("reset not reachable: %v", err)
					}
					if reqErr, ok := errors.AsType[*openai.RequestError](err); ok != w.reqErr || (ok && reqErr.Body != nil) {
						t.Errorf("errors.As *openai.RequestError = %v (want %v), body kept: %v", ok, w.reqErr, ok && reqErr.Body != nil)
					}
				}
				if elapsed < w.minElapsed {
					t.Errorf("waited %v, want at least %v", elapsed, w.minElapsed)
				}
				if got := len(srv.Requests()); got != w.retries+1 {
					t.Errorf("%d requests reached the server, want %d", got, w.retries+1)
				}
				if rec.Len() != 1 {
					t.Fatalf("%d audit events", rec.Len())
				}
				ev := rec.Last()
				if ev.Retries != w.retries || (w.ok != (ev.Outcome == audit.OutcomeOK)) {
					t.Errorf("audit retries=%d outcome=%s", ev.Retries, ev.Outcome)
				}
				if tc.name == "401 refreshed once" {
					reqs := srv.Requests()
					if reqs[0].BearerKey() != rejectedKey || reqs[1].BearerKey() != rotatedKey || keys.Invalidations() != 1 {
						t.Errorf("keys sent %q then %q, invalidations %d", reqs[0].BearerKey(), reqs[1].BearerKey(), keys.Invalidations())
					}
				}
			})
		})
	}
}

func TestRetryWaitRespectsContext(t *testing.T) {
	srv := secureaitest.NewServer(t)
	run := func(t *testing.T, body func(t *testing.T, c *secureai.Client, ctx context.Context)) {
		synctest.Test(t, func(t *testing.T) {
			srv.Reset()
			srv.Enqueue(repeat(secureaitest.Fault{Status: 503, Header: hdr("Retry-After", "30")}, 3)...)
			rec := &secureaitest.AuditRecorder{}
			c, err := secureai.New(secureai.WithKeyProvider(secureaitest.NewKeys(testKey)), secureai.WithBaseURL(srv.URL()),
				secureai.WithTransport(srv.Transport()), secureai.WithModels(chatModel), secureai.WithAuditSink(rec))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close(context.Background())
			body(t, c, secureai.WithCaller(t.Context(), secureai.Caller{ID: "bob"}))
			if rec.Len() != 1 {
				t.Errorf("%d audit events", rec.Len())
			}
		})
	}
	t.Run("deadline shorter than Retry-After", func(t *testing.T) {
		run(t, func(t *testing.T, c *secureai.Client, ctx context.Context) {
			ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			defer cancel()
			start := time.Now()
			_, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
			e, ok := errors.AsType[*secureai.Error](err)
			if !ok || e.RetryAfter != 30*time.Second || e.Retries != 0 || time.Since(start) != 0 {
				t.Errorf("err = %v after %v", err, time.Since(start))
			}
		})
	})
	t.Run("cancel during the wait", func(t *testing.T) {
		run(t, func(t *testing.T, c *secureai.Client, ctx context.Context) {
			ctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(10*time.Second, cancel)
			start := time.Now()
			_, err := c.CreateChatCompletion(ctx, chatReq(chatModel))
			if !errors.Is(err, context.Canceled) || !errors.Is(err, secureai.ErrUpstream) || time.Since(start) != 10*time.Second {
				t.Errorf("err = %v after %v", err, time.Since(start))
			}
		})
	})
}

func TestStreamLifecycle(t *testing.T) {
	srv := secureaitest.NewServer(t)
	newClient := func(t *testing.T) (*secureai.Client, *secureaitest.AuditRecorder, context.Context) {
		rec := &secureaitest.AuditRecorder{}
		c, err := secureai.New(secureai.WithKeyProvider(secureaitest.NewKeys(testKey)), secureai.WithBaseURL(srv.URL()),
			secureai.WithTransport(srv.Transport()), secureai.WithModels(chatModel), secureai.WithAuditSink(rec))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close(context.Background()) })
		return c, rec, secureai.WithCaller(t.Context(), secureai.Caller{ID: "bob"})
	}
	recvAll := func(recv func() error) error {
		for {
			if err := recv(); err != nil {
				return err
			}
		}
	}

	t.Run("chat cut", func(t *testing.T) {
		c, rec, ctx := newClient(t)
		srv.Enqueue(secureaitest.Fault{CutAfter: 3})
		s, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if rec.Len() != 0 {
			t.Error("audit ended when the stream was returned")
		}
		err = recvAll(func() error { _, err := s.Recv(); return err })
		if !errors.Is(err, secureai.ErrStreamCut) || errors.Is(err, io.EOF) {
			t.Errorf("err = %v", err)
		}
		s.Close()
		if rec.Len() != 1 || rec.Last().Outcome != audit.OutcomeCut {
			t.Errorf("audit %d %+v", rec.Len(), rec.Last())
		}
	})
	t.Run("responses cut", func(t *testing.T) {
		c, rec, ctx := newClient(t)
		srv.Enqueue(secureaitest.Fault{CutAfter: 4})
		s, err := c.CreateResponseStream(ctx, openai.CreateResponseRequest{Model: chatModel, Input: "hi"})
		if err != nil {
			t.Fatal(err)
		}
		err = recvAll(func() error { _, err := s.Recv(); return err })
		if !errors.Is(err, secureai.ErrStreamCut) {
			t.Errorf("err = %v", err)
		}
		if rec.Len() != 1 || rec.Last().Outcome != audit.OutcomeCut {
			t.Errorf("audit %d %+v", rec.Len(), rec.Last())
		}
	})
	t.Run("closed early", func(t *testing.T) {
		c, rec, ctx := newClient(t)
		s, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		s.Close()
		if _, err := s.Recv(); !errors.Is(err, secureai.ErrStreamCut) {
			t.Errorf("Recv after Close = %v", err)
		}
		if rec.Len() != 1 || rec.Last().ErrorType != "stream_cut" {
			t.Errorf("audit %d %+v", rec.Len(), rec.Last())
		}
	})
	t.Run("context cancelled while nobody reads", func(t *testing.T) {
		c, rec, ctx := newClient(t)
		ctx, cancel := context.WithCancel(ctx)
		s, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		cancel()
		deadline := time.Now().Add(10 * time.Second)
		for rec.Len() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if rec.Len() != 1 || rec.Last().Outcome != audit.OutcomeCut {
			t.Errorf("audit %d %+v", rec.Len(), rec.Last())
		}
		s.Close()
		if rec.Len() != 1 {
			t.Errorf("%d events after Close", rec.Len())
		}
	})
	t.Run("complete stream and client close", func(t *testing.T) {
		c, rec, ctx := newClient(t)
		s, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if err := recvAll(func() error { _, err := s.Recv(); return err }); !errors.Is(err, io.EOF) {
			t.Fatalf("err = %v", err)
		}
		if s.Header().Get("Content-Type") == "" {
			t.Error("no headers")
		}
		ev := rec.Last()
		if rec.Len() != 1 || ev.Outcome != audit.OutcomeOK || ev.OutputTokens == 0 || ev.InputTokens == 0 {
			t.Errorf("audit %+v", ev)
		}
		open, err := c.CreateChatCompletionStream(ctx, chatReq(chatModel))
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Close(t.Context()); err != nil {
			t.Fatal(err)
		}
		if _, err := open.Recv(); !errors.Is(err, secureai.ErrStreamCut) {
			t.Errorf("stream open at Close: %v", err)
		}
		if _, err := c.CreateChatCompletion(ctx, chatReq(chatModel)); !errors.Is(err, secureai.ErrClosed) {
			t.Errorf("after Close: %v", err)
		}
		if rec.Len() != 3 {
			t.Errorf("%d audit events", rec.Len())
		}
	})
}
