package audit

import (
	"log/slog"
	"math"
	"slices"
	"time"
)

// SchemaVersion names the version of the event schema described in the
// package documentation. Every encoded event carries it under the key
// "schema". A later version may add keys; a key changes meaning only with a
// new version.
const SchemaVersion = "secureai.audit/v1"

// Event is the record of one call, or of an alert about calls. Field JSON
// names follow the OpenTelemetry GenAI semantic conventions where one exists;
// the package documentation lists every key under "Schema".
//
// An Event carries no prompt or output text, no error message and no key:
// only counts, hashes, decisions, a pseudonymous caller id and a key
// fingerprint. Code that fills an Event must keep it that way.
//
// The zero Event is valid but says nothing; its Kind reads as [KindCall]. An
// Event is a plain value: it may be read from several goroutines at once, but
// not read and modified at once (for example by [Event.AddDecision]). Copies
// share the Decisions, Findings and FinishReasons slices; [Event.Clone] does
// not.
type Event struct {
	// Kind says what the event records: a call ([KindCall], also when
	// empty), an alert ([KindAlert]) or a budget threshold crossed
	// ([KindBudgetThreshold]).
	Kind Kind `json:"kind"`
	// RequestID identifies the call, for correlation with other logs.
	RequestID string `json:"request_id"`
	// Time is when the call started.
	Time time.Time `json:"time"`
	// Operation is the OpenTelemetry operation name: "chat" for chat
	// completions, "embeddings", and the custom values "responses" and
	// "moderations".
	Operation string `json:"gen_ai.operation.name"`
	// Provider is "openai" or "azure.ai.openai".
	Provider string `json:"gen_ai.provider.name"`
	// Endpoint is the API called: "chat.completions", "responses",
	// "embeddings" or "moderations".
	Endpoint string `json:"endpoint"`
	// Stream reports whether the response was streamed.
	Stream bool `json:"stream,omitempty"`
	// Environment is the deployment environment, such as "production".
	Environment string `json:"deployment.environment.name,omitempty"`
	// Caller is a keyed-hash pseudonym of the end user, never a raw id.
	Caller string `json:"enduser.pseudo.id,omitempty"`
	// Group is the caller's group, such as a team or tenant.
	Group string `json:"group,omitempty"`
	// Tier is the caller's service tier.
	Tier string `json:"tier,omitempty"`
	// Purpose is the purpose the caller declared for the call, a short code
	// such as "support_reply"; never free text from a user.
	Purpose string `json:"purpose,omitempty"`
	// RequestModel is the model the caller asked for.
	RequestModel string `json:"gen_ai.request.model,omitempty"`
	// ResponseModel is the model that answered.
	ResponseModel string `json:"gen_ai.response.model,omitempty"`
	// ResponseID is the provider's id for the response.
	ResponseID string `json:"gen_ai.response.id,omitempty"`
	// MaxTokens is the output token limit sent upstream.
	MaxTokens int `json:"gen_ai.request.max_tokens,omitempty"`
	// Choices is the number of choices requested.
	Choices int `json:"gen_ai.request.choice.count,omitempty"`
	// FinishReasons holds one finish reason per returned choice.
	FinishReasons []string `json:"gen_ai.response.finish_reasons,omitempty"`
	// InputTokens is the number of input tokens, as reported by the provider
	// or else as estimated.
	InputTokens int `json:"gen_ai.usage.input_tokens"`
	// OutputTokens is the number of output tokens.
	OutputTokens int `json:"gen_ai.usage.output_tokens"`
	// InputBytes is the total size of the input texts in bytes.
	InputBytes int `json:"input_bytes"`
	// InputHash is a keyed hash of the input texts, for correlation without
	// content.
	InputHash string `json:"input_hash,omitempty"`
	// SystemPromptHash is a keyed hash of the system prompt (or Responses
	// instructions), so that a changed system prompt shows without its text.
	SystemPromptHash string `json:"system_prompt_hash,omitempty"`
	// Decisions holds each stage's verdict, in the order the stages ran.
	Decisions []Decision `json:"decisions,omitempty"`
	// Findings holds what the input and output checks found, as kinds and
	// counts, never the text found.
	Findings []Finding `json:"findings,omitempty"`
	// Outcome is how the call ended.
	Outcome Outcome `json:"outcome"`
	// ErrorType is the error class, such as "model_not_allowed" or
	// "upstream_429"; never an error message.
	ErrorType string `json:"error.type,omitempty"`
	// Stage is the stage that refused or failed the call.
	Stage string `json:"stage,omitempty"`
	// HTTPStatus is the upstream HTTP status code.
	HTTPStatus int `json:"http.response.status_code,omitempty"`
	// Retries is the number of upstream retries.
	Retries int `json:"retries,omitempty"`
	// KeyFingerprint identifies the API key used, never the key itself.
	KeyFingerprint string `json:"key_fingerprint,omitempty"`
	// CostUSD is the estimated cost of the call in US dollars, from the
	// token counts and a price table. A value that is not finite is
	// encoded as 0.
	CostUSD float64 `json:"cost_usd,omitempty"`
	// AlertType is, on an event of Kind [KindAlert], the rule that fired:
	// "token_spike", "refusals", "error_rate", "off_hours" or
	// "budget_threshold".
	AlertType string `json:"alert.type,omitempty"`
	// AlertValue is, on an alert or budget threshold event, the observed
	// value: tokens in the window (token_spike), refusals counted
	// (refusals), the share of calls refused or failed (error_rate), the
	// local hour of day of the call (off_hours), or the share of a budget
	// spent (budget_threshold).
	AlertValue float64 `json:"alert.value,omitempty"`
	// AlertThreshold is the limit AlertValue was compared with; for
	// off_hours, the hour business starts.
	AlertThreshold float64 `json:"alert.threshold,omitempty"`
	// DroppedBefore is the number of events an [AsyncSink] dropped, because
	// its queue was full, since the last event that reported drops. It is
	// set by the AsyncSink, not by the code that fills the Event.
	DroppedBefore int `json:"dropped_before,omitempty"`
	// Duration is how long the call took. It is encoded as "duration_ms",
	// a float64 number of milliseconds.
	Duration time.Duration `json:"-"`
}

// Kind is what an [Event] records.
type Kind string

// The kinds of events.
const (
	KindCall            Kind = "call"             // one call; the empty Kind means the same
	KindAlert           Kind = "alert"            // an alert rule fired; see Event.AlertType
	KindBudgetThreshold Kind = "budget_threshold" // a budget crossed a threshold
)

// Attribute keys of the slog form. They must match Event's struct tags;
// the tests check that they do.
const (
	keySchema           = "schema"
	keyKind             = "kind"
	keyRequestID        = "request_id"
	keyTime             = "time"
	keyOperation        = "gen_ai.operation.name"
	keyProvider         = "gen_ai.provider.name"
	keyEndpoint         = "endpoint"
	keyStream           = "stream"
	keyEnvironment      = "deployment.environment.name"
	keyCaller           = "enduser.pseudo.id"
	keyGroup            = "group"
	keyTier             = "tier"
	keyPurpose          = "purpose"
	keyRequestModel     = "gen_ai.request.model"
	keyResponseModel    = "gen_ai.response.model"
	keyResponseID       = "gen_ai.response.id"
	keyMaxTokens        = "gen_ai.request.max_tokens"
	keyChoices          = "gen_ai.request.choice.count"
	keyFinishReasons    = "gen_ai.response.finish_reasons"
	keyInputTokens      = "gen_ai.usage.input_tokens"
	keyOutputTokens     = "gen_ai.usage.output_tokens"
	keyInputBytes       = "input_bytes"
	keyInputHash        = "input_hash"
	keySystemPromptHash = "system_prompt_hash"
	keyDecisions        = "decisions"
	keyFindings         = "findings"
	keyOutcome          = "outcome"
	keyErrorType        = "error.type"
	keyStage            = "stage"
	keyHTTPStatus       = "http.response.status_code"
	keyRetries          = "retries"
	keyKeyFingerprint   = "key_fingerprint"
	keyCostUSD          = "cost_usd"
	keyAlertType        = "alert.type"
	keyAlertValue       = "alert.value"
	keyAlertThreshold   = "alert.threshold"
	keyDroppedBefore    = "dropped_before"
	keyDurationMS       = "duration_ms"
)

// maxAttrs is the largest number of attributes an Event produces.
const maxAttrs = 38

// Decision is one stage's verdict on a call.
//
// Its fields are short machine-readable codes, never content. The zero
// Decision is valid but empty.
type Decision struct {
	// Stage is the stage that decided: "caller", "policy", "ratelimit",
	// "input", "budget", "key", "moderation", "upstream" or "output".
	Stage string `json:"stage"`
	// Check is the check that decided, such as "model_allowlist" or
	// "max_tokens".
	Check string `json:"check,omitempty"`
	// Verdict is what the stage decided.
	Verdict Verdict `json:"verdict"`
	// Reason is a short machine-readable code, never content.
	Reason string `json:"reason,omitempty"`
	// Duration is how long the stage took. It is encoded as "duration_ms",
	// a float64 number of milliseconds, and left out when zero.
	Duration time.Duration `json:"-"`
}

// MarshalJSON encodes d as a JSON object with the keys "stage", "check",
// "verdict", "reason" and "duration_ms", leaving out an empty check, an empty
// reason and a zero duration. It never fails.
func (d Decision) MarshalJSON() ([]byte, error) {
	return appendDecision(make([]byte, 0, 96), &d), nil
}

// Finding is what one check found in a call's texts: a kind and a count,
// never the text found.
//
// The zero Finding is valid but empty.
type Finding struct {
	// Stage is where it was found: "input" or "output".
	Stage string `json:"stage,omitempty"`
	// Kind is the class of finding: "pii", "secret", "injection",
	// "invisible_text", "canary", "deny_rule", ...
	Kind string `json:"kind"`
	// Type narrows Kind, such as "email" or "aws_access_key".
	Type string `json:"type,omitempty"`
	// Count is how many were found.
	Count int `json:"count"`
}

// Verdict is what a stage decided about a call.
type Verdict string

// The verdicts a stage can reach.
const (
	VerdictAllow  Verdict = "allow"  // the call may proceed unchanged
	VerdictModify Verdict = "modify" // the call may proceed, changed
	VerdictDeny   Verdict = "deny"   // the call is refused
	VerdictError  Verdict = "error"  // the stage failed
	VerdictSkip   Verdict = "skip"   // the stage did not apply
)

// Outcome is how a call ended.
type Outcome string

// The outcomes of a call.
const (
	OutcomeOK      Outcome = "ok"      // the call succeeded
	OutcomeRefused Outcome = "refused" // a stage refused the call
	OutcomeError   Outcome = "error"   // the call failed
	OutcomeCut     Outcome = "cut"     // the stream was cut or closed early
)

// AddDecision appends d to e.Decisions.
func (e *Event) AddDecision(d Decision) {
	e.Decisions = append(e.Decisions, d)
}

// Clone returns a copy of e that shares no memory with it.
func (e Event) Clone() Event {
	e.FinishReasons = slices.Clone(e.FinishReasons)
	e.Decisions = slices.Clone(e.Decisions)
	e.Findings = slices.Clone(e.Findings)
	return e
}

// kind returns e.Kind, with the empty Kind read as KindCall.
func (e *Event) kind() Kind {
	if e.Kind == "" {
		return KindCall
	}
	return e.Kind
}

// level is the slog level of e's record: Info for calls, Warn for alerts
// and budget thresholds.
func (e *Event) level() slog.Level {
	if e.kind() == KindCall {
		return slog.LevelInfo
	}
	return slog.LevelWarn
}

// message is the slog message of e's record.
func (e *Event) message() string {
	switch e.kind() {
	case KindCall:
		return "genai.call"
	case KindAlert:
		return "genai.alert"
	case KindBudgetThreshold:
		return "genai.budget_threshold"
	}
	return "genai.event"
}

// MarshalJSON encodes e as a JSON object with the keys listed in the package
// documentation: "schema", then the keys given by the struct tags, plus
// "duration_ms", the Duration in milliseconds as a float64. Time is written
// in RFC 3339 format with nanoseconds, in UTC. It uses [Event.AppendJSON],
// which encodes without reflection, and never fails.
func (e Event) MarshalJSON() ([]byte, error) {
	return e.AppendJSON(make([]byte, 0, 512)), nil
}

// LogValue returns e as a group with the same attributes and keys as
// [Event.MarshalJSON], leaving out the empty optional ones as the JSON form
// does. Decisions, Findings and FinishReasons are lists. LogValue copies
// them, so the value does not share memory with e.
func (e Event) LogValue() slog.Value {
	return slog.GroupValue(e.appendAttrs(make([]slog.Attr, 0, maxAttrs), true)...)
}

func durationMS(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// finite returns f, or 0 if f is NaN or infinite, which JSON cannot hold.
func finite(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// appendAttrs appends e's attributes to as in field order, with the keys of
// MarshalJSON, and returns the extended slice. The "time" attribute is
// included only if withTime is set. It avoids reflection: it runs once per
// call on the hot path. It must stay in step with appendJSON.
func (e *Event) appendAttrs(as []slog.Attr, withTime bool) []slog.Attr {
	as = append(as,
		slog.String(keySchema, SchemaVersion),
		slog.String(keyKind, string(e.kind())),
		slog.String(keyRequestID, e.RequestID),
	)
	if withTime {
		as = append(as, slog.Time(keyTime, e.Time.UTC()))
	}
	as = append(as,
		slog.String(keyOperation, e.Operation),
		slog.String(keyProvider, e.Provider),
		slog.String(keyEndpoint, e.Endpoint),
	)
	if e.Stream {
		as = append(as, slog.Bool(keyStream, true))
	}
	as = appendString(as, keyEnvironment, e.Environment)
	as = appendString(as, keyCaller, e.Caller)
	as = appendString(as, keyGroup, e.Group)
	as = appendString(as, keyTier, e.Tier)
	as = appendString(as, keyPurpose, e.Purpose)
	as = appendString(as, keyRequestModel, e.RequestModel)
	as = appendString(as, keyResponseModel, e.ResponseModel)
	as = appendString(as, keyResponseID, e.ResponseID)
	as = appendInt(as, keyMaxTokens, e.MaxTokens)
	as = appendInt(as, keyChoices, e.Choices)
	if len(e.FinishReasons) > 0 {
		as = append(as, slog.Any(keyFinishReasons, slices.Clone(e.FinishReasons)))
	}
	as = append(as,
		slog.Int(keyInputTokens, e.InputTokens),
		slog.Int(keyOutputTokens, e.OutputTokens),
		slog.Int(keyInputBytes, e.InputBytes),
	)
	as = appendString(as, keyInputHash, e.InputHash)
	as = appendString(as, keySystemPromptHash, e.SystemPromptHash)
	if len(e.Decisions) > 0 {
		as = append(as, slog.Any(keyDecisions, slices.Clone(e.Decisions)))
	}
	if len(e.Findings) > 0 {
		as = append(as, slog.Any(keyFindings, slices.Clone(e.Findings)))
	}
	as = append(as, slog.String(keyOutcome, string(e.Outcome)))
	as = appendString(as, keyErrorType, e.ErrorType)
	as = appendString(as, keyStage, e.Stage)
	as = appendInt(as, keyHTTPStatus, e.HTTPStatus)
	as = appendInt(as, keyRetries, e.Retries)
	as = appendString(as, keyKeyFingerprint, e.KeyFingerprint)
	as = appendFloat(as, keyCostUSD, e.CostUSD)
	as = appendString(as, keyAlertType, e.AlertType)
	as = appendFloat(as, keyAlertValue, e.AlertValue)
	as = appendFloat(as, keyAlertThreshold, e.AlertThreshold)
	as = appendInt(as, keyDroppedBefore, e.DroppedBefore)
	as = append(as, slog.Float64(keyDurationMS, durationMS(e.Duration)))
	return as
}

func appendString(as []slog.Attr, key, v string) []slog.Attr {
	if v == "" {
		return as
	}
	return append(as, slog.String(key, v))
}

func appendInt(as []slog.Attr, key string, v int) []slog.Attr {
	if v == 0 {
		return as
	}
	return append(as, slog.Int(key, v))
}

func appendFloat(as []slog.Attr, key string, v float64) []slog.Attr {
	if v = finite(v); v == 0 {
		return as
	}
	return append(as, slog.Float64(key, v))
}
