// Package moderation is the moderation pre-check: it asks OpenAI's
// moderation endpoint (POST /moderations) whether an input is harmful,
// after local policy rules, and turns the answer into a [Verdict] or a
// typed error.
//
// It is opt-in in secureai because it costs a second upstream call. The
// package does not import secureai: secureai runs a [Checker] at its
// moderation stage on the redacted input (before the completion, or in
// parallel with it) and, if configured, on the answer; it passes an
// [http.Client] whose transport injects the API key and enforces the egress
// and TLS rules, so the check never goes through the call pipeline again.
//
// # What decides
//
// A [Checker] flags an input when any of these says so:
//
//   - a local [Rule] (run first; when one matches, the endpoint is not
//     called). [KeywordRule] builds one from a word list;
//   - the provider's own per-category flag (unless
//     [Options.IgnoreProviderFlag]);
//   - a score at or above the category's threshold in [Options.Thresholds],
//     which can be stricter than the provider's flag, for example for a
//     children's app.
//
// The answer is decoded into maps, not typed fields, so that every
// category is seen, including "illicit" and "illicit/violent", which
// go-openai's typed result lacks, and categories added later (which a "*"
// threshold covers).
//
// A flagged input gives a [*FlaggedError] (errors.Is [ErrFlagged]) that
// names the categories and rules, never the text. Neither errors nor
// verdicts ever hold the checked text.
//
// # When the endpoint fails
//
// By default a Checker fails closed: a network error, a timeout
// ([Options.Timeout], 5s by default), an error status or an answer that
// cannot be read (not JSON, results missing, scores out of range, over
// 1 MB) gives an [*Error] that answers [ErrUnavailable]. With
// [Options.FailOpen] the input is let through with [Verdict.Unavailable]
// set, except when the endpoint refused the input itself (a 4xx other than
// 408 and 429), which an attacker could provoke on purpose.
//
// # What is sent
//
// Texts only: one string, or an array of strings (one result each). A text
// over 32 KiB is split into overlapping chunks cut on rune boundaries, and
// the highest score per category over the chunks counts. An image is sent
// as a multi-modal array of parts, {"type":"image_url","image_url":{"url":
// ...}}, the first image together with the first text as a
// {"type":"text"} part. Requests go one after another, and the check stops
// at the first flagged answer.
package moderation
