// Package audit defines the record of one OpenAI call made through secureai
// and the sinks that receive it.
//
// Every call, refused or not, ends with exactly one [Event]. An Event holds
// counts, hashes, per-stage [Decision] values, findings as kinds and counts,
// a pseudonymous caller id and a key fingerprint. It never holds prompt or
// output text, error messages or API keys, so events can be shipped to
// ordinary log pipelines and SIEMs.
//
// Field names in the JSON form ([Event.MarshalJSON]) and the [log/slog] form
// ([Event.LogValue], [SlogSink]) are the same and follow the OpenTelemetry
// GenAI semantic conventions where one exists, for example
// "gen_ai.usage.input_tokens" and "gen_ai.request.model".
//
// # Sinks
//
// A [Sink] receives finished events. [SlogSink] writes each event as one
// slog record; [NewJSONSink] writes JSON lines to an [io.Writer]; [Multi] fans
// out to several sinks; [SinkFunc] adapts a function. [AsyncSink] queues
// events and writes them from a goroutine in batches, with a declared
// overflow policy, so that no call waits for a slow sink. [FileSink] writes
// a tamper-evident, hash-chained, sealed and optionally encrypted trail that
// [Verify] (and "secureai audit verify") checks. [Evaluator] raises alerts
// from the event stream and hands them to an [Alerter] such as a [Webhook].
// The subpackages pgaudit (PostgreSQL) and otelaudit (OpenTelemetry spans
// and metrics) hold the sinks with heavy dependencies, so that importing
// this package brings in none.
//
// Sinks that buffer implement [Flusher], sinks that hold resources
// implement [Closer], and sinks that write batches cheaply implement
// [BatchSink]; callers discover them by type assertion.
//
// A typical production set-up: an AsyncSink over a Multi of a FileSink (the
// record of truth), a pgaudit or JSON sink (for queries and the SIEM) and an
// Evaluator (for alerts); the otelaudit sink beside the AsyncSink, since it
// needs the call's context and does not block.
//
// # Schema
//
// This is schema "secureai.audit/v1" ([SchemaVersion]). A version may add
// keys; no key changes meaning without a new version. Keys marked
// "always" are present in every event; the others are left out when empty
// or zero. Times are RFC 3339 in UTC with up to nanoseconds; durations are
// float64 milliseconds.
//
//	key                              type      meaning
//	schema                           string    always; "secureai.audit/v1"
//	kind                             string    always; "call", "alert" or "budget_threshold"
//	request_id                       string    always; the call's id, for correlation with other logs
//	time                             string    always; when the call started (for an alert: when it was raised)
//	gen_ai.operation.name            string    always; "chat", "embeddings", "responses", "moderations"
//	gen_ai.provider.name             string    always; "openai" or "azure.ai.openai"
//	endpoint                         string    always; "chat.completions", "responses", "embeddings", "moderations"
//	stream                           bool      true for a streamed response
//	deployment.environment.name      string    the deployment environment
//	enduser.pseudo.id                string    keyed-hash pseudonym of the end user; never the raw id
//	group                            string    the caller's group (team, tenant, department)
//	tier                             string    the caller's service tier
//	purpose                          string    the purpose the caller declared, a short code
//	gen_ai.request.model             string    the model asked for
//	gen_ai.response.model            string    the model that answered
//	gen_ai.response.id               string    the provider's response id
//	gen_ai.request.max_tokens        int       the output cap sent upstream
//	gen_ai.request.choice.count      int       choices requested (n)
//	gen_ai.response.finish_reasons   []string  one finish reason per choice
//	gen_ai.usage.input_tokens        int       always; input tokens, reported or estimated
//	gen_ai.usage.output_tokens       int       always; output tokens
//	input_bytes                      int       always; size of the input texts in bytes
//	input_hash                       string    keyed hash of the input texts
//	system_prompt_hash               string    keyed hash of the system prompt or instructions
//	decisions                        []object  each stage's verdict, in order: {stage, check, verdict, reason, duration_ms}
//	findings                         []object  what checks found: {stage, kind, type, count}; never the text found
//	outcome                          string    always; "ok", "refused", "error", "cut" (empty for alerts)
//	error.type                       string    the error class, such as "model_not_allowed"; never a message
//	stage                            string    the stage that refused or failed the call
//	http.response.status_code        int       the upstream HTTP status
//	retries                          int       upstream retries
//	key_fingerprint                  string    "kfp_" + 16 hex digits of SHA-256 of the key; never the key
//	cost_usd                         float     estimated cost in US dollars
//	alert.type                       string    on alerts: "token_spike", "refusals", "error_rate", "off_hours", "budget_threshold"
//	alert.value                      float     on alerts: the observed value
//	alert.threshold                  float     on alerts: the value it was compared with
//	dropped_before                   int       events an AsyncSink dropped just before this one
//	duration_ms                      float     always; the call's duration
//
// A [JSONSink] line, like a [SlogSink] record through slog's JSON handler,
// starts with "time", "level" ("INFO" for calls, "WARN" for alerts and
// budget thresholds) and "msg" ("genai.call", "genai.alert",
// "genai.budget_threshold"), followed by the keys above but "time". A
// [FileSink] record starts with "chain.seq" and "chain.prev" (see
// [FileSink]).
package audit
