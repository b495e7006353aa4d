package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// WebhookOptions configures a [Webhook]. The zero value uses the defaults.
type WebhookOptions struct {
	// Timeout bounds each request, response included. Default 5s.
	Timeout time.Duration
	// Transport sends the requests. Default [http.DefaultTransport]; tests
	// inject an in-memory one.
	Transport http.RoundTripper
	// Header is added to every request, for example an Authorization
	// header. Its values never appear in errors.
	Header http.Header
	// AllowHTTP allows a plain http:// URL to a host that is not loopback.
	// By default only https:// is accepted, or http:// to loopback.
	AllowHTTP bool
}

// Webhook is an [Alerter] that POSTs each alert as JSON (the encoding of
// [Event.MarshalJSON]) to a URL. It sends the event only: an event holds no
// prompt, answer or key, so neither does the request. A response with a
// status other than 2xx is an error. Errors name the URL without its query
// or credentials, and hold no header value and no response body.
//
// A Webhook is safe for concurrent use. The zero Webhook is not usable; use
// [NewWebhook].
type Webhook struct {
	url    string
	safe   string // the URL for errors: scheme, host and path
	client http.Client
	header http.Header
}

// NewWebhook returns a Webhook posting to rawURL. It returns an error if the
// URL is not absolute, or is plain http:// to a host that is not loopback
// and opts.AllowHTTP is not set.
func NewWebhook(rawURL string, opts WebhookOptions) (*Webhook, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		return nil, errors.New("audit: webhook: URL must be absolute http(s)")
	}
	if u.Scheme == "http" && !opts.AllowHTTP && !isLoopback(u.Hostname()) {
		return nil, fmt.Errorf("audit: webhook: plain http to %s refused; use https or set AllowHTTP", u.Hostname())
	}
	if opts.Timeout < 0 {
		return nil, errors.New("audit: webhook: negative Timeout")
	}
	if opts.Timeout == 0 {
		opts.Timeout = 5 * time.Second
	}
	t := opts.Transport
	if t == nil {
		t = http.DefaultTransport
	}
	return &Webhook{
		url:  rawURL,
		safe: (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String(),
		client: http.Client{Transport: t, Timeout: opts.Timeout,
			// A redirect could carry the alert elsewhere: refuse it.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		header: opts.Header.Clone(),
	}, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Alert POSTs e as JSON and returns an error for a failed request or a
// status other than 2xx.
func (w *Webhook) Alert(ctx context.Context, e Event) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.url, bytes.NewReader(e.AppendJSON(make([]byte, 0, 512))))
	if err != nil {
		return fmt.Errorf("audit: webhook %s: %w", w.safe, err)
	}
	for k, vs := range w.header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "secureai-audit")
	resp, err := w.client.Do(req)
	if err != nil {
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // *url.Error repeats the full URL, query included
		}
		return fmt.Errorf("audit: webhook %s: %w", w.safe, err)
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("audit: webhook %s: status %d", w.safe, resp.StatusCode)
	}
	return nil
}
