package secureai

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/ratelimit"
	"github.com/secureai-go/secureai/sanitize"
)

// Option configures a [Client]. Options are applied in order by [New];
// an option that is given a bad value returns an error, and New reports all
// of them at once. Only this package makes options.
type Option func(*config) error

// Default values of the request policy and the transport.
const (
	DefaultOutputTokens     = 1024
	DefaultMaxOutputTokens  = 4096
	DefaultMaxMessages      = 256
	DefaultMaxChoices       = 4
	DefaultMaxTools         = 64
	DefaultMaxInputBytes    = 1 << 20
	DefaultMaxInputTokens   = 128_000
	DefaultMaxResponseBytes = 128 << 20
	DefaultBaseURL          = "https://api.openai.com/v1"
	DefaultEnvironment      = "prod"
	// MinAzureAPIVersion is the oldest Azure OpenAI API version that accepts
	// every field the policy forces (max_completion_tokens,
	// stream_options.include_usage).
	MinAzureAPIVersion = "2024-10-21"
)

// RetryPolicy says how the HTTP layer retries. Retries use exponential
// backoff with full jitter (a random wait in [0, min(MaxDelay,
// BaseDelay×2^n))), honour Retry-After (seconds or HTTP date),
// Retry-After-Ms and x-should-retry, and stop after MaxRetries or when the
// next wait would end past MaxElapsed or the context's deadline.
type RetryPolicy struct {
	// MaxRetries is the number of retries after the first attempt. 0 turns
	// retries off. Default: 2.
	MaxRetries int
	// BaseDelay is the first backoff step. Default: 500ms.
	BaseDelay time.Duration
	// MaxDelay caps one backoff wait. Default: 8s.
	MaxDelay time.Duration
	// MaxRetryAfter caps a server-requested wait; a longer Retry-After
	// ends the retries and is reported in the error. Default: 60s.
	MaxRetryAfter time.Duration
	// MaxElapsed caps the total time spent on one call's attempts and
	// waits. Default: 2m.
	MaxElapsed time.Duration
}

// DefaultRetryPolicy returns the retry policy a client uses unless
// [WithRetry] says otherwise.
func DefaultRetryPolicy() RetryPolicy {
	return RetryPolicy{MaxRetries: 2, BaseDelay: 500 * time.Millisecond, MaxDelay: 8 * time.Second,
		MaxRetryAfter: 60 * time.Second, MaxElapsed: 2 * time.Minute}
}

// Timeouts bounds the phases of one HTTP attempt. The call as a whole is
// bounded by its context.
type Timeouts struct {
	// Dial bounds the TCP connect. Default: 10s.
	Dial time.Duration
	// TLSHandshake bounds the TLS handshake. Default: 10s.
	TLSHandshake time.Duration
	// ResponseHeader bounds the wait for the response headers after the
	// request was written. Reasoning models can think for minutes before the
	// first byte of a non-streamed answer. Default: 10m.
	ResponseHeader time.Duration
	// IdleConn is how long an idle keep-alive connection is kept. Default: 90s.
	IdleConn time.Duration
}

func defaultTimeouts() Timeouts {
	return Timeouts{Dial: 10 * time.Second, TLSHandshake: 10 * time.Second,
		ResponseHeader: 10 * time.Minute, IdleConn: 90 * time.Second}
}

type slotState int

const (
	slotEmpty    slotState = iota // no implementation configured
	slotSet                       // filled by an option
	slotDisabled                  // emptied by an explicit Without option
)

type config struct {
	keys           keyprovider.Provider
	models         map[string]bool // allowlisted model → reasoning model
	floating       []string        // floating names explicitly allowed
	baseURL        string
	apiType        openai.APIType
	apiVersion     string
	azureMapper    func(string) string
	environment    string
	allowAnonymous bool

	defaultOutput   int
	maxOutput       int
	maxMessages     int
	maxFieldBytes   int // 0: maxInputBytes
	maxInputTokens  int
	maxChoices      int
	maxTools        int
	maxInputBytes   int
	minTemp         float32
	maxTemp         float32
	allowStore      bool
	extraBodyKeys   map[string]bool
	promptTemplates map[string]bool
	hostedTools     map[openai.ToolType]bool
	mcpServers      map[string]bool
	pseudonymKey    keyprovider.Secret

	baseTransport    http.RoundTripper
	proxy            *url.URL
	egressHosts      []string
	maxResponseBytes int64
	timeouts         Timeouts
	retry            RetryPolicy

	limiter        *ratelimit.Limiter // set by WithLimiter; prices the audit's cost
	rateLimiter    RateLimiter
	unicode        *sanitize.UnicodePolicy // WithUnicodeHygiene; nil: the default policy
	redaction      *sanitize.Policy        // WithRedaction; nil: sanitize.DefaultPolicy
	injection      *InjectionPolicy        // WithInjectionCheck; nil: the default detector
	spotlight      *SpotlightPolicy        // WithSpotlighting; nil: delimiters
	deny           *sanitize.DenyList      // WithDenyRules
	inputOff       map[string]bool         // WithoutInputCheck
	output         *OutputPolicy           // WithOutputPolicy
	leak           *LeakPolicy             // WithLeakGuard
	toolsUnchecked bool                    // WithoutToolCallCheck
	toolSchemas    *schemaCache            // compiled tool schemas, shared by calls
	reviewer       *reviewCheck            // WithReviewer
	prompts        *pinnedPrompts          // WithSystemPrompts
	moderation     *ModerationPolicy       // WithModeration
	stripMarkup    bool                    // WithMarkupStripping
	parallelMod    *moderationCheck        // built in New for ModerateParallel
	scan           *sharedScan             // built in New: one pass per text for the built-in checks
	hygiene        []InputChecker
	inputChecks    []InputChecker
	budget         Budget
	moderator      Moderator
	outputChecks   []OutputChecker
	slots          map[Stage]slotState

	auditSink audit.Sink
}

func defaultConfig() *config {
	return &config{
		models:           map[string]bool{},
		baseURL:          DefaultBaseURL,
		apiType:          openai.APITypeOpenAI,
		environment:      DefaultEnvironment,
		defaultOutput:    DefaultOutputTokens,
		maxOutput:        DefaultMaxOutputTokens,
		maxMessages:      DefaultMaxMessages,
		maxChoices:       DefaultMaxChoices,
		maxTools:         DefaultMaxTools,
		maxInputBytes:    DefaultMaxInputBytes,
		maxInputTokens:   DefaultMaxInputTokens,
		minTemp:          0,
		maxTemp:          2,
		extraBodyKeys:    map[string]bool{},
		promptTemplates:  map[string]bool{},
		hostedTools:      map[openai.ToolType]bool{},
		mcpServers:       map[string]bool{},
		maxResponseBytes: DefaultMaxResponseBytes,
		timeouts:         defaultTimeouts(),
		retry:            DefaultRetryPolicy(),
		slots:            map[Stage]slotState{},
	}
}

// WithKeyProvider sets where API keys come from. Required. The key is
// fetched for each call's scope (environment and caller group) and injected
// by the transport; it is never stored in the go-openai configuration.
func WithKeyProvider(p keyprovider.Provider) Option {
	return func(c *config) error {
		if p == nil {
			return errors.New("secureai: WithKeyProvider: nil provider")
		}
		c.keys = p
		return nil
	}
}

// WithModels adds pinned model snapshots to the allowlist, e.g.
// "gpt-4o-2024-08-06", "gpt-4-0613", "ft:gpt-4o-2024-08-06:org::id". A
// floating alias ("gpt-4o", "o3-mini", "omni-moderation-latest") is refused
// here: it may change behaviour under you; add it with
// [WithFloatingModels] if you accept that. Required: a client with an empty
// allowlist is refused.
func WithModels(models ...string) Option {
	return func(c *config) error {
		var errs []error
		for _, m := range models {
			switch {
			case strings.TrimSpace(m) != m || m == "":
				errs = append(errs, fmt.Errorf("secureai: WithModels: invalid model name %q", m))
			case !isPinned(m):
				errs = append(errs, fmt.Errorf("secureai: WithModels: %q is not a pinned snapshot; use WithFloatingModels to allow a floating alias", m))
			default:
				c.models[m] = isReasoning(m)
			}
		}
		return errors.Join(errs...)
	}
}

// WithFloatingModels adds model names that are not pinned snapshots to the
// allowlist: aliases that OpenAI moves to newer snapshots ("gpt-4o"), and
// models that have no snapshot ("text-embedding-3-small").
//
// Background: a floating alias changes the model's behaviour, price and
// safety properties without a deploy. Loosening: prefer WithModels.
func WithFloatingModels(models ...string) Option {
	return func(c *config) error {
		var errs []error
		for _, m := range models {
			if strings.TrimSpace(m) != m || m == "" {
				errs = append(errs, fmt.Errorf("secureai: WithFloatingModels: invalid model name %q", m))
				continue
			}
			c.models[m] = isReasoning(m)
			c.floating = append(c.floating, m)
		}
		return errors.Join(errs...)
	}
}

// WithBaseURL sets the API base URL. It must be https, or plain http to a
// loopback host (a local fake or gateway). Its host is on the egress
// allowlist. Default: https://api.openai.com/v1.
func WithBaseURL(u string) Option {
	return func(c *config) error {
		c.baseURL = u
		return nil
	}
}

// WithAzure switches to Azure OpenAI: the key is sent in the api-key header,
// apiVersion is added to every URL, and deployment maps a model name to its
// deployment name (nil: the model name is the deployment name). apiVersion
// must be at least [MinAzureAPIVersion] (YYYY-MM-DD, optionally "-preview").
func WithAzure(apiVersion string, deployment func(model string) string) Option {
	return func(c *config) error {
		c.apiType = openai.APITypeAzure
		c.apiVersion = apiVersion
		c.azureMapper = deployment
		return nil
	}
}

// WithEnvironment sets the deployment environment ("dev", "staging",
// "prod"); it is part of every key scope and audit event. Default: "prod".
func WithEnvironment(env string) Option {
	return func(c *config) error {
		if env == "" || strings.ContainsAny(env, "/ \t\n") {
			return fmt.Errorf("secureai: WithEnvironment: invalid environment %q", env)
		}
		c.environment = env
		return nil
	}
}

// AllowAnonymous lets calls without a [Caller] in their context through.
// They share one anonymous identity for limits and audit.
//
// Background: without a caller, per-user limits and the audit trail cannot
// tell users apart. Default: calls without a caller are refused with
// ErrNoCaller.
func AllowAnonymous() Option {
	return func(c *config) error { c.allowAnonymous = true; return nil }
}

// WithOutputTokens sets the output cap: def is sent when a request sets
// none, and a larger request value is clamped to limit. Both must be > 0 and
// def <= limit. Default: 1024 and 4096.
func WithOutputTokens(def, limit int) Option {
	return func(c *config) error {
		if def <= 0 || limit <= 0 || def > limit {
			return fmt.Errorf("secureai: WithOutputTokens: need 0 < default (%d) <= limit (%d)", def, limit)
		}
		c.defaultOutput, c.maxOutput = def, limit
		return nil
	}
}

// Limits bounds the shape of a request. A zero field keeps its default.
type Limits struct {
	// MaxMessages bounds chat messages and Responses input items. Default: 256.
	MaxMessages int
	// MaxChoices bounds n. Default: 4.
	MaxChoices int
	// MaxTools bounds tools and functions. Default: 64.
	MaxTools int
	// MaxInputBytes bounds the total size of the request's texts.
	// Default: 1 MiB.
	MaxInputBytes int
	// MaxMessageBytes bounds the size of one text field (a message's
	// content, a text part, a tool result). Default: MaxInputBytes.
	MaxMessageBytes int
	// MaxInputTokens bounds the prompt's tokens in the model's encoding.
	// A cheap upper bound (bytes plus framing, images and tools) decides
	// almost every call; the prompt is counted exactly (tiktoken) only when
	// that bound is above the limit. A model whose encoding is unknown is
	// judged by the bound. Default: 128 000, the context window of the
	// smallest current model (gpt-4o); 0 keeps the default.
	MaxInputTokens int
}

// WithLimits sets request-shape bounds. Negative values are refused.
func WithLimits(l Limits) Option {
	return func(c *config) error {
		if l.MaxMessages < 0 || l.MaxChoices < 0 || l.MaxTools < 0 || l.MaxInputBytes < 0 || l.MaxMessageBytes < 0 || l.MaxInputTokens < 0 {
			return fmt.Errorf("secureai: WithLimits: negative limit in %+v", l)
		}
		if l.MaxMessages > 0 {
			c.maxMessages = l.MaxMessages
		}
		if l.MaxChoices > 0 {
			c.maxChoices = l.MaxChoices
		}
		if l.MaxTools > 0 {
			c.maxTools = l.MaxTools
		}
		if l.MaxInputBytes > 0 {
			c.maxInputBytes = l.MaxInputBytes
		}
		if l.MaxMessageBytes > 0 {
			c.maxFieldBytes = l.MaxMessageBytes
		}
		if l.MaxInputTokens > 0 {
			c.maxInputTokens = l.MaxInputTokens
		}
		return nil
	}
}

// WithTemperatureRange bounds temperature. Default: [0, 2].
func WithTemperatureRange(lo, hi float32) Option {
	return func(c *config) error {
		if lo < 0 || hi < lo || hi > 2 {
			return fmt.Errorf("secureai: WithTemperatureRange: need 0 <= %v <= %v <= 2", lo, hi)
		}
		c.minTemp, c.maxTemp = lo, hi
		return nil
	}
}

// AllowStore lets requests ask the upstream to store them (chat "store":
// true, Responses stored state: previous_response_id, conversation,
// background).
//
// Background: stored prompts and answers stay on the provider's side,
// outside your retention rules. Default: store is refused on chat and sent
// as false on Responses.
func AllowStore() Option {
	return func(c *config) error { c.allowStore = true; return nil }
}

// protectedBodyKeys are fields the policy sets; ExtraBody may never
// override them.
var protectedBodyKeys = []string{"model", "store", "max_tokens", "max_completion_tokens",
	"max_output_tokens", "stream", "stream_options", "n", "safety_identifier", "user", "input",
	"messages", "instructions", "tools", "functions", "prompt", "previous_response_id",
	"conversation", "background", "temperature", "encoding_format"}

// AllowExtraBodyKeys allows these keys in a request's ExtraBody (Responses,
// embeddings). Keys the policy controls (model, store, the output caps,
// stream, input, tools, ...) cannot be allowed. String values of allowed
// keys go through the input checks like every other text.
//
// Background: go-openai merges ExtraBody over the request after the policy
// ran. Default: any ExtraBody key is refused.
func AllowExtraBodyKeys(keys ...string) Option {
	return func(c *config) error {
		var errs []error
		for _, k := range keys {
			if slices.Contains(protectedBodyKeys, k) || k == "" {
				errs = append(errs, fmt.Errorf("secureai: AllowExtraBodyKeys: %q is controlled by the policy and cannot be allowed", k))
				continue
			}
			c.extraBodyKeys[k] = true
		}
		return errors.Join(errs...)
	}
}

// AllowPromptTemplates allows these server-side prompt template IDs
// (Responses "prompt"). Default: any prompt template is refused, because its
// text is not seen by the input checks.
func AllowPromptTemplates(ids ...string) Option {
	return func(c *config) error {
		for _, id := range ids {
			c.promptTemplates[id] = true
		}
		return nil
	}
}

// hostedToolsReachingOut are tool types that make the provider reach other
// hosts on the model's behalf.
var hostedToolsReachingOut = []openai.ToolType{openai.ToolTypeWebSearch,
	openai.ToolTypeWebSearchPreview, openai.ToolTypeMCP}

// AllowHostedTools allows hosted tools that reach other hosts (web search,
// remote MCP). An MCP tool also needs its server URL allowed with
// [AllowMCPServers]. Default: refused.
func AllowHostedTools(types ...openai.ToolType) Option {
	return func(c *config) error {
		for _, t := range types {
			if !slices.Contains(hostedToolsReachingOut, t) {
				return fmt.Errorf("secureai: AllowHostedTools: %q is not a hosted tool that needs allowing", t)
			}
			c.hostedTools[t] = true
		}
		return nil
	}
}

// AllowMCPServers allows remote MCP server URLs (exact match of
// server_url). Default: none.
func AllowMCPServers(urls ...string) Option {
	return func(c *config) error {
		for _, u := range urls {
			p, err := url.Parse(u)
			if err != nil || p.Scheme != "https" || p.Host == "" {
				return fmt.Errorf("secureai: AllowMCPServers: %q is not an https URL", u)
			}
			c.mcpServers[u] = true
		}
		return nil
	}
}

// WithPseudonymKey sets the key of the keyed hash (HMAC-SHA-256) that turns
// caller IDs into the pseudonyms sent as safety_identifier and written to
// audit events. At least 16 bytes. Default: a random key per client, so
// pseudonyms differ between processes; set one shared key (from your secret
// store) to correlate them across replicas and restarts.
func WithPseudonymKey(k keyprovider.Secret) Option {
	return func(c *config) error {
		if k.Len() < 16 {
			return errors.New("secureai: WithPseudonymKey: key shorter than 16 bytes")
		}
		c.pseudonymKey = k
		return nil
	}
}

// WithTransport sets the base [http.RoundTripper] the client builds on
// (egress rules, key injection and retries wrap it). Use it for a proxy
// library or an in-memory fake; nil is refused. Default: a hardened
// *http.Transport (TLS >= 1.2, system roots, HTTP/2, timeouts, no proxy from
// the environment).
func WithTransport(rt http.RoundTripper) Option {
	return func(c *config) error {
		if rt == nil {
			return errors.New("secureai: WithTransport: nil RoundTripper")
		}
		c.baseTransport = rt
		return nil
	}
}

// WithProxy sends requests through an HTTP(S) proxy. Proxy settings are
// never read from the environment. Default: no proxy.
func WithProxy(u *url.URL) Option {
	return func(c *config) error {
		if u == nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return errors.New("secureai: WithProxy: need an http or https proxy URL")
		}
		c.proxy = u
		return nil
	}
}

// WithEgressHosts adds hosts (host or host:port) the HTTP layer may send to,
// besides the base URL's host. Default: the base URL's host only.
func WithEgressHosts(hosts ...string) Option {
	return func(c *config) error {
		for _, h := range hosts {
			if h == "" || strings.ContainsAny(h, "/ ") {
				return fmt.Errorf("secureai: WithEgressHosts: invalid host %q", h)
			}
			c.egressHosts = append(c.egressHosts, strings.ToLower(h))
		}
		return nil
	}
}

// WithMaxResponseBytes bounds the size of one response body. Must be > 0.
// Default: 128 MiB (large embedding batches).
func WithMaxResponseBytes(n int64) Option {
	return func(c *config) error {
		if n <= 0 {
			return fmt.Errorf("secureai: WithMaxResponseBytes: %d is not positive", n)
		}
		c.maxResponseBytes = n
		return nil
	}
}

// WithTimeouts sets the HTTP phase timeouts; zero fields keep their
// defaults, negative ones are refused. Ignored with [WithTransport].
func WithTimeouts(t Timeouts) Option {
	return func(c *config) error {
		if t.Dial < 0 || t.TLSHandshake < 0 || t.ResponseHeader < 0 || t.IdleConn < 0 {
			return errors.New("secureai: WithTimeouts: negative timeout")
		}
		d := defaultTimeouts()
		c.timeouts = Timeouts{Dial: cmp0(t.Dial, d.Dial), TLSHandshake: cmp0(t.TLSHandshake, d.TLSHandshake),
			ResponseHeader: cmp0(t.ResponseHeader, d.ResponseHeader), IdleConn: cmp0(t.IdleConn, d.IdleConn)}
		return nil
	}
}

func cmp0(v, def time.Duration) time.Duration {
	if v == 0 {
		return def
	}
	return v
}

// WithRetry sets the retry policy. Zero durations keep their defaults;
// negative values are refused. MaxRetries 0 turns retries off.
func WithRetry(p RetryPolicy) Option {
	return func(c *config) error {
		if p.MaxRetries < 0 || p.BaseDelay < 0 || p.MaxDelay < 0 || p.MaxRetryAfter < 0 || p.MaxElapsed < 0 {
			return errors.New("secureai: WithRetry: negative value")
		}
		d := DefaultRetryPolicy()
		c.retry = RetryPolicy{MaxRetries: p.MaxRetries, BaseDelay: cmp0(p.BaseDelay, d.BaseDelay),
			MaxDelay: cmp0(p.MaxDelay, d.MaxDelay), MaxRetryAfter: cmp0(p.MaxRetryAfter, d.MaxRetryAfter),
			MaxElapsed: cmp0(p.MaxElapsed, d.MaxElapsed)}
		return nil
	}
}

func setSlot[T any](name string, stage Stage, v T, isNil bool, assign func(*config)) Option {
	return func(c *config) error {
		if isNil {
			return fmt.Errorf("secureai: %s: nil %T; use the Without option to leave the slot empty", name, v)
		}
		assign(c)
		c.slots[stage] = slotSet
		return nil
	}
}

// WithRateLimiter fills stage 3, the request-rate limit.
func WithRateLimiter(l RateLimiter) Option {
	return setSlot("WithRateLimiter", StageRateLimit, l, l == nil, func(c *config) { c.rateLimiter = l })
}

// WithInputHygiene fills stage 4 with hygiene checks, run in order after the
// built-in UTF-8 and size checks (invisible characters, token limits).
func WithInputHygiene(checks ...InputChecker) Option {
	return setSlot("WithInputHygiene", StageHygiene, checks, slices.Contains(checks, nil),
		func(c *config) { c.hygiene = append(c.hygiene, checks...) })
}

// WithInputChecks fills stage 5 with input checks, run in order (secrets and
// PII, injection heuristics, deny rules, your own).
func WithInputChecks(checks ...InputChecker) Option {
	return setSlot("WithInputChecks", StageInput, checks, slices.Contains(checks, nil),
		func(c *config) { c.inputChecks = append(c.inputChecks, checks...) })
}

// WithBudget fills stage 6, the token/spend budget.
func WithBudget(b Budget) Option {
	return setSlot("WithBudget", StageBudget, b, b == nil, func(c *config) { c.budget = b })
}

// WithModerator fills stage 8, the moderation pre-check.
func WithModerator(m Moderator) Option {
	return setSlot("WithModerator", StageModeration, m, m == nil, func(c *config) { c.moderator = m })
}

// WithOutputChecks fills stage 10 with output checks, run in order.
func WithOutputChecks(checks ...OutputChecker) Option {
	return setSlot("WithOutputChecks", StageOutput, checks, slices.Contains(checks, nil),
		func(c *config) { c.outputChecks = append(c.outputChecks, checks...) })
}

// Without empties a slot on purpose (StageRateLimit, StageHygiene,
// StageInput, StageBudget, StageModeration, StageOutput), so that a review
// sees the choice; [Client.Controls] reports it.
func Without(stage Stage) Option {
	return func(c *config) error {
		switch stage {
		case StageRateLimit:
			c.rateLimiter = nil
		case StageHygiene:
			c.hygiene = nil
		case StageInput:
			c.inputChecks = nil
		case StageBudget:
			c.budget = nil
		case StageModeration:
			c.moderator, c.moderation = nil, nil
		case StageOutput:
			c.outputChecks = nil
		default:
			return fmt.Errorf("secureai: Without: stage %q is not an optional slot", stage)
		}
		c.slots[stage] = slotDisabled
		return nil
	}
}

// WithAuditSink sets where audit events go. Default: a [audit.SlogSink] on
// slog.Default()'s handler.
func WithAuditSink(s audit.Sink) Option {
	return func(c *config) error {
		if s == nil {
			return errors.New("secureai: WithAuditSink: nil sink")
		}
		c.auditSink = s
		return nil
	}
}

// WithAuditHandler writes audit events through a slog handler.
func WithAuditHandler(h slog.Handler) Option {
	return func(c *config) error {
		s, err := audit.NewSlogSink(h)
		if err != nil {
			return fmt.Errorf("secureai: WithAuditHandler: %w", err)
		}
		c.auditSink = s
		return nil
	}
}
