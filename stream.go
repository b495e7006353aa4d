package secureai

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/audit"
	"github.com/secureai-go/secureai/internal/tokens"
)

// streamCore is what chat and Responses streams share: it finishes the call
// (stages 10–12: the guards' last words, budget reconcile, audit end)
// exactly once, when the stream ends, is closed, or its context is
// cancelled, and never when the stream is returned.
type streamCore struct {
	c      *Client
	ctx    context.Context
	st     *callState
	closer io.Closer
	stop   func() bool // stops the context.AfterFunc

	mu        sync.Mutex
	done      bool
	err       error // the error Recv returns once the stream is done (io.EOF on success)
	guards    []StreamGuard
	tools     *toolCallCheck  // nil: tool calls pass unchecked
	modWait   func() error    // parallel moderation: nothing is released before its verdict
	delivered strings.Builder // generated text, to count when no usage arrives
	overflow  int             // bytes past maxDelivered
}

// maxDelivered bounds the text kept for counting a stream without usage;
// past it the rest is counted by its bytes.
const maxDelivered = 1 << 20

// deliver notes generated text. Called with s.mu held.
func (s *streamCore) deliver(text string) {
	if s.delivered.Len()+len(text) <= maxDelivered {
		s.delivered.WriteString(text)
	} else {
		s.overflow += len(text)
	}
}

// chargeUnreported sets the usage of a stream that ended without the
// upstream's usage (cut, closed early): the prompt at its reserved bound and
// the delivered output counted with the model's tokenizer, so that a
// streamed call is never charged zero. Called with s.mu held.
func (s *streamCore) chargeUnreported() {
	if s.st.usageSeen || !s.st.sent {
		return
	}
	out := s.delivered.String()
	n, err := tokens.Count(s.st.call.Model, out)
	if err != nil {
		n = len(out) // a token is at least a byte
	}
	s.st.usage = Usage{InputTokens: s.st.inputBound, OutputTokens: n + s.overflow}
	s.st.decide(StageBudget, "usage_counted_locally", audit.VerdictAllow, "no_usage_from_upstream")
}

// startStream wires a stream that go-openai opened into the client.
func (c *Client) startStream(ctx context.Context, st *callState, closer io.Closer) *streamCore {
	s := &streamCore{c: c, ctx: ctx, st: st, closer: closer, modWait: st.modWait}
	st.call.enter(StageOutput)
	for _, chk := range c.cfg.outputChecks {
		if tc, ok := chk.(toolCallCheck); ok {
			s.tools = &tc
			continue
		}
		if sc, ok := chk.(StreamChecker); ok {
			s.guards = append(s.guards, sc.CheckStream(ctx, &st.call))
		} else {
			s.guards = append(s.guards, &holdAllGuard{ctx: ctx, call: &st.call, check: chk, buf: map[int]*strings.Builder{}})
		}
	}
	c.mu.Lock()
	c.streams[s] = struct{}{}
	c.mu.Unlock()
	s.mu.Lock()
	s.stop = context.AfterFunc(ctx, func() {
		s.finish(&Error{Kind: ErrStreamCut, Stage: StageUpstream, Check: "stream", Reason: "context_done", Err: context.Cause(ctx)})
	})
	s.mu.Unlock()
	return s
}

// finish ends the call once; later calls are no-ops. err nil means the
// stream completed. It closes the upstream body.
func (s *streamCore) finish(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	s.err = err
	if err == nil {
		s.err = io.EOF
	}
	if s.stop != nil {
		s.stop()
	}
	_ = s.closer.Close()
	s.chargeUnreported()
	if e, ok := errors.AsType[*Error](err); ok {
		e.Retries = s.st.retries
		s.st.decide(e.Stage, e.Check, audit.VerdictDeny, e.Reason)
	} else {
		s.st.decide(StageUpstream, "stream", audit.VerdictAllow, "")
		if len(s.guards) > 0 {
			s.st.decide(StageOutput, "stream_guards", audit.VerdictAllow, "")
		}
	}
	s.c.end(s.ctx, s.st, err)
	s.c.mu.Lock()
	delete(s.c.streams, s)
	s.c.mu.Unlock()
}

// close ends the stream from the caller's side (Close, Client.Close).
func (s *streamCore) close() {
	s.finish(&Error{Kind: ErrStreamCut, Stage: StageUpstream, Check: "stream", Reason: "closed_before_end"})
}

// verdict waits, before the first release, for the verdict of a parallel
// moderation check; a flagged input ends the stream with that error.
func (s *streamCore) verdict() error {
	if s.modWait == nil {
		return nil
	}
	wait := s.modWait
	s.modWait = nil
	if err := wait(); err != nil {
		e := asStageError(err, ErrModerationFlagged, StageModeration, "moderation")
		s.finish(e)
		return e
	}
	s.mu.Lock()
	s.st.decide(StageModeration, "moderation_parallel", audit.VerdictAllow, "")
	s.mu.Unlock()
	return nil
}

// finished returns the terminal error when the stream is done.
func (s *streamCore) finished() (error, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err, s.done
}

// guard passes a delta of one channel through every guard in order; with
// last it also ends the channel and appends what the guards held back.
func (s *streamCore) guard(channel int, delta string, last bool) (string, error) {
	for _, g := range s.guards {
		out, err := g.Next(channel, delta)
		if err != nil {
			return "", asStageError(err, ErrOutputBlocked, StageOutput, typeName(g))
		}
		delta = out
	}
	if !last {
		return delta, nil
	}
	// End each guard in order; what an earlier guard releases at its end
	// still passes the later ones.
	for i, g := range s.guards {
		rest, err := g.End(channel)
		if err != nil {
			return "", asStageError(err, ErrOutputBlocked, StageOutput, typeName(g))
		}
		for _, later := range s.guards[i+1:] {
			if rest, err = later.Next(channel, rest); err != nil {
				return "", asStageError(err, ErrOutputBlocked, StageOutput, typeName(later))
			}
		}
		delta += rest
	}
	return delta, nil
}

// recvError maps an error from go-openai's Recv. complete says whether
// the stream had delivered its finish reason and usage.
func (s *streamCore) recvError(err error, complete bool) error {
	if errors.Is(err, io.EOF) && complete {
		return nil
	}
	e := &Error{Kind: ErrStreamCut, Stage: StageUpstream, Check: "stream", Reason: "ended_without_finish_and_usage", Err: err}
	var apiErr *openai.APIError
	switch {
	case errors.As(err, &apiErr):
		e.Kind, e.Reason, e.StatusCode = ErrUpstream, "error_event", apiErr.HTTPStatusCode
		if code, ok := apiErr.Code.(string); ok && isCode(code) {
			e.Reason = code
		}
	case errors.Is(err, io.EOF):
		e.Err = io.ErrUnexpectedEOF
	case s.ctx.Err() != nil:
		e.Reason = "context_done"
	case errors.Is(err, errResponseTooLarge):
		e.Reason = "response_too_large"
	default:
		e.Reason = "read_failed"
	}
	return e
}

// holdAllGuard runs a plain OutputChecker on each channel's whole text at
// its end: the channel releases nothing before that.
type holdAllGuard struct {
	ctx   context.Context
	call  *Call
	check OutputChecker
	buf   map[int]*strings.Builder
}

func (g *holdAllGuard) Next(ch int, delta string) (string, error) {
	b := g.buf[ch]
	if b == nil {
		b = &strings.Builder{}
		g.buf[ch] = b
	}
	b.WriteString(delta)
	return "", nil
}

func (g *holdAllGuard) End(ch int) (string, error) {
	var text string
	if b := g.buf[ch]; b != nil {
		text = b.String()
		delete(g.buf, ch)
	}
	out := Output{Endpoint: g.call.Endpoint, Model: g.call.Model, Fields: []TextField{{Path: "stream[" + itoa(ch) + "]", Role: "assistant", Text: text}}}
	if err := g.check.CheckOutput(g.ctx, g.call, &out); err != nil {
		return "", err
	}
	if len(out.Fields) != 1 {
		return "", refuse(ErrOutputBlocked, StageOutput, "rewrite", "fields_added_or_removed")
	}
	return out.Fields[0].Text, nil
}

// ChatCompletionStream is a chat completion stream returned by
// [Client.CreateChatCompletionStream], in place of go-openai's
// *openai.ChatCompletionStream. It has the same Recv, Close and Header
// methods and no raw-bytes method that would bypass the checks.
//
// Recv returns io.EOF only when the stream completed: every choice sent its
// finish_reason and the usage chunk arrived. A stream that ends earlier
// returns an error matching ErrStreamCut (go-openai reports it as a plain
// io.EOF). A stream is read by one goroutine; Close may be called from any.
type ChatCompletionStream struct {
	core     *streamCore
	inner    *openai.ChatCompletionStream
	seen     map[int]bool // choice index → finished
	usage    bool
	complete bool
	calls    map[int][]heldCall // choice index → tool calls held back
}

// Recv returns the next chunk, after the output guards.
func (s *ChatCompletionStream) Recv() (openai.ChatCompletionStreamResponse, error) {
	if err, done := s.core.finished(); done {
		return openai.ChatCompletionStreamResponse{}, err
	}
	if err := s.core.verdict(); err != nil {
		return openai.ChatCompletionStreamResponse{}, err
	}
	chunk, err := s.inner.Recv()
	if err != nil {
		ferr := s.core.recvError(err, s.complete)
		s.core.finish(ferr)
		if ferr == nil {
			return chunk, io.EOF
		}
		return chunk, ferr
	}
	s.core.mu.Lock()
	if chunk.Usage != nil {
		s.usage = true
		s.core.st.usageSeen = true
		s.core.st.usage = Usage{InputTokens: chunk.Usage.PromptTokens, OutputTokens: chunk.Usage.CompletionTokens}
	}
	if s.core.st.ev.ResponseID == "" {
		s.core.st.ev.ResponseID, s.core.st.ev.ResponseModel = chunk.ID, chunk.Model
	}
	for i := range chunk.Choices {
		ch := &chunk.Choices[i]
		last := ch.FinishReason != "" && ch.FinishReason != openai.FinishReasonNull
		if _, ok := s.seen[ch.Index]; !ok {
			s.seen[ch.Index] = false
		}
		s.core.deliver(ch.Delta.Content)
		s.core.deliver(ch.Delta.Refusal)
		for _, tc := range ch.Delta.ToolCalls {
			s.core.deliver(tc.Function.Arguments)
		}
		if last {
			s.seen[ch.Index] = true
			s.core.st.ev.FinishReasons = append(s.core.st.ev.FinishReasons, string(ch.FinishReason))
		}
	}
	s.complete = s.usage && len(s.seen) > 0
	for _, fin := range s.seen {
		s.complete = s.complete && fin
	}
	s.core.mu.Unlock()
	if len(s.core.guards) == 0 && s.core.tools == nil {
		return chunk, nil
	}
	for i := range chunk.Choices {
		ch := &chunk.Choices[i]
		last := ch.FinishReason != "" && ch.FinishReason != openai.FinishReasonNull
		if len(s.core.guards) > 0 {
			out, gerr := s.core.guard(ch.Index, ch.Delta.Content, last)
			if gerr == nil && (ch.Delta.Refusal != "" || last) {
				ch.Delta.Refusal, gerr = s.core.guard(ch.Index+RefusalChannel, ch.Delta.Refusal, last)
			}
			if gerr != nil {
				s.core.finish(gerr)
				return openai.ChatCompletionStreamResponse{}, gerr
			}
			ch.Delta.Content = out
		}
		if s.core.tools != nil {
			if err := s.holdToolCalls(ch, last); err != nil {
				s.core.finish(err)
				return openai.ChatCompletionStreamResponse{}, err
			}
		}
	}
	return chunk, nil
}

// holdToolCalls keeps the argument deltas of a choice's tool and function
// calls until the choice finishes, then checks each whole call against the
// request's tools and releases the arguments in the last chunk, so that
// the caller never sees arguments that fail the check.
func (s *ChatCompletionStream) holdToolCalls(ch *openai.ChatCompletionStreamChoice, last bool) error {
	if s.calls == nil {
		s.calls = map[int][]heldCall{}
	}
	held := s.calls[ch.Index]
	for j := range ch.Delta.ToolCalls {
		tc := &ch.Delta.ToolCalls[j]
		k := j
		if tc.Index != nil {
			k = *tc.Index
		}
		for len(held) <= k {
			held = append(held, heldCall{})
		}
		if tc.Function.Name != "" {
			held[k].name = tc.Function.Name
		}
		held[k].args.WriteString(tc.Function.Arguments)
		tc.Function.Arguments = ""
	}
	if fc := ch.Delta.FunctionCall; fc != nil {
		if len(held) == 0 {
			held = append(held, heldCall{legacy: true})
		}
		if fc.Name != "" {
			held[0].name = fc.Name
		}
		held[0].args.WriteString(fc.Arguments)
		fc.Arguments = ""
	}
	s.calls[ch.Index] = held
	if !last || len(held) == 0 {
		return nil
	}
	delete(s.calls, ch.Index)
	calls := make([]toolCall, len(held))
	for k := range held {
		calls[k] = toolCall{name: held[k].name, args: held[k].args.String()}
	}
	tools, _ := s.core.st.call.Value(toolsKey{}).(map[string]any)
	if err := s.core.tools.validate(&s.core.st.call, tools, calls); err != nil {
		return asStageError(err, ErrOutputBlocked, StageOutput, "tool_calls")
	}
	if held[0].legacy {
		if ch.Delta.FunctionCall == nil {
			ch.Delta.FunctionCall = &openai.FunctionCall{}
		}
		ch.Delta.FunctionCall.Arguments = calls[0].args
		return nil
	}
	for k := range calls {
		ch.Delta.ToolCalls = append(ch.Delta.ToolCalls, openai.ToolCall{Index: new(k), Type: openai.ToolTypeFunction,
			Function: openai.FunctionCall{Arguments: calls[k].args}})
	}
	return nil
}

// heldCall is a streamed tool call whose arguments are held back.
type heldCall struct {
	name   string
	args   strings.Builder
	legacy bool // a function_call, not a tool call
}

// Close closes the stream. A stream closed before it completed is audited
// as cut; its budget is reconciled with the usage seen. Close is
// idempotent.
func (s *ChatCompletionStream) Close() error {
	s.core.close()
	return nil
}

// Header returns the HTTP response headers of the stream.
func (s *ChatCompletionStream) Header() http.Header { return s.inner.Header() }

// CreateChatCompletionStream is go-openai's CreateChatCompletionStream
// through the pipeline. stream_options.include_usage is forced on, so that
// streamed usage is never lost.
func (c *Client) CreateChatCompletionStream(ctx context.Context, req openai.ChatCompletionRequest) (stream *ChatCompletionStream, err error) {
	st, ctx, err := c.begin(ctx, EndpointChat, req.Model, true) // 1
	if err != nil {
		return nil, err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			c.end(ctx, st, err) // 11, 12 on a failure before the stream exists
		}
	}()
	if err = prepare(ctx, c, chatEndpoint, st, &req); err != nil { // 2–8
		return nil, err
	}
	sctx, light := withChatBody(ctx, &req, true)
	inner, err := c.oai.CreateChatCompletionStream(sctx, light) // 9
	if err != nil {
		if st.modWait != nil {
			if merr := c.moderationVerdict(st); merr != nil {
				return nil, merr
			}
		}
		return nil, c.upstreamError(ctx, st, err)
	}
	handedOff = true // 10–12 now belong to the stream
	return &ChatCompletionStream{core: c.startStream(ctx, st, inner), inner: inner, seen: map[int]bool{}}, nil
}

// ResponseStream is a Responses API stream returned by
// [Client.CreateResponseStream], in place of go-openai's
// *openai.ResponseStream, with the same Recv, Close and Header methods.
//
// Recv returns io.EOF only after a terminal event (response.completed,
// response.failed or response.incomplete); a stream that ends before one
// returns an error matching ErrStreamCut. With output checks configured,
// output_text deltas pass the guards, and the events that repeat the whole
// text (output_text.done, content_part.done, output_item.done,
// response.completed) carry the released text instead of the original.
type ResponseStream struct {
	core     *streamCore
	inner    *openai.ResponseStream
	complete bool
	released map[int]*strings.Builder
	pending  *openai.ResponseStreamEvent
	names    map[string]string // function_call item ID → function name
}

// Recv returns the next event, after the output guards. With the
// tool-call check on, function_call_arguments.delta events are withheld and
// the function_call_arguments.done event, which carries the whole
// arguments, is returned only after they passed the check.
func (s *ResponseStream) Recv() (openai.ResponseStreamEvent, error) {
	for {
		ev, skip, err := s.recv()
		if !skip {
			return ev, err
		}
	}
}

func (s *ResponseStream) recv() (openai.ResponseStreamEvent, bool, error) {
	ev, err := s.recvOne()
	if err != nil || s.core.tools == nil {
		return ev, false, err
	}
	switch ev.Type {
	case openai.ResponseStreamEventOutputItemAdded:
		if ev.Item != nil && ev.Item.Type == "function_call" {
			if s.names == nil {
				s.names = map[string]string{}
			}
			s.names[ev.Item.ID] = ev.Item.Name
		}
	case openai.ResponseStreamEventFunctionArgumentsDelta:
		return ev, true, nil
	case openai.ResponseStreamEventFunctionArgumentsDone:
		tools, _ := s.core.st.call.Value(toolsKey{}).(map[string]any)
		if verr := s.core.tools.validate(&s.core.st.call, tools, []toolCall{{name: s.names[ev.ItemID], args: ev.Arguments}}); verr != nil {
			e := asStageError(verr, ErrOutputBlocked, StageOutput, "tool_calls")
			s.core.finish(e)
			return openai.ResponseStreamEvent{}, false, e
		}
	}
	return ev, false, nil
}

func (s *ResponseStream) recvOne() (openai.ResponseStreamEvent, error) {
	if err := s.core.verdict(); err != nil {
		return openai.ResponseStreamEvent{}, err
	}
	if s.pending != nil {
		ev := *s.pending
		s.pending = nil
		return ev, nil
	}
	if err, done := s.core.finished(); done {
		return openai.ResponseStreamEvent{}, err
	}
	ev, err := s.inner.Recv()
	if err != nil {
		ferr := s.core.recvError(err, s.complete)
		s.core.finish(ferr)
		if ferr == nil {
			return ev, io.EOF
		}
		return ev, ferr
	}
	switch ev.Type {
	case openai.ResponseStreamEventOutputTextDelta, openai.ResponseStreamEventFunctionArgumentsDelta,
		openai.ResponseStreamEventRefusalDelta:
		s.core.mu.Lock()
		s.core.deliver(ev.Delta)
		s.core.mu.Unlock()
	case openai.ResponseStreamEventCompleted, openai.ResponseStreamEventFailed, openai.ResponseStreamEventIncomplete:
		s.complete = true
		if ev.Response != nil {
			s.core.mu.Lock()
			recordResponse(ev.Response, s.core.st)
			s.core.mu.Unlock()
		}
	case openai.ResponseStreamEventCreated:
		if ev.Response != nil {
			s.core.mu.Lock()
			s.core.st.ev.ResponseID = ev.Response.ID
			s.core.mu.Unlock()
		}
	}
	if len(s.core.guards) == 0 {
		return ev, nil
	}
	return s.guardEvent(ev)
}

func (s *ResponseStream) guardEvent(ev openai.ResponseStreamEvent) (openai.ResponseStreamEvent, error) {
	fail := func(err error) (openai.ResponseStreamEvent, error) {
		s.core.finish(err)
		return openai.ResponseStreamEvent{}, err
	}
	switch ev.Type {
	case openai.ResponseStreamEventOutputTextDelta:
		out, err := s.core.guard(ev.OutputIndex, ev.Delta, false)
		if err != nil {
			return fail(err)
		}
		s.text(ev.OutputIndex).WriteString(out)
		ev.Delta = out
	case openai.ResponseStreamEventOutputTextDone:
		rest, err := s.core.guard(ev.OutputIndex, "", true)
		if err != nil {
			return fail(err)
		}
		b := s.text(ev.OutputIndex)
		b.WriteString(rest)
		ev.Text = b.String()
		if rest != "" { // release the held-back text as one more delta first
			done := ev
			done.Raw = marshalRaw(done)
			s.pending = &done
			ev = openai.ResponseStreamEvent{Type: openai.ResponseStreamEventOutputTextDelta, ItemID: ev.ItemID,
				OutputIndex: ev.OutputIndex, ContentIndex: ev.ContentIndex, Delta: rest}
		}
	case openai.ResponseStreamEventContentPartDone:
		if ev.Part != nil && ev.Part.Type == "output_text" {
			p := *ev.Part
			p.Text = s.text(ev.OutputIndex).String()
			ev.Part = &p
		}
	case openai.ResponseStreamEventOutputItemDone:
		if ev.Item != nil {
			item := *ev.Item
			item.Content = append([]openai.ResponseOutputContent(nil), item.Content...)
			for i := range item.Content {
				if item.Content[i].Type == "output_text" {
					item.Content[i].Text = s.text(ev.OutputIndex).String()
				}
			}
			ev.Item = &item
		}
	case openai.ResponseStreamEventCompleted, openai.ResponseStreamEventIncomplete, openai.ResponseStreamEventFailed:
		if ev.Response != nil {
			r := *ev.Response
			r.Output = append([]any(nil), r.Output...)
			for i := range r.Output {
				r.Output[i] = replaceOutputText(r.Output[i], s.text(i).String())
			}
			r.OutputText = ""
			ev.Response = &r
		}
	default:
		return ev, nil
	}
	ev.Raw = marshalRaw(ev)
	return ev, nil
}

func (s *ResponseStream) text(ch int) *strings.Builder {
	if s.released == nil {
		s.released = map[int]*strings.Builder{}
	}
	b := s.released[ch]
	if b == nil {
		b = &strings.Builder{}
		s.released[ch] = b
	}
	return b
}

// replaceOutputText sets the text of the output_text parts of a decoded
// output item.
func replaceOutputText(item any, text string) any {
	m, ok := item.(map[string]any)
	if !ok {
		return item
	}
	parts, ok := m["content"].([]any)
	if !ok {
		return item
	}
	nm := make(map[string]any, len(m))
	for k, v := range m {
		nm[k] = v
	}
	np := make([]any, len(parts))
	for i, p := range parts {
		np[i] = p
		if pm, ok := p.(map[string]any); ok && pm["type"] == "output_text" {
			c := make(map[string]any, len(pm))
			for k, v := range pm {
				c[k] = v
			}
			c["text"] = text
			np[i] = c
		}
	}
	nm["content"] = np
	return nm
}

// marshalRaw re-encodes a rewritten event so that its Raw field does not
// keep the original text.
func marshalRaw(ev openai.ResponseStreamEvent) json.RawMessage {
	ev.Raw = nil
	b, err := json.Marshal(ev)
	if err != nil {
		return nil
	}
	return b
}

// Close closes the stream; see [ChatCompletionStream.Close].
func (s *ResponseStream) Close() error {
	s.core.close()
	return nil
}

// Header returns the HTTP response headers of the stream.
func (s *ResponseStream) Header() http.Header { return s.inner.Header() }

// CreateResponseStream is go-openai's CreateResponseStream through the
// pipeline. store is sent as false unless [AllowStore].
func (c *Client) CreateResponseStream(ctx context.Context, req openai.CreateResponseRequest) (stream *ResponseStream, err error) {
	st, ctx, err := c.begin(ctx, EndpointResponses, req.Model, true) // 1
	if err != nil {
		return nil, err
	}
	handedOff := false
	defer func() {
		if !handedOff {
			c.end(ctx, st, err) // 11, 12 on a failure before the stream exists
		}
	}()
	if err = prepare(ctx, c, responsesEndpoint, st, &req); err != nil { // 2–8
		return nil, err
	}
	inner, err := c.oai.CreateResponseStream(ctx, req) // 9
	if err != nil {
		if st.modWait != nil {
			if merr := c.moderationVerdict(st); merr != nil {
				return nil, merr
			}
		}
		return nil, c.upstreamError(ctx, st, err)
	}
	handedOff = true
	return &ResponseStream{core: c.startStream(ctx, st, inner), inner: inner}, nil
}
