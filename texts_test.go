package secureai

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/keyprovider"
)

const marker = "MARKER-7f3a"

// notText lists plain-string fields that hold identifiers or enums, not
// text; they are not planted (and not handed to the checks). Fields of
// named string types (ToolType, ImageURLDetail, EmbeddingModel, ...) are
// enums and are skipped automatically. Interface fields listed here hold
// choices or IDs, not text.
var notText = map[string]bool{
	"Model": true, "Role": true, "Type": true, "ID": true, "ToolCallID": true, "User": true,
	"SafetyIdentifier": true, "ReasoningEffort": true, "Verbosity": true, "PromptCacheKey": true,
	"PromptCacheRetention": true, "PreviousResponseID": true, "Truncation": true, "Version": true,
	"ServiceTier": true, "Effort": true, "GenerateSummary": true, "Summary": true, "Context": true,
	"Mode": true, "TTL": true, "URL": true,
	// interface fields with choices, IDs or settings
	"ToolChoice": true, "FunctionCall.any": true, "ParallelToolCalls": true, "Conversation": true,
	"Moderation": true, "ContextManagement": true,
}

// plant writes marker@path into every text string field reachable from v,
// allocating pointers, one-element slices and one-entry maps on the way,
// and returns the planted paths.
func plant(v reflect.Value, path string, planted *[]string, depth int) {
	if depth > 8 {
		return
	}
	switch v.Kind() {
	case reflect.String:
		if v.Type() != reflect.TypeFor[string]() {
			return // named string type: an enum
		}
		s := marker + "@" + path
		v.SetString(s)
		*planted = append(*planted, s)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			f := v.Type().Field(i)
			if !f.IsExported() || notText[f.Name] || (f.Type.Kind() == reflect.Interface && notText[f.Name+".any"]) {
				continue
			}
			if f.Anonymous && f.Type.Kind() == reflect.Struct {
				plant(v.Field(i), path, planted, depth+1)
				continue
			}
			if f.Name == "FunctionCall" && f.Type.Kind() == reflect.Interface {
				continue
			}
			plant(v.Field(i), path+"."+f.Name, planted, depth+1)
		}
	case reflect.Pointer:
		if v.Type().Elem().Kind() != reflect.Struct {
			return
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		plant(v.Elem(), path, planted, depth+1)
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		plant(s.Index(0), path+"[0]", planted, depth+1)
		v.Set(s)
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return
		}
		m := reflect.MakeMap(v.Type())
		val := reflect.New(v.Type().Elem()).Elem()
		plant(val, path+"{k}", planted, depth+1)
		m.SetMapIndex(reflect.ValueOf("k").Convert(v.Type().Key()), val)
		v.Set(m)
	case reflect.Interface:
		s := marker + "@" + path
		var val any = map[string]any{"text": s}
		if v.NumMethod() > 0 { // json.Marshaler
			val = json.RawMessage(`{"text":"` + s + `"}`)
		}
		v.Set(reflect.ValueOf(val))
		*planted = append(*planted, s)
	}
}

func plantAll[T any](t *testing.T) (T, []string) {
	t.Helper()
	var req T
	var planted []string
	plant(reflect.ValueOf(&req).Elem(), "", &planted, 0)
	if len(planted) == 0 {
		t.Fatalf("planted only %v", planted)
	}
	t.Logf("planted %d text fields", len(planted))
	return req, planted
}

// TestEveryStringFieldReachesInputChecks plants a marker into every text
// field of each endpoint's request type (found by reflection, so a field
// added to go-openai is planted too) and checks that each one reaches the
// input-check slot of a real client.
func TestEveryStringFieldReachesInputChecks(t *testing.T) {
	var seen []TextField
	errStop := errors.New("stop here")
	client, err := New(
		WithKeyProvider(keyprovider.Static("sk-test-marker-000000000000000000000000")),
		WithBaseURL("http://127.0.0.1:1/v1"),
		WithModels("gpt-4o-2024-08-06", "omni-moderation-2024-09-26"),
		WithFloatingModels("text-embedding-3-small"),
		AllowExtraBodyKeys("k"), AllowPromptTemplates(""),
		WithLimits(Limits{MaxInputBytes: 1 << 20}),
		WithoutInputCheck(CheckRedaction, CheckInjection, CheckSpotlight), // the markers look like e-mail addresses
		WithInputChecks(InputCheckerFunc(func(_ context.Context, _ *Call, in *Input) error {
			seen = append([]TextField(nil), in.Fields...)
			return errStop
		})),
		WithAuditSink(discardSink{}),
	)
	if err != nil {
		t.Fatal(err)
	}
	ctx := WithCaller(t.Context(), Caller{ID: "user-1"})

	check := func(t *testing.T, planted []string, call func() error) {
		t.Helper()
		seen = nil
		if err := call(); !errors.Is(err, ErrInputRejected) || !errors.Is(err, errStop) {
			t.Fatalf("call: %v", err)
		}
		var all strings.Builder
		for _, f := range seen {
			all.WriteString(f.Text)
			all.WriteString("\n")
			if !strings.Contains(f.Text, marker) {
				t.Errorf("field %s reached the checks without a marker: %q", f.Path, f.Text)
			}
		}
		for _, p := range planted {
			if !strings.Contains(all.String(), p+"\n") && !strings.Contains(all.String(), p) {
				t.Errorf("planted field %s did not reach the input checks", p)
			}
		}
	}

	t.Run("chat", func(t *testing.T) {
		req, planted := plantAll[openai.ChatCompletionRequest](t)
		req.Model = "gpt-4o-2024-08-06"
		// go-openai refuses Content and MultiContent together; plant the
		// plain content in a second message.
		req.Messages = append(req.Messages, openai.ChatCompletionMessage{Role: "user", Content: req.Messages[0].Content})
		req.Messages[0].Content = ""
		check(t, planted, func() error { _, err := client.CreateChatCompletion(ctx, req); return err })
		t.Run("stream", func(t *testing.T) {
			check(t, planted, func() error { _, err := client.CreateChatCompletionStream(ctx, req); return err })
		})
	})
	t.Run("responses", func(t *testing.T) {
		req, planted := plantAll[openai.CreateResponseRequest](t)
		req.Model = "gpt-4o-2024-08-06"
		req.ExtraBody = map[string]any{"k": req.ExtraBody["k"]}
		check(t, planted, func() error { _, err := client.CreateResponse(ctx, req); return err })
		t.Run("stream", func(t *testing.T) {
			check(t, planted, func() error { _, err := client.CreateResponseStream(ctx, req); return err })
		})
		t.Run("typed input items", func(t *testing.T) {
			req := openai.CreateResponseRequest{Model: "gpt-4o-2024-08-06", Input: []openai.ResponseInputMessage{
				{Role: "user", Content: []any{openai.ResponseInputText{Type: "input_text", Text: marker + "@part"}}},
				{Role: "user", Content: marker + "@plain"},
			}}
			check(t, []string{marker + "@part", marker + "@plain"}, func() error { _, err := client.CreateResponse(ctx, req); return err })
		})
	})
	t.Run("embeddings", func(t *testing.T) {
		req := openai.EmbeddingRequestStrings{Model: "text-embedding-3-small", Input: []string{marker + "@a", marker + "@b"},
			ExtraBody: map[string]any{"k": marker + "@extra"}}
		check(t, []string{marker + "@a", marker + "@b", marker + "@extra"}, func() error { _, err := client.CreateEmbeddings(ctx, req); return err })
	})
	t.Run("moderations", func(t *testing.T) {
		req, planted := plantAll[openai.ModerationRequest](t)
		req.Model = "omni-moderation-2024-09-26"
		check(t, planted, func() error { _, err := client.Moderations(ctx, req); return err })
	})
}

// TestRewriteDoesNotTouchCallerRequest checks that a redacting check
// changes what is sent but never the caller's request or its slices.
func TestRewriteDoesNotTouchCallerRequest(t *testing.T) {
	cfg := testConfig(t)
	req := openai.ChatCompletionRequest{Model: "gpt-4o-2024-08-06", Messages: []openai.ChatCompletionMessage{
		{Role: "system", Content: "secret sys"},
		{Role: "user", MultiContent: []openai.ChatMessagePart{{Type: "text", Text: "secret part"}}},
	}, Tools: []openai.Tool{{Type: "function", Function: &openai.FunctionDefinition{Name: "f", Description: "secret desc",
		Parameters: map[string]any{"type": "object", "description": "secret schema"}}}},
		Metadata: map[string]string{"a": "secret meta"}}
	before := snapshotTexts(req)
	w := walker{}
	walkChat(&req, &w)
	for i := range w.fields {
		w.fields[i].Text = strings.ReplaceAll(w.fields[i].Text, "secret", "[X]")
	}
	sent := req
	cloneChat(&sent)
	aw := walker{apply: true, fields: w.fields}
	walkChat(&sent, &aw)
	_ = cfg
	if got := snapshotTexts(req); !slices.Equal(got, before) {
		t.Errorf("caller's request changed:\n%v\n%v", before, got)
	}
	for _, s := range snapshotTexts(sent) {
		if strings.Contains(s, "secret") {
			t.Errorf("rewritten request still holds %q", s)
		}
	}
}

func snapshotTexts(r openai.ChatCompletionRequest) []string {
	w := walker{}
	walkChat(&r, &w)
	out := make([]string, len(w.fields))
	for i, f := range w.fields {
		out[i] = f.Path + "=" + f.Text
	}
	return out
}

type discardSink struct{}

func (discardSink) Write(context.Context, auditEvent) error { return nil }
