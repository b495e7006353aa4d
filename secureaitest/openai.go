package secureaitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// DefaultReply is the assistant text a [Server] answers with until
// [Server.SetReply] changes it.
const DefaultReply = "Hello from the fake OpenAI server."

// maxRequestBody bounds the request bodies the fake reads and records.
const maxRequestBody = 32 << 20

// A Server is a fake OpenAI API server for tests. It speaks the wire format
// of four endpoints of the real API: POST /v1/chat/completions,
// POST /v1/responses, POST /v1/embeddings and POST /v1/moderations, plain and
// (for the first two) streamed as server-sent events. Every request must carry
// an API key, in an "Authorization: Bearer" header or in the Azure "api-key"
// header; any key is accepted unless [Server.RejectKey] rejects it. Any other
// path gets a 404 with an OpenAI error envelope.
//
// The Server records every request it receives (see [Server.Requests]) and
// can be scripted to misbehave, one request at a time (see [Server.Enqueue]
// and [Fault]).
//
// Answers are deterministic, but for timestamps and for ids, which are unique
// within a Server. The assistant text is
// set by [Server.SetReply] and streamed word by word. Token counts are
// estimates: a prompt counts ceil(bytes/4) tokens, plus 3 per message or
// input item; a reply counts one token per word and per choice. A max_tokens
// or max_completion_tokens (chat) or max_output_tokens (responses) smaller
// than the reply cuts it to that many words, with finish reason "length" or
// status "incomplete". Embeddings are unit vectors derived from a hash of the
// input ([DefaultEmbeddingDimensions] long unless the request sets
// "dimensions"). Moderation flags what [Server.FlagWords] says. Requests are
// validated as far as the real API is known to reject them (for example a
// missing model or messages, n out of 1..128, max_output_tokens below 16), with
// its error messages.
//
// A Server is reachable in two ways: over a loopback TCP socket at
// [Server.URL], and in memory through [Server.Transport], which needs no
// socket and so also works inside a testing/synctest bubble.
//
// The zero value is not usable: create a Server with [NewServer] or
// [StartServer]. A Server is safe for concurrent use by multiple goroutines.
type Server struct {
	ts      *httptest.Server
	handler http.Handler // serveHTTP: records, applies faults, then routes
	mux     *http.ServeMux
	seq     atomic.Uint64 // source of ids

	mu        sync.Mutex
	idle      sync.Cond                              // L is &mu; signalled when inflight drops
	inflight  int                                    // requests served through Transport, not yet ended
	cancels   map[context.Context]context.CancelFunc // of requests in progress
	closed    bool
	requests  []Request
	faults    []Fault
	reply     string
	chunks    []string                   // SetReplyChunks: the reply's stream deltas, as given
	toolCall  *toolReply                 // SetToolCall: answer with a tool call
	replyFunc func(body []byte) []string // SetReplyFunc
	rejected  map[string]bool
	flagWords []string
}

// NewServer starts a fake OpenAI server on a loopback address
// (127.0.0.1, port chosen by the system) and registers t.Cleanup to close it
// when the test ends.
//
// To use the Server through [Server.Transport] inside a testing/synctest
// bubble, call NewServer outside the bubble: the listener's goroutine blocks
// in network I/O, which would stop the bubble's fake clock.
func NewServer(t testing.TB) *Server {
	t.Helper()
	s := StartServer()
	t.Cleanup(s.Close)
	return s
}

// StartServer starts a fake OpenAI server like [NewServer] but without a
// testing.TB, for examples and programs (for instance a quickstart that embeds
// the fake). The caller must call [Server.Close] when done with it.
// StartServer panics if it cannot listen on a loopback address.
func StartServer() *Server {
	s := &Server{
		reply:    DefaultReply,
		rejected: make(map[string]bool),
		cancels:  make(map[context.Context]context.CancelFunc),
	}
	s.idle.L = &s.mu
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("POST /v1/chat/completions", withCall((*call).chatCompletions))
	s.mux.HandleFunc("POST /v1/responses", withCall((*call).responses))
	s.mux.HandleFunc("POST /v1/embeddings", withCall((*call).embeddings))
	s.mux.HandleFunc("POST /v1/moderations", withCall((*call).moderations))
	s.mux.HandleFunc("/", withCall((*call).notFound))
	s.handler = http.HandlerFunc(s.serveHTTP)
	s.ts = httptest.NewServer(s.handler)
	return s
}

// URL returns the base URL of the API, to be used as go-openai's
// ClientConfig.BaseURL, for example "http://127.0.0.1:40123/v1".
// It has no trailing slash.
func (s *Server) URL() string {
	return s.ts.URL + "/v1"
}

// Handler returns the handler behind the Server. It records requests and
// applies faults like the Server itself, so it can also be mounted on another
// server or called with an httptest.ResponseRecorder. To reset a connection
// (a [Fault] with Reset) it hijacks it, which needs an HTTP/1
// ResponseWriter; otherwise, and to drop a request that ends during a Fault's
// Latency, it panics with http.ErrAbortHandler, as net/http handlers do to
// abort a response.
func (s *Server) Handler() http.Handler {
	return s.handler
}

// Close shuts the Server down: it ends requests still in progress (their
// contexts are cancelled), closes the listener and waits until every handler,
// also those started through [Server.Transport], has returned. After Close,
// the Transport refuses new requests with a "connection refused" error.
// Close may be called more than once.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for _, cancel := range s.cancels {
		cancel()
	}
	s.mu.Unlock()

	// Handlers blocked writing to a client that does not read end when
	// their connection closes.
	s.ts.CloseClientConnections()
	s.ts.Close()

	s.mu.Lock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

// Requests returns copies of the requests the Server has received since it
// started or since the last [Server.Reset], in the order they arrived.
// Requests answered with a fault are included.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Request, len(s.requests))
	for i, r := range s.requests {
		out[i] = r.clone()
	}
	return out
}

// Reset forgets the recorded requests and the queued faults. It keeps the
// reply text, the rejected keys and the flagged words.
func (s *Server) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = nil
	s.faults = nil
}

// SetReply sets the assistant text that chat completions and responses
// answer with (by default [DefaultReply]). The text is sent word by word when
// streamed; an empty text is allowed.
func (s *Server) SetReply(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply, s.chunks, s.toolCall, s.replyFunc = text, nil, nil, nil
}

// SetReplyFunc makes chat completions answer with the chunks f returns for
// the request's JSON body, as [Server.SetReplyChunks] does: a model that
// repeats, say, the end of its system prompt, to test leak checks. f is
// called on the Server's goroutine for each request and must be safe for
// concurrent use. SetReply or SetReplyChunks ends it.
func (s *Server) SetReplyFunc(f func(body []byte) []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.replyFunc, s.toolCall = f, nil
}

// SetReplyChunks sets the assistant text as the given stream deltas: a
// streamed chat completion sends one content chunk per element, in order,
// so that a test can split a text where it wants (a secret across two
// chunks); a plain answer is their concatenation. Each chunk counts as one
// completion token.
func (s *Server) SetReplyChunks(chunks ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reply, s.chunks, s.toolCall, s.replyFunc = strings.Join(chunks, ""), slices.Clone(chunks), nil, nil
}

// SetToolCall makes chat completions answer with one call of the function
// name with arguments (finish_reason "tool_calls", content null) in place
// of text; streamed, the arguments arrive in three deltas after a first
// delta with the call's ID and name. SetReply or SetReplyChunks ends it.
func (s *Server) SetToolCall(name, arguments string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.toolCall = &toolReply{name: name, args: arguments}
}

type toolReply struct{ name, args string }

// answer returns what chat completions answer with now, for a request
// with body.
func (s *Server) answer(body []byte) (words []string, chunked bool, tc *toolReply) {
	s.mu.Lock()
	f := s.replyFunc
	s.mu.Unlock()
	if f != nil {
		return f(body), true, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.toolCall != nil {
		t := *s.toolCall
		return nil, false, &t
	}
	if s.chunks != nil {
		return slices.Clone(s.chunks), true, nil
	}
	return splitWords(s.reply), false, nil
}

// RejectKey makes the Server answer every request that bears key with
// 401 Unauthorized and the error OpenAI sends for an invalid key (code
// "invalid_api_key"), in which the key appears masked the way OpenAI masks it:
// its first 8 and last 4 characters, with "*" in between. Keys of 12 bytes or
// fewer appear in full, as they do in OpenAI's answers. An empty key is
// ignored: a request without a key is always rejected.
func (s *Server) RejectKey(key string) {
	if key == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejected[key] = true
}

// FlagWords adds words that make the moderation endpoint flag an input: an
// input that contains one of them (case-insensitively, as a whole word or
// phrase) is flagged for "harassment" and "violence" with high scores. Other
// inputs are not flagged. Empty words are ignored.
func (s *Server) FlagWords(words ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, w := range words {
		if w = strings.ToLower(strings.TrimSpace(w)); w != "" {
			s.flagWords = append(s.flagWords, w)
		}
	}
}

// A Request is a request as the [Server] received it.
type Request struct {
	Method string
	Path   string // for example "/v1/chat/completions"
	Query  url.Values
	// Header holds the request headers as received, Authorization included,
	// so that tests can check which key left the process.
	Header http.Header
	Body   []byte
}

// JSON decodes the request body as a JSON object, with numbers as
// json.Number. It returns an error if the body is not a single JSON value.
func (r Request) JSON() (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("secureaitest: request body has data after its JSON value")
	}
	return m, nil
}

// BearerKey returns the API key the request carried: the token of an
// "Authorization: Bearer" header or, without one, the value of the Azure
// "api-key" header. It returns "" if the request carried neither.
func (r Request) BearerKey() string {
	return requestKey(r.Header)
}

func (r Request) clone() Request {
	r.Query = cloneValues(r.Query)
	r.Header = r.Header.Clone()
	r.Body = bytes.Clone(r.Body)
	return r
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

func requestKey(h http.Header) string {
	if a := h.Get("Authorization"); a != "" {
		scheme, token, ok := strings.Cut(strings.TrimSpace(a), " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			if token = strings.TrimSpace(token); token != "" {
				return token
			}
		}
	}
	return strings.TrimSpace(h.Get("Api-Key"))
}

// maskKey masks key the way OpenAI does in "Incorrect API key provided".
func maskKey(key string) string {
	if len(key) <= 12 {
		return key
	}
	return key[:8] + strings.Repeat("*", len(key)-12) + key[len(key)-4:]
}

// A call is one request being answered.
type call struct {
	s     *Server
	w     http.ResponseWriter
	r     *http.Request
	body  []byte
	fault Fault
	start time.Time
	reqID string
}

type callKey struct{}

// withCall adapts a method of call to the ServeMux.
func withCall(h func(*call)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(r.Context().Value(callKey{}).(*call))
	}
}

// serveHTTP is the Server's handler: it records the request, takes the next
// fault, and answers.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	body, readErr := io.ReadAll(io.LimitReader(r.Body, maxRequestBody+1))
	if readErr == nil && len(body) > maxRequestBody {
		readErr = errors.New("request body too large")
		body = body[:maxRequestBody]
	}

	ctx, cancel := context.WithCancel(r.Context())
	defer cancel()
	c := &call{s: s, w: w, body: body, start: start, reqID: "req_" + s.hexID(32)}

	s.mu.Lock()
	s.requests = append(s.requests, Request{
		Method: r.Method,
		Path:   r.URL.Path,
		Query:  r.URL.Query(),
		Header: r.Header.Clone(),
		Body:   bytes.Clone(body),
	})
	if len(s.faults) > 0 {
		c.fault = s.faults[0]
		s.faults = s.faults[1:]
	}
	if s.closed {
		cancel()
	} else {
		s.cancels[ctx] = cancel
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.cancels, ctx)
		s.mu.Unlock()
	}()

	r = r.WithContext(context.WithValue(ctx, callKey{}, c))
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	c.r = r

	f := &c.fault
	if f.Latency > 0 && !c.sleep(f.Latency) {
		// The client gave up or the Server is closing: drop the connection.
		panic(http.ErrAbortHandler)
	}
	if f.Reset && f.CutAfter <= 0 {
		c.reset()
		return
	}
	switch {
	case f.Status != 0:
		c.writeFault()
		return
	case f.EchoRequest:
		c.writeEcho200()
		return
	case readErr != nil:
		c.writeError(http.StatusBadRequest, apiError{
			Message: "The request body could not be read: " + readErr.Error() + ".",
			Type:    "invalid_request_error",
		})
		return
	}
	if !c.authorized() {
		return
	}
	s.mux.ServeHTTP(w, r)
}

// sleep waits for d, or until the request ends. It reports whether the
// whole duration passed.
func (c *call) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-c.r.Context().Done():
		return false
	}
}

// authorized checks the request's key and answers 401 if it is missing or
// rejected.
func (c *call) authorized() bool {
	key := requestKey(c.r.Header)
	c.s.mu.Lock()
	rejected := key == "" || c.s.rejected[key]
	c.s.mu.Unlock()
	if rejected {
		c.writeError(http.StatusUnauthorized, unauthorized(key))
	}
	return !rejected
}

// unauthorized returns the error OpenAI sends for a missing key ("") or an
// invalid one.
func unauthorized(key string) apiError {
	if key == "" {
		return apiError{
			Message: "You didn't provide an API key. You need to provide your API key in an " +
				"Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), " +
				"or as the password field (with blank username) if you're accessing the API " +
				"from your browser and are prompted for a username. You can obtain an API key " +
				"from https://platform.openai.com/account/api-keys.",
			Type: "invalid_request_error",
		}
	}
	return apiError{
		Message: "Incorrect API key provided: " + maskKey(key) +
			". You can find your API key at https://platform.openai.com/account/api-keys.",
		Type: "invalid_request_error",
		Code: "invalid_api_key",
	}
}

func (c *call) notFound() {
	c.writeError(http.StatusNotFound, apiError{
		Message: "Invalid URL (" + c.r.Method + " " + c.r.URL.Path + ")",
		Type:    "invalid_request_error",
	})
}

// The kinds of header sets, as the real API sends them.
const (
	headersOK      = iota // 200: rate-limit headers
	headersError          // most errors: no rate-limit headers
	headersGateway        // 401, 404: not even openai-version
	headersNoExtra        // fault bodies and echoes: only x-request-id
)

// writeHeader sets the response headers the real API sends, then the fault's
// extra headers, and writes the status line. tokens feeds
// x-ratelimit-remaining-tokens.
func (c *call) writeHeader(status int, contentType string, kind, tokens int) {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	h.Set("X-Request-Id", c.reqID)
	switch kind {
	case headersOK, headersError:
		h.Set("Openai-Version", "2020-10-01")
		h.Set("Openai-Processing-Ms", strconv.FormatInt(time.Since(c.start).Milliseconds(), 10))
	case headersGateway:
		h.Set("Vary", "Origin")
	}
	if kind == headersOK {
		const limitTokens = 50000000
		h.Set("X-Ratelimit-Limit-Requests", "10000")
		h.Set("X-Ratelimit-Limit-Tokens", strconv.Itoa(limitTokens))
		h.Set("X-Ratelimit-Remaining-Requests", "9999")
		h.Set("X-Ratelimit-Remaining-Tokens", strconv.Itoa(limitTokens-min(tokens, limitTokens)))
		h.Set("X-Ratelimit-Reset-Requests", "6ms")
		h.Set("X-Ratelimit-Reset-Tokens", "0s")
	}
	for k, vs := range c.fault.Header {
		h[textproto.CanonicalMIMEHeaderKey(k)] = slices.Clone(vs)
	}
	c.w.WriteHeader(status)
}

// writeJSON answers 200 with v, indented as the real API indents it.
func (c *call) writeJSON(v any, tokens int) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic("secureaitest: " + err.Error()) // all our types marshal
	}
	c.writeHeader(http.StatusOK, "application/json", headersOK, tokens)
	c.w.Write(append(b, '\n'))
}

// apiError is the "error" object of OpenAI's error envelope. Empty Param and
// Code are sent as null.
type apiError struct {
	Message string
	Type    string
	Param   string
	Code    string
}

type wireError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (e apiError) envelope() []byte {
	b, err := json.MarshalIndent(struct {
		Error wireError `json:"error"`
	}{wireError{e.Message, e.Type, nullable(e.Param), nullable(e.Code)}}, "", "    ")
	if err != nil {
		panic("secureaitest: " + err.Error())
	}
	return append(b, '\n')
}

// writeError answers status with the OpenAI error envelope of e, with the
// headers the recordings show: 401 and 404 come from OpenAI's gateway
// (charset, "Vary: Origin", no openai-* headers), other errors from the API
// behind it, whose Responses endpoint sends no charset.
func (c *call) writeError(status int, e apiError) {
	ct, kind := "application/json; charset=utf-8", headersError
	switch {
	case status == http.StatusUnauthorized || status == http.StatusNotFound:
		kind = headersGateway
	case c.r.URL.Path == "/v1/responses":
		ct = "application/json"
	}
	c.writeHeader(status, ct, kind, 0)
	c.w.Write(e.envelope())
}

// decode parses the JSON request body into v, answering 400 as the real API
// does if it cannot. It reports whether v was filled.
func (c *call) decode(v any) bool {
	body := bytes.TrimSpace(c.body)
	if len(body) == 0 || body[0] != '{' || !json.Valid(body) {
		c.writeError(http.StatusBadRequest, apiError{
			Message: "We could not parse the JSON body of your request. (HINT: This likely means " +
				"you aren't using your HTTP library correctly. The OpenAI API expects a JSON " +
				"payload, but what was sent was not valid JSON. If you have trouble figuring out " +
				"how to fix this, please contact us through our help center at help.openai.com.)",
			Type: "invalid_request_error",
		})
		return false
	}
	if err := json.Unmarshal(body, v); err != nil {
		e := apiError{Message: "Invalid request body.", Type: "invalid_request_error", Code: "invalid_type"}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			e.Param = te.Field
			e.Message = "Invalid type for '" + te.Field + "': expected " + wireType(te.Type.Kind().String()) +
				", but got " + te.Value + " instead."
		}
		c.writeError(http.StatusBadRequest, e)
		return false
	}
	return true
}

func wireType(kind string) string {
	switch {
	case strings.HasPrefix(kind, "int"), strings.HasPrefix(kind, "uint"):
		return "an integer"
	case strings.HasPrefix(kind, "float"):
		return "a decimal"
	case kind == "bool":
		return "a boolean"
	case kind == "string":
		return "a string"
	case kind == "slice", kind == "array":
		return "an array"
	default:
		return "an object"
	}
}

// checkInt answers 400 for an integer parameter out of range, as the real
// API does. It reports whether v was within [lo, hi].
func (c *call) checkInt(param string, v *int, lo, hi int) bool {
	if v == nil {
		return true
	}
	var e apiError
	switch {
	case *v < lo:
		e = apiError{
			Message: "Invalid '" + param + "': integer below minimum value. Expected a value >= " +
				strconv.Itoa(lo) + ", but got " + strconv.Itoa(*v) + " instead.",
			Code: "integer_below_min_value",
		}
	case *v > hi:
		e = apiError{
			Message: "Invalid '" + param + "': integer above maximum value. Expected a value <= " +
				strconv.Itoa(hi) + ", but got " + strconv.Itoa(*v) + " instead.",
			Code: "integer_above_max_value",
		}
	default:
		return true
	}
	e.Type, e.Param = "invalid_request_error", param
	c.writeError(http.StatusBadRequest, e)
	return false
}

func (c *call) missing(param string) {
	c.writeError(http.StatusBadRequest, apiError{
		Message: "Missing required parameter: '" + param + "'.",
		Type:    "invalid_request_error",
		Param:   param,
		Code:    "missing_required_parameter",
	})
}

// snapshot returns the reply and flagged words under the lock.
func (s *Server) snapshot() (reply string, flagWords []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reply, slices.Clone(s.flagWords)
}

// hexID returns n lowercase hex digits, different for every call on s.
func (s *Server) hexID(n int) string {
	return hex.EncodeToString(s.idBytes((n + 1) / 2))[:n]
}

const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// alnumID returns n letters and digits, different for every call on s.
func (s *Server) alnumID(n int) string {
	b := s.idBytes(n)
	for i := range b {
		b[i] = alnum[int(b[i])%len(alnum)]
	}
	return string(b)
}

// idBytes returns n pseudo-random bytes derived from a per-Server counter, so
// that ids are unique within a Server and the same from run to run.
func (s *Server) idBytes(n int) []byte {
	seq := s.seq.Add(1)
	out := make([]byte, 0, n+sha256.Size)
	var block [16]byte
	binary.BigEndian.PutUint64(block[:8], seq)
	for i := uint64(0); len(out) < n; i++ {
		binary.BigEndian.PutUint64(block[8:], i)
		sum := sha256.Sum256(block[:])
		out = append(out, sum[:]...)
	}
	return out[:n]
}

// splitWords splits text into the pieces the fake streams: each piece is a
// word with the white space before it, and white space at the end goes with
// the last piece, so that the pieces joined give text back.
func splitWords(text string) []string {
	var words []string
	start := 0
	for i := 1; i < len(text); i++ {
		if isSpace(text[i]) && !isSpace(text[i-1]) {
			words = append(words, text[start:i])
			start = i
		}
	}
	if start < len(text) {
		last := text[start:]
		if strings.TrimSpace(last) == "" && len(words) > 0 {
			words[len(words)-1] += last
		} else {
			words = append(words, last)
		}
	}
	return words
}

func isSpace(b byte) bool {
	return b == ' ' || b == '\t' || b == '\n' || b == '\r' || b == '\v' || b == '\f'
}

// estimateTokens is the fake's deterministic token count for text of n bytes.
func estimateTokens(n int) int {
	return (n + 3) / 4
}

// serverAddr returns the address of the Server's listener.
func (s *Server) serverAddr() net.Addr {
	return s.ts.Listener.Addr()
}
