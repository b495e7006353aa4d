package secureai

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/keyprovider"
)

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, tc := range []struct {
		name string
		h    http.Header
		want time.Duration
		ok   bool
	}{
		{"none", http.Header{}, 0, false},
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{"fractional seconds", http.Header{"Retry-After": {"1.5"}}, 1500 * time.Millisecond, true},
		{"date", http.Header{"Retry-After": {now.Add(7 * time.Second).Format(http.TimeFormat)}}, 7 * time.Second, true},
		{"date in the past", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"ms wins", http.Header{"Retry-After": {"9"}, "Retry-After-Ms": {"250"}}, 250 * time.Millisecond, true},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"negative", http.Header{"Retry-After": {"-1"}}, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := retryAfter(tc.h, now)
			if got != tc.want || ok != tc.ok {
				t.Errorf("retryAfter = %v %v, want %v %v", got, ok, tc.want, tc.ok)
			}
		})
	}
}

func TestShouldRetry(t *testing.T) {
	for _, tc := range []struct {
		status int
		header string
		want   bool
	}{
		{400, "", false}, {400, "true", false}, {401, "", false}, {403, "true", false}, {404, "", false},
		{408, "", true}, {409, "", true}, {422, "", false}, {422, "true", true}, {429, "", true},
		{429, "false", false}, {500, "", true}, {502, "", true}, {503, "false", false}, {504, "", true},
	} {
		resp := &http.Response{StatusCode: tc.status, Header: http.Header{}}
		if tc.header != "" {
			resp.Header.Set("x-should-retry", tc.header)
		}
		if got := shouldRetry(resp); got != tc.want {
			t.Errorf("status %d x-should-retry %q: %v, want %v", tc.status, tc.header, got, tc.want)
		}
	}
}

func TestEgressRules(t *testing.T) {
	cfg := defaultConfig()
	cfg.egressHosts = []string{"gateway.internal:8443"}
	h := newHTTPLayer(cfg, http.DefaultTransport, "api.openai.com")
	for _, tc := range []struct {
		url    string
		reason string
	}{
		{"https://api.openai.com/v1/chat/completions", ""},
		{"https://API.OPENAI.COM/v1/x", ""},
		{"https://gateway.internal:8443/v1", ""},
		{"https://gateway.internal/v1", "host_not_allowed"},
		{"https://evil.example.com/v1", "host_not_allowed"},
		{"http://api.openai.com/v1", "plaintext_to_non_loopback"},
		{"http://127.0.0.1:9/v1", "host_not_allowed"},
		{"ftp://api.openai.com/v1", "scheme_not_allowed"},
		{"https://user:pw@api.openai.com/v1", "userinfo_in_url"},
	} {
		u, _ := url.Parse(tc.url)
		err := h.checkEgress(u)
		if tc.reason == "" {
			if err != nil {
				t.Errorf("%s refused: %v", tc.url, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != ErrEgressDenied || e.Reason != tc.reason {
			t.Errorf("%s: err = %v, want %s", tc.url, err, tc.reason)
		}
	}
}

func TestHardenedTransport(t *testing.T) {
	cfg := defaultConfig()
	tr := newTransport(cfg)
	if tr.TLSClientConfig.MinVersion != tls.VersionTLS12 || tr.TLSClientConfig.InsecureSkipVerify {
		t.Error("TLS settings")
	}
	if tr.Proxy != nil || !tr.ForceAttemptHTTP2 || tr.TLSHandshakeTimeout == 0 || tr.ResponseHeaderTimeout == 0 || tr.IdleConnTimeout == 0 {
		t.Errorf("transport %+v", tr)
	}
	t.Setenv("HTTPS_PROXY", "http://proxy.example:3128")
	if tr.Proxy != nil {
		t.Error("proxy taken from the environment")
	}
	p, _ := url.Parse("http://proxy.internal:3128")
	if err := WithProxy(p)(cfg); err != nil {
		t.Fatal(err)
	}
	got, err := newTransport(cfg).Proxy(&http.Request{URL: &url.URL{Scheme: "https", Host: "api.openai.com"}})
	if err != nil || got.String() != p.String() {
		t.Errorf("proxy = %v %v", got, err)
	}
}

// rtFunc is an in-memory RoundTripper.
type rtFunc func(*http.Request) (*http.Response, error)

func (f rtFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func testClient(t *testing.T, rt http.RoundTripper, opts ...Option) *Client {
	t.Helper()
	c, err := New(append([]Option{WithKeyProvider(keyprovider.Static("sk-test-transport-0000000000000000")),
		WithBaseURL("https://api.openai.com/v1"), WithModels("gpt-4o-2024-08-06"), WithTransport(rt),
		WithAuditSink(discardSink{}), WithRetry(RetryPolicy{MaxRetries: 0})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(t.Context()) })
	return c
}

func chat() openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", Messages: []openai.ChatCompletionMessage{{Role: "user", Content: "hi"}}}
}

func TestRedirectToAnotherHostRefused(t *testing.T) {
	var hosts []string
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		hosts = append(hosts, r.URL.Host)
		if r.Body != nil {
			r.Body.Close()
		}
		return &http.Response{StatusCode: http.StatusTemporaryRedirect, Request: r, Body: http.NoBody,
			Header: http.Header{"Location": {"https://attacker.example/v1/chat/completions"}}}, nil
	})
	c := testClient(t, rt)
	_, err := c.CreateChatCompletion(WithCaller(t.Context(), Caller{ID: "u"}), chat())
	if !errors.Is(err, ErrEgressDenied) {
		t.Fatalf("err = %v", err)
	}
	if len(hosts) != 1 || hosts[0] != "api.openai.com" {
		t.Errorf("requests went to %v", hosts)
	}
}

func TestResponseSizeBound(t *testing.T) {
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		r.Body.Close()
		body := `{"id":"chatcmpl-1","choices":[{"index":0,"message":{"role":"assistant","content":"` + strings.Repeat("a", 4096) + `"}}]}`
		return &http.Response{StatusCode: 200, Request: r, Header: http.Header{"Content-Type": {"application/json"}},
			Body: io.NopCloser(strings.NewReader(body))}, nil
	})
	c := testClient(t, rt, WithMaxResponseBytes(1024))
	_, err := c.CreateChatCompletion(WithCaller(t.Context(), Caller{ID: "u"}), chat())
	var e *Error
	if !errors.As(err, &e) || e.Kind != ErrUpstream || e.Reason != "response_too_large" {
		t.Fatalf("err = %v", err)
	}
}

// TestKeyInjectedPerAttempt checks that the key is set on each attempt,
// on go-openai's own request through Do and on a clone through RoundTrip
// (an http.Client's transport, the moderation checker's), which leaves
// its caller's request as it was.
func TestKeyInjectedPerAttempt(t *testing.T) {
	var auth []string
	rt := rtFunc(func(r *http.Request) (*http.Response, error) {
		auth = append(auth, r.Header.Get("Authorization"))
		r.Body.Close()
		return &http.Response{StatusCode: 200, Request: r, Header: http.Header{},
			Body: io.NopCloser(strings.NewReader(`{"id":"x","choices":[]}`))}, nil
	})
	c := testClient(t, rt)
	if _, err := c.CreateChatCompletion(WithCaller(t.Context(), Caller{ID: "u"}), chat()); err != nil {
		t.Fatal(err)
	}
	if len(auth) != 1 || auth[0] != "Bearer sk-test-transport-0000000000000000" {
		t.Errorf("Authorization = %q", auth)
	}
	// A request that did not come through the pipeline gets no key.
	req, _ := http.NewRequestWithContext(t.Context(), "POST", "https://api.openai.com/v1/chat/completions", http.NoBody)
	if _, err := c.http.Do(req); !errors.Is(err, errNoCallState) {
		t.Errorf("Do outside a call = %v", err)
	}
	ctx := context.WithValue(t.Context(), stateKey{}, &callState{key: keyprovider.NewSecret("sk-test-roundtrip-00000000000000000")})
	req, _ = http.NewRequestWithContext(ctx, "POST", "https://api.openai.com/v1/moderations", strings.NewReader("{}"))
	req.Header.Set("Content-Type", "application/json")
	if _, err := c.http.RoundTrip(req); err != nil {
		t.Fatal(err)
	}
	if got := auth[len(auth)-1]; got != "Bearer sk-test-roundtrip-00000000000000000" {
		t.Errorf("RoundTrip sent Authorization = %q", got)
	}
	if len(req.Header) != 1 || req.Header.Get("Authorization") != "" {
		t.Errorf("RoundTrip changed its caller's request: header %v", req.Header)
	}
}
