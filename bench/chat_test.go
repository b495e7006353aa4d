package bench

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/secureaitest"
)

const (
	benchModel = "gpt-4o-mini-2024-07-18"
	benchKey   = "sk-test-bench-000000000000000000000000000000"
)

// prompt4K is a 4 KiB user prompt of plain English.
var prompt4K = strings.Repeat("The quick brown fox jumps over the lazy dog while the audit log keeps count. ", 60)[:4096]

func chatRequest() openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model:     benchModel,
		MaxTokens: 64,
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You are a helpful assistant."},
			{Role: openai.ChatMessageRoleUser, Content: prompt4K},
		},
	}
}

type chatter interface {
	CreateChatCompletion(context.Context, openai.ChatCompletionRequest) (openai.ChatCompletionResponse, error)
}

// loop runs one chat call per iteration, after warm. The fake server's
// request log is cleared outside the timer every 1024 calls so that
// memory stays flat. A nil ctx means one of benchCtxs per call.
func loop(b *testing.B, srv *secureaitest.Server, c chatter, ctx context.Context) {
	req := chatRequest()
	warm(b, srv, c)
	b.ReportAllocs()
	b.SetBytes(int64(len(prompt4K)))
	i := 0
	for b.Loop() {
		cctx := ctx
		if cctx == nil {
			cctx = benchCtx(i)
		}
		if _, err := c.CreateChatCompletion(cctx, req); err != nil {
			b.Fatal(err)
		}
		if i++; i%1024 == 0 {
			b.StopTimer()
			srv.Reset()
			b.StartTimer()
		}
	}
}

// BenchmarkChat compares one 4 KiB chat completion through raw go-openai
// with the same call through secureai's default pipeline, against the same
// fake server over loopback HTTP. secureai's sub-benchmarks report
// x-raw: their ns/op divided by raw's.
func BenchmarkChat(b *testing.B) {
	srv := secureaitest.NewServer(b)
	var rawNs float64

	b.Run("raw", func(b *testing.B) {
		cfg := openai.DefaultConfig(benchKey)
		cfg.BaseURL = srv.URL()
		loop(b, srv, openai.NewClientWithConfig(cfg), context.Background())
		rawNs = float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	})

	b.Run("secureai", func(b *testing.B) {
		c := defaultClient(b, srv)
		loop(b, srv, c, nil)
		if rawNs > 0 {
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/rawNs, "x-raw")
		}
	})

	// paired alternates one raw call and one secureai call in every
	// iteration and times each, so that drift on a noisy machine hits both
	// alike; its x-raw is the figure to quote.
	b.Run("paired", func(b *testing.B) { paired(b, srv, defaultClient(b, srv)) })

	// paired-spine turns off every content check (hygiene, input and
	// output checks): the cost of the pipeline alone, for comparison with
	// paired, where the default checks run (invisible Unicode, secrets and
	// PII, prompt injection, spotlighting; output secrets, links, tool
	// calls).
	b.Run("paired-spine", func(b *testing.B) {
		sink, _ := audit.NewJSONSink(io.Discard)
		paired(b, srv, newClient(b, srv, secureai.WithAuditSink(sink), secureai.Without(secureai.StageHygiene),
			secureai.Without(secureai.StageInput), secureai.Without(secureai.StageOutput)))
	})

	// paired-phases splits paired's two calls in three phases, timed by
	// a RoundTripper on each client: before the request goes to the
	// transport, the round trip (response body read), and after. Both
	// clients use the same kind of transport (secureai's is given with
	// WithTransport, so its hardened default is not the one timed).
	b.Run("paired-phases", func(b *testing.B) { phases(b, srv) })

	// paired-moderation adds the moderation pre-check in parallel mode
	// (a second request to the fake, at the same time as the completion)
	// and the system-prompt leak guard to the default checks.
	b.Run("paired-moderation", func(b *testing.B) {
		sink, _ := audit.NewJSONSink(io.Discard)
		paired(b, srv, newClient(b, srv, secureai.WithAuditSink(sink),
			secureai.WithModeration(secureai.ModerationPolicy{Mode: secureai.ModerateParallel}),
			secureai.WithLeakGuard(secureai.LeakPolicy{})))
	})

	// paired-moderation-output also moderates the answer: a third request,
	// after the completion, so about one more round trip.
	b.Run("paired-moderation-output", func(b *testing.B) {
		sink, _ := audit.NewJSONSink(io.Discard)
		paired(b, srv, newClient(b, srv, secureai.WithAuditSink(sink),
			secureai.WithModeration(secureai.ModerationPolicy{Mode: secureai.ModerateParallel, Output: true}),
			secureai.WithLeakGuard(secureai.LeakPolicy{})))
	})

	// paired-async-audit is paired with the audit events going through an
	// AsyncSink (bounded queue, batches) into the JSON sink.
	b.Run("paired-async-audit", func(b *testing.B) {
		sink, _ := audit.NewJSONSink(io.Discard)
		async, err := audit.NewAsyncSink(sink, audit.AsyncOptions{})
		if err != nil {
			b.Fatal(err)
		}
		paired(b, srv, newClient(b, srv, secureai.WithAuditSink(async)))
	})

	// paired-limits adds the in-memory limiter (request rate, concurrency,
	// token and spend budgets per caller, group and globally) and keys
	// behind a keyprovider.Cache.
	b.Run("paired-limits", func(b *testing.B) {
		lim, err := ratelimit.New(ratelimit.Options{Rules: ratelimit.Rules{
			Global: ratelimit.Limits{TokensPerMinute: 1 << 40, USDPerMonth: 1e9},
			Default: ratelimit.TierRules{
				Caller: ratelimit.Limits{Requests: []ratelimit.Rate{ratelimit.PerSecond(1 << 20)}, Concurrent: 64, TokensPerDay: 1 << 40},
				Group:  ratelimit.Limits{TokensPerDay: 1 << 40},
			},
		}})
		if err != nil {
			b.Fatal(err)
		}
		keys := keyprovider.NewCache(keyprovider.Static(benchKey), keyprovider.CacheOptions{})
		sink, _ := audit.NewJSONSink(io.Discard)
		paired(b, srv, newClient(b, srv, secureai.WithLimiter(lim), secureai.WithKeyProvider(keys), secureai.WithAuditSink(sink)))
	})
}

// paired alternates one raw go-openai call and one call through c in every
// iteration and reports both times and their ratio.
func paired(b *testing.B, srv *secureaitest.Server, c *secureai.Client) {
	cfg := openai.DefaultConfig(benchKey)
	cfg.BaseURL = srv.URL()
	var rawT, secT time.Duration
	pairs(b, srv, openai.NewClientWithConfig(cfg), c, func(t0, t1, t2 time.Time) {
		rawT += t1.Sub(t0)
		secT += t2.Sub(t1)
	})
	b.ReportMetric(float64(rawT.Nanoseconds())/float64(b.N), "raw-ns/op")
	b.ReportMetric(float64(secT.Nanoseconds())/float64(b.N), "secureai-ns/op")
	b.ReportMetric(float64(secT)/float64(rawT), "x-raw")
}

// pairs runs one call through raw and then one through c in every
// iteration, after warm, and gives each the times before, between and
// after them. The fake server's request log is cleared outside the timer
// every 512 pairs.
func pairs(b *testing.B, srv *secureaitest.Server, raw *openai.Client, c *secureai.Client, each func(t0, t1, t2 time.Time)) {
	req := chatRequest()
	warm(b, srv, c)
	i := 0
	for b.Loop() {
		t0 := time.Now()
		if _, err := raw.CreateChatCompletion(context.Background(), req); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := c.CreateChatCompletion(benchCtx(i), req); err != nil {
			b.Fatal(err)
		}
		each(t0, t1, time.Now())
		if i++; i%512 == 0 {
			b.StopTimer()
			srv.Reset()
			b.StartTimer()
		}
	}
}

// warm makes one call through c for each of benchCtxs, before the timer
// starts: the timed calls then meet the state of callers seen before (a
// pseudonym and limiter state each), as a service does in its steady
// state, rather than building it for most of them on a short run.
func warm(b *testing.B, srv *secureaitest.Server, c chatter) {
	req := chatRequest()
	for i := range benchCtxs {
		if _, err := c.CreateChatCompletion(benchCtx(i), req); err != nil {
			b.Fatal(err)
		}
	}
	srv.Reset()
}

// timedRT is a RoundTripper that records when its last round trip
// started and ended; it reads the response body whole inside the round
// trip, so that the end is when the answer has arrived.
type timedRT struct {
	base       http.RoundTripper
	start, end time.Time
}

func (t *timedRT) RoundTrip(r *http.Request) (*http.Response, error) {
	t.start = time.Now()
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		body, rerr := io.ReadAll(resp.Body)
		resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	t.end = time.Now()
	return resp, err
}

// phases is paired with both calls split in three phases (see
// paired-phases in BenchmarkChat).
func phases(b *testing.B, srv *secureaitest.Server) {
	rawRT := &timedRT{base: http.DefaultTransport.(*http.Transport).Clone()}
	secRT := &timedRT{base: http.DefaultTransport.(*http.Transport).Clone()}
	cfg := openai.DefaultConfig(benchKey)
	cfg.BaseURL = srv.URL()
	cfg.HTTPClient = &http.Client{Transport: rawRT}
	raw := openai.NewClientWithConfig(cfg)
	sink, err := audit.NewJSONSink(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	c := newClient(b, srv, secureai.WithAuditSink(sink), secureai.WithTransport(secRT))
	var t [6]time.Duration // raw pre, round trip, post; secureai the same
	pairs(b, srv, raw, c, func(t0, t1, t2 time.Time) {
		t[0] += rawRT.start.Sub(t0)
		t[1] += rawRT.end.Sub(rawRT.start)
		t[2] += t1.Sub(rawRT.end)
		t[3] += secRT.start.Sub(t1)
		t[4] += secRT.end.Sub(secRT.start)
		t[5] += t2.Sub(secRT.end)
	})
	for k, name := range []string{"raw-pre", "raw-rt", "raw-post", "secureai-pre", "secureai-rt", "secureai-post"} {
		b.ReportMetric(float64(t[k].Nanoseconds())/float64(b.N), name+"-ns")
	}
}

// benchCtxs are the contexts of 4096 callers, used in turn, so that the
// default per-caller rate limit (5/s, 120/min) sees a realistic population
// instead of one caller making thousands of calls a second.
var benchCtxs = func() []context.Context {
	ctxs := make([]context.Context, 4096)
	for i := range ctxs {
		ctxs[i] = secureai.WithCaller(context.Background(), secureai.Caller{ID: "bench-user-" + strconv.Itoa(i), Group: "bench"})
	}
	return ctxs
}()

// benchCtx returns the context of the i-th call.
func benchCtx(i int) context.Context { return benchCtxs[i%len(benchCtxs)] }

// defaultClient builds a client with the default pipeline; audit events
// are encoded as JSON and discarded.
func defaultClient(b *testing.B, srv *secureaitest.Server) *secureai.Client {
	sink, err := audit.NewJSONSink(io.Discard)
	if err != nil {
		b.Fatal(err)
	}
	return newClient(b, srv, secureai.WithAuditSink(sink))
}

// newClient builds a client for the fake server with extra options.
func newClient(b *testing.B, srv *secureaitest.Server, opts ...secureai.Option) *secureai.Client {
	c, err := secureai.New(append([]secureai.Option{
		secureai.WithKeyProvider(keyprovider.Static(benchKey)),
		secureai.WithBaseURL(srv.URL()),
		secureai.WithModels(benchModel),
	}, opts...)...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(context.Background()) })
	return c
}
