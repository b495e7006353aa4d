package secureaitest

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// A Fault scripts how a [Server] misbehaves for one request; see
// [Server.Enqueue]. The fields combine: Latency applies first, then Reset,
// then Status or EchoRequest; a Fault with only Header, Latency or CutAfter
// set lets the request be answered normally otherwise. The zero Fault changes
// nothing, so Enqueue(Fault{}, Fault{Status: 500}) lets one request through
// and fails the next.
type Fault struct {
	// Status, if not 0, answers with this HTTP status and the OpenAI error
	// envelope the real API sends with it, before any check of the key:
	//   - 400: type "invalid_request_error"
	//   - 401: code "invalid_api_key", or the missing-key error
	//   - 403: code "unsupported_country_region_territory"
	//   - 404: code "model_not_found"
	//   - 408, 409: type "invalid_request_error"
	//   - 429: code "rate_limit_exceeded", type "requests"; the message says
	//     when to retry, from Header's Retry-After-Ms or Retry-After (else 1s)
	//   - 500: type "server_error"
	//   - 503: type "server_error", "That model is currently overloaded..."
	//   - any other: type "server_error" for 5xx, else
	//     "invalid_request_error"
	// Status must be 0 or between 200 and 599.
	Status int

	// Header holds extra response headers, such as Retry-After,
	// Retry-After-Ms or X-Should-Retry. They replace the Server's own headers
	// of the same name, whatever the answer.
	Header http.Header

	// Body, if not empty, replaces the error body sent for a Status other
	// than 0. It is sent as JSON if it is valid JSON, else as plain text.
	Body string

	// Latency delays the answer. The wait ends early, and the connection is
	// dropped without an answer, if the request's context is cancelled or
	// the Server is closed.
	Latency time.Duration

	// Reset drops the connection before any byte of the answer, so that the
	// client sees "connection reset by peer": the socket server hijacks the
	// connection and closes it with SO_LINGER 0; the in-memory transport
	// returns a *net.OpError that wraps syscall.ECONNRESET. With CutAfter,
	// the reset happens after the CutAfter events instead.
	//
	// Go's http.Transport retries a request that fails this way on a reused
	// connection if it has an Idempotency-Key header; the retry takes the
	// next queued fault.
	Reset bool

	// CutAfter, for streamed answers only, sends this many SSE events and
	// then ends the stream early: without the usage chunk and "data: [DONE]"
	// for chat completions, without "response.completed" for responses. The
	// body ends cleanly (the connection is closed after it), so a client
	// reads io.EOF early; with Reset, the connection is reset instead. If the
	// stream has fewer events, it stops just before the usage chunk or
	// "response.completed". CutAfter is ignored for plain answers.
	CutAfter int

	// EchoRequest simulates a broken proxy that reflects the request, so that
	// tests can check no API key or prompt leaks into errors. With Status 0
	// the answer is 200 with truncated JSON (decoding it fails) that contains
	// the raw request body and the values of its Authorization and api-key
	// headers; with another Status, the error body is plain text (not JSON)
	// with the same content, unless Body is set.
	EchoRequest bool
}

// Enqueue queues faults for the next requests, one fault per request, in
// order (first in, first out). Requests that arrive while the queue is empty
// are answered normally. Enqueue panics if a fault's Status is neither 0 nor
// between 200 and 599.
func (s *Server) Enqueue(faults ...Fault) {
	for _, f := range faults {
		if f.Status != 0 && (f.Status < 200 || f.Status > 599) {
			panic("secureaitest: Fault.Status " + strconv.Itoa(f.Status) + " out of range")
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range faults {
		f.Header = f.Header.Clone()
		s.faults = append(s.faults, f)
	}
}

// writeFault answers with the fault's status.
func (c *call) writeFault() {
	f := c.fault
	switch {
	case f.Body != "":
		ct := "application/json; charset=utf-8"
		if !json.Valid([]byte(f.Body)) {
			ct = "text/plain; charset=utf-8"
		}
		c.writeHeader(f.Status, ct, headersNoExtra, 0)
		c.w.Write([]byte(f.Body))
	case f.EchoRequest:
		c.writeHeader(f.Status, "text/plain; charset=utf-8", headersNoExtra, 0)
		c.w.Write([]byte("upstream error " + strconv.Itoa(f.Status) + ": request was\n" + c.echo() + "\n"))
	default:
		c.writeError(f.Status, c.faultError(f.Status))
	}
}

// echo returns the request's credentials and raw body, as a broken proxy
// would show them.
func (c *call) echo() string {
	var b strings.Builder
	for _, name := range []string{"Authorization", "Api-Key"} {
		if v := c.r.Header.Get(name); v != "" {
			b.WriteString(name + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(c.body)
	return b.String()
}

// writeEcho200 answers 200 with JSON that echoes the request and is cut off.
func (c *call) writeEcho200() {
	var b []byte
	b = append(b, `{"object":"proxy.echo","headers":{`...)
	b = append(b, `"authorization":`...)
	b = strconv.AppendQuote(b, c.r.Header.Get("Authorization"))
	b = append(b, `,"api-key":`...)
	b = strconv.AppendQuote(b, c.r.Header.Get("Api-Key"))
	b = append(b, `},"request":`...)
	b = append(b, c.body...)
	b = append(b, `,"choices":[{"index":0,"message":{"role":"assistant","content":"`...)
	// Truncated here: the JSON never ends.
	c.writeHeader(http.StatusOK, "application/json", headersNoExtra, 0)
	c.w.Write(b)
}

// faultError returns the error the real API sends with status.
func (c *call) faultError(status int) apiError {
	switch status {
	case http.StatusBadRequest:
		return apiError{
			Message: "Invalid request: the request was rejected by the server.",
			Type:    "invalid_request_error",
		}
	case http.StatusUnauthorized:
		return unauthorized(requestKey(c.r.Header))
	case http.StatusForbidden:
		return apiError{
			Message: "Country, region, or territory not supported",
			Type:    "request_forbidden",
			Code:    "unsupported_country_region_territory",
		}
	case http.StatusNotFound:
		return apiError{
			Message: "The model `" + c.model() + "` does not exist or you do not have access to it.",
			Type:    "invalid_request_error",
			Code:    "model_not_found",
		}
	case http.StatusRequestTimeout:
		return apiError{
			Message: "Request timed out.",
			Type:    "invalid_request_error",
			Code:    "timeout",
		}
	case http.StatusConflict:
		return apiError{
			Message: "The request conflicts with another request in progress. Please try again.",
			Type:    "invalid_request_error",
			Code:    "conflict",
		}
	case http.StatusTooManyRequests:
		return apiError{
			Message: "Rate limit reached for " + c.model() + " in organization org-secureaitest " +
				"on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in " +
				c.retryAfter() + ". Visit https://platform.openai.com/account/rate-limits to learn more.",
			Type: "requests",
			Code: "rate_limit_exceeded",
		}
	case http.StatusInternalServerError:
		return apiError{
			Message: "The server had an error while processing your request. Sorry about that!",
			Type:    "server_error",
		}
	case http.StatusServiceUnavailable:
		return apiError{
			Message: "That model is currently overloaded with other requests. You can retry your " +
				"request, or contact us through our help center at help.openai.com if the error persists.",
			Type: "server_error",
		}
	}
	e := apiError{Message: http.StatusText(status), Type: "invalid_request_error"}
	if status >= 500 {
		e.Type = "server_error"
	}
	if e.Message == "" {
		e.Message = "HTTP status " + strconv.Itoa(status)
	}
	return e
}

// model returns the model the request names, or "gpt-4o" if none.
func (c *call) model() string {
	var req struct {
		Model string `json:"model"`
	}
	if json.Unmarshal(c.body, &req) != nil || req.Model == "" {
		return "gpt-4o"
	}
	return req.Model
}

// retryAfter formats the wait the fault's headers announce, as OpenAI words
// it in 429 messages ("1.378s", "20ms").
func (c *call) retryAfter() string {
	h := c.fault.Header
	if ms, err := strconv.ParseFloat(h.Get("Retry-After-Ms"), 64); err == nil && ms >= 0 {
		return time.Duration(ms * float64(time.Millisecond)).String()
	}
	if sec, err := strconv.ParseFloat(h.Get("Retry-After"), 64); err == nil && sec >= 0 {
		return time.Duration(sec * float64(time.Second)).String()
	}
	return "1s"
}

// resetter is implemented by the in-memory transport's ResponseWriter.
type resetter interface {
	resetConn()
}

// reset drops the connection so that the client sees a reset.
func (c *call) reset() {
	for w := c.w; w != nil; {
		if r, ok := w.(resetter); ok {
			r.resetConn()
			return
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			break
		}
		w = u.Unwrap()
	}
	conn, _, err := http.NewResponseController(c.w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0) // close sends RST instead of FIN
	}
	conn.Close()
}

// resetError is the error a client sees when the server resets the
// connection.
func resetError(local, remote net.Addr) error {
	return &net.OpError{
		Op:     "read",
		Net:    "tcp",
		Source: local,
		Addr:   remote,
		Err:    os.NewSyscallError("read", syscall.ECONNRESET),
	}
}

// refusedError is the error a client sees when nothing listens any more.
func refusedError(remote net.Addr) error {
	return &net.OpError{
		Op:   "dial",
		Net:  "tcp",
		Addr: remote,
		Err:  os.NewSyscallError("connect", syscall.ECONNREFUSED),
	}
}
