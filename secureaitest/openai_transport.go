package secureaitest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Transport returns an http.RoundTripper that serves requests in memory by
// calling the Server's handler directly, without sockets, for example as
// go-openai's ClientConfig.HTTPClient = &http.Client{Transport: s.Transport()}
// (with BaseURL still set to [Server.URL]). Requests are recorded and faults
// applied as for the socket server.
//
// The handler runs in its own goroutine and the response body is a pipe, so
// streams arrive event by event and the handler can flush (it sees an
// http.Flusher). The goroutine always ends: when the handler returns, when
// the client closes the body early, when the request's context is cancelled,
// or when the Server is closed.
//
// Because it uses no sockets, the Transport works inside a testing/synctest
// bubble, where a [Fault] Latency passes in fake time. Create the Server
// outside the bubble (see [NewServer]); each request made inside the bubble is
// then served by a goroutine of the bubble.
//
// Errors look like those of a real connection: a [Fault] with Reset yields a
// *net.OpError that wraps syscall.ECONNRESET, and after [Server.Close] every
// request fails with one that wraps syscall.ECONNREFUSED.
func (s *Server) Transport() http.RoundTripper {
	return memTransport{s}
}

type memTransport struct{ s *Server }

// memClientAddr returns the address the in-memory client appears to use.
func memClientAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 49152}
}

func (t memTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	s := t.s
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		body = b
	}
	if err := req.Context().Err(); err != nil {
		return nil, err
	}

	// The request as a server sees it.
	ctx, cancel := context.WithCancel(req.Context())
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		cancel()
		return nil, refusedError(s.serverAddr())
	}
	s.inflight++
	s.cancels[ctx] = cancel // Close ends the exchange
	s.mu.Unlock()

	sr := req.Clone(ctx)
	sr.URL = &url.URL{Path: req.URL.Path, RawPath: req.URL.RawPath, RawQuery: req.URL.RawQuery}
	sr.RequestURI = req.URL.RequestURI()
	sr.Host = req.Host
	if sr.Host == "" {
		sr.Host = req.URL.Host
	}
	sr.RemoteAddr = memClientAddr().String()
	sr.Proto, sr.ProtoMajor, sr.ProtoMinor = "HTTP/1.1", 1, 1
	sr.Body = io.NopCloser(bytes.NewReader(body))
	sr.ContentLength = int64(len(body))
	sr.GetBody = nil
	if sr.Header == nil {
		sr.Header = make(http.Header)
	}
	// Headers net/http's transport adds on the wire.
	if _, ok := sr.Header["User-Agent"]; !ok {
		sr.Header.Set("User-Agent", "Go-http-client/1.1")
	}
	if sr.Header.Get("Accept-Encoding") == "" && sr.Header.Get("Range") == "" {
		sr.Header.Set("Accept-Encoding", "gzip")
	}
	if len(body) > 0 || req.Method == http.MethodPost || req.Method == http.MethodPut || req.Method == http.MethodPatch {
		sr.Header.Set("Content-Length", strconv.Itoa(len(body)))
	}

	pr, pw := io.Pipe()
	w := &memWriter{
		header: make(http.Header),
		ready:  make(chan struct{}),
		pw:     pw,
		local:  memClientAddr(),
		remote: s.serverAddr(),
	}
	// Unblock the handler's writes once the request ends for any reason.
	stop := context.AfterFunc(ctx, func() { pw.CloseWithError(context.Cause(ctx)) })

	go func() {
		defer func() {
			v := recover()
			stop()
			end := io.EOF
			switch {
			case req.Context().Err() != nil:
				// As with a real connection, a cancelled request's body
				// reports the cancellation, not a clean end.
				end = context.Cause(req.Context())
			case v != nil:
				end = io.ErrUnexpectedEOF
			}
			w.finish(end)
			cancel()
			s.mu.Lock()
			delete(s.cancels, ctx)
			s.inflight--
			s.idle.Broadcast()
			s.mu.Unlock()
			if v != nil && v != http.ErrAbortHandler {
				panic(v)
			}
		}()
		s.handler.ServeHTTP(w, sr)
	}()

	select {
	case <-w.ready:
	case <-req.Context().Done():
		return nil, context.Cause(req.Context())
	}
	if w.err != nil {
		return nil, w.err
	}
	resp := &http.Response{
		Status:        strconv.Itoa(w.status) + " " + http.StatusText(w.status),
		StatusCode:    w.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        w.sent,
		Body:          &memBody{pr: pr, cancel: cancel},
		ContentLength: -1,
		Request:       req,
	}
	if n, err := strconv.ParseInt(w.sent.Get("Content-Length"), 10, 64); err == nil {
		resp.ContentLength = n
	}
	// Like net/http's client, keep "Connection: close" out of the header.
	if strings.EqualFold(w.sent.Get("Connection"), "close") {
		resp.Close = true
		resp.Header.Del("Connection")
	}
	return resp, nil
}

// memWriter is the http.ResponseWriter of the in-memory transport. Only the
// handler's goroutine calls its methods; RoundTrip reads status, sent and err
// after ready is closed.
type memWriter struct {
	header http.Header
	pw     *io.PipeWriter
	ready  chan struct{} // closed when the head is committed or failed
	local  net.Addr
	remote net.Addr

	committed bool
	status    int
	sent      http.Header // header as committed
	err       error       // set instead of a response, before ready closes
}

func (w *memWriter) Header() http.Header { return w.header }

func (w *memWriter) WriteHeader(code int) {
	if w.committed {
		return
	}
	if code < 100 || code > 999 {
		panic("secureaitest: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 {
		return // informational: not passed on
	}
	w.committed = true
	w.status = code
	w.sent = w.header.Clone()
	close(w.ready)
}

func (w *memWriter) Write(p []byte) (int, error) {
	if !w.committed {
		if w.header.Get("Content-Type") == "" {
			w.header.Set("Content-Type", http.DetectContentType(p))
		}
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	return w.pw.Write(p)
}

// Flush commits the head; writes to the pipe need no flushing, as each one
// waits for the client to read it.
func (w *memWriter) Flush() {
	if !w.committed {
		w.WriteHeader(http.StatusOK)
	}
}

// resetConn makes the client see a connection reset.
func (w *memWriter) resetConn() {
	err := resetError(w.local, w.remote)
	if !w.committed {
		w.fail(err)
	}
	w.pw.CloseWithError(err)
}

// finish ends the response body with err (io.EOF for a clean end). Before a
// head was committed, it commits 200 for a clean end and otherwise fails the
// round trip: with io.EOF for an aborted handler, as when a server closes a
// connection without answering, or with err.
func (w *memWriter) finish(err error) {
	if !w.committed {
		switch err {
		case io.EOF:
			w.WriteHeader(http.StatusOK)
		case io.ErrUnexpectedEOF:
			w.fail(io.EOF)
		default:
			w.fail(err)
		}
	}
	w.pw.CloseWithError(err)
}

// fail makes the round trip return err instead of a response.
func (w *memWriter) fail(err error) {
	w.committed = true
	w.err = err
	close(w.ready)
}

// memBody is the response body of the in-memory transport.
type memBody struct {
	pr     *io.PipeReader
	cancel context.CancelFunc
}

func (b *memBody) Read(p []byte) (int, error) { return b.pr.Read(p) }

// Close ends the exchange, as closing a connection would: the handler's
// context is cancelled and its writes fail.
func (b *memBody) Close() error {
	b.pr.CloseWithError(bodyClosedError{})
	b.cancel()
	return nil
}

type bodyClosedError struct{}

func (bodyClosedError) Error() string { return "http: read on closed response body" }
