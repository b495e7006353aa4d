package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestQuickstart(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "")
	var out bytes.Buffer
	if err := run(t.Context(), &out, false); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	for _, want := range []string{
		"answer: \"Hello! I am the fake OpenAI server",
		"errors.Is(err, ErrNoCaller)",
		"errors.Is(err, ErrModelNotAllowed)",
		"errors.Is(err, ErrInputRejected)",
		`"outcome":"ok"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	if n := strings.Count(s, `"msg":"genai.call"`); n != 4 {
		t.Errorf("%d audit events, want 4", n)
	}
	if strings.Contains(s, "sk-test-quickstart") || strings.Contains(s, "alice@example.com") || strings.Contains(s, "Say hello") {
		t.Error("output holds a key, a raw caller ID or the prompt")
	}
}
