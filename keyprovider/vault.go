package keyprovider

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/secureai-go/secureai/keyprovider/internal/safe"
)

// Defaults of [VaultOptions] and [VaultRef].
const (
	DefaultVaultMount   = "secret"
	DefaultVaultField   = "api_key"
	DefaultAppRoleMount = "approle"
	defaultVaultTimeout = 30 * time.Second
	maxVaultResponse    = 1 << 20
)

// VaultRef names the Vault KV version 2 secret that holds a scope's key.
type VaultRef struct {
	// Mount is the path where the KV v2 engine is mounted; empty means
	// [DefaultVaultMount] ("secret").
	Mount string

	// Path is the secret's path within the mount, for example
	// "openai/prod/hr". Required. Segments "." and ".." are refused.
	Path string

	// Field is the key of the secret's data that holds the API key; empty
	// means [DefaultVaultField] ("api_key").
	Field string

	// Version, if not zero, reads that version of the secret instead of
	// the latest, for example to verify a new version before relying on
	// it, or to pin one.
	Version int
}

func (s VaultRef) mount() string {
	if s.Mount == "" {
		return DefaultVaultMount
	}
	return strings.Trim(s.Mount, "/")
}

func (s VaultRef) field() string {
	if s.Field == "" {
		return DefaultVaultField
	}
	return s.Field
}

// ref names s in errors and Info: "mount/path#field", with "@vN" for a
// pinned version.
func (s VaultRef) ref() string {
	r := s.mount() + "/" + strings.Trim(s.Path, "/") + "#" + s.field()
	if s.Version != 0 {
		r += "@v" + strconv.Itoa(s.Version)
	}
	return r
}

// VaultAppRole holds the credentials of a Vault AppRole login.
type VaultAppRole struct {
	// Mount is the path where the AppRole auth method is mounted; empty
	// means [DefaultAppRoleMount] ("approle").
	Mount string

	RoleID   Secret
	SecretID Secret
}

// VaultOptions configures a [VaultProvider]. Exactly one of Token and
// AppRole must be set.
type VaultOptions struct {
	// Address is the Vault server's base URL, such as
	// "https://vault.example.com:8200". Required. Plain http is allowed
	// only to a loopback address, unless InsecureHTTP is set.
	Address string

	// Namespace, if not empty, is sent as the X-Vault-Namespace header
	// (Vault Enterprise, HCP Vault).
	Namespace string

	// Token is a Vault token to read with (token auth). If Vault rejects
	// it, Key fails: a token cannot log in again.
	Token Secret

	// AppRole, if not nil, logs in with AppRole and reads with the token
	// it returns. The provider logs in again when the token reaches 80%
	// of its lease, and once when Vault rejects it (HTTP 403).
	AppRole *VaultAppRole

	// Secrets maps a scope to the secret that holds its key; ok false
	// means that the scope has no key, and Key fails with a [*ScopeError]
	// (never another scope's key). [ScopeMap] makes one from a map. It
	// must be safe for concurrent use. Required.
	Secrets func(Scope) (secret VaultRef, ok bool)

	// HTTPClient sends the requests. Nil means a client of the provider's
	// own with a 30 s timeout, TLS 1.2 or later and no proxy (secureai
	// reads no environment); Close closes its idle connections. Redirects
	// to another host are refused in any case, so that the token is not
	// sent there.
	HTTPClient *http.Client

	// InsecureHTTP allows a plain-http Address that is not a loopback
	// address. The token and the AppRole credentials then cross the
	// network in clear.
	InsecureHTTP bool
}

// VaultProvider is a [Provider] that reads keys from HashiCorp Vault's KV
// version 2 secrets engine, one secret per scope, with token or AppRole
// authentication. Create it with [Vault].
//
// It reads the secret on every Key call: put it behind a [Cache]. It
// implements [InfoProvider] (Info.Version is the KV version number). It
// speaks Vault's HTTP API directly (GET /v1/{mount}/data/{path}, POST
// /v1/auth/{mount}/login), without a Vault client library.
//
// Errors are [*FetchError] values with Vault's HTTP status and error
// messages; they never hold the token, the AppRole credentials or the
// response body.
//
// The zero value is not usable. A VaultProvider is safe for concurrent use.
// If it created its own HTTP client, [VaultProvider.Close] closes that
// client's idle connections.
type VaultProvider struct {
	base      string // scheme://host[:port][/prefix], no trailing slash
	namespace string
	client    *http.Client
	ownClient bool
	secrets   func(Scope) (VaultRef, bool)
	static    Secret        // token auth
	approle   *VaultAppRole // AppRole auth

	token atomic.Pointer[vaultToken] // AppRole's current token
	login chan struct{}              // one login at a time; a lock that honours ctx
}

type vaultToken struct {
	secret  Secret
	renewAt time.Time // zero: no expiry
}

// Vault returns a Provider that reads keys from Vault as o says. It checks
// o and returns an error if it is incomplete or unsafe; it does not contact
// Vault.
func Vault(o VaultOptions) (*VaultProvider, error) {
	if o.Secrets == nil {
		return nil, errors.New("keyprovider: vault: VaultOptions.Secrets is nil")
	}
	switch {
	case o.Token.IsZero() && o.AppRole == nil:
		return nil, errors.New("keyprovider: vault: set VaultOptions.Token or VaultOptions.AppRole")
	case !o.Token.IsZero() && o.AppRole != nil:
		return nil, errors.New("keyprovider: vault: set only one of VaultOptions.Token and VaultOptions.AppRole")
	case o.AppRole != nil && (o.AppRole.RoleID.IsZero() || o.AppRole.SecretID.IsZero()):
		return nil, errors.New("keyprovider: vault: AppRole needs a RoleID and a SecretID")
	}
	u, err := url.Parse(o.Address)
	if err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("keyprovider: vault: Address must be an http(s) URL with a host and no user, query or fragment")
	}
	if u.Scheme == "http" && !o.InsecureHTTP && !isLoopback(u.Hostname()) {
		return nil, errors.New("keyprovider: vault: plain http to a non-loopback address " + u.Host + " (use https, or set InsecureHTTP)")
	}
	p := &VaultProvider{
		base:      strings.TrimSuffix(u.String(), "/"),
		namespace: o.Namespace,
		secrets:   o.Secrets,
		static:    o.Token,
		login:     make(chan struct{}, 1),
	}
	if o.AppRole != nil {
		ar := *o.AppRole
		p.approle = &ar
	}
	if o.HTTPClient != nil {
		c := *o.HTTPClient
		p.client = &c
	} else {
		p.client = &http.Client{
			Timeout: defaultVaultTimeout,
			Transport: &http.Transport{
				Proxy:               nil,
				TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
				TLSHandshakeTimeout: 10 * time.Second,
				MaxIdleConnsPerHost: 4,
				IdleConnTimeout:     90 * time.Second,
			},
		}
		p.ownClient = true
	}
	host := u.Host
	p.client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != host || len(via) >= 3 {
			return http.ErrUseLastResponse
		}
		return nil
	}
	return p, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// secret returns the secret of scope, checked.
func (p *VaultProvider) secret(scope Scope) (VaultRef, error) {
	if p == nil || p.client == nil {
		return VaultRef{}, errors.New("keyprovider: VaultProvider not created by Vault")
	}
	s, ok := p.secrets(scope)
	if !ok {
		return VaultRef{}, &ScopeError{Scope: scope}
	}
	if !cleanPath(s.Path) || !cleanPath(s.mount()) || s.Version < 0 {
		return VaultRef{}, &FetchError{Provider: "vault", Ref: s.ref(), Reason: ReasonMalformed,
			Detail: "mount and path must be non-empty, without empty, \".\" or \"..\" segments, and the version not negative"}
	}
	return s, nil
}

// cleanPath reports whether p is a non-empty relative path of non-empty
// segments other than "." and "..".
func cleanPath(p string) bool {
	p = strings.Trim(p, "/")
	if p == "" {
		return false
	}
	for seg := range strings.SplitSeq(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

// escapePath escapes each segment of p.
func escapePath(p string) string {
	segs := strings.Split(strings.Trim(p, "/"), "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// Key returns the key of scope, read from Vault.
func (p *VaultProvider) Key(ctx context.Context, scope Scope) (Secret, error) {
	k, _, err := p.KeyInfo(ctx, scope)
	return k, err
}

// KeyInfo is Key that also returns the key's [Info]: Source is
// "vault:<mount>/<path>#<field>" and Version the KV version number.
func (p *VaultProvider) KeyInfo(ctx context.Context, scope Scope) (Secret, Info, error) {
	s, err := p.secret(scope)
	if err != nil {
		return Secret{}, Info{}, err
	}
	u := p.base + "/v1/" + escapePath(s.mount()) + "/data/" + escapePath(s.Path)
	if s.Version != 0 {
		u += "?version=" + strconv.Itoa(s.Version)
	}
	for attempt := 0; ; attempt++ {
		tok, err := p.currentToken(ctx, s)
		if err != nil {
			return Secret{}, Info{}, err
		}
		status, body, err := p.do(ctx, http.MethodGet, u, tok.secret, nil)
		if err != nil {
			return Secret{}, Info{}, p.transportError(ctx, s.ref(), err)
		}
		if status == http.StatusForbidden && p.approle != nil && attempt == 0 {
			// The token expired early or was revoked: log in once more.
			clear(body)
			p.token.CompareAndSwap(tok, nil)
			continue
		}
		defer clear(body)
		if status != http.StatusOK {
			return Secret{}, Info{}, p.statusError(s.ref(), status, body)
		}
		return p.parseKV(s, body)
	}
}

// parseKV returns the key from a KV v2 read response.
func (p *VaultProvider) parseKV(s VaultRef, body []byte) (Secret, Info, error) {
	var resp struct {
		Data *struct {
			Data     map[string]json.RawMessage `json:"data"`
			Metadata struct {
				Version      int    `json:"version"`
				DeletionTime string `json:"deletion_time"`
				Destroyed    bool   `json:"destroyed"`
			} `json:"metadata"`
		} `json:"data"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Data == nil {
		return Secret{}, Info{}, &FetchError{Provider: "vault", Ref: s.ref(), Reason: ReasonMalformed,
			Detail: fmt.Sprintf("response (%d bytes) is not a KV v2 read response", len(body))}
	}
	defer clearRaw(resp.Data.Data)
	md := resp.Data.Metadata
	if resp.Data.Data == nil {
		fe := &FetchError{Provider: "vault", Ref: s.ref(), Reason: ReasonNotFound, Err: ErrNoKey, Detail: "version has no data"}
		if md.Destroyed || md.DeletionTime != "" {
			fe.Detail = "version " + strconv.Itoa(md.Version) + " is deleted"
		}
		return Secret{}, Info{}, fe
	}
	raw, fe := fieldKey(resp.Data.Data, s.field())
	if fe == nil {
		var key Secret
		if key, fe = secretOf(raw); fe == nil {
			return key, Info{
				Source:    "vault:" + s.mount() + "/" + strings.Trim(s.Path, "/") + "#" + s.field(),
				Version:   strconv.Itoa(md.Version),
				FetchedAt: time.Now(),
			}, nil
		}
	}
	fe.Provider, fe.Ref = "vault", s.ref()
	return Secret{}, Info{}, fe
}

// currentToken returns the token to read with, logging in with AppRole
// when there is none or it is due.
func (p *VaultProvider) currentToken(ctx context.Context, s VaultRef) (*vaultToken, error) {
	if p.approle == nil {
		return &vaultToken{secret: p.static}, nil
	}
	if t := p.token.Load(); t != nil && (t.renewAt.IsZero() || time.Now().Before(t.renewAt)) {
		return t, nil
	}
	select {
	case p.login <- struct{}{}:
	case <-ctx.Done():
		c := safe.ContextCause(nil, ctx.Err())
		return nil, &FetchError{Provider: "vault", Ref: "auth/" + p.approleMount() + "/login",
			Reason: contextReason(c), Err: c}
	}
	defer func() { <-p.login }()
	if t := p.token.Load(); t != nil && (t.renewAt.IsZero() || time.Now().Before(t.renewAt)) {
		return t, nil // another caller logged in meanwhile
	}
	t, err := p.appRoleLogin(ctx)
	if err != nil {
		return nil, err
	}
	p.token.Store(t)
	return t, nil
}

func (p *VaultProvider) approleMount() string {
	if p.approle.Mount == "" {
		return DefaultAppRoleMount
	}
	return strings.Trim(p.approle.Mount, "/")
}

// appRoleLogin logs in with AppRole and returns the token.
func (p *VaultProvider) appRoleLogin(ctx context.Context) (*vaultToken, error) {
	ref := "auth/" + p.approleMount() + "/login"
	roleID, secretID := p.approle.RoleID.Reveal(), p.approle.SecretID.Reveal()
	body, _ := json.Marshal(struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}{roleID, secretID})
	defer clear(body)
	start := time.Now()
	status, resp, err := p.do(ctx, http.MethodPost, p.base+"/v1/auth/"+escapePath(p.approleMount())+"/login", Secret{}, body)
	defer clear(resp)
	if err != nil {
		return nil, p.transportError(ctx, ref, err)
	}
	if status != http.StatusOK {
		fe := p.statusError(ref, status, resp)
		if fe.Reason == ReasonMalformed || fe.Reason == ReasonNotFound {
			fe.Reason, fe.Err = ReasonDenied, nil // Vault answers a bad role or secret ID with 400
		}
		fe.Detail = scrub(fe.Detail, roleID, secretID)
		return nil, fe
	}
	var r struct {
		Auth *struct {
			ClientToken   json.RawMessage `json:"client_token"`
			LeaseDuration int64           `json:"lease_duration"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(resp, &r); err != nil || r.Auth == nil {
		return nil, &FetchError{Provider: "vault", Ref: ref, Reason: ReasonMalformed,
			Detail: fmt.Sprintf("response (%d bytes) is not a login response", len(resp))}
	}
	raw, fe := fieldKey(map[string]json.RawMessage{"client_token": r.Auth.ClientToken}, "client_token")
	clear(r.Auth.ClientToken)
	if fe != nil {
		fe.Provider, fe.Ref = "vault", ref
		return nil, fe
	}
	tok, fe := secretOf(raw)
	if fe != nil {
		fe.Provider, fe.Ref = "vault", ref
		return nil, fe
	}
	t := &vaultToken{secret: tok}
	if r.Auth.LeaseDuration > 0 {
		lease := time.Duration(r.Auth.LeaseDuration) * time.Second
		t.renewAt = start.Add(lease * 8 / 10)
	}
	return t, nil
}

// scrub replaces every occurrence of the secrets in s.
func scrub(s string, secrets ...string) string {
	for _, v := range secrets {
		if v != "" {
			s = strings.ReplaceAll(s, v, "[REDACTED]")
		}
	}
	return s
}

// do sends one request and returns the status and the body (at most
// maxVaultResponse bytes).
func (p *VaultProvider) do(ctx context.Context, method, u string, token Secret, body []byte) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("X-Vault-Request", "true")
	if !token.IsZero() {
		req.Header.Set("X-Vault-Token", token.Reveal())
	}
	if p.namespace != "" {
		req.Header.Set("X-Vault-Namespace", p.namespace)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxVaultResponse))
	if err != nil {
		clear(b)
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// transportError reduces an error of http.Client.Do to a FetchError: the
// *url.Error's text holds the URL, which is fine, but a wrapped error may
// not be, so only its class and a net.OpError's text are kept.
func (p *VaultProvider) transportError(ctx context.Context, ref string, err error) *FetchError {
	fe := &FetchError{Provider: "vault", Ref: ref, Reason: ReasonUnavailable}
	if c := safe.ContextCause(err, ctx.Err()); c != nil {
		fe.Reason, fe.Err = contextReason(c), c
		return fe
	}
	var te interface{ Timeout() bool }
	if errors.As(err, &te) && te.Timeout() {
		fe.Reason, fe.Err = ReasonTimeout, context.DeadlineExceeded
		return fe
	}
	if ne, ok := errors.AsType[*net.OpError](err); ok {
		fe.Detail = safe.Text(ne.Error())
		return fe
	}
	fe.Detail = fmt.Sprintf("request failed (%T)", safe.Innermost(err))
	return fe
}

// statusError returns the FetchError of a non-200 answer.
func (p *VaultProvider) statusError(ref string, status int, body []byte) *FetchError {
	fe := &FetchError{Provider: "vault", Ref: ref, Code: strconv.Itoa(status)}
	var r struct {
		Errors []string `json:"errors"`
	}
	if json.Unmarshal(body, &r) == nil && len(r.Errors) > 0 {
		fe.Detail = safe.Text(strings.Join(r.Errors, "; "))
	}
	switch {
	case status == http.StatusNotFound:
		fe.Reason, fe.Err = ReasonNotFound, ErrNoKey
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		fe.Reason = ReasonDenied
	case status == http.StatusBadRequest:
		fe.Reason = ReasonMalformed
	case status >= 300 && status < 400:
		fe.Reason = ReasonUnavailable
		fe.Detail = safe.Join("redirect not followed", fe.Detail)
	default: // 429, 5xx (503: sealed or standby)
		fe.Reason = ReasonUnavailable
	}
	return fe
}

// Close closes the idle connections of the HTTP client the provider
// created, if it did. It does not block.
func (p *VaultProvider) Close(ctx context.Context) error {
	if p != nil && p.ownClient {
		p.client.CloseIdleConnections()
	}
	return nil
}

// String returns "keyprovider.Vault(<address>)".
func (p *VaultProvider) String() string {
	if p == nil {
		return "keyprovider.Vault()"
	}
	return "keyprovider.Vault(" + p.base + ")"
}

// GoString returns the same as [VaultProvider.String].
func (p *VaultProvider) GoString() string { return p.String() }
