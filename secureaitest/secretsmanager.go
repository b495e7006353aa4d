package secureaitest

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// Constants of the fake Secrets Manager.
const (
	// SecretsManagerRegion is the region of the ARNs the fake makes; any
	// region in the request's signature is accepted.
	SecretsManagerRegion = "us-east-1"

	// SecretsManagerAccount is the account id of the ARNs the fake makes.
	SecretsManagerAccount = "123456789012"

	smContentType = "application/x-amz-json-1.1"
	smMaxBody     = 1 << 20
)

// SecretsManager is a fake of AWS Secrets Manager for tests. It speaks the
// service's awsJson1_1 protocol, as the AWS SDK for Go v2 does: POST / with
// Content-Type application/x-amz-json-1.1, an X-Amz-Target header naming the
// operation ("secretsmanager.GetSecretValue") and a JSON body. It answers
// GetSecretValue, DescribeSecret and ListSecretVersionIds with the fields of
// the service model, and errors with the model's shape: a 4xx (or 500 for
// InternalServiceError) status and {"__type": "...", "Message": "..."}.
//
// Every request must carry a SigV4 Authorization header
// ("AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...") and
// an X-Amz-Date header; the signature itself is not checked.
//
// Secrets have versions with staging labels, moved as the real service
// moves them: [SecretsManager.PutSecret] adds a version labelled
// AWSCURRENT (the former current version becomes AWSPREVIOUS), and
// [SecretsManager.PutSecretVersion] and [SecretsManager.MoveStage] let a
// test run a rotation step by step (AWSPENDING, then AWSCURRENT). Faults
// are scripted one request at a time ([SecretsManager.FailNext]), and
// [SecretsManager.Fetches] counts the GetSecretValue calls per secret.
//
// Point the AWS SDK at it with an aws.Config built by hand:
//
//	sm := secureaitest.NewSecretsManager(t)
//	cfg := aws.Config{
//		Region:           secureaitest.SecretsManagerRegion,
//		Credentials:      credentials.NewStaticCredentialsProvider("AKIAIOSFODNN7EXAMPLE", "secret", ""),
//		BaseEndpoint:     aws.String(sm.URL()),
//		RetryMaxAttempts: 1,
//	}
//
// and, to serve it without sockets (inside a testing/synctest bubble, say),
// HTTPClient: &http.Client{Transport: sm.Transport()}.
//
// The zero value is not usable: create it with [NewSecretsManager] or
// [StartSecretsManager]. A SecretsManager is safe for concurrent use.
type SecretsManager struct {
	srv smServer

	// guarded by srv.mu
	secrets map[string]*smSecret // by name
	faults  []SecretsManagerFault
	fetches map[string]int // GetSecretValue calls per secret name
	calls   map[string]int // per operation
	seq     int
}

type smSecret struct {
	name, arn string
	created   time.Time
	changed   time.Time
	versions  []*smVersion // in the order they were added
}

type smVersion struct {
	id      string
	value   string
	stages  []string
	created time.Time
}

// SecretsManagerFault scripts how the fake answers one request, in place of
// the real answer. See [SecretsManager.FailNext].
type SecretsManagerFault struct {
	// Operation, if not empty, limits the fault to requests of that
	// operation ("GetSecretValue", "DescribeSecret", ...); other requests
	// pass it by.
	Operation string

	// Type is the error's __type, such as "AccessDeniedException",
	// "ResourceNotFoundException", "InternalServiceError" or
	// "DecryptionFailure". Empty: no error (Latency only).
	Type string

	// Message is the error's Message; empty means a default one.
	Message string

	// Status is the HTTP status; 0 means 500 for InternalServiceError and
	// ServiceUnavailable, 400 otherwise.
	Status int

	// Latency delays the answer, or the error, by this long; the request
	// ends early if its context ends.
	Latency time.Duration

	// Hang makes the request wait until its context ends or the fake is
	// closed, and then fail without an answer.
	Hang bool
}

// NewSecretsManager starts a fake Secrets Manager on a loopback address and
// registers t.Cleanup to close it.
func NewSecretsManager(t testing.TB) *SecretsManager {
	t.Helper()
	s := StartSecretsManager()
	t.Cleanup(s.Close)
	return s
}

// StartSecretsManager starts a fake Secrets Manager like
// [NewSecretsManager], without a testing.TB, for examples and programs. The
// caller must call [SecretsManager.Close].
func StartSecretsManager() *SecretsManager {
	s := &SecretsManager{
		secrets: make(map[string]*smSecret),
		fetches: make(map[string]int),
		calls:   make(map[string]int),
	}
	s.srv.start(http.HandlerFunc(s.serveHTTP))
	return s
}

// URL returns the endpoint to use as the AWS SDK's BaseEndpoint, such as
// "http://127.0.0.1:40123".
func (s *SecretsManager) URL() string { return s.srv.ts.URL }

// Transport returns an http.RoundTripper that serves requests in memory,
// without sockets, for the AWS SDK's HTTPClient (with BaseEndpoint still
// set to [SecretsManager.URL]). It works inside a testing/synctest bubble,
// where a fault's Latency passes in fake time. After Close, requests fail
// with "connection refused".
func (s *SecretsManager) Transport() http.RoundTripper { return smRoundTripper{&s.srv} }

// Close shuts the fake down: hanging requests end, and Close waits for
// every handler to return. It may be called more than once.
func (s *SecretsManager) Close() { s.srv.close() }

// PutSecret adds a version holding value to the secret name, creating the
// secret if needed, and labels it AWSCURRENT; the former AWSCURRENT version
// becomes AWSPREVIOUS. It returns the new version's id.
func (s *SecretsManager) PutSecret(name, value string) string {
	return s.PutSecretVersion(name, value, "AWSCURRENT")
}

// PutSecretVersion adds a version holding value to the secret name,
// creating the secret if needed, with the given staging labels, which are
// removed from the versions that had them (as PutSecretValue does). Moving
// AWSCURRENT labels the former current version AWSPREVIOUS. A version with
// no label is kept, as a deprecated version. It returns the new version's
// id.
func (s *SecretsManager) PutSecretVersion(name, value string, stages ...string) string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	sec := s.secrets[name]
	now := time.Now()
	if sec == nil {
		sec = &smSecret{
			name:    name,
			arn:     fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:%s-%s", SecretsManagerRegion, SecretsManagerAccount, name, randomSuffix(6)),
			created: now,
		}
		s.secrets[name] = sec
	}
	s.seq++
	v := &smVersion{id: fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq, s.seq), value: value, created: now}
	sec.versions = append(sec.versions, v)
	for _, st := range stages {
		sec.move(st, v)
	}
	sec.changed = now
	return v.id
}

// MoveStage moves the staging label stage of the secret name to the
// version versionID, as UpdateSecretVersionStage does; moving AWSCURRENT
// labels the former current version AWSPREVIOUS. An empty versionID removes
// the label. It panics if the secret or the version does not exist.
func (s *SecretsManager) MoveStage(name, stage, versionID string) {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	sec := s.secrets[name]
	if sec == nil {
		panic("secureaitest: MoveStage: no secret " + name)
	}
	var to *smVersion
	if versionID != "" {
		if to = sec.version(versionID); to == nil {
			panic("secureaitest: MoveStage: no version " + versionID + " of " + name)
		}
	}
	sec.move(stage, to)
	sec.changed = time.Now()
}

// VersionID returns the id of the version of the secret name labelled
// stage, or "".
func (s *SecretsManager) VersionID(name, stage string) string {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	if sec := s.secrets[name]; sec != nil {
		if v := sec.staged(stage); v != nil {
			return v.id
		}
	}
	return ""
}

// DeleteSecret removes the secret name and all its versions.
func (s *SecretsManager) DeleteSecret(name string) {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	delete(s.secrets, name)
}

// FailNext makes the next n requests that f applies to (see
// [SecretsManagerFault.Operation]) answer with f. Faults queued by several
// calls apply in order.
func (s *SecretsManager) FailNext(n int, f SecretsManagerFault) {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	for range n {
		s.faults = append(s.faults, f)
	}
}

// Fetches returns how many GetSecretValue requests named the secret name
// (by name or ARN), failed ones included.
func (s *SecretsManager) Fetches(name string) int {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.fetches[name]
}

// Calls returns how many requests of the operation op ("GetSecretValue",
// "DescribeSecret", ...) the fake received, failed ones included.
func (s *SecretsManager) Calls(op string) int {
	s.srv.mu.Lock()
	defer s.srv.mu.Unlock()
	return s.calls[op]
}

func randomSuffix(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// move gives the label stage to v (nil: to none), taking it from the
// version that had it.
func (sec *smSecret) move(stage string, v *smVersion) {
	old := sec.staged(stage)
	if old == v {
		return
	}
	if old != nil {
		old.stages = slices.DeleteFunc(old.stages, func(s string) bool { return s == stage })
	}
	if v != nil {
		v.stages = append(v.stages, stage)
	}
	if stage == "AWSCURRENT" && old != nil && v != nil {
		sec.move("AWSPREVIOUS", old)
	}
}

func (sec *smSecret) staged(stage string) *smVersion {
	for _, v := range sec.versions {
		if slices.Contains(v.stages, stage) {
			return v
		}
	}
	return nil
}

func (sec *smSecret) version(id string) *smVersion {
	for _, v := range sec.versions {
		if v.id == id {
			return v
		}
	}
	return nil
}

// lookup finds a secret by name or ARN. srv.mu is held.
func (s *SecretsManager) lookup(id string) *smSecret {
	if sec := s.secrets[id]; sec != nil {
		return sec
	}
	for _, sec := range s.secrets {
		if sec.arn == id {
			return sec
		}
	}
	return nil
}

// smError is an error answer of the awsJson1_1 protocol.
type smError struct {
	status int
	typ    string
	msg    string
}

func (s *SecretsManager) serveHTTP(w http.ResponseWriter, r *http.Request) {
	op, body, e := s.checkRequest(r)
	if e != nil {
		writeSMError(w, e)
		return
	}
	var in struct {
		SecretId          string
		VersionId         string
		VersionStage      string
		IncludeDeprecated bool
	}
	if err := json.Unmarshal(body, &in); err != nil {
		writeSMError(w, &smError{400, "SerializationException", "Start of structure or map found where not expected."})
		return
	}

	s.srv.mu.Lock()
	s.calls[op]++
	if op == "GetSecretValue" {
		name := in.SecretId
		if sec := s.lookup(in.SecretId); sec != nil {
			name = sec.name
		}
		s.fetches[name]++
	}
	var fault *SecretsManagerFault
	for i, f := range s.faults {
		if f.Operation == "" || f.Operation == op {
			fault = &f
			s.faults = slices.Delete(s.faults, i, i+1)
			break
		}
	}
	s.srv.mu.Unlock()

	if fault != nil {
		if fault.Hang {
			smWait(r.Context(), -1)
			panic(http.ErrAbortHandler)
		}
		if fault.Latency > 0 && !smWait(r.Context(), fault.Latency) {
			panic(http.ErrAbortHandler)
		}
		if fault.Type != "" {
			writeSMError(w, faultError(fault))
			return
		}
	}

	s.srv.mu.Lock()
	out, e := s.operation(op, in.SecretId, in.VersionId, in.VersionStage, in.IncludeDeprecated)
	s.srv.mu.Unlock()
	if e != nil {
		writeSMError(w, e)
		return
	}
	w.Header().Set("Content-Type", smContentType)
	w.Header().Set("X-Amzn-Requestid", randomRequestID())
	json.NewEncoder(w).Encode(out)
}

// checkRequest checks the protocol: method, content type, target and
// signature, and reads the body.
func (s *SecretsManager) checkRequest(r *http.Request) (op string, body []byte, e *smError) {
	if r.Method != http.MethodPost || r.URL.Path != "/" {
		return "", nil, &smError{404, "UnknownOperationException", "Unknown operation: " + r.Method + " " + r.URL.Path}
	}
	if ct := r.Header.Get("Content-Type"); ct != smContentType {
		return "", nil, &smError{400, "SerializationException", "Content-Type must be " + smContentType + ", got " + ct}
	}
	auth := r.Header.Get("Authorization")
	switch {
	case auth == "":
		return "", nil, &smError{400, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	case !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 ") ||
		!strings.Contains(auth, "Credential=") || !strings.Contains(auth, "SignedHeaders=") || !strings.Contains(auth, "Signature="):
		return "", nil, &smError{400, "IncompleteSignatureException", "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters."}
	case r.Header.Get("X-Amz-Date") == "":
		return "", nil, &smError{400, "IncompleteSignatureException", "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."}
	}
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "secretsmanager.")
	switch op {
	case "GetSecretValue", "DescribeSecret", "ListSecretVersionIds":
	default:
		ok = false
	}
	if !ok {
		return "", nil, &smError{400, "UnknownOperationException", "Unknown operation " + target}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, smMaxBody))
	if err != nil {
		return "", nil, &smError{400, "SerializationException", "cannot read the request body"}
	}
	return op, body, nil
}

func faultError(f *SecretsManagerFault) *smError {
	e := &smError{status: f.Status, typ: f.Type, msg: f.Message}
	if e.status == 0 {
		e.status = 400
		if f.Type == "InternalServiceError" || f.Type == "ServiceUnavailable" {
			e.status = 500
		}
	}
	if e.msg == "" {
		switch f.Type {
		case "AccessDeniedException":
			e.msg = "User: arn:aws:iam::" + SecretsManagerAccount + ":user/test is not authorized to perform: secretsmanager:GetSecretValue because no identity-based policy allows the secretsmanager:GetSecretValue action"
		case "ResourceNotFoundException":
			e.msg = "Secrets Manager can't find the specified secret."
		case "DecryptionFailure":
			e.msg = "Secrets Manager can't decrypt the protected secret text using the provided KMS key."
		case "InternalServiceError":
			e.msg = "An error occurred on the server side."
		default:
			e.msg = f.Type
		}
	}
	return e
}

// operation runs op. srv.mu is held.
func (s *SecretsManager) operation(op, id, versionID, stage string, deprecated bool) (any, *smError) {
	if id == "" {
		return nil, &smError{400, "InvalidParameterException", "You must provide a value for the SecretId parameter."}
	}
	sec := s.lookup(id)
	if sec == nil {
		return nil, &smError{400, "ResourceNotFoundException", "Secrets Manager can't find the specified secret."}
	}
	switch op {
	case "GetSecretValue":
		var v *smVersion
		switch {
		case versionID != "":
			v = sec.version(versionID)
			if v != nil && stage != "" && !slices.Contains(v.stages, stage) {
				return nil, &smError{400, "InvalidParameterException", "The version ID and staging label you specified don't match."}
			}
		default:
			if stage == "" {
				stage = "AWSCURRENT"
			}
			v = sec.staged(stage)
		}
		if v == nil {
			msg := "Secrets Manager can't find the specified secret value for VersionId: " + versionID
			if versionID == "" {
				msg = "Secrets Manager can't find the specified secret value for staging label: " + stage
			}
			return nil, &smError{400, "ResourceNotFoundException", msg}
		}
		return map[string]any{
			"ARN":           sec.arn,
			"Name":          sec.name,
			"VersionId":     v.id,
			"SecretString":  v.value,
			"VersionStages": slices.Clone(v.stages),
			"CreatedDate":   epoch(v.created),
		}, nil
	case "DescribeSecret":
		stages := make(map[string][]string)
		for _, v := range sec.versions {
			if len(v.stages) > 0 {
				stages[v.id] = slices.Clone(v.stages)
			}
		}
		return map[string]any{
			"ARN":                sec.arn,
			"Name":               sec.name,
			"CreatedDate":        epoch(sec.created),
			"LastChangedDate":    epoch(sec.changed),
			"RotationEnabled":    false,
			"VersionIdsToStages": stages,
		}, nil
	default: // ListSecretVersionIds
		versions := []map[string]any{}
		for _, v := range sec.versions {
			if len(v.stages) == 0 && !deprecated {
				continue
			}
			e := map[string]any{"VersionId": v.id, "CreatedDate": epoch(v.created)}
			if len(v.stages) > 0 {
				e["VersionStages"] = slices.Clone(v.stages)
			}
			versions = append(versions, e)
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "Versions": versions}, nil
	}
}

// epoch returns t as the protocol writes timestamps: epoch seconds, with
// milliseconds.
func epoch(t time.Time) float64 {
	return float64(t.UnixMilli()) / 1000
}

func writeSMError(w http.ResponseWriter, e *smError) {
	w.Header().Set("Content-Type", smContentType)
	w.Header().Set("X-Amzn-Requestid", randomRequestID())
	w.Header().Set("X-Amzn-Errortype", e.typ)
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": e.typ, "Message": e.msg})
}

func randomRequestID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
