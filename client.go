package secureai

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/sanitize"
)

// Client calls the OpenAI API through the secureai pipeline. It has the
// method names and signatures of go-openai's *openai.Client for the calls it
// covers (chat completions, Responses, embeddings, moderations), so a
// service moves over by changing its constructor and the stream type names;
// the other upstream APIs are not reachable through it.
//
// Every call runs the same fixed sequence of stages (see the package doc):
// caller and request policy, rate limit, input hygiene and checks, budget,
// key, moderation, the upstream call with retries, output checks, budget
// reconcile and one audit event, whatever the outcome.
//
// Build a Client once with [New] and share it: it is safe for concurrent use
// by many goroutines. [Client.Close] stops it and flushes its audit sink.
type Client struct {
	cfg        *config
	oai        *openai.Client
	http       *httpLayer
	transport  http.RoundTripper
	audit      audit.Sink
	pkey       []byte
	pseudonyms pseudonymCache
	hmacs      sync.Pool          // *keyedHash: HMAC-SHA-256 states for the audit's hashes
	keyFPs     sync.Map           // Secret.Fingerprint → keyed audit fingerprint
	prices     *ratelimit.Limiter // prices tokens for the audit's cost
	provider   string

	auditErrs atomic.Int64

	mu       sync.Mutex
	closed   bool
	inflight int           // calls between begin and end
	idle     chan struct{} // closed when inflight drops to 0 after Close
	streams  map[*streamCore]struct{}
}

// callDone ends a call counted by begin.
func (c *Client) callDone() {
	c.mu.Lock()
	c.inflight--
	if c.inflight == 0 && c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
	c.mu.Unlock()
}

// New builds a Client. It applies every option, then checks the
// combination, and returns all problems at once (errors.Join). It refuses a
// client without a key provider ([WithKeyProvider]) or without a model
// allowlist ([WithModels]), a base URL that is plain http to a non-loopback
// host or carries credentials, and an Azure API version older than
// [MinAzureAPIVersion]. It reads no environment variable.
func New(opts ...Option) (*Client, error) {
	cfg := defaultConfig()
	var errs []error
	for i, o := range opts {
		if o == nil {
			errs = append(errs, fmt.Errorf("secureai: option %d is nil", i))
			continue
		}
		if err := o(cfg); err != nil {
			errs = append(errs, err)
		}
	}
	if cfg.keys == nil {
		errs = append(errs, errors.New("secureai: no key provider; use WithKeyProvider"))
	}
	if len(cfg.models) == 0 {
		errs = append(errs, errors.New("secureai: no model allowlist; use WithModels"))
	}
	base, err := checkBaseURL(cfg.baseURL)
	if err != nil {
		errs = append(errs, err)
	}
	if cfg.apiType == openai.APITypeAzure {
		if err := checkAzureVersion(cfg.apiVersion); err != nil {
			errs = append(errs, err)
		}
		if cfg.moderation != nil {
			errs = append(errs, errors.New("secureai: WithModeration: Azure OpenAI has no moderation endpoint"))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}

	hygieneOn, inputOn := cfg.slots[StageHygiene] != slotDisabled, cfg.slots[StageInput] != slotDisabled
	var injOpts sanitize.InjectionOptions
	if cfg.injection != nil {
		injOpts = cfg.injection.Options
	}
	cfg.scan, err = newSharedScan(hygieneOn, inputOn && !cfg.inputOff[CheckRedaction],
		inputOn && !cfg.inputOff[CheckInjection] && injOpts.Classifier == nil, injOpts)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInjectionSetup, err)
	}
	if hygieneOn { // the invisible-Unicode check runs first
		p := sanitize.DefaultUnicodePolicy()
		if cfg.unicode != nil {
			p = *cfg.unicode
		}
		cfg.hygiene = append([]InputChecker{unicodeHygiene{p: p, s: cfg.scan}}, cfg.hygiene...)
	}
	if cfg.slots[StageRateLimit] != slotDisabled && cfg.rateLimiter == nil {
		rl, err := defaultRateLimiter()
		if err != nil {
			return nil, err
		}
		cfg.rateLimiter = rl
	}
	if cfg.slots[StageInput] != slotDisabled { // the built-in checks run first
		builtins, err := builtinInputChecks(cfg)
		if err != nil {
			return nil, err
		}
		cfg.inputChecks = append(builtins, cfg.inputChecks...)
	}
	if cfg.maxFieldBytes == 0 || cfg.maxFieldBytes > cfg.maxInputBytes {
		cfg.maxFieldBytes = cfg.maxInputBytes
	}
	cfg.toolSchemas = newSchemaCache(256)
	if cfg.slots[StageOutput] != slotDisabled {
		cfg.outputChecks = append(builtinOutputChecks(cfg), cfg.outputChecks...)
	}
	if cfg.reviewer != nil { // the reviewer sees the answer after every other check
		cfg.outputChecks = append(cfg.outputChecks, cfg.reviewer)
	}
	c := &Client{cfg: cfg, streams: map[*streamCore]struct{}{}}
	if cfg.pseudonymKey.IsZero() {
		c.pkey = make([]byte, 32)
		_, _ = rand.Read(c.pkey) // crypto/rand.Read never fails
	} else {
		c.pkey = []byte(cfg.pseudonymKey.Reveal())
	}
	c.hmacs.New = func() any { return &keyedHash{h: hmac.New(sha256.New, c.pkey)} }
	c.prices = cfg.limiter
	if c.prices == nil {
		c.prices, _ = ratelimit.New(ratelimit.Options{}) // no rules: only its price table is used
	}
	c.transport = cfg.baseTransport
	if c.transport == nil {
		c.transport = newTransport(cfg)
	}
	c.http = newHTTPLayer(cfg, c.transport, base.Host)
	if p := cfg.moderation; p != nil {
		mc, err := newModerationCheck(p, c.http, cfg.baseURL)
		if err != nil {
			return nil, err
		}
		if p.Mode == ModerateParallel {
			cfg.parallelMod = mc
		} else {
			cfg.moderator = mc
		}
		if p.Output && cfg.slots[StageOutput] != slotDisabled {
			i := len(cfg.outputChecks)
			if cfg.reviewer != nil {
				i-- // the reviewer stays last
			}
			cfg.outputChecks = slices.Insert(cfg.outputChecks, i, OutputChecker(outputModeration{mc}))
		}
	}
	c.audit = cfg.auditSink
	if c.audit == nil {
		c.audit, _ = audit.NewSlogSink(slog.Default().Handler())
	}
	c.provider = "openai"
	oc := openai.DefaultConfig("") // no token: the HTTP layer injects the key per request
	if cfg.apiType == openai.APITypeAzure {
		oc = openai.DefaultAzureConfig("", cfg.baseURL)
		oc.AzureModelMapperFunc = cfg.azureMapper
		if oc.AzureModelMapperFunc == nil {
			oc.AzureModelMapperFunc = func(m string) string { return m }
		}
		oc.APIVersion = cfg.apiVersion
		c.provider = "azure.ai.openai"
	}
	oc.BaseURL = strings.TrimRight(cfg.baseURL, "/")
	oc.HTTPClient = c.http
	c.oai = openai.NewClientWithConfig(oc)
	return c, nil
}

func checkBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return nil, errors.New("secureai: base URL is not an absolute URL")
	}
	if u.User != nil {
		return nil, errors.New("secureai: base URL must not carry credentials")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("secureai: base URL must not have a query or fragment")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("secureai: base URL is plain http to non-loopback host %q; use https", u.Hostname())
		}
	default:
		return nil, fmt.Errorf("secureai: base URL scheme %q not supported", u.Scheme)
	}
	return u, nil
}

func checkAzureVersion(v string) error {
	if len(v) < 10 {
		return fmt.Errorf("secureai: Azure API version %q is not YYYY-MM-DD", v)
	}
	if _, err := time.Parse(time.DateOnly, v[:10]); err != nil {
		return fmt.Errorf("secureai: Azure API version %q is not YYYY-MM-DD", v)
	}
	if v[:10] < MinAzureAPIVersion {
		return fmt.Errorf("secureai: Azure API version %q is older than %s, which the policy needs (max_completion_tokens, stream_options)", v, MinAzureAPIVersion)
	}
	return nil
}

// Close stops the client: later calls fail with ErrClosed, open streams are
// closed (their budget reconciled and audit event written), the key
// provider is closed when it runs background work (a [keyprovider.Cache]),
// idle connections of the default transport are closed, and the audit sink
// is flushed and closed when it can be. Close waits for calls in flight, up to
// ctx's deadline.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	open := make([]*streamCore, 0, len(c.streams))
	for s := range c.streams {
		open = append(open, s)
	}
	c.mu.Unlock()
	for _, s := range open {
		s.close()
	}
	c.mu.Lock()
	var idle chan struct{}
	if c.inflight > 0 {
		c.idle = make(chan struct{})
		idle = c.idle
	}
	c.mu.Unlock()
	var errs []error
	if idle != nil {
		select {
		case <-idle:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("secureai: close: calls still in flight: %w", ctx.Err()))
		}
	}
	if kc, ok := c.cfg.keys.(keyprovider.Closer); ok {
		errs = append(errs, kc.Close(ctx))
	}
	if c.cfg.limiter != nil { // return leased permits to the shared store
		errs = append(errs, c.cfg.limiter.Close(ctx))
	}
	if t, ok := c.transport.(interface{ CloseIdleConnections() }); ok {
		t.CloseIdleConnections()
	}
	if f, ok := c.audit.(audit.Flusher); ok {
		errs = append(errs, f.Flush(ctx))
	}
	if cl, ok := c.audit.(audit.Closer); ok {
		errs = append(errs, cl.Close(ctx))
	}
	return errors.Join(errs...)
}

// AuditErrors returns how many audit events the sink failed to take since
// the client was built. Such an event is counted here, never dropped
// silently.
func (c *Client) AuditErrors() int64 { return c.auditErrs.Load() }

// Control describes one stage and whether it is on.
type Control struct {
	Stage Stage
	On    bool
	// What says what the stage does in this client, or why it is off.
	What string
}

// Controls lists the pipeline's stages in order, with what each does in
// this client and whether it is on: a slot is off only by an explicit
// [Without] or because it is opt-in and was not set.
func (c *Client) Controls() []Control {
	cfg := c.cfg
	slot := func(st Stage, set bool, what string, optIn bool) Control {
		switch {
		case set:
			return Control{Stage: st, On: true, What: what}
		case cfg.slots[st] == slotDisabled:
			return Control{Stage: st, What: "off: disabled with Without"}
		case optIn:
			return Control{Stage: st, What: "off: opt-in, not configured"}
		}
		return Control{Stage: st, What: "off: not configured"}
	}
	caller := "caller required (ErrNoCaller otherwise)"
	if cfg.allowAnonymous {
		caller = "anonymous calls allowed"
	}
	store := "store refused (false on Responses)"
	if cfg.allowStore {
		store = "store allowed"
	}
	pinned := len(cfg.models) - len(cfg.floating)
	hyg := fmt.Sprintf("valid UTF-8, no NUL, at most %d bytes a text and %d in all, at most %d tokens (exact count only past the bound)",
		cfg.maxFieldBytes, cfg.maxInputBytes, cfg.maxInputTokens)
	if n := len(cfg.hygiene); n > 0 {
		hyg += fmt.Sprintf(", %s", typeNames(cfg.hygiene))
	}
	return []Control{
		{Stage: StageAudit, On: true, What: fmt.Sprintf("one event per call to %T", c.audit)},
		{Stage: StageCaller, On: true, What: caller},
		{Stage: StagePolicy, On: true, What: fmt.Sprintf("%d pinned + %d floating models; output cap %d (max %d); %d messages, n<=%d, %d tools; %s; safety_identifier pseudonymised",
			pinned, len(cfg.floating), cfg.defaultOutput, cfg.maxOutput, cfg.maxMessages, cfg.maxChoices, cfg.maxTools, store)},
		slot(StageRateLimit, cfg.rateLimiter != nil, describe(cfg.rateLimiter), false),
		{Stage: StageHygiene, On: true, What: hyg},
		slot(StageInput, len(cfg.inputChecks) > 0, typeNames(cfg.inputChecks), false),
		slot(StageBudget, cfg.budget != nil, describe(cfg.budget), true),
		{Stage: StageKey, On: true, What: fmt.Sprintf("%T, scope %s/<group>, injected per request", cfg.keys, cfg.environment)},
		slot(StageModeration, cfg.moderator != nil || cfg.parallelMod != nil, describeModeration(cfg), true),
		{Stage: StageUpstream, On: true, What: fmt.Sprintf("%s via %s; TLS>=1.2, egress %s, %d retries with jitter", c.provider, c.http.base, c.http.egressList(), cfg.retry.MaxRetries)},
		slot(StageOutput, len(cfg.outputChecks) > 0, typeNames(cfg.outputChecks), false),
	}
}

func typeNames[T any](xs []T) string {
	names := make([]string, len(xs))
	for i, x := range xs {
		names[i] = describe(x)
	}
	return strings.Join(names, ", ")
}

// describe names a slot's implementation for Controls: its String method
// when it has one (the built-in ones do), else its type.
func describe(x any) string {
	if s, ok := x.(fmt.Stringer); ok {
		return s.String()
	}
	return fmt.Sprintf("%T", x)
}

// String describes the client without any secret.
func (c *Client) String() string {
	return "secureai.Client{" + c.provider + ", env=" + c.cfg.environment + ", models=" + strconv.Itoa(len(c.cfg.models)) + "}"
}

// GoString is String, so %#v shows no internals.
func (c *Client) GoString() string { return c.String() }

// CreateChatCompletion is go-openai's CreateChatCompletion through the
// pipeline.
func (c *Client) CreateChatCompletion(ctx context.Context, req openai.ChatCompletionRequest) (openai.ChatCompletionResponse, error) {
	return run(ctx, c, chatEndpoint, req, chatCall)
}

// CreateResponse is go-openai's CreateResponse (Responses API) through the
// pipeline. store is sent as false unless [AllowStore].
func (c *Client) CreateResponse(ctx context.Context, req openai.CreateResponseRequest) (openai.CreateResponseResponse, error) {
	return run(ctx, c, responsesEndpoint, req, responsesCall)
}

// CreateEmbeddings is go-openai's CreateEmbeddings through the pipeline.
// Inputs must be text (a string or strings): token arrays are refused with
// ErrPolicy, because the input checks cannot read them.
func (c *Client) CreateEmbeddings(ctx context.Context, conv openai.EmbeddingRequestConverter) (openai.EmbeddingResponse, error) {
	if conv == nil {
		return openai.EmbeddingResponse{}, policyErr("input", "nil_request")
	}
	return run(ctx, c, embeddingsEndpoint, conv.Convert(), embeddingsCall)
}

// Moderations is go-openai's Moderations through the pipeline. The model
// must be set and on the allowlist.
func (c *Client) Moderations(ctx context.Context, req openai.ModerationRequest) (openai.ModerationResponse, error) {
	return run(ctx, c, moderationsEndpoint, req, moderationsCall)
}

func (h *httpLayer) egressList() string {
	hosts := make([]string, 0, len(h.egress))
	for host := range h.egress {
		hosts = append(hosts, host)
	}
	slices.Sort(hosts)
	return "[" + strings.Join(hosts, " ") + "]"
}
