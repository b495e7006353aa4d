package secureai

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/keyprovider"
)

// The HTTP layer below go-openai. go-openai hands its HTTPDoer nothing but
// the *http.Request, so the per-call state (the key of the moment, its scope,
// the retry count, the last status and Retry-After) travels in the request's
// context as an unexported *callState: that is how RetryAfter reaches the
// typed error although go-openai's APIError carries no headers. The key is
// injected here, on a clone of the request, for each attempt; it is never
// stored in the go-openai configuration, so a rotated key needs no client
// rebuild.

type stateKey struct{}

func stateFrom(ctx context.Context) *callState {
	st, _ := ctx.Value(stateKey{}).(*callState)
	return st
}

// httpLayer is the client's openai.HTTPDoer: egress rules, key injection,
// retries and the response size bound, over an *http.Client that refuses
// cross-host redirects.
type httpLayer struct {
	base    string // the base URL's host
	client  *http.Client
	egress  map[string]bool
	keys    keyprovider.Provider
	azure   bool
	retry   RetryPolicy
	maxBody int64
}

var errNoCallState = errors.New("secureai: request sent outside a pipeline call")

func newHTTPLayer(c *config, base http.RoundTripper, baseHost string) *httpLayer {
	h := &httpLayer{
		base:    strings.ToLower(baseHost),
		egress:  map[string]bool{strings.ToLower(baseHost): true},
		keys:    c.keys,
		azure:   c.apiType == openai.APITypeAzure,
		retry:   c.retry,
		maxBody: c.maxResponseBytes,
	}
	for _, e := range c.egressHosts {
		h.egress[e] = true
	}
	h.client = &http.Client{
		Transport: base,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return refuse(ErrEgressDenied, StageUpstream, "redirect", "too_many_redirects")
			}
			if req.URL.Host != via[0].URL.Host {
				return refuse(ErrEgressDenied, StageUpstream, "redirect", "cross_host_redirect")
			}
			return h.checkEgress(req.URL)
		},
	}
	return h
}

// newTransport builds the hardened default transport.
func newTransport(c *config) *http.Transport {
	t := c.timeouts
	var proxy func(*http.Request) (*url.URL, error)
	if c.proxy != nil {
		proxy = http.ProxyURL(c.proxy)
	}
	return &http.Transport{
		Proxy:                 proxy, // never from the environment
		DialContext:           (&net.Dialer{Timeout: t.Dial, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12}, // system roots, verification on
		TLSHandshakeTimeout:   t.TLSHandshake,
		ResponseHeaderTimeout: t.ResponseHeader,
		IdleConnTimeout:       t.IdleConn,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   64,
	}
}

// isLoopback reports whether host (without port) is a loopback name or
// address.
func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// checkEgress applies the egress rules to a URL: https, or http to loopback
// only; host on the allowlist.
func (h *httpLayer) checkEgress(u *url.URL) error {
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return refuse(ErrEgressDenied, StageUpstream, "egress", "plaintext_to_non_loopback")
		}
	default:
		return refuse(ErrEgressDenied, StageUpstream, "egress", "scheme_not_allowed")
	}
	if u.User != nil {
		return refuse(ErrEgressDenied, StageUpstream, "egress", "userinfo_in_url")
	}
	host := strings.ToLower(u.Host)
	if !h.egress[host] && !h.egress[strings.ToLower(u.Hostname())] {
		return refuse(ErrEgressDenied, StageUpstream, "egress", "host_not_allowed")
	}
	return nil
}

// Do sends req with the call's key, retrying as the policy says; every
// response body that is not returned is closed. It is go-openai's
// HTTPDoer: go-openai builds req for this one call and drops it after, so
// Do sets the key header on req itself, which spares a request and a
// header map per call. RoundTrip is the same for an http.Client (the
// moderation checker's), by the http.RoundTripper rules: req is not
// modified, each attempt sends a clone.
// A chat request's messages, which the pipeline encodes itself, are put
// into the body here (see chatBody).
func (h *httpLayer) Do(req *http.Request) (*http.Response, error) {
	if cb := chatBodyFrom(req.Context()); cb != nil {
		if _, err := cb.apply(req); err != nil {
			return nil, err
		}
	}
	return h.do(req, false)
}

// RoundTrip is Do for an http.Client, with a clone of req for each
// attempt: see Do.
func (h *httpLayer) RoundTrip(req *http.Request) (*http.Response, error) { return h.do(req, true) }

// do is Do, with a clone of req for each attempt when clone is set.
func (h *httpLayer) do(req *http.Request, clone bool) (*http.Response, error) {
	ctx := req.Context()
	st := stateFrom(ctx)
	if st == nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, errNoCallState
	}
	if err := h.checkEgress(req.URL); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	start := st.call.Start // now, from the monotonic clock alone when the call has a start
	if start.IsZero() {
		start = time.Now()
	} else {
		start = start.Add(time.Since(start))
	}
	refreshed := false
	for attempt := 0; ; attempt++ {
		r, err := h.attemptRequest(req, st.key, attempt, clone)
		if err != nil {
			return nil, err
		}
		st.sent = true
		resp, err := h.client.Do(r)
		if err != nil {
			if !retryableErr(ctx, err) || req.GetBody == nil {
				return nil, err
			}
			wait, ok := h.nextWait(ctx, st, start, 0)
			if !ok {
				return nil, err
			}
			if werr := sleep(ctx, wait); werr != nil {
				return nil, err
			}
			st.retries++
			continue
		}
		st.status = resp.StatusCode
		st.retryAfter = 0
		if resp.StatusCode == http.StatusUnauthorized && !refreshed && req.GetBody != nil {
			refreshed = true
			if key, ok := h.refreshKey(ctx, st); ok {
				discard(resp)
				st.key = key
				st.keyRefreshed = true
				st.retries++
				continue
			}
		}
		if resp.StatusCode >= 400 {
			ra, hasRA := retryAfter(resp.Header, time.Now())
			st.retryAfter = ra
			if shouldRetry(resp) && req.GetBody != nil {
				if hasRA && ra > h.retry.MaxRetryAfter {
					return h.limit(resp), nil // too long to wait here: the caller sees RetryAfter
				}
				if wait, ok := h.nextWait(ctx, st, start, ra); ok {
					discard(resp)
					if err := sleep(ctx, wait); err != nil {
						return nil, err
					}
					st.retries++
					continue
				}
			}
		}
		return h.limit(resp), nil
	}
}

// attemptRequest returns the request of one attempt, with a fresh body
// after the first and the key: req itself, or when clone is set a clone of
// it. The clone is shallow but for its header map, which is new and
// shares the original's value slices: the key header is set on the clone
// only (Set and Del replace a map entry, never write into a value slice),
// and nothing below rewrites the URL or the other fields of a request it
// is given.
func (h *httpLayer) attemptRequest(req *http.Request, key keyprovider.Secret, attempt int, clone bool) (*http.Request, error) {
	r := req
	if clone {
		r = new(http.Request)
		*r = *req
		r.Header = make(http.Header, len(req.Header)+1)
		for k, v := range req.Header {
			r.Header[k] = v
		}
	}
	if attempt > 0 {
		body, err := req.GetBody()
		if err != nil {
			return nil, err
		}
		r.Body = body
	}
	switch {
	case key.IsToken(): // an Entra ID (OAuth) token: bearer, on Azure too
		r.Header.Del(openai.AzureAPIKeyHeader)
		r.Header.Set("Authorization", "Bearer "+key.Reveal())
	case h.azure:
		r.Header.Del("Authorization")
		r.Header.Set(openai.AzureAPIKeyHeader, key.Reveal())
	default:
		r.Header.Set("Authorization", "Bearer "+key.Reveal())
	}
	return r, nil
}

// refreshKey asks the provider to drop the rejected key and fetches a new
// one. It fails when the provider cannot refresh (a static key) or returns
// the same key.
func (h *httpLayer) refreshKey(ctx context.Context, st *callState) (keyprovider.Secret, bool) {
	inv, ok := h.keys.(keyprovider.Invalidator)
	if !ok {
		return keyprovider.Secret{}, false
	}
	if err := inv.Invalidate(ctx, st.scope, st.key); err != nil {
		return keyprovider.Secret{}, false
	}
	key, err := h.keys.Key(ctx, st.scope)
	if err != nil || key.IsZero() || key.Equal(st.key) {
		return keyprovider.Secret{}, false
	}
	return key, true
}

// nextWait returns how long to wait before the next retry, or false when no
// retry may happen: retries exhausted, or the wait would end past
// MaxElapsed or the context's deadline.
func (h *httpLayer) nextWait(ctx context.Context, st *callState, start time.Time, serverWait time.Duration) (time.Duration, bool) {
	p := h.retry
	if st.retries >= p.MaxRetries+boolInt(st.keyRefreshed) {
		return 0, false
	}
	wait := serverWait
	if wait <= 0 {
		ceiling := p.BaseDelay << min(st.retries, 30)
		if ceiling <= 0 || ceiling > p.MaxDelay {
			ceiling = p.MaxDelay
		}
		wait = rand.N(ceiling + 1) // full jitter
	}
	end := time.Now().Add(wait)
	if end.Sub(start) > p.MaxElapsed {
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && end.After(dl) {
		return 0, false
	}
	return wait, true
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// shouldRetry decides on a failed status: x-should-retry first (except for
// 400, 403 and 404, which are never retried), then 408, 409, 429 and 5xx.
func shouldRetry(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusBadRequest, http.StatusForbidden, http.StatusNotFound:
		return false
	}
	switch resp.Header.Get("x-should-retry") {
	case "true":
		return true
	case "false":
		return false
	}
	switch s := resp.StatusCode; {
	case s == http.StatusRequestTimeout, s == http.StatusConflict, s == http.StatusTooManyRequests, s >= 500:
		return true
	}
	return false
}

// retryableErr reports whether a transport error may be retried: a failure
// before any response byte (reset, refused, closed connection, timeout),
// but not a cancelled context, an egress refusal or a certificate error.
func retryableErr(ctx context.Context, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	if _, ok := errors.AsType[*Error](err); ok {
		return false
	}
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	if errors.As(err, &certErr) || errors.As(err, &unknownAuth) || errors.As(err, &hostErr) {
		return false
	}
	return true
}

// retryAfter reads Retry-After-Ms, then Retry-After (seconds or HTTP date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	if v := h.Get("Retry-After-Ms"); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			return time.Duration(ms * float64(time.Millisecond)), true
		}
	}
	v := h.Get("Retry-After")
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// discard drains a little of a body we do not return and closes it, so the
// connection can be reused.
func discard(resp *http.Response) {
	_, _ = io.CopyN(io.Discard, resp.Body, 64<<10)
	resp.Body.Close()
}

// errResponseTooLarge ends a response body read past the size bound.
var errResponseTooLarge = errors.New("secureai: response body exceeds the size limit")

func (h *httpLayer) limit(resp *http.Response) *http.Response {
	resp.Body = &limitedBody{rc: resp.Body, left: h.maxBody}
	return resp
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errResponseTooLarge
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
