package secureai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai"
	"github.com/secureai-go/secureai/keyprovider"
	"github.com/secureai-go/secureai/secureaitest"
)

const (
	canaryKey    = "sk-test-canaryLEAK0123456789abcdefABCDEF0123"
	canaryPrompt = "PROMPT-CANARY-9f8e7d6c"
)

// renderings returns v as every formatting path a log line, an error
// report or a JSON API could take.
func renderings(t *testing.T, v any) []string {
	t.Helper()
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out = append(out, fmt.Sprintf(verb, v))
	}
	if b, err := json.Marshal(v); err == nil {
		out = append(out, string(b))
	}
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})).Debug("x", "v", v)
	out = append(out, buf.String())
	return out
}

// walkFor reports the paths under v (every field, exported or not, through
// pointers, interfaces, slices and maps) where a string or byte slice
// contains needle.
func walkFor(v reflect.Value, needle, path string, seen map[uintptr]bool, found *[]string, depth int) {
	if depth > 40 || !v.IsValid() {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if strings.Contains(v.String(), needle) {
			*found = append(*found, path)
		}
	case reflect.Slice:
		if v.IsNil() {
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			if bytes.Contains(v.Bytes(), []byte(needle)) {
				*found = append(*found, path)
			}
			return
		}
		if seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		for i := 0; i < v.Len() && i < 1000; i++ {
			walkFor(v.Index(i), needle, fmt.Sprintf("%s[%d]", path, i), seen, found, depth+1)
		}
	case reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkFor(v.Index(i), needle, fmt.Sprintf("%s[%d]", path, i), seen, found, depth+1)
		}
	case reflect.Pointer, reflect.UnsafePointer:
		if v.IsNil() || v.Kind() == reflect.UnsafePointer || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		walkFor(v.Elem(), needle, path, seen, found, depth+1)
	case reflect.Interface:
		walkFor(v.Elem(), needle, path, seen, found, depth+1)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			walkFor(v.Field(i), needle, path+"."+v.Type().Field(i).Name, seen, found, depth+1)
		}
	case reflect.Map:
		if v.IsNil() || seen[v.Pointer()] {
			return
		}
		seen[v.Pointer()] = true
		it := v.MapRange()
		for it.Next() {
			walkFor(it.Key(), needle, path+"{key}", seen, found, depth+1)
			walkFor(it.Value(), needle, path+"{value}", seen, found, depth+1)
		}
	}
}

func TestNoKeyOrPromptLeaks(t *testing.T) {
	srv := secureaitest.NewServer(t)
	var auditLog bytes.Buffer
	opts := []secureai.Option{
		secureai.WithKeyProvider(keyprovider.Static(canaryKey)),
		secureai.WithBaseURL(srv.URL()),
		secureai.WithModels(chatModel),
		secureai.WithAuditHandler(slog.NewJSONHandler(&auditLog, &slog.HandlerOptions{Level: slog.LevelDebug})),
		secureai.WithRetry(secureai.RetryPolicy{MaxRetries: 1, BaseDelay: 1, MaxDelay: 1}),
	}
	client, err := secureai.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	ctx := secureai.WithCaller(t.Context(), secureai.Caller{ID: "carol"})
	req := chatReq(chatModel)
	req.Messages[1].Content = "Tell me about " + canaryPrompt

	// Collect errors from every fault that can carry the request or the key.
	var errs []error
	faults := [][]secureaitest.Fault{
		{{EchoRequest: true}},
		{{Status: 500, EchoRequest: true}, {Status: 500, EchoRequest: true}},
		{{Status: 429, Header: hdr("Retry-After", "0")}, {Status: 429}},
		{{Status: 400, Body: `{"error":{"message":"bad: ` + canaryPrompt + `","type":"invalid_request_error","param":null,"code":null}}`}},
		{{Reset: true}, {Reset: true}},
	}
	for _, f := range faults {
		srv.Enqueue(f...)
		if _, err := client.CreateChatCompletion(ctx, req); err == nil {
			t.Fatalf("fault %+v gave no error", f)
		} else {
			errs = append(errs, err)
		}
	}
	srv.RejectKey(canaryKey)
	_, err = client.CreateChatCompletion(ctx, req)
	errs = append(errs, err)
	_, err = client.CreateChatCompletion(context.Background(), req)
	errs = append(errs, err)
	stream, err := client.CreateChatCompletionStream(ctx, req)
	errs = append(errs, err)
	if stream != nil {
		stream.Close()
	}
	failing, err := secureai.New(append(opts[1:], secureai.WithKeyProvider(keyprovider.ProviderFunc(
		func(context.Context, keyprovider.Scope) (keyprovider.Secret, error) {
			return keyprovider.Secret{}, errors.New("vault down")
		})))...)
	if err != nil {
		t.Fatal(err)
	}
	_, err = failing.CreateChatCompletion(ctx, req)
	errs = append(errs, err)
	failing.Close(t.Context())

	secret := keyprovider.NewSecret(canaryKey)
	subjects := map[string]any{"client": client, "secret": secret, "secret ptr": &secret,
		"provider": keyprovider.Static(canaryKey), "options": opts, "controls": client.Controls()}
	for i, err := range errs {
		if err == nil {
			t.Fatalf("error %d is nil", i)
		}
		subjects[fmt.Sprintf("error %d (%v)", i, err)] = err
	}
	for name, v := range subjects {
		for _, s := range renderings(t, v) {
			for _, needle := range []string{canaryKey, canaryKey[8:24], canaryPrompt} {
				if strings.Contains(s, needle) {
					t.Errorf("%s renders %q: %s", name, needle, s)
				}
			}
		}
	}
	for _, needle := range []string{canaryKey, canaryKey[8:24], canaryPrompt, "carol"} {
		if strings.Contains(auditLog.String(), needle) {
			t.Errorf("audit log holds %q", needle)
		}
	}

	// The key lives only masked inside a Secret; the go-openai config holds
	// none. Idle connections (whose write buffers hold old requests) are
	// net/http's, and are closed by Close.
	if err := client.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	var found []string
	walkFor(reflect.ValueOf(client), canaryKey[8:24], "client", map[uintptr]bool{}, &found, 0)
	if len(found) > 0 {
		t.Errorf("key bytes found in the client at %v", found)
	}
	if _, ok := errors.AsType[*openai.APIError](errs[5]); !ok {
		t.Errorf("401 error lost its *openai.APIError: %v", errs[5])
	}
}
