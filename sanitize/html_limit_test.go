package sanitize

import (
	"errors"
	"strings"
	"testing"
)

func TestMarkdownSizeLimit(t *testing.T) {
	hostile := strings.Repeat("[a](", MaxMarkdownBytes/4+1)
	if _, err := MarkdownToHTML(hostile); !errors.Is(err, ErrMarkdownTooLarge) {
		t.Fatalf("err = %v, want ErrMarkdownTooLarge", err)
	}
	ok := strings.Repeat("[a](", (MaxMarkdownBytes-8)/4)
	if _, err := MarkdownToHTML(ok); err != nil {
		t.Fatalf("a text under the limit: %v", err)
	}
}
