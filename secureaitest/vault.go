package secureaitest

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Vault is a fake of HashiCorp Vault for tests. It speaks two endpoints of
// Vault's HTTP API with the real shapes: the KV version 2 read
// (GET /v1/{mount}/data/{path}, with ?version=N) and the AppRole login
// (POST /v1/auth/{mount}/login with {"role_id", "secret_id"}), and answers
// errors as Vault does: {"errors": [...]} with 400 (bad login), 403
// (missing, unknown, expired or revoked token; a path the token may not
// read; another namespace) or 404 (no such secret or version).
//
// Reads must carry an X-Vault-Token header that the fake knows: one added
// with [Vault.AddToken] or returned by an AppRole login of a role added
// with [Vault.AddAppRole]. Tokens expire after their TTL. Once
// [Vault.SetNamespace] is called, every request must carry that
// X-Vault-Namespace header. Secrets have versions ([Vault.PutKV]). Faults
// are scripted one request at a time ([Vault.FailNext]), and
// [Vault.Fetches] and [Vault.Logins] count requests.
//
// The zero value is not usable: create it with [NewVault] or
// [StartVault]. A Vault is safe for concurrent use.
type Vault struct {
	srv smServer

	// guarded by srv.mu
	namespace string
	kv        map[string]*vaultKV // by "mount/path"
	tokens    map[string]*vaultToken
	roles     map[string]*vaultRole // by role_id
	faults    []VaultFault
	fetches   map[string]int
	logins    int
	seq       int
}

type vaultKV struct {
	versions []*vaultKVVersion // version i+1 at index i
}

type vaultKVVersion struct {
	data    map[string]any
	created time.Time
	deleted time.Time
}

type vaultToken struct {
	expires time.Time // zero: never
	paths   []string  // "mount/path" prefixes it may read; nil: all
}

type vaultRole struct {
	secretID string
	ttl      time.Duration
	paths    []string
}

// VaultFault scripts how the fake answers one request, in place of the
// real answer. See [Vault.FailNext].
type VaultFault struct {
	// Endpoint, if not empty, limits the fault to "kv" reads or "login"
	// requests; other requests pass it by.
	Endpoint string

	// Status is the HTTP status to answer with, such as 503 (sealed) or
	// 500; 0 means no error (Latency only).
	Status int

	// Errors are the messages of the {"errors": [...]} body; nil means
	// one fitting the status.
	Errors []string

	// Latency delays the answer by this long; the request ends early if
	// its context ends.
	Latency time.Duration

	// Hang makes the request wait until its context ends or the fake is
	// closed, and then fail without an answer.
	Hang bool
}

// NewVault starts a fake Vault on a loopback address and registers
// t.Cleanup to close it.
func NewVault(t testing.TB) *Vault {
	t.Helper()
	v := StartVault()
	t.Cleanup(v.Close)
	return v
}

// StartVault starts a fake Vault like [NewVault], without a testing.TB, for
// examples and programs. The caller must call [Vault.Close].
func StartVault() *Vault {
	v := &Vault{
		kv:      make(map[string]*vaultKV),
		tokens:  make(map[string]*vaultToken),
		roles:   make(map[string]*vaultRole),
		fetches: make(map[string]int),
	}
	v.srv.start(http.HandlerFunc(v.serveHTTP))
	return v
}

// URL returns the fake's address, for the Vault client's address, such as
// "http://127.0.0.1:40123".
func (v *Vault) URL() string { return v.srv.ts.URL }

// Transport returns an http.RoundTripper that serves requests in memory,
// without sockets (see [SecretsManager.Transport]).
func (v *Vault) Transport() http.RoundTripper { return smRoundTripper{&v.srv} }

// Close shuts the fake down: hanging requests end, and Close waits for
// every handler to return. It may be called more than once.
func (v *Vault) Close() { v.srv.close() }

// SetNamespace makes every request need the header X-Vault-Namespace: ns;
// "" lifts the requirement.
func (v *Vault) SetNamespace(ns string) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	v.namespace = ns
}

// PutKV writes a new version of the KV v2 secret at mount/path with data,
// and returns its version number (1 for the first).
func (v *Vault) PutKV(mount, path string, data map[string]any) int {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	k := vaultPath(mount, path)
	s := v.kv[k]
	if s == nil {
		s = &vaultKV{}
		v.kv[k] = s
	}
	s.versions = append(s.versions, &vaultKVVersion{data: data, created: time.Now()})
	return len(s.versions)
}

// DeleteKV soft-deletes the version of the secret at mount/path (0: the
// latest), so that reading it answers 404, as in Vault.
func (v *Vault) DeleteKV(mount, path string, version int) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	s := v.kv[vaultPath(mount, path)]
	if s == nil || len(s.versions) == 0 {
		return
	}
	if version == 0 {
		version = len(s.versions)
	}
	if version <= len(s.versions) {
		s.versions[version-1].deleted = time.Now()
	}
}

// AddToken makes token valid for ttl (0: no expiry), for reading the
// secrets under the given "mount/path" prefixes (none: all).
func (v *Vault) AddToken(token string, ttl time.Duration, paths ...string) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	t := &vaultToken{paths: paths}
	if ttl > 0 {
		t.expires = time.Now().Add(ttl)
	}
	v.tokens[token] = t
}

// RevokeToken makes token invalid.
func (v *Vault) RevokeToken(token string) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	delete(v.tokens, token)
}

// RevokeAllTokens makes every token invalid, those of AppRole logins
// included.
func (v *Vault) RevokeAllTokens() {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	clear(v.tokens)
}

// AddAppRole adds an AppRole role: a login with roleID and secretID gets a
// token valid for ttl (0: no expiry) for reading the secrets under the
// given "mount/path" prefixes (none: all).
func (v *Vault) AddAppRole(roleID, secretID string, ttl time.Duration, paths ...string) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	v.roles[roleID] = &vaultRole{secretID: secretID, ttl: ttl, paths: paths}
}

// FailNext makes the next n requests that f applies to (see
// [VaultFault.Endpoint]) answer with f.
func (v *Vault) FailNext(n int, f VaultFault) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	for range n {
		v.faults = append(v.faults, f)
	}
}

// Fetches returns how many KV reads of mount/path the fake received,
// failed ones included.
func (v *Vault) Fetches(mount, path string) int {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	return v.fetches[vaultPath(mount, path)]
}

// Logins returns how many AppRole login requests the fake received, failed
// ones included.
func (v *Vault) Logins() int {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	return v.logins
}

func vaultPath(mount, path string) string {
	return strings.Trim(mount, "/") + "/" + strings.Trim(path, "/")
}

func (v *Vault) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/v1/")
	if !ok {
		writeVaultError(w, http.StatusNotFound)
		return
	}
	var endpoint, mount, path string
	switch {
	case r.Method == http.MethodPost && strings.HasPrefix(rest, "auth/") && strings.HasSuffix(rest, "/login"):
		endpoint = "login"
	case r.Method == http.MethodGet && strings.Contains(rest, "/data/"):
		endpoint = "kv"
		mount, path, _ = strings.Cut(rest, "/data/")
	default:
		writeVaultError(w, http.StatusNotFound, "unsupported path")
		return
	}

	v.srv.mu.Lock()
	if endpoint == "login" {
		v.logins++
	} else {
		v.fetches[vaultPath(mount, path)]++
	}
	var fault *VaultFault
	for i, f := range v.faults {
		if f.Endpoint == "" || f.Endpoint == endpoint {
			fault = &f
			v.faults = slices.Delete(v.faults, i, i+1)
			break
		}
	}
	ns := v.namespace
	v.srv.mu.Unlock()

	if fault != nil {
		if fault.Hang {
			smWait(r.Context(), -1)
			panic(http.ErrAbortHandler)
		}
		if fault.Latency > 0 && !smWait(r.Context(), fault.Latency) {
			panic(http.ErrAbortHandler)
		}
		if fault.Status != 0 {
			writeVaultError(w, fault.Status, fault.Errors...)
			return
		}
	}
	inNamespace := ns == "" || r.Header.Get("X-Vault-Namespace") == ns
	if endpoint == "login" {
		v.login(w, r, inNamespace)
		return
	}
	if !inNamespace {
		writeVaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	v.read(w, r, mount, path)
}

func (v *Vault) login(w http.ResponseWriter, r *http.Request, inNamespace bool) {
	var in struct {
		RoleID   string `json:"role_id"`
		SecretID string `json:"secret_id"`
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err := json.Unmarshal(body, &in); err != nil {
		writeVaultError(w, http.StatusBadRequest, "failed to parse JSON input: invalid character")
		return
	}
	if in.RoleID == "" {
		writeVaultError(w, http.StatusBadRequest, "missing role_id")
		return
	}
	v.srv.mu.Lock()
	role := v.roles[in.RoleID]
	if role == nil || role.secretID != in.SecretID || !inNamespace {
		v.srv.mu.Unlock()
		writeVaultError(w, http.StatusBadRequest, "invalid role or secret ID")
		return
	}
	v.seq++
	token := "hvs.CAESI" + randomSuffix(20) + strconv.Itoa(v.seq)
	t := &vaultToken{paths: role.paths}
	if role.ttl > 0 {
		t.expires = time.Now().Add(role.ttl)
	}
	v.tokens[token] = t
	v.srv.mu.Unlock()

	writeVaultJSON(w, http.StatusOK, map[string]any{
		"request_id":     randomRequestID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           nil,
		"wrap_info":      nil,
		"warnings":       nil,
		"auth": map[string]any{
			"client_token":    token,
			"accessor":        randomSuffix(24),
			"policies":        []string{"default", "openai-keys"},
			"token_policies":  []string{"default", "openai-keys"},
			"metadata":        map[string]string{"role_name": "secureai"},
			"lease_duration":  int(role.ttl / time.Second),
			"renewable":       true,
			"entity_id":       randomRequestID(),
			"token_type":      "service",
			"orphan":          true,
			"mfa_requirement": nil,
			"num_uses":        0,
		},
	})
}

func (v *Vault) read(w http.ResponseWriter, r *http.Request, mount, path string) {
	v.srv.mu.Lock()
	defer v.srv.mu.Unlock()
	t := v.tokens[r.Header.Get("X-Vault-Token")]
	k := vaultPath(mount, path)
	if t == nil || (!t.expires.IsZero() && !time.Now().Before(t.expires)) || !allowed(t.paths, k) {
		writeVaultError(w, http.StatusForbidden, "permission denied")
		return
	}
	s := v.kv[k]
	if s == nil || len(s.versions) == 0 {
		writeVaultError(w, http.StatusNotFound)
		return
	}
	n := len(s.versions)
	if q := r.URL.Query().Get("version"); q != "" && q != "0" {
		var err error
		if n, err = strconv.Atoi(q); err != nil || n < 0 {
			writeVaultError(w, http.StatusBadRequest, "invalid version")
			return
		}
		if n > len(s.versions) {
			writeVaultError(w, http.StatusNotFound)
			return
		}
	}
	ver := s.versions[n-1]
	md := map[string]any{
		"created_time":    ver.created.UTC().Format(time.RFC3339Nano),
		"custom_metadata": nil,
		"deletion_time":   "",
		"destroyed":       false,
		"version":         n,
	}
	var data any = ver.data
	status := http.StatusOK
	if !ver.deleted.IsZero() {
		md["deletion_time"] = ver.deleted.UTC().Format(time.RFC3339Nano)
		data, status = nil, http.StatusNotFound
	}
	writeVaultJSON(w, status, map[string]any{
		"request_id":     randomRequestID(),
		"lease_id":       "",
		"renewable":      false,
		"lease_duration": 0,
		"data":           map[string]any{"data": data, "metadata": md},
		"wrap_info":      nil,
		"warnings":       nil,
		"auth":           nil,
		"mount_type":     "kv",
	})
}

func allowed(prefixes []string, p string) bool {
	if prefixes == nil {
		return true
	}
	for _, pre := range prefixes {
		pre = strings.Trim(pre, "/")
		if p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

func writeVaultJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeVaultError(w http.ResponseWriter, status int, errs ...string) {
	if errs == nil {
		errs = []string{}
		switch status {
		case http.StatusForbidden:
			errs = []string{"permission denied"}
		case http.StatusServiceUnavailable:
			errs = []string{"Vault is sealed"}
		case http.StatusInternalServerError:
			errs = []string{"internal error"}
		case http.StatusTooManyRequests:
			errs = []string{"request path \"secret/data\": rate limit quota exceeded"}
		}
	}
	writeVaultJSON(w, status, map[string]any{"errors": errs})
}
