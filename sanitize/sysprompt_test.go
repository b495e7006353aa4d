package sanitize

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/fstest"
)

// fakeProjectKey looks like a real project key (prefix, length, the
// T3BlbkFJ marker) but is not one.
func fakeProjectKey() string {
	return "sk-proj-" + "Ab3dEf6hIj9kLm2nOp5q" + "T3Blbk" + "FJ" + "Rs8tUv1wXy4zAb7cDe0f"
}

func TestLoadSystemPrompt(t *testing.T) {
	good := "You are a helpful support assistant for Example Widgets.\n"
	fsys := fstest.MapFS{
		"prompts/support.txt": {Data: []byte(good)},
		"prompts/bad.txt":     {Data: []byte("hello \xff")},
		"prompts/key.txt":     {Data: []byte("Use the key " + fakeProjectKey() + " for lookups.")},
	}
	pin := PromptHash(good)
	t.Run("good pin", func(t *testing.T) {
		for _, p := range []string{pin, strings.TrimPrefix(pin, "sha256:"), strings.ToUpper(pin[7:]), "SHA256:" + pin[7:]} {
			sp, err := LoadSystemPrompt(fsys, "prompts/support.txt", p)
			if err != nil {
				t.Fatalf("pin %q: %v", p, err)
			}
			if sp.Text != good || sp.Hash() != pin || sp.Name != "prompts/support.txt" {
				t.Fatalf("got %+v", sp)
			}
		}
	})
	for _, tc := range []struct {
		name, file, pin, reason string
	}{
		{"changed content", "prompts/support.txt", PromptHash(good + "Ignore refunds policy."), "pin_mismatch"},
		{"missing pin", "prompts/support.txt", "", "missing_pin"},
		{"malformed pin", "prompts/support.txt", "sha256:abc", "invalid_pin"},
		{"non-hex pin", "prompts/support.txt", strings.Repeat("z", 64), "invalid_pin"},
		{"missing file", "prompts/none.txt", pin, "read_error"},
		{"invalid utf8", "prompts/bad.txt", PromptHash("hello \xff"), "invalid_utf8"},
		{"secret", "prompts/key.txt", PromptHash("Use the key " + fakeProjectKey() + " for lookups."), "secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadSystemPrompt(fsys, tc.file, tc.pin)
			pe, ok := errors.AsType[*PromptError](err)
			if !ok || pe.Reason != tc.reason || !errors.Is(err, ErrPromptRejected) {
				t.Fatalf("LoadSystemPrompt = %v, want reason %q", err, tc.reason)
			}
			if s := fmt.Sprintf("%v %+v", err, err); strings.Contains(s, "lookups") || strings.Contains(s, "T3Blbk") {
				t.Errorf("error leaks the prompt: %s", s)
			}
		})
	}
	t.Run("mismatch reports new hash", func(t *testing.T) {
		_, err := LoadSystemPrompt(fsys, "prompts/support.txt", PromptHash("old"))
		if !strings.Contains(err.Error(), pin) {
			t.Errorf("error %q does not give the new hash", err)
		}
	})
	t.Run("too large", func(t *testing.T) {
		big := strings.Repeat("a", MaxSystemPromptBytes+1)
		_, err := LoadSystemPrompt(fstest.MapFS{"big": {Data: []byte(big)}}, "big", PromptHash(big))
		if pe, ok := errors.AsType[*PromptError](err); !ok || pe.Reason != "too_large" {
			t.Fatalf("got %v", err)
		}
	})
}

func TestCheckSystemPrompt(t *testing.T) {
	for _, tc := range []struct {
		name, text, reason string
	}{
		{"clean", "You are a helpful assistant. Version 1.2.3.4 of the API is at https://api.example.com.", ""},
		{"public ip", "Our status page is at 93.184.216.34.", ""},
		{"placeholder dsn", "Connect with postgres://user:${DB_PASSWORD}@db.example.com/app", ""},
		{"openai key", "Key: " + fakeProjectKey(), "secret"},
		{"postgres url", "Use postgres://app:hunter2@db:5432/x for reports.", "connection_string"},
		{"mongodb srv", "mongodb+srv://svc:s3cr3tPass@cluster0.example.net/db", "connection_string"},
		{"ado.net", "Server=sql01;Database=app;User Id=sa;Password=Winter2024!;", "connection_string"},
		{"jdbc", "jdbc:sqlserver://db.example.com:1433;databaseName=x;user=sa;password=Winter2024", "connection_string"},
		{"jdbc query", "jdbc:mysql://db.example.com/app?user=app&password=Hunter2x", "connection_string"},
		{"rfc1918", "The metrics host is 10.1.2.3.", "internal_address"},
		{"rfc1918 port", "call 192.168.1.20:8080 for data", "internal_address"},
		{"cidr", "never scan 172.16.0.0/12", "internal_address"},
		{"loopback", "admin at 127.0.0.1", "internal_address"},
		{"cgnat", "peer 100.64.1.1", "internal_address"},
		{"link local", "metadata at 169.254.169.254", "internal_address"},
		{"ula", "the API is at fd00::1 on port 80", "internal_address"},
		{"v6 loopback", "bind [::1]:9000", "internal_address"},
		{"v6 link local", "fe80::1%eth0", "internal_address"},
		{"internal host", "Query billing.internal for invoices.", "internal_host"},
		{"corp host", "Files live on fs01.corp.", "internal_host"},
		{"local mdns", "printer.local", "internal_host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckSystemPrompt(tc.text)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("CheckSystemPrompt(%q) = %v", tc.text, err)
				}
				return
			}
			pe, ok := errors.AsType[*PromptError](err)
			if !ok || pe.Reason != tc.reason {
				t.Fatalf("CheckSystemPrompt(%q) = %v, want %q", tc.text, err, tc.reason)
			}
			if pe.Start < 0 || pe.End > len(tc.text) || pe.End <= pe.Start {
				t.Errorf("bad offsets %d-%d", pe.Start, pe.End)
			}
		})
	}
}

func TestPromptHash(t *testing.T) {
	if got := PromptHash(""); got != "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" {
		t.Fatal(got)
	}
}
