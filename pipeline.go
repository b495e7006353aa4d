package secureai

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/internal/tokens"
	"github.com/secureai-go/secureai/keyprovider"
)

// callState is one call's private state: the Call the slots see, the audit
// event being filled, the key of the moment and what the HTTP layer
// learned. It rides in the call's context for the HTTP layer (see
// transport.go). The pipeline goroutine owns it until the upstream call
// returns; a stream's state is then guarded by its streamCore.
type callState struct {
	call  Call
	ev    audit.Event
	scope keyprovider.Scope
	key   keyprovider.Secret
	res   Reservation
	usage Usage

	tracked    bool          // counted in Client.inflight
	mark       time.Duration // when the last decision was recorded, after call.Start
	admitted   bool          // the rate limiter allowed the call (Release at end)
	inputBound int           // the budget's prompt-token bound
	usageSeen  bool          // the upstream reported usage
	modWait    func() error  // the verdict of a parallel moderation check

	// Storage for a usual call, so that it needs no allocation of its own:
	// the audit event's decisions, the request's text view and its copy
	// before the checks, the answer's text view and its copy.
	decisions [12]audit.Decision
	fieldBuf  [8]TextField
	origBuf   [8]TextField
	in        Input
	outBuf    [4]TextField
	outOrig   [4]TextField
	out       Output
	walk      walker    // the walk of stage 4, 5 or 10
	finish    [1]string // the audit event's finish reasons

	// written by the HTTP layer during the upstream call
	sent         bool
	retries      int
	keyRefreshed bool
	status       int
	retryAfter   time.Duration
}

// upstreamCall is the per-endpoint part of stages 9 and 10 of a plain call.
type upstreamCall[Req, Resp any] struct {
	send   func(c *openai.Client, ctx context.Context, r Req) (Resp, error)
	output func(r *Resp, w *walker) // nil: no output checks for this endpoint
	record func(r *Resp, st *callState)
}

var chatCall = &upstreamCall[openai.ChatCompletionRequest, openai.ChatCompletionResponse]{
	send: func(c *openai.Client, ctx context.Context, r openai.ChatCompletionRequest) (openai.ChatCompletionResponse, error) {
		ctx, r = withChatBody(ctx, &r, false)
		return c.CreateChatCompletion(ctx, r)
	},
	output: walkChatOutput,
	record: func(r *openai.ChatCompletionResponse, st *callState) {
		st.usage = Usage{InputTokens: r.Usage.PromptTokens, OutputTokens: r.Usage.CompletionTokens}
		st.usageSeen = true
		st.ev.ResponseModel, st.ev.ResponseID = r.Model, r.ID
		if len(r.Choices) <= len(st.finish) {
			st.ev.FinishReasons = st.finish[:0]
		}
		for i := range r.Choices {
			st.ev.FinishReasons = append(st.ev.FinishReasons, string(r.Choices[i].FinishReason))
		}
	},
}

var responsesCall = &upstreamCall[openai.CreateResponseRequest, openai.CreateResponseResponse]{
	send:   (*openai.Client).CreateResponse,
	output: walkResponsesOutput,
	record: func(r *openai.CreateResponseResponse, st *callState) { recordResponse(r, st) },
}

func recordResponse(r *openai.CreateResponseResponse, st *callState) {
	if r.Usage != nil {
		st.usage = Usage{InputTokens: r.Usage.InputTokens, OutputTokens: r.Usage.OutputTokens}
		st.usageSeen = true
	}
	st.ev.ResponseModel, st.ev.ResponseID = r.Model, r.ID
	if r.Status != "" {
		st.ev.FinishReasons = append(st.ev.FinishReasons, string(r.Status))
	}
}

var embeddingsCall = &upstreamCall[openai.EmbeddingRequest, openai.EmbeddingResponse]{
	send: func(c *openai.Client, ctx context.Context, r openai.EmbeddingRequest) (openai.EmbeddingResponse, error) {
		return c.CreateEmbeddings(ctx, r)
	},
	record: func(r *openai.EmbeddingResponse, st *callState) {
		st.usage = Usage{InputTokens: r.Usage.PromptTokens}
		st.usageSeen = true
		st.ev.ResponseModel = string(r.Model)
	},
}

var moderationsCall = &upstreamCall[openai.ModerationRequest, openai.ModerationResponse]{
	send: (*openai.Client).Moderations,
	record: func(r *openai.ModerationResponse, st *callState) {
		st.ev.ResponseModel, st.ev.ResponseID = r.Model, r.ID
	},
}

// run is the pipeline of a plain (not streamed) call. Stages 11 and 12 are
// deferred before stage 2, so that every path ends them.
func run[Req, Resp any](ctx context.Context, c *Client, ep *endpoint[Req], req Req, up *upstreamCall[Req, Resp]) (resp Resp, err error) {
	// The call's state is an allocation of its own, and the request and
	// the answer (whose addresses the stages take) two more: in one they
	// made about 3.9 KB for a chat, a size class of two objects a span,
	// which cost twice as much to allocate as the three apart.
	st, ctx, err := c.beginIn(new(callState), ctx, ep.kind, ep.model(&req), false) // 1. audit begin
	if err != nil {
		return resp, err
	}
	defer func() { // 11. budget reconcile, 12. audit end — also when a stage panics
		if p := recover(); p != nil {
			st.call.mu.Lock()
			stage := st.call.stage
			st.call.mu.Unlock()
			c.end(ctx, st, &Error{Kind: ErrInternal, Stage: stage, Check: "panic", Reason: "stage_panicked"})
			panic(p)
		}
		c.end(ctx, st, err)
	}()

	if err = prepare(ctx, c, ep, st, &req); err != nil { // 2–8
		return resp, err
	}
	st.call.enter(StageUpstream)
	var answer Resp                        // returned only if every check passes
	answer, err = up.send(c.oai, ctx, req) // 9. upstream call (transport: key, egress, retries)
	if err == nil {
		up.record(&answer, st) // the usage is charged even if moderation discards the answer
	}
	if st.modWait != nil { // parallel moderation: the verdict decides first
		if merr := c.moderationVerdict(st); merr != nil {
			return resp, merr
		}
	}
	if err != nil {
		return answer, c.upstreamError(ctx, st, err)
	}
	st.decide(StageUpstream, "http", audit.VerdictAllow, "")
	if up.output != nil { // 10. output checks
		if err = c.checkOutput(ctx, st, func(w *walker) { up.output(&answer, w) }); err != nil {
			return resp, err
		}
	}
	return answer, nil
}

// moderationVerdict waits for a parallel moderation check and records it.
func (c *Client) moderationVerdict(st *callState) error {
	err := st.modWait()
	if err != nil {
		return st.deny(asStageError(err, ErrModerationFlagged, StageModeration, "moderation"))
	}
	st.decide(StageModeration, "moderation_parallel", audit.VerdictAllow, "")
	return nil
}

// prepare runs stages 2 to 8, in order, on a request the caller gave us.
// The request is rewritten only after a deep copy, never in place.
func prepare[Req any](ctx context.Context, c *Client, ep *endpoint[Req], st *callState, req *Req) error {
	cfg := c.cfg
	call := &st.call
	if cfg.scan != nil {
		defer cfg.scan.release(call)
	}

	// 2. Caller and request policy.
	if err := c.checkCaller(ctx, st); err != nil {
		return st.deny(err)
	}
	maxOut, choices, err := ep.policy(cfg, call, req)
	if err != nil {
		return st.deny(err)
	}
	st.ev.MaxTokens, st.ev.Choices = maxOut, choices
	if ep.tools != nil && !cfg.toolsUnchecked {
		if tools := ep.tools(req); tools != nil {
			call.Set(toolsKey{}, tools)
		}
	}
	st.decide(StagePolicy, "request_policy", audit.VerdictAllow, "")

	// 3. Request-rate limit: cheap, before any expensive work.
	if cfg.rateLimiter != nil {
		call.enter(StageRateLimit)
		if err := cfg.rateLimiter.Allow(ctx, call); err != nil {
			return st.deny(asStageError(err, ErrRateLimited, StageRateLimit, typeName(cfg.rateLimiter)))
		}
		st.admitted = true
		st.decide(StageRateLimit, typeName(cfg.rateLimiter), audit.VerdictAllow, "")
	}

	// 4. Input hygiene: valid UTF-8 and a size bound, then the hygiene slot.
	w := &st.walk
	*w = walker{fields: st.fieldBuf[:0]}
	ep.walk(req, w)
	if w.err != nil {
		return st.deny(&Error{Kind: ErrPolicy, Stage: StageHygiene, Check: "encoding", Reason: "request_not_encodable", Err: w.err})
	}
	in := &st.in
	*in = Input{Endpoint: ep.kind, Model: call.Model, Fields: w.fields}
	size := 0
	for i := range in.Fields {
		text := in.Fields[i].Text
		if !utf8.ValidString(text) {
			return st.deny(refuse(ErrInputRejected, StageHygiene, "utf8", "invalid_utf8"))
		}
		if strings.IndexByte(text, 0) >= 0 {
			return st.deny(refuse(ErrInputRejected, StageHygiene, "nul", "nul_byte"))
		}
		if len(text) > cfg.maxFieldBytes {
			return st.deny(refuse(ErrInputRejected, StageHygiene, "max_message_bytes", "message_too_large"))
		}
		size += len(text)
	}
	st.ev.InputBytes = size
	if size > cfg.maxInputBytes {
		return st.deny(refuse(ErrInputRejected, StageHygiene, "max_input_bytes", "input_too_large"))
	}
	if cfg.maxInputTokens > 0 && ep.kind != EndpointModerations {
		// The bound decides almost always; count exactly only past it.
		if te := promptShape(ep, req, in); te.UpperBound(call.Model) > cfg.maxInputTokens {
			n := te.UpperBound(call.Model)
			if est := estimate(ep, req, in, call.Model, 0, 1); est.CountInputTokens != nil {
				if exact, err := est.CountInputTokens(); err == nil {
					n = exact
				}
			}
			if n > cfg.maxInputTokens {
				return st.deny(refuse(ErrInputRejected, StageHygiene, "max_input_tokens", "input_too_many_tokens"))
			}
		}
	}
	var orig []TextField
	if len(cfg.hygiene)+len(cfg.inputChecks) > 0 {
		orig = append(st.origBuf[:0], in.Fields...)
	}
	call.enter(StageHygiene)
	for _, chk := range cfg.hygiene {
		if err := chk.CheckInput(ctx, call, in); err != nil {
			return st.deny(asStageError(err, ErrInputRejected, StageHygiene, typeName(chk)))
		}
	}
	var beforeChecks []TextField // the texts after hygiene, to tell what stage 5 changed
	if len(cfg.hygiene) > 0 && changed(orig, in.Fields) {
		st.decide(StageHygiene, "hygiene", audit.VerdictModify, "")
		if len(cfg.inputChecks) > 0 {
			beforeChecks = slices.Clone(in.Fields)
		}
	} else {
		st.decide(StageHygiene, "hygiene", audit.VerdictAllow, "")
		beforeChecks = orig
	}

	// 5. Input checks, in order; they may rewrite the texts.
	call.enter(StageInput)
	for _, chk := range cfg.inputChecks {
		if err := chk.CheckInput(ctx, call, in); err != nil {
			return st.deny(asStageError(err, ErrInputRejected, StageInput, typeName(chk)))
		}
	}
	if orig != nil {
		if len(in.Fields) != len(orig) {
			return st.deny(refuse(ErrInputRejected, StageInput, "rewrite", "fields_added_or_removed"))
		}
		verdict := audit.VerdictAllow
		if len(cfg.inputChecks) > 0 && changed(beforeChecks, in.Fields) {
			verdict = audit.VerdictModify
		}
		if changed(orig, in.Fields) {
			ep.clone(req)
			aw := &st.walk
			*aw = walker{apply: true, fields: in.Fields}
			ep.walk(req, aw)
			if aw.err != nil {
				return st.deny(&Error{Kind: ErrInputRejected, Stage: StageInput, Check: "rewrite", Reason: "rewrite_failed", Err: aw.err})
			}
			for i := range in.Fields {
				if !utf8.ValidString(in.Fields[i].Text) {
					return st.deny(refuse(ErrInputRejected, StageInput, "rewrite", "invalid_utf8_after_rewrite"))
				}
			}
		}
		if len(cfg.inputChecks) > 0 {
			st.decide(StageInput, "input_checks", verdict, "")
		}
	}

	st.ev.InputHash, st.ev.SystemPromptHash = c.hashInput(in.Fields)

	// 6. Token/spend budget: reserve the worst case.
	if cfg.budget != nil {
		call.enter(StageBudget)
		est := estimate(ep, req, in, call.Model, maxOut, choices)
		st.inputBound = est.InputTokens
		res, err := cfg.budget.Reserve(ctx, call, est)
		if err != nil {
			return st.deny(asStageError(err, ErrBudgetExceeded, StageBudget, typeName(cfg.budget)))
		}
		st.res = res
		st.decide(StageBudget, typeName(cfg.budget), audit.VerdictAllow, "")
	}

	// 7. Key for this caller's scope, injected later by the transport.
	call.enter(StageKey)
	st.scope = keyprovider.Scope{Environment: call.Environment, Group: call.Caller.Group, Tier: call.Caller.Tier}
	var key keyprovider.Secret
	var info keyprovider.Info
	if ip, ok := cfg.keys.(keyprovider.InfoProvider); ok {
		key, info, err = ip.KeyInfo(ctx, st.scope)
	} else {
		key, err = cfg.keys.Key(ctx, st.scope)
	}
	if err == nil && key.IsZero() {
		err = keyprovider.ErrNoKey
	}
	if err != nil {
		return st.deny(&Error{Kind: ErrKeyUnavailable, Stage: StageKey, Check: "key_provider", Reason: keyReason(err), Err: err})
	}
	st.key = key
	st.ev.KeyFingerprint = c.keyFingerprint(key)
	switch {
	case info.Stale:
		// Served from the cache past its expiry while the store fails:
		// allowed within the grace period, and on the record.
		st.decide(StageKey, "key", audit.VerdictAllow, "stale_key_refresh_failed_"+keyReason(info.RefreshErr))
	case info.RefreshErr != nil:
		st.decide(StageKey, "key", audit.VerdictAllow, "early_refresh_failed_"+keyReason(info.RefreshErr))
	default:
		st.decide(StageKey, "key", audit.VerdictAllow, "")
	}

	// 8. Moderation pre-check, on the rewritten input: now, or in parallel
	// with the upstream call (run and the streams wait for the verdict).
	if (cfg.moderator != nil || cfg.parallelMod != nil) && ep.images != nil {
		if urls := ep.images(req); len(urls) > 0 {
			call.Set(imagesKey{}, urls)
		}
	}
	if cfg.parallelMod != nil {
		call.enter(StageModeration)
		st.modWait = cfg.parallelMod.startParallel(ctx, call, in)
	}
	if cfg.moderator != nil {
		call.enter(StageModeration)
		if err := cfg.moderator.Moderate(ctx, call, in); err != nil {
			return st.deny(asStageError(err, ErrModerationFlagged, StageModeration, typeName(cfg.moderator)))
		}
		st.decide(StageModeration, typeName(cfg.moderator), audit.VerdictAllow, "")
	}
	return nil
}

// estimate builds the budget's worst case: the prompt's token bound from
// the texts as they will be sent plus the endpoint's framing, images and
// tools, and the output cap for every choice.
func estimate[Req any](ep *endpoint[Req], req *Req, in *Input, model string, maxOut, choices int) Estimate {
	te := promptShape(ep, req, in)
	est := Estimate{InputTokens: te.UpperBound(model), MaxOutputTokens: maxOut, Choices: choices}
	if _, ok := tokens.EncodingFor(model); ok {
		texts := make([]string, len(in.Fields))
		for i := range in.Fields {
			texts[i] = in.Fields[i].Text
		}
		est.CountInputTokens = func() (int, error) {
			n, err := tokens.Count(model, texts...)
			if err != nil {
				return 0, err
			}
			return te.WithTextTokens(model, n), nil
		}
	}
	return est
}

// promptShape describes the prompt for the token bound: the endpoint's
// framing, images and tools, and the wire bytes of the texts as they are
// now. It allocates nothing, so stage 4 can bound every call cheaply. The
// texts are valid UTF-8 whenever it runs (stage 4 checks them first, and
// every rewrite after), so their wire bytes ([tokens.WireBytes]) are
// their lengths, and they are not validated a second time.
func promptShape[Req any](ep *endpoint[Req], req *Req, in *Input) tokens.Estimate {
	var te tokens.Estimate
	if ep.estimate != nil {
		te = ep.estimate(req)
	} else {
		te.Messages = len(in.Fields)
	}
	for i := range in.Fields {
		te.TextBytes += len(in.Fields[i].Text)
	}
	return te
}

// begin is stage 1: it opens the call's state and audit event.
func (c *Client) begin(ctx context.Context, ep Endpoint, model string, stream bool) (*callState, context.Context, error) {
	return c.beginIn(&callState{}, ctx, ep, model, stream)
}

// beginIn is begin with the state in st, which must be zero.
func (c *Client) beginIn(st *callState, ctx context.Context, ep Endpoint, model string, stream bool) (*callState, context.Context, error) {
	st.call = Call{ID: newRequestID(), Endpoint: ep, Model: model, Stream: stream,
		Environment: c.cfg.environment, Start: time.Now()}
	st.ev = audit.Event{RequestID: st.call.ID, Time: st.call.Start, Operation: ep.operation(),
		Provider: c.provider, Endpoint: string(ep), Stream: stream, Environment: c.cfg.environment,
		RequestModel: model}
	st.ev.Decisions = st.decisions[:0]
	ctx = context.WithValue(ctx, stateKey{}, st)
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.inflight++
		st.tracked = true
	}
	c.mu.Unlock()
	if closed {
		err := refuse(ErrClosed, StageAudit, "client", "closed")
		c.end(ctx, st, err)
		return nil, ctx, err
	}
	return st, ctx, nil
}

// end runs stages 11 and 12: the budget is reconciled (committed with the
// usage seen when a request went upstream, cancelled otherwise) and exactly
// one audit event is written. It runs under a context detached from the
// caller's cancellation; the reconcile is bounded by a timeout, the sink
// bounds its own writes.
func (c *Client) end(ctx context.Context, st *callState, err error) {
	if st.tracked {
		defer c.callDone()
	}
	dctx := context.WithoutCancel(ctx)
	ev := &st.ev
	if st.res != nil {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(dctx, 5*time.Second)
		defer cancel()
		var rerr error
		if st.sent {
			rerr = st.res.Commit(dctx, st.usage)
		} else {
			rerr = st.res.Cancel(dctx)
		}
		verdict := audit.VerdictAllow
		if rerr != nil {
			verdict = audit.VerdictError
		}
		st.decide(StageBudget, "reconcile", verdict, "")
	}
	if st.admitted {
		if r, ok := c.cfg.rateLimiter.(Releaser); ok {
			r.Release(dctx, &st.call)
		}
	}
	ev.Duration = time.Since(st.call.Start)
	ev.Caller, ev.Group, ev.Tier = st.call.Pseudonym, st.call.Caller.Group, st.call.Caller.Tier
	ev.Purpose = st.call.Caller.Purpose
	st.call.mu.Lock()
	for _, f := range st.call.findings {
		ev.Findings = append(ev.Findings, audit.Finding{Stage: string(f.stage), Kind: f.Kind, Type: f.Type, Count: f.Count})
	}
	st.call.mu.Unlock()
	ev.InputTokens, ev.OutputTokens = st.usage.InputTokens, st.usage.OutputTokens
	if st.usage != (Usage{}) {
		ev.CostUSD = c.prices.Cost(st.call.Model, int64(st.usage.InputTokens), int64(st.usage.OutputTokens))
	}
	ev.Retries, ev.HTTPStatus = st.retries, st.status
	switch e, ok := errors.AsType[*Error](err); {
	case err == nil:
		ev.Outcome = audit.OutcomeOK
	case !ok:
		ev.Outcome, ev.ErrorType = audit.OutcomeError, "internal"
	default:
		ev.ErrorType, ev.Stage = errorClass(err), string(e.Stage)
		switch e.Kind {
		case ErrUpstream, ErrKeyUnavailable, ErrEgressDenied, ErrInternal:
			ev.Outcome = audit.OutcomeError
		case ErrStreamCut:
			ev.Outcome = audit.OutcomeCut
		default:
			ev.Outcome = audit.OutcomeRefused
		}
	}
	if werr := c.audit.Write(dctx, *ev); werr != nil {
		c.auditErrs.Add(1)
	}
}

// decide records a stage's verdict, with the time spent since the last
// decision. The times are read from the monotonic clock alone (time.Since
// of the call's start), which costs a fraction of time.Now.
func (st *callState) decide(stage Stage, check string, v audit.Verdict, reason string) {
	now := time.Since(st.call.Start)
	st.ev.Decisions = append(st.ev.Decisions, audit.Decision{Stage: string(stage), Check: check, Verdict: v,
		Reason: reason, Duration: now - st.mark})
	st.mark = now
}

// deny records a refusal decision and returns err.
func (st *callState) deny(err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		st.decide(e.Stage, e.Check, audit.VerdictDeny, e.Reason)
	}
	return err
}

// checkCaller is the caller half of stage 2.
func (c *Client) checkCaller(ctx context.Context, st *callState) error {
	caller, ok := CallerFrom(ctx)
	if !ok || caller.ID == "" {
		if !c.cfg.allowAnonymous {
			return refuse(ErrNoCaller, StageCaller, "caller", "no_caller")
		}
		st.decide(StageCaller, "caller", audit.VerdictAllow, "anonymous")
		return nil
	}
	st.call.Caller = caller
	st.call.Pseudonym = c.pseudonyms.get(&c.hmacs, caller.ID)
	st.decide(StageCaller, "caller", audit.VerdictAllow, "")
	return nil
}

// checkOutput is stage 10 for a plain call: walk visits the answer's texts.
func (c *Client) checkOutput(ctx context.Context, st *callState, walk func(*walker)) error {
	checks := c.cfg.outputChecks
	if len(checks) == 0 {
		return nil
	}
	st.call.enter(StageOutput)
	w := &st.walk
	*w = walker{fields: st.outBuf[:0]}
	walk(w)
	out := &st.out
	*out = Output{Endpoint: st.call.Endpoint, Model: st.call.Model, Fields: w.fields}
	orig := append(st.outOrig[:0], out.Fields...)
	for _, chk := range checks {
		if err := chk.CheckOutput(ctx, &st.call, out); err != nil {
			return st.deny(asStageError(err, ErrOutputBlocked, StageOutput, typeName(chk)))
		}
	}
	if len(out.Fields) != len(orig) {
		return st.deny(refuse(ErrOutputBlocked, StageOutput, "rewrite", "fields_added_or_removed"))
	}
	verdict := audit.VerdictAllow
	if changed(orig, out.Fields) {
		verdict = audit.VerdictModify
		aw := &st.walk
		*aw = walker{apply: true, fields: out.Fields}
		walk(aw)
	}
	st.decide(StageOutput, "output_checks", verdict, "")
	return nil
}

// upstreamError maps what go-openai returned into an *Error of kind
// ErrUpstream (or ErrPolicy when go-openai refused the request before
// sending it). The go-openai error stays reachable with errors.As; a
// *openai.RequestError is copied without its raw body, which may echo the
// prompt.
func (c *Client) upstreamError(ctx context.Context, st *callState, err error) error {
	if e, ok := errors.AsType[*Error](err); ok {
		return st.deny(e)
	}
	if !st.sent {
		return st.deny(&Error{Kind: ErrPolicy, Stage: StageUpstream, Check: "sdk_validation", Reason: "refused_by_go_openai", Err: err})
	}
	e := &Error{Kind: ErrUpstream, Stage: StageUpstream, Check: "http", Retries: st.retries, RetryAfter: st.retryAfter, Err: err}
	if st.status >= 400 {
		e.StatusCode = st.status
	}
	var apiErr *openai.APIError
	var reqErr *openai.RequestError
	switch {
	case errors.As(err, &apiErr):
		e.StatusCode = apiErr.HTTPStatusCode
		e.Reason = "status_" + itoa(apiErr.HTTPStatusCode)
		if code, ok := apiErr.Code.(string); ok && isCode(code) {
			e.Reason = code
		}
		if apiErr.HTTPStatusCode == http.StatusUnauthorized {
			// The key was rejected, and refreshing it (once) did not help or
			// was not possible.
			e.Kind, e.Check = ErrKeyUnavailable, "key_rejected"
		}
	case errors.As(err, &reqErr):
		clean := *reqErr
		clean.Body = nil
		e.Err = &clean
		e.StatusCode = reqErr.HTTPStatusCode
		e.Reason = "status_" + itoa(reqErr.HTTPStatusCode)
	case errors.Is(err, context.Canceled):
		e.Reason = "canceled"
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		e.Reason = "deadline"
	case errors.Is(err, errResponseTooLarge):
		e.Reason = "response_too_large"
	case st.status > 0 && st.status < 400:
		e.Reason = "malformed_response"
		e.Err = fmt.Errorf("secureai: decoding the upstream response failed: %w", stripErr(err))
	default:
		e.Reason = "transport"
	}
	return st.deny(e)
}

// stripErr keeps an error's type for errors.As but drops text that may
// quote the response (json.SyntaxError does not; other decoders might).
func stripErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return errMalformed
}

var errMalformed = errors.New("malformed JSON")

// keyFingerprint returns the audit's fingerprint of a key: "kfp_" and 16
// hex digits of HMAC-SHA-256 under the client's pseudonym key, so that a
// trail identifies keys without letting anyone test a guessed key against
// it. It is computed once per distinct key.
func (c *Client) keyFingerprint(key keyprovider.Secret) string {
	id := key.Fingerprint() // unkeyed, cached in the Secret: a map key only
	if fp, ok := c.keyFPs.Load(id); ok {
		return fp.(string)
	}
	k := c.hmacs.Get().(*keyedHash)
	k.h.Reset()
	k.h.Write([]byte("secureai key fingerprint\x00"))
	k.h.Write(bytesOf(key.Reveal()))
	fp := "kfp_" + hex.EncodeToString(k.h.Sum(k.sum[:0])[:8])
	clear(k.sum[:]) // the sum is of a key: not left in the pool
	c.hmacs.Put(k)
	c.keyFPs.Store(id, fp)
	return fp
}

// keyReason is the short, content-free class of a key provider error.
func keyReason(err error) string {
	if c := keyprovider.ErrorClass(err); isCode(c) {
		return c
	}
	return "key_error"
}

// isCode reports whether an upstream error code is a short identifier safe
// to repeat in an error string and an audit event.
func isCode(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		if !(b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '_' || b == '.') {
			return false
		}
	}
	return true
}

// typeName names a slot's implementation in audit decisions: the short
// name of a built-in one, the Go type of yours.
func typeName(v any) string {
	if n, ok := v.(interface{ checkName() string }); ok {
		return n.checkName()
	}
	return fmt.Sprintf("%T", v)
}

// hashInput returns keyed hashes (HMAC-SHA-256 with the pseudonym key,
// "h_" and 32 hex digits) of all input texts and of the system prompt
// (system and developer messages, Responses instructions), so that audit
// can correlate prompts without holding them.
func (c *Client) hashInput(fields []TextField) (input, system string) {
	in := c.hmacs.Get().(*keyedHash)
	in.h.Reset()
	var sys *keyedHash
	for i := range fields {
		f := &fields[i]
		in.h.Write(bytesOf(f.Path))
		in.h.Write(sep)
		in.h.Write(bytesOf(f.Text))
		in.h.Write(sep)
		if f.Role == "system" || f.Role == "developer" {
			if sys == nil {
				sys = c.hmacs.Get().(*keyedHash)
				sys.h.Reset()
			}
			sys.h.Write(bytesOf(f.Text))
			sys.h.Write(sep)
		}
	}
	var out [2 * hashLen]byte // both hashes in one string
	in.appendHash(out[:0])
	c.hmacs.Put(in)
	if sys == nil {
		return string(out[:hashLen]), ""
	}
	sys.appendHash(out[:hashLen])
	c.hmacs.Put(sys)
	both := string(out[:])
	return both[:hashLen], both[hashLen:]
}

// sep ends each part of a hashed input; hash.Hash.Write only reads it.
var sep = []byte{0}

// keyedHash is an HMAC-SHA-256 state under the client's pseudonym key,
// with room for its sum, so that summing allocates nothing.
type keyedHash struct {
	h   hash.Hash
	sum [sha256.Size]byte
}

// bytesOf views s as bytes without copying it, for hash.Hash.Write, which
// only reads its argument and never keeps it (the hmac hash has no
// WriteString, and copying a large prompt would cost more than hashing it).
func bytesOf(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }

// hashLen is the length of an input hash: "h_" and 32 hex digits.
const hashLen = 2 + 32

// appendHash appends "h_" and the first 16 bytes of the sum in hex to b,
// which must have room for them.
func (k *keyedHash) appendHash(b []byte) []byte {
	b = append(b, 'h', '_')
	return hex.AppendEncode(b, k.h.Sum(k.sum[:0])[:16])
}

// newRequestID returns a random request ID, "sai_" and 24 hex digits.
func newRequestID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	var out [4 + 24]byte
	copy(out[:], "sai_")
	hex.Encode(out[4:], b[:])
	return string(out[:])
}
