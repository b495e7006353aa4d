package sanitize

import (
	"slices"
	"strings"
	"testing"
)

// Fake keys: they have the shape of real ones and nothing else.
const (
	fakeAWSKeyID     = "AKIAIOSFODNN7EXAMPLE"
	fakeAWSSecret    = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	fakeOpenAIKey    = "sk-proj-testFAKEtestFAKEtestFAKEtestT3BlbkFJfakeFAKEfakeFAKEfake"
	fakeAnthropicKey = "sk-ant-api03-testFAKEtestFAKEtestFAKEtestFAKEtestFAKEtestFAKE-AA"
	fakeStripeKey    = "sk_live_testFAKEtestFAKEtestFAKE"
	fakeGoogleKey    = "AIzaSyTESTFAKEtestFAKEtestFAKEtestFAKE1"
	fakeSlackToken   = "xoxb-123456789012-1234567890123-testFAKEtestFAKEtestFAKE"
	fakeGitLabToken  = "glpat-testFAKEtestFAKE1234"
	fakeJWT          = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ0ZXN0In0.dGVzdC1zaWduYXR1cmUtZmFrZQ"
)

// fakeGitHubToken builds a ghp_ token with a valid checksum over a fake body.
func fakeGitHubToken() string {
	body := "testFAKEtestFAKEtestFAKEtestFA"
	var b [30]byte
	copy(b[:], body)
	n := crcIEEE(b[:])
	var sum [6]byte
	for i := 5; i >= 0; i-- {
		sum[i] = base62[n%62]
		n /= 62
	}
	return "ghp_" + body + string(sum[:])
}

func TestScanSecrets(t *testing.T) {
	gh := fakeGitHubToken()
	tests := []struct {
		text, typ, match string
	}{
		{"key " + fakeOpenAIKey + " end", "openai_api_key", fakeOpenAIKey},
		{fakeAnthropicKey, "anthropic_api_key", fakeAnthropicKey},
		{"id=" + fakeAWSKeyID, "aws_access_key_id", fakeAWSKeyID},
		{`aws_secret_access_key = "` + fakeAWSSecret + `"`, "aws_secret_access_key", fakeAWSSecret},
		{"token " + gh + ".", "github_token", gh},
		{"use " + fakeGitLabToken, "gitlab_token", fakeGitLabToken},
		{fakeSlackToken, "slack_token", fakeSlackToken},
		{"https://hooks.slack.com/services/T00000000/B00000000/testFAKEtestFAKEtestFAKE", "slack_webhook_url", "https://hooks.slack.com/services/T00000000/B00000000/testFAKEtestFAKEtestFAKE"},
		{fakeStripeKey, "stripe_api_key", fakeStripeKey},
		{"k: " + fakeGoogleKey, "google_api_key", fakeGoogleKey},
		{"DefaultEndpointsProtocol=https;AccountName=x;AccountKey=" + strings.Repeat("tEsT", 21) + "==;", "azure_storage_key", strings.Repeat("tEsT", 21) + "=="},
		{"Bearer " + fakeJWT, "jwt", fakeJWT},
		{"-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----\nafter", "private_key", "-----BEGIN RSA PRIVATE KEY-----\nMIIfake\n-----END RSA PRIVATE KEY-----"},
		{"postgres://admin:s3cr3tPass@db.local:5432/app", "url_password", "s3cr3tPass"},
		{`password: "hunter22"`, "password", "hunter22"},
		{`api_key = "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"`, "generic_secret", "Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB"},
		{"My café key: " + fakeOpenAIKey, "openai_api_key", fakeOpenAIKey},
		// Values after an authorization scheme: the scheme is not the
		// value, even where it is shorter than six bytes.
		{"Authorization: Basic dXNlcjpwYXNzd29yZDE=", "generic_secret", "dXNlcjpwYXNzd29yZDE="},
		{"auth: Token Zf3D0LXCM3EIMbgJpUNnkRtO", "generic_secret", "Zf3D0LXCM3EIMbgJpUNnkRtO"},
		{"auth_header = token Zf3D0LXCM3EIMbgJpUNnkRtO", "generic_secret", "Zf3D0LXCM3EIMbgJpUNnkRtO"},
		{"Authorization: Api-Token Zf3D0LXCM3EIMbgJpUNnkRtO", "generic_secret", "Zf3D0LXCM3EIMbgJpUNnkRtO"},
		{"password: hunt3r", "password", "hunt3r"},
	}
	for _, tt := range tests {
		fs := ScanSecrets(tt.text)
		secCheckFindings(t, tt.text, fs)
		if len(fs) != 1 || fs[0].Type != tt.typ || tt.text[fs[0].Start:fs[0].End] != tt.match {
			t.Errorf("ScanSecrets(%q) = %+v, want one %s %q", tt.text, fs, tt.typ, tt.match)
		}
	}
}

func TestScanSecretsAWSPair(t *testing.T) {
	text := "aws id " + fakeAWSKeyID + " secret " + fakeAWSSecret
	fs := ScanSecrets(text)
	if len(fs) != 2 || fs[0].Type != "aws_access_key_id" || fs[1].Type != "aws_secret_access_key" || text[fs[1].Start:fs[1].End] != fakeAWSSecret {
		t.Errorf("got %+v", fs)
	}
}

func TestScanSecretsNegatives(t *testing.T) {
	for _, text := range []string{
		"The well-known task-force met at 10:30; a = b.",
		"ghp_" + strings.Repeat("x", 36),                  // placeholder
		"ghp_testFAKEtestFAKEtestFAKEtestFA000000",        // bad checksum
		"sk-proj-Xi8tdMjHV6pmbBbwilTeT4BlbkFJ3UDnpdEwNNm", // no marker
		"password: ${DB_PASSWORD}",
		"https://user:@host", "https://url:8000/ @x",
		"author: John Smith",
		"eyJBB.eyJCC.eyJDDDD",
		"[OPENAI_API_KEY_1] and api_key=[GENERIC_SECRET_1]",
		"password: hunt3", "secret_token: x1y2z", "Thursday: what went well",
	} {
		if fs := ScanSecrets(text); len(fs) != 0 {
			t.Errorf("ScanSecrets(%q) = %+v, want none", text, fs)
		}
	}
}

// secCheckFindings checks offsets: in range, ordered, on rune boundaries
// (as ranging over the string sees them, so that each byte of invalid UTF-8
// is a rune of its own).
func secCheckFindings(t testing.TB, text string, fs []Finding) {
	t.Helper()
	boundary := make([]bool, len(text)+1)
	for i := range text {
		boundary[i] = true
	}
	boundary[len(text)] = true
	prev := 0
	for _, f := range fs {
		if f.Start < prev || f.End <= f.Start || f.End > len(text) {
			t.Fatalf("bad finding %+v in %q", f, text)
		}
		if !boundary[f.Start] || !boundary[f.End] {
			t.Fatalf("finding %+v not on rune boundaries in %q", f, text)
		}
		prev = f.End
	}
}

// benignText is n bytes of ordinary English prose with punctuation.
func benignText(n int) string {
	const para = "The quarterly report shows that our customers asked for faster answers, " +
		"clearer pricing and better documentation. Please summarise the main points for the " +
		"team meeting on Thursday: what went well, what did not, and which three changes we " +
		"should make first. Keep it short (about 200 words) and friendly; avoid jargon. " +
		"Also draft a two-line e-mail inviting Anna, Jürgen and Zoë to review it by Friday.\n"
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(para)
	}
	return b.String()[:n]
}

func BenchmarkScanSecrets(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"4KB", 4 << 10}, {"1MB", 1 << 20}} {
		text := benignText(size.n)
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if fs := ScanSecrets(text); fs != nil {
					b.Fatal(fs)
				}
			}
		})
	}
}

// longRunTexts are texts made of long runs of token bytes that many
// prefixes start inside ("sk-sk-sk-…"), with keys before, inside and after
// them: each start must see the run to its end, and the keys inside still
// be found.
func longRunTexts() []string {
	r := strings.Repeat
	return []string{
		r("sk-", 300) + fakeOpenAIKey[3:],
		fakeOpenAIKey + r("-sk-", 300),
		r("sk-", 200) + "T3BlbkFJ" + r("-sk-", 200) + " " + r("sk-", 20) + "T3BlbkF",
		r("sk-ant-", 100) + fakeAnthropicKey,
		r("xoxb-", 300) + "1" + r("-xoxb-", 100),
		r("xoxb-", 300) + " " + fakeSlackToken + r("-xoxb-", 10),
		r("xapp-", 300),
		r("AIza-", 300) + fakeGoogleKey + "-AIza",
		r("glpat-", 300) + fakeGitLabToken[6:] + " " + r("glpat-", 5) + fakeGitLabToken,
		r("eyJhbGciOiJIUzI1NiJ9-", 60) + "." + r("eyJ-", 100) + " " + fakeJWT,
		r("sk-", 100) + fakeAWSKeyID + r("-sk-", 100) + fakeGitHubToken() + r("-sk-", 10),
		r("sk-1", 300) + "\n" + r("xoxp-", 100) + fakeSlackToken[5:],
		// The marker, or the digit, in the run before the start only.
		"glimt-T3BlbkFJ-sk-proj-testFAKEtestFAKEtestFAKEtestfakeFAKEfakeFAKEfake",
		"sk-123-xoxb-" + r("abcdefgh", 4),
	}
}

// TestScanSecretsLongRuns checks ScanSecrets, which measures a run of
// token bytes once for all the starts inside it, against the reference
// that measures it from each start.
func TestScanSecretsLongRuns(t *testing.T) {
	for _, text := range longRunTexts() {
		for _, cut := range []int{0, 1, 2, 3, 7} {
			got, want := ScanSecrets(text[cut:]), refScanSecrets(text[cut:])
			secCheckFindings(t, text[cut:], got)
			if !slices.Equal(got, want) {
				t.Errorf("%.60q…: %+v\nreference %+v", text[cut:], got, want)
			}
		}
	}
	// Other rules still find their keys inside such a run.
	fs := ScanSecrets(longRunTexts()[10])
	if !slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == "aws_access_key_id" }) ||
		!slices.ContainsFunc(fs, func(f Finding) bool { return f.Type == "github_token" }) {
		t.Errorf("keys inside a run of prefixes: %+v", fs)
	}
}

func FuzzScanSecrets(f *testing.F) {
	for _, s := range append([]string{fakeOpenAIKey, fakeAWSKeyID + " " + fakeAWSSecret, fakeJWT, fakeGitHubToken(),
		"postgres://a:b@c", "api_key=\"Zf3D0LXCM3EIMbgJpUNnkRtOfOueHznB\"", "-----BEGIN PRIVATE KEY-----\nx",
		"token: ü" + fakeSlackToken, benignText(300)}, longRunTexts()...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fs := ScanSecrets(text)
		secCheckFindings(t, text, fs)
		if ref := refScanSecrets(text); !slices.Equal(fs, ref) {
			t.Fatalf("%+v\nreference %+v", fs, ref)
		}
		for _, x := range fs {
			if x.Kind != KindSecret || x.Type == "" {
				t.Fatalf("bad finding %+v", x)
			}
		}
	})
}
