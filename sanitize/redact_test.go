package sanitize

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestApply(t *testing.T) {
	text := "Mail ann@example.com or ann@example.com, bob@example.org; key " + fakeOpenAIKey
	var v Vault
	p := Policy{Secrets: Redact, PII: map[string]Action{"email": Pseudonymise}}
	out, blocked := Apply(text, NewScanner().Scan(text), p, &v)
	if blocked != nil {
		t.Fatalf("blocked by %+v", blocked)
	}
	want := "Mail [EMAIL_1] or [EMAIL_1], [EMAIL_2]; key [OPENAI_API_KEY_1]"
	if out != want {
		t.Fatalf("Apply = %q, want %q", out, want)
	}
	answer := "I wrote to [EMAIL_2] and [EMAIL_1] about [OPENAI_API_KEY_1] and [EMAIL_9]."
	if got, want := v.Restore(answer), "I wrote to bob@example.org and ann@example.com about [OPENAI_API_KEY_1] and [EMAIL_9]."; got != want {
		t.Errorf("Restore = %q, want %q", got, want)
	}
}

func TestApplyBlock(t *testing.T) {
	text := "id " + fakeAWSKeyID
	fs := ScanSecrets(text)
	out, blocked := Apply(text, fs, Policy{Secrets: Block, Default: Redact}, nil)
	if out != "" || blocked == nil || blocked.Type != "aws_access_key_id" {
		t.Errorf("Apply = %q, %+v; want blocked", out, blocked)
	}
}

func TestApplyZeroPolicyIsDefault(t *testing.T) {
	text := "x@example.com"
	out, _ := Apply(text, ScanPII(text), Policy{}, nil)
	if out != "[EMAIL_1]" {
		t.Errorf("Apply with zero Policy = %q", out)
	}
}

func TestApplyOverlapLongestWins(t *testing.T) {
	text := "aaaa secretvalue bbbb"
	fs := []Finding{
		{Kind: KindPII, Type: "email", Start: 5, End: 11},
		{Kind: KindSecret, Type: "password", Start: 5, End: 16},
		{Kind: KindPII, Type: "phone", Start: 14, End: 18}, // reaches past the secret
	}
	out, _ := Apply(text, fs, DefaultPolicy(), nil)
	if out != "aaaa [PASSWORD_1]bbb" {
		t.Errorf("Apply = %q", out)
	}
}

func TestApplyBadFindings(t *testing.T) {
	text := "héllo"
	fs := []Finding{{Kind: KindPII, Type: "x", Start: 2, End: 3}, {Start: -1, End: 99}, {Start: 3, End: 1}}
	out, _ := Apply(text, fs, DefaultPolicy(), nil)
	if out != "h[X_1]llo" || !utf8.ValidString(out) {
		t.Errorf("Apply = %q", out)
	}
}

func TestMultiScannerOrder(t *testing.T) {
	text := "a@b.io " + fakeAWSKeyID + " 10.0.0.1"
	extra := ScannerFunc(func(string) []Finding { return []Finding{{Kind: KindDeny, Type: "z", Start: 0, End: 1}} })
	fs := NewScanner(extra).Scan(text)
	var got []string
	for _, f := range fs {
		got = append(got, f.Type)
	}
	if strings.Join(got, ",") != "email,z,aws_access_key_id,ip_address" {
		t.Errorf("order = %v", got)
	}
}

func FuzzApply(f *testing.F) {
	for _, s := range []string{"mail a@b.co key " + fakeOpenAIKey, fakeAWSKeyID + " " + fakeAWSSecret,
		"password: hunter22 and 4111 1111 1111 1111", "[EMAIL_1] é " + fakeJWT, benignText(200)} {
		f.Add(s, "")
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		// Plant a fake secret between two fuzzed strings.
		text := a + " " + fakeGitLabToken + " " + b
		sc := NewScanner()
		var v Vault
		out, blocked := Apply(text, sc.Scan(text), DefaultPolicy(), &v)
		if blocked != nil {
			t.Fatalf("DefaultPolicy blocked %+v", blocked)
		}
		if utf8.ValidString(text) && !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 out of %q: %q", text, out)
		}
		if strings.Contains(out, fakeGitLabToken) || strings.Contains(out, fakeGitLabToken[6:]) {
			t.Fatalf("planted secret survived: %q", out)
		}
		out2, _ := Apply(out, sc.Scan(out), DefaultPolicy(), &v)
		if out2 != out {
			t.Fatalf("not idempotent:\n in %q\nout %q\nout2 %q", text, out, out2)
		}
	})
}
