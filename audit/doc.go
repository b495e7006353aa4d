// Package audit defines the record of one OpenAI call made through secureai
// and the sinks that receive it.
//
// Every call, refused or not, ends with exactly one [Event]. An Event holds
// counts, hashes, per-stage [Decision] values, a pseudonymous caller id and a
// key fingerprint. It never holds prompt or output text, error messages or API
// keys, so events can be shipped to ordinary log pipelines.
//
// Field names in the JSON form ([Event.MarshalJSON]) and the [log/slog] form
// ([Event.LogValue], [SlogSink]) are the same and follow the OpenTelemetry
// GenAI semantic conventions where one exists, for example
// "gen_ai.usage.input_tokens" and "gen_ai.request.model".
//
// A [Sink] receives finished events. [SlogSink] writes each event as one
// slog record; [NewJSONSink] writes JSON lines to an [io.Writer]; [Multi] fans
// out to several sinks; [SinkFunc] adapts a function. Sinks that buffer
// implement [Flusher], and sinks that hold resources implement [Closer]; callers
// discover both by type assertion.
package audit
