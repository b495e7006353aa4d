package secureaitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/smithy-go"

	"github.com/secureai-go/secureai/secureaitest"
)

// smWire is the folder of the Secrets Manager model files.
const smWire = "../../shared/wire/aws-secretsmanager"

func smReadWire(t *testing.T, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(smWire, name))
	if errors.Is(err, os.ErrNotExist) {
		t.Skipf("wire model %s not found beside the repository", name)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

func smSDKClient(sm *secureaitest.SecretsManager) *secretsmanager.Client {
	return secretsmanager.NewFromConfig(aws.Config{
		Region: secureaitest.SecretsManagerRegion,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, nil
		}),
		BaseEndpoint:     aws.String(sm.URL()),
		HTTPClient:       &http.Client{Transport: sm.Transport()},
		RetryMaxAttempts: 1,
	})
}

// smPost sends a raw awsJson1_1 request, signed or not, and returns the
// status and the decoded body.
func smRawPost(t *testing.T, sm *secureaitest.SecretsManager, target, contentType string, signed bool, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, sm.URL()+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	if target != "" {
		req.Header.Set("X-Amz-Target", target)
	}
	if signed {
		req.Header.Set("X-Amz-Date", "20260101T000000Z")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20260101/us-east-1/secretsmanager/aws4_request, SignedHeaders=host;x-amz-date;x-amz-target, Signature=00")
	}
	resp, err := (&http.Client{Transport: sm.Transport()}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("response Content-Type %q", ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, out
}

// TestSecretsManagerWire compares the fake's answers with the examples of
// the service model: same fields, same JSON types.
func TestSecretsManagerWire(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret("MyTestDatabaseSecret", "v1")
	sm.PutSecret("MyTestDatabaseSecret", "v2")
	sm.PutSecretVersion("MyTestDatabaseSecret", "v3") // deprecated: no label

	var model struct {
		XAmzTarget      map[string]string   `json:"x_amz_target"`
		ContentType     string              `json:"content_type"`
		OperationErrors map[string][]string `json:"operation_errors"`
	}
	smReadWire(t, "operations-and-errors.derived.json", &model)
	if model.ContentType != "application/x-amz-json-1.1" {
		t.Fatalf("model content type %q", model.ContentType)
	}

	for _, op := range []string{"GetSecretValue", "DescribeSecret", "ListSecretVersionIds"} {
		t.Run(op, func(t *testing.T) {
			var req, want map[string]any
			smReadWire(t, op+".request.example.json", &req)
			smReadWire(t, op+".response.example.json", &want)
			body, _ := json.Marshal(req)
			status, got := smRawPost(t, sm, model.XAmzTarget[op], model.ContentType, true, string(body))
			if status != http.StatusOK {
				t.Fatalf("status %d: %v", status, got)
			}
			for k, v := range want {
				switch k {
				case "Description", "KmsKeyId", "LastAccessedDate", "LastRotatedDate", "RotationLambdaARN", "RotationRules", "Tags":
					continue // not modelled by the fake (and LastAccessedDate is a string in the example only)
				}
				g, ok := got[k]
				if !ok {
					t.Errorf("field %s missing", k)
					continue
				}
				if smJSONType(g) != smJSONType(v) {
					t.Errorf("field %s is %s, the model's example has %s", k, smJSONType(g), smJSONType(v))
				}
			}
			if op == "ListSecretVersionIds" {
				versions := got["Versions"].([]any)
				if len(versions) != 3 {
					t.Errorf("IncludeDeprecated: %d versions, want 3", len(versions))
				}
				entry := versions[0].(map[string]any)
				for _, k := range []string{"VersionId", "VersionStages", "CreatedDate"} {
					if _, ok := entry[k]; !ok {
						t.Errorf("version entry lacks %s", k)
					}
				}
			}
		})
	}

	t.Run("errors", func(t *testing.T) {
		status, got := smRawPost(t, sm, model.XAmzTarget["GetSecretValue"], model.ContentType, true, `{"SecretId":"nope"}`)
		if status != 400 || got["__type"] != "ResourceNotFoundException" || got["Message"] == "" {
			t.Errorf("not found: %d %v", status, got)
		}
		if !slices.Contains(model.OperationErrors["GetSecretValue"], "ResourceNotFoundException") {
			t.Error("model does not list ResourceNotFoundException")
		}
		for _, typ := range append(model.OperationErrors["GetSecretValue"], "AccessDeniedException") {
			sm.FailNext(1, secureaitest.SecretsManagerFault{Type: typ})
			status, got := smRawPost(t, sm, model.XAmzTarget["GetSecretValue"], model.ContentType, true, `{"SecretId":"MyTestDatabaseSecret"}`)
			wantStatus := 400
			if typ == "InternalServiceError" {
				wantStatus = 500
			}
			if status != wantStatus || got["__type"] != typ || smJSONType(got["Message"]) != "string" || len(got) != 2 {
				t.Errorf("%s: %d %v", typ, status, got)
			}
		}
	})
}

func smJSONType(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return "null"
}

func TestSecretsManagerProtocolChecks(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret("s", "v")
	tests := []struct {
		name        string
		target, ct  string
		signed      bool
		wantType    string
		wantMessage string
	}{
		{"unsigned", "secretsmanager.GetSecretValue", "application/x-amz-json-1.1", false, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{"wrong content type", "secretsmanager.GetSecretValue", "application/json", true, "SerializationException", ""},
		{"no target", "", "application/x-amz-json-1.1", true, "UnknownOperationException", ""},
		{"unknown operation", "secretsmanager.DeleteSecret", "application/x-amz-json-1.1", true, "UnknownOperationException", ""},
		{"other service", "kms.GetSecretValue", "application/x-amz-json-1.1", true, "UnknownOperationException", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, got := smRawPost(t, sm, tt.target, tt.ct, tt.signed, `{"SecretId":"s"}`)
			if status != 400 || got["__type"] != tt.wantType || !strings.Contains(got["Message"].(string), tt.wantMessage) {
				t.Errorf("%d %v", status, got)
			}
		})
	}
	if sm.Fetches("s") != 0 {
		t.Errorf("refused requests counted as fetches: %d", sm.Fetches("s"))
	}
}

// TestSecretsManagerSDK drives the fake with the real AWS SDK: stages,
// versions, typed errors, faults, hangs and Close.
func TestSecretsManagerSDK(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	c := smSDKClient(sm)
	get := func(stage string) (*secretsmanager.GetSecretValueOutput, error) {
		return c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("k"), VersionStage: aws.String(stage)})
	}

	v1 := sm.PutSecret("k", "one")
	v2 := sm.PutSecretVersion("k", "two", "AWSPENDING")
	out, err := get("AWSCURRENT")
	if err != nil || *out.SecretString != "one" || *out.VersionId != v1 || !slices.Equal(out.VersionStages, []string{"AWSCURRENT"}) || out.CreatedDate == nil {
		t.Fatalf("AWSCURRENT: %+v, %v", out, err)
	}
	if out, err := get("AWSPENDING"); err != nil || *out.SecretString != "two" {
		t.Fatalf("AWSPENDING: %v", err)
	}
	sm.MoveStage("k", "AWSCURRENT", v2)
	sm.MoveStage("k", "AWSPENDING", "")
	d, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.VersionIdsToStages[v2], []string{"AWSCURRENT"}) || !slices.Equal(d.VersionIdsToStages[v1], []string{"AWSPREVIOUS"}) || d.LastChangedDate == nil {
		t.Errorf("after the rotation: %v", d.VersionIdsToStages)
	}
	if out, err := get("AWSPREVIOUS"); err != nil || *out.SecretString != "one" {
		t.Errorf("AWSPREVIOUS: %v", err)
	}
	if _, err := get("AWSPENDING"); !smIsAPIError[*types.ResourceNotFoundException](err) {
		t.Errorf("AWSPENDING after the rotation: %v", err)
	}
	// By ARN, by version id.
	out, err = c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: d.ARN, VersionId: aws.String(v1)})
	if err != nil || *out.SecretString != "one" || !strings.HasPrefix(*d.ARN, "arn:aws:secretsmanager:us-east-1:123456789012:secret:k-") {
		t.Errorf("by ARN and version: %v", err)
	}
	l, err := c.ListSecretVersionIds(t.Context(), &secretsmanager.ListSecretVersionIdsInput{SecretId: aws.String("k")})
	if err != nil || len(l.Versions) != 2 {
		t.Errorf("ListSecretVersionIds: %v, %v", l, err)
	}

	// Typed errors through the SDK.
	sm.FailNext(1, secureaitest.SecretsManagerFault{Operation: "GetSecretValue", Type: "DecryptionFailure"})
	if _, err := get("AWSCURRENT"); !smIsAPIError[*types.DecryptionFailure](err) {
		t.Errorf("DecryptionFailure: %v", err)
	}
	sm.FailNext(1, secureaitest.SecretsManagerFault{Type: "InternalServiceError"})
	if _, err := get("AWSCURRENT"); !smIsAPIError[*types.InternalServiceError](err) {
		t.Errorf("InternalServiceError: %v", err)
	}
	sm.FailNext(1, secureaitest.SecretsManagerFault{Type: "AccessDeniedException"})
	var ae smithy.APIError
	if _, err := get("AWSCURRENT"); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
		t.Errorf("AccessDeniedException: %v", err)
	}
	// A fault limited to DescribeSecret lets GetSecretValue by.
	sm.FailNext(1, secureaitest.SecretsManagerFault{Operation: "DescribeSecret", Type: "InternalServiceError"})
	if _, err := get("AWSCURRENT"); err != nil {
		t.Errorf("GetSecretValue with a DescribeSecret fault queued: %v", err)
	}
	if _, err := c.DescribeSecret(t.Context(), &secretsmanager.DescribeSecretInput{SecretId: aws.String("k")}); err == nil {
		t.Error("the queued DescribeSecret fault did not apply")
	}
	if n := sm.Fetches("k"); n != 9 {
		t.Errorf("Fetches = %d, want 9", n)
	}
	if n := sm.Calls("DescribeSecret"); n != 2 {
		t.Errorf("Calls(DescribeSecret) = %d, want 2", n)
	}

	// A hang honours the request's deadline.
	sm.FailNext(1, secureaitest.SecretsManagerFault{Hang: true})
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.GetSecretValue(ctx, &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v", err)
	}

	// Close ends a hanging request, and then refuses connections.
	sm.FailNext(1, secureaitest.SecretsManagerFault{Hang: true})
	before := sm.Fetches("k")
	done := make(chan error)
	go func() {
		_, err := get("AWSCURRENT")
		done <- err
	}()
	for sm.Fetches("k") == before {
		time.Sleep(time.Millisecond)
	}
	sm.Close()
	if err := <-done; err == nil {
		t.Error("a request hanging at Close succeeded")
	}
	if _, err := get("AWSCURRENT"); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("after Close: %v", err)
	}
}

func smIsAPIError[E error](err error) bool {
	_, ok := errors.AsType[E](err)
	return ok
}

// TestSecretsManagerOverSockets checks the loopback server itself with
// the SDK's own HTTP client.
func TestSecretsManagerOverSockets(t *testing.T) {
	sm := secureaitest.NewSecretsManager(t)
	sm.PutSecret("k", "v")
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()
	c := secretsmanager.NewFromConfig(aws.Config{
		Region: "eu-west-3",
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: "AKIAIOSFODNN7EXAMPLE", SecretAccessKey: "x", SessionToken: "session"}, nil
		}),
		BaseEndpoint: aws.String(sm.URL()),
		HTTPClient:   client,
	})
	out, err := c.GetSecretValue(t.Context(), &secretsmanager.GetSecretValueInput{SecretId: aws.String("k")})
	if err != nil || *out.SecretString != "v" {
		t.Fatalf("%v, %v", out, err)
	}
	// The raw body, for a look at the framing.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, sm.URL()+"/", nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !bytes.Contains(b, []byte(`"__type":"UnknownOperationException"`)) {
		t.Errorf("GET /: %d %s", resp.StatusCode, b)
	}
}
