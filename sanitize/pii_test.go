package sanitize

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/secureai-go/secureai/internal/testenv"
)

func TestScanPII(t *testing.T) {
	tests := []struct {
		text, typ, match string
	}{
		{"write to jane.doe+news@example.com.", "email", "jane.doe+news@example.com"},
		{"call (415) 555-0132 now", "phone", "(415) 555-0132"},
		{"or +44 20 7123 4567", "phone", "+44 20 7123 4567"},
		{"card 4111 1111 1111 1111 ok", "credit_card", "4111 1111 1111 1111"},
		{"amex 371449635398431", "credit_card", "371449635398431"},
		{"IBAN DE89 3704 0044 0532 0130 00 thanks", "iban", "DE89 3704 0044 0532 0130 00"},
		{"GB82WEST12345698765432", "iban", "GB82WEST12345698765432"},
		{"ssn 078-05-1121", "us_ssn", "078-05-1121"},
		{"host 192.168.1.10.", "ip_address", "192.168.1.10"},
		{"v6 2001:db8::1 here", "ip_address", "2001:db8::1"},
		{"full fe80:0:0:0:202:b3ff:fe1e:8329 form", "ip_address", "fe80:0:0:0:202:b3ff:fe1e:8329"},
		{"mapped ::ffff:192.0.2.128 too", "ip_address", "::ffff:192.0.2.128"},
		{"after a colon:10.0.0.1 ok", "ip_address", "10.0.0.1"},
		{"Zoë's mail: zoë@x.io is not ASCII but zoe@x.io is", "email", "zoe@x.io"},
	}
	for _, tt := range tests {
		fs := ScanPII(tt.text)
		secCheckFindings(t, tt.text, fs)
		if len(fs) != 1 || fs[0].Type != tt.typ || tt.text[fs[0].Start:fs[0].End] != tt.match {
			got := make([]string, len(fs))
			for i, f := range fs {
				got[i] = f.Type + ":" + tt.text[f.Start:f.End]
			}
			t.Errorf("ScanPII(%q) = %v, want one %s %q", tt.text, got, tt.typ, tt.match)
		}
	}
}

func TestScanPIINegatives(t *testing.T) {
	for _, text := range []string{
		"In 2024 we sold 1,234 units at 12:30 on 2024-11-23, version 1.2.3.",
		"card 4111 1111 1111 1112",           // Luhn fails
		"ssn 666-12-3456 and 078-05-1120",    // forbidden area, advertised number
		"DE89 3704 0044 0532 0130 01",        // mod-97 fails
		"std::vector and a::b and 1:2:3:4",   // not addresses
		"at 10:30:45 from 00:1a:2b:3c:4d:5e", // a time and a MAC address: too few groups, no "::"
		"my email is info@presidio. ok",      // no TLD
		"[EMAIL_1] and [PHONE_2] and [IP_3]", // placeholders
	} {
		if fs := ScanPII(text); len(fs) != 0 {
			t.Errorf("ScanPII(%q) = %+v, want none", text, fs)
		}
	}
}

func BenchmarkScanPII(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"4KB", 4 << 10}, {"1MB", 1 << 20}} {
		text := benignText(size.n)
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if fs := ScanPII(text); fs != nil {
					b.Fatal(fs)
				}
			}
		})
	}
}

func FuzzScanPII(f *testing.F) {
	for _, s := range []string{"a@b.co", "(415) 555-0132", "+44 20 7123 4567", "4111 1111 1111 1111",
		"DE89 3704 0044 0532 0130 00", "078-05-1121", "::1", "fe80::1%eth0", "1.2.3.4", strings.Repeat("9", 40), benignText(300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		fs := ScanPII(text)
		secCheckFindings(t, text, fs)
		for _, x := range fs {
			if x.Kind != KindPII || x.Type == "" {
				t.Fatalf("bad finding %+v", x)
			}
		}
	})
}

// TestDateLikeNotPhone checks the shortcut that spares libphonenumber
// the dates in prose: every text dateLike accepts (every ISO date and
// every range of years from 1900 to 2099, with and without a '(' before
// it) is one libphonenumber turns down, so the shortcut never hides a
// phone number; and it accepts no phone number of the PII tests.
func TestDateLikeNotPhone(t *testing.T) {
	n := 0
	check := func(s string) {
		if !dateLike(s) {
			t.Fatalf("%q: not date-like", s)
		}
		if phoneValid(s) {
			t.Fatalf("%q: date-like, and libphonenumber accepts it as a phone number", s)
		}
		n++
	}
	step := 1
	if testing.Short() || testenv.Race {
		step = 29 // a sample of the years: the full run is in go test ./...
	}
	for y := 1900; y <= 2099; y += step {
		for m := 1; m <= 12; m++ {
			for d := 1; d <= 31; d++ {
				s := fmt.Sprintf("%d-%02d-%02d", y, m, d)
				check(s)
				check("(" + s)
			}
		}
		for y2 := 1900; y2 <= 2099; y2++ {
			s := fmt.Sprintf("%d-%d", y, y2)
			check(s)
			check("(" + s)
		}
	}
	for _, s := range []string{"(415) 555-0132", "415-555-0132", "1-415-555-2671", "2026-03-04 5", "2026-13-04",
		"2026-03-32", "1899-01-01", "2100-01-01", "2026-3-04", "2026.03.04", "12026-03-04", "2026-03"} {
		if dateLike(s) {
			t.Errorf("%q: date-like", s)
		}
	}
	t.Logf("%d date-like texts, none a phone number", n)
}

// candidateDigits returns the digits of a phone-number candidate.
func candidateDigits(num string) []byte {
	var d []byte
	for i := 0; i < len(num); i++ {
		if isDigit(num[i]) {
			d = append(d, num[i])
		}
	}
	return d
}

// TestNANPAPossible checks the shortcut that spares libphonenumber most
// numbers that are not phone numbers (order numbers, timestamps): on
// candidates of 7 to 15 digits, random but for their first digits (1s,
// 011, 0) and their separators, every one libphonenumber finds valid
// passes nanpaPossible; and the phone numbers of the PII tests pass it.
func TestNANPAPossible(t *testing.T) {
	if nanpaPrefixes() == nil {
		t.Fatal("libphonenumber's metadata is not as nanpaPossible expects: every candidate goes to libphonenumber")
	}
	n := 20000
	if testing.Short() || testenv.Race {
		n = 2000
	}
	r := rand.New(rand.NewPCG(1, 2))
	prefixes := []string{"", "", "", "1", "11", "111", "1 ", "(1) ", "011", "011 ", "0", "01", "00"}
	valid, skipped := 0, 0
	for range n {
		var b strings.Builder
		b.WriteString(prefixes[r.IntN(len(prefixes))])
		for b.Len() < 7+r.IntN(12) {
			b.WriteByte(byte('0' + r.IntN(10)))
			if r.IntN(5) == 0 {
				b.WriteByte(" -.()"[r.IntN(5)])
			}
		}
		num := strings.TrimRight(b.String(), " -.(")
		d := candidateDigits(num)
		if len(d) < 7 || len(d) > 15 {
			continue
		}
		ok := phoneValid(num)
		if ok {
			valid++
		}
		if !nanpaPossible(d) {
			skipped++
			if ok {
				t.Fatalf("%q: libphonenumber finds it valid, nanpaPossible rules it out", num)
			}
		}
	}
	if valid == 0 || skipped < n/4 {
		t.Errorf("%d valid, %d ruled out of %d: the sample tests little", valid, skipped, n)
	}
	for _, num := range []string{"(415) 555-0132", "415.555.0132", "1 415 555 0132", "1116893832758", "011 44 20 7123 4567"} {
		if !nanpaPossible(candidateDigits(num)) || !phoneValid(num) {
			t.Errorf("%q: nanpaPossible %v, libphonenumber %v", num, nanpaPossible(candidateDigits(num)), phoneValid(num))
		}
	}
}

// FuzzNANPAPossible checks nanpaPossible against libphonenumber on any
// candidate matchNumber could take to it.
func FuzzNANPAPossible(f *testing.F) {
	for _, s := range []string{"(415) 555-0132", "4100000000", "1116893832758", "011 44 20 7123 4567", "1-800-555-0199"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, num string) {
		if strings.Trim(num, "0123456789 -.()") != "" {
			return
		}
		d := candidateDigits(num)
		if len(d) < 7 || len(d) > 15 || nanpaPossible(d) {
			return
		}
		if phoneValid(num) {
			t.Fatalf("%q: libphonenumber finds it valid, nanpaPossible rules it out", num)
		}
	})
}
