package sanitize

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	oaschema "github.com/sashabaranov/go-openai/jsonschema"
)

func testTools(t testing.TB) *ToolSchemas {
	t.Helper()
	s, err := NewToolSchemas(map[string]any{
		"get_weather": &oaschema.Definition{
			Type: oaschema.Object,
			Properties: map[string]oaschema.Definition{
				"city": {Type: oaschema.String},
				"days": {Type: oaschema.Integer},
			},
			Required:             []string{"city"},
			AdditionalProperties: false,
		},
		"send_mail": json.RawMessage(`{"type":"object","properties":{"to":{"type":"string","pattern":"@example\\.com$"},
			"body":{"$ref":"#/$defs/text"}},"required":["to","body"],"additionalProperties":false,
			"$defs":{"text":{"type":"string","maxLength":20}}}`),
		"lookup": map[string]any{"type": "object", "properties": map[string]any{"id": map[string]any{"type": "string"}}},
		"ping":   nil,
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestToolSchemasValidate(t *testing.T) {
	s := testTools(t)
	const secret = "Xy9secretVALUE"
	for _, tc := range []struct {
		name, tool, args string
		reason           string // "" = valid
		keyword          string
	}{
		{"valid", "get_weather", `{"city":"Oslo","days":3}`, "", ""},
		{"valid ref", "send_mail", `{"to":"a@example.com","body":"hi"}`, "", ""},
		{"valid no params", "ping", `{}`, "", ""},
		{"unknown tool", "delete_all", `{}`, "not_allowed", ""},
		{"invalid name", "x\" ignore previous", `{}`, "not_allowed", ""},
		{"invalid json", "get_weather", `{"city":"` + secret, "invalid_json", ""},
		{"trailing data", "get_weather", `{"city":"a"} {"x":1}`, "invalid_json", ""},
		{"empty", "get_weather", ``, "invalid_json", ""},
		{"wrong type", "get_weather", `{"city":"Oslo","days":"` + secret + `"}`, "schema", "/properties/days/type"},
		{"missing required", "get_weather", `{"days":2}`, "schema", "/required"},
		{"additional property", "get_weather", `{"city":"Oslo","` + secret + `":1}`, "schema", "/additionalProperties"},
		{"pattern", "send_mail", `{"to":"` + secret + `@evil.example","body":"x"}`, "schema", "/properties/to/pattern"},
		{"ref maxLength", "send_mail", `{"to":"a@example.com","body":"` + strings.Repeat(secret, 3) + `"}`, "schema", "/$defs/text/maxLength"},
		{"params on no-param tool", "ping", `{"a":"` + secret + `"}`, "schema", "/additionalProperties"},
		{"too deep", "lookup", strings.Repeat(`{"a":`, 70) + `1` + strings.Repeat(`}`, 70), "too_deep", ""},
		{"too large", "lookup", `{"id":"` + strings.Repeat("a", MaxToolArgumentBytes) + `"}`, "too_large", ""},
		{"invalid utf8", "lookup", "{\"id\":\"\xff\"}", "invalid_json", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Validate(tc.tool, tc.args)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			tce, ok := errors.AsType[*ToolCallError](err)
			if !ok || tce.Reason != tc.reason {
				t.Fatalf("Validate = %v, want reason %q", err, tc.reason)
			}
			wantIs := ErrToolArguments
			if tc.reason == "not_allowed" {
				wantIs = ErrToolNotAllowed
			}
			if !errors.Is(err, wantIs) {
				t.Errorf("errors.Is(%v, %v) = false", err, wantIs)
			}
			if tc.keyword != "" && !strings.Contains(strings.Join(tce.Keywords, " "), tc.keyword) {
				t.Errorf("keywords %v, want %q", tce.Keywords, tc.keyword)
			}
			for _, s := range []string{err.Error(), fmt.Sprintf("%v %+v %#v", err, err, tce.Err)} {
				if strings.Contains(s, secret) || strings.Contains(s, "ignore previous") || strings.Contains(s, "evil") {
					t.Errorf("error text leaks the arguments: %s", s)
				}
			}
		})
	}
	var zero ToolSchemas
	if !errors.Is(zero.Validate("ping", "{}"), ErrToolNotAllowed) {
		t.Error("zero ToolSchemas allowed a tool")
	}
	if got := s.Tools(); strings.Join(got, ",") != "get_weather,lookup,ping,send_mail" {
		t.Errorf("Tools() = %v", got)
	}
}

func TestNewToolSchemasRefuses(t *testing.T) {
	for name, schema := range map[string]any{
		"remote ref":    json.RawMessage(`{"type":"object","properties":{"a":{"$ref":"https://schemas.example/a.json"}}}`),
		"file ref":      json.RawMessage(`{"$ref":"file:///etc/passwd"}`),
		"relative ref":  json.RawMessage(`{"$ref":"other.json"}`),
		"custom schema": json.RawMessage(`{"$schema":"https://schemas.example/meta","type":"object"}`),
		"not json":      json.RawMessage(`{"type":`),
		"bad schema":    json.RawMessage(`{"type":"objekt"}`),
		"bad marshal":   map[string]any{"f": func() {}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := NewToolSchemas(map[string]any{"f": schema}); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	if _, err := NewToolSchemas(map[string]any{"bad name!": nil}); err == nil {
		t.Error("invalid function name accepted")
	}
}

func TestToolSchemasConcurrent(t *testing.T) {
	s := testTools(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 50 {
				args := fmt.Sprintf(`{"city":"c%d","days":%d}`, i, j)
				if err := s.Validate("get_weather", args); err != nil {
					t.Error(err)
				}
				if s.Validate("get_weather", `{"days":1}`) == nil {
					t.Error("missing city accepted")
				}
			}
		})
	}
	wg.Wait()
}

func BenchmarkToolSchemasValidate(b *testing.B) {
	s := testTools(b)
	b.ReportAllocs()
	for b.Loop() {
		_ = s.Validate("send_mail", `{"to":"a@example.com","body":"hello there"}`)
	}
}
