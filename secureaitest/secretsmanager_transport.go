package secureaitest

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"syscall"
	"time"
)

// smServer is what the Secrets Manager and Vault fakes share: a loopback
// httptest server, an in-memory transport to the same handler, and a Close
// that ends hanging requests and waits for every handler.
type smServer struct {
	ts      *httptest.Server
	handler http.Handler // counts in-flight requests, then serves

	mu       sync.Mutex
	idle     sync.Cond // L is &mu; signalled when inflight drops
	inflight int
	closed   bool
	cancels  map[*context.CancelFunc]bool // of requests in progress: Close ends them
}

// start starts the socket server for h.
func (s *smServer) start(h http.Handler) {
	s.idle.L = &s.mu
	s.cancels = make(map[*context.CancelFunc]bool)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// A context of the request's own, which Close cancels: waits
		// select on it alone, so that inside a testing/synctest bubble
		// they block durably.
		ctx, cancel := context.WithCancel(r.Context())
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			cancel()
			panic(http.ErrAbortHandler)
		}
		s.inflight++
		s.cancels[&cancel] = true
		s.mu.Unlock()
		defer func() {
			cancel()
			s.mu.Lock()
			delete(s.cancels, &cancel)
			s.inflight--
			s.idle.Broadcast()
			s.mu.Unlock()
		}()
		h.ServeHTTP(w, r.WithContext(ctx))
	})
	s.ts = httptest.NewServer(s.handler)
}

// close ends hanging requests, closes the listener and waits for every
// handler, also those called through the in-memory transport.
func (s *smServer) close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	for cancel := range s.cancels {
		(*cancel)()
	}
	s.mu.Unlock()
	s.ts.CloseClientConnections()
	s.ts.Close()
	s.mu.Lock()
	for s.inflight > 0 {
		s.idle.Wait()
	}
	s.mu.Unlock()
}

func (s *smServer) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// smWait blocks for d (forever if d is negative), or until ctx (a request's
// context, which Close cancels) ends; it reports whether the whole d
// passed.
func smWait(ctx context.Context, d time.Duration) bool {
	var after <-chan time.Time
	if d >= 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		after = t.C
	}
	select {
	case <-after:
		return true
	case <-ctx.Done():
	}
	return false
}

// smRoundTripper serves requests in memory by calling the server's handler
// in the caller's goroutine, without sockets, so that it works inside a
// testing/synctest bubble. The answers are small JSON documents, so no
// streaming is needed.
type smRoundTripper struct{ s *smServer }

func (t smRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
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
	if t.s.isClosed() {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Addr: t.s.ts.Listener.Addr(),
			Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}
	}
	sr := httptest.NewRequestWithContext(req.Context(), req.Method, req.URL.RequestURI(), bytes.NewReader(body))
	sr.Header = req.Header.Clone()
	sr.Host = req.URL.Host
	sr.RemoteAddr = "127.0.0.1:49153"
	rec := httptest.NewRecorder()
	aborted := func() (aborted bool) {
		defer func() {
			if v := recover(); v != nil {
				if v != http.ErrAbortHandler {
					panic(v)
				}
				aborted = true
			}
		}()
		t.s.handler.ServeHTTP(rec, sr)
		return false
	}()
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	if aborted {
		return nil, io.ErrUnexpectedEOF
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}
