// Package secureai calls the OpenAI API from a production backend safely.
// It wraps github.com/sashabaranov/go-openai and puts the controls that
// security checklists ask for around every call, in a fixed order.
//
// A [Client] has go-openai's method names and signatures for the calls it
// covers, so a service moves over by changing one constructor:
//
//	client, err := secureai.New(
//		secureai.WithKeyProvider(keyprovider.Static(key)),
//		secureai.WithModels("gpt-4o-2024-08-06"),
//	)
//	ctx = secureai.WithCaller(ctx, secureai.Caller{ID: userID, Group: "team-a"})
//	resp, err := client.CreateChatCompletion(ctx, openai.ChatCompletionRequest{...})
//
// # The pipeline
//
// Every covered call runs these stages in this order; users cannot reorder
// them. Each optional stage is a slot filled by an option.
//
//  1. Audit begin: request ID, time, endpoint.
//  2. Caller and request policy: no [Caller] in the context is refused
//     (ErrNoCaller) unless [AllowAnonymous]; the model must be on the
//     allowlist of pinned snapshots; the output cap (max_tokens, or
//     max_completion_tokens for reasoning models, or max_output_tokens on
//     Responses) is set when missing and clamped; bounds on messages, n,
//     tools and temperature; store refused (and sent as false on
//     Responses); stored-state Responses features, server-side prompt
//     templates, hosted tools that reach other hosts and ExtraBody keys
//     refused unless allowed; safety_identifier set to a keyed-hash
//     pseudonym of the caller; include_usage forced on chat streams.
//  3. Request-rate limit ([WithRateLimiter]).
//  4. Input hygiene: valid UTF-8 and a size bound, then [WithInputHygiene].
//  5. Input checks ([WithInputChecks]): they see every text field of the
//     request (message content and parts, names, tool and function
//     descriptions and arguments, Responses instructions and input items)
//     and may rewrite them.
//  6. Budget reserve ([WithBudget]).
//  7. Key: from the [keyprovider.Provider] for the call's scope
//     (environment and caller group), injected per request by the
//     transport, never stored in the go-openai configuration.
//  8. Moderation pre-check ([WithModerator]).
//  9. Upstream call: hardened transport (TLS >= 1.2, egress allowlist,
//     redirects to other hosts refused, plaintext only to loopback,
//     bounded response size) and retries (exponential backoff with full
//     jitter, Retry-After honoured, a 401 retried once after a key refresh).
//  10. Output checks ([WithOutputChecks]); streams check incrementally.
//  11. Budget reconcile, on every path.
//  12. Audit end: exactly one [audit.Event] per call, refused or not, with
//     no raw prompt or answer text.
//
// Embeddings and moderations skip stages 8 and 10.
//
// # Errors
//
// Every error is an [*Error] that answers errors.Is against a sentinel
// (ErrNoCaller, ErrModelNotAllowed, ErrPolicy, ErrRateLimited,
// ErrBudgetExceeded, ErrInputRejected, ErrKeyUnavailable,
// ErrModerationFlagged, ErrUpstream, ErrStreamCut, ErrOutputBlocked, ...)
// and carries the stage, the check, RetryAfter where it applies and the
// retry count. go-openai's *openai.APIError stays reachable with errors.As.
// Error strings never hold a key, a prompt or a response body.
//
// # Streams
//
// [Client.CreateChatCompletionStream] and [Client.CreateResponseStream]
// return secureai's own stream types, with Recv, Close and Header. A stream
// that ends before its finish reason and usage is reported as ErrStreamCut,
// not io.EOF. Stages 10 to 12 finish when the stream ends, is closed, or its
// context is cancelled.
package secureai
