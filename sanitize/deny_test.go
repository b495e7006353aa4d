package sanitize

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDenyList(t *testing.T) {
	d, err := NewDenyList(
		DenyRule{Name: "project-names", Keywords: []string{"Bluebird", "Project Falcon", "猎鹰"}},
		DenyRule{Name: "destructive-sql", Keywords: []string{"drop table", "truncate"}, Pattern: `(?i)delete\s+from\s+\w+\s*;`},
	)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		text string
		want []string // "type@start-end"
	}{
		{"What is the status of bluebird?", []string{"project-names@22-30"}},
		{"BLUEBIRDS are birds", nil},   // word boundary after
		{"the bluebird_x module", nil}, // '_' is a word byte
		{"please DROP TABLE users", []string{"destructive-sql@7-17"}},
		{"drop  table users", nil}, // exact spacing only
		{"DELETE   FROM users ;", []string{"destructive-sql@0-21"}},
		{"关于猎鹰项目", []string{"project-names@6-12"}}, // no boundaries in CJK
		{"truncate; truncate", []string{"destructive-sql@0-8", "destructive-sql@10-18"}},
		{"Project Falcon and project falcon", []string{"project-names@0-14", "project-names@19-33"}},
		{"nothing to see", nil},
	} {
		var got []string
		for _, f := range d.Scan(tc.text) {
			if f.Kind != KindDeny {
				t.Errorf("%q: kind %v", tc.text, f.Kind)
			}
			got = append(got, f.Type+"@"+itoa(f.Start)+"-"+itoa(f.End))
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("Scan(%q) = %v, want %v", tc.text, got, tc.want)
		}
	}
	if got := d.String(); strings.Contains(got, "Bluebird") || !strings.Contains(got, "project-names") {
		t.Errorf("String() = %q: must name rules, never keywords", got)
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
}

func TestDenyListRefuses(t *testing.T) {
	for _, r := range []DenyRule{
		{Name: "", Keywords: []string{"x1"}},
		{Name: "Upper", Keywords: []string{"x1"}},
		{Name: "empty"},
		{Name: "short", Keywords: []string{"x"}},
		{Name: "utf8", Keywords: []string{"a\xff"}},
		{Name: "re", Pattern: "("},
	} {
		if _, err := NewDenyList(r); !errors.Is(err, ErrDenyRule) {
			t.Errorf("NewDenyList(%+v) = %v, want ErrDenyRule", r, err)
		}
	}
	var nilList *DenyList
	if nilList.Scan("anything") != nil {
		t.Error("nil list found something")
	}
}

func TestDenyListOverlaps(t *testing.T) {
	// A keyword inside another (no word boundaries in CJK): the failure
	// links must report both.
	d, err := NewDenyList(DenyRule{Name: "a", Keywords: []string{"猎鹰项目"}}, DenyRule{Name: "b", Keywords: []string{"鹰项", "项目组"}})
	if err != nil {
		t.Fatal(err)
	}
	fs := d.Scan("猎鹰项目组")
	// b's two matches overlap (3-9 and 6-15) and are reported once.
	if len(fs) != 2 || fs[0] != (Finding{KindDeny, "a", 0, 12}) || fs[1] != (Finding{KindDeny, "b", 3, 15}) {
		t.Fatalf("Scan = %v, want a@0-12, b@3-15", fs)
	}
}

func FuzzDenyList(f *testing.F) {
	d, err := NewDenyList(DenyRule{Name: "k", Keywords: []string{"ignore previous", "rm -rf", "猎鹰", "Ünïcode"}},
		DenyRule{Name: "p", Pattern: `(?i)\bsecret\s*[:=]`})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"IGNORE PREVIOUS", "sudo rm -rf /", "猎鹰猎鹰", "secret = 1", "\xff\xfe", "ünïcode"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		prev := -1
		for _, fd := range d.Scan(text) {
			if fd.Start < 0 || fd.End > len(text) || fd.Start >= fd.End {
				t.Fatalf("finding %+v out of range for %d bytes", fd, len(text))
			}
			if utf8.ValidString(text) && (!utf8.RuneStart(text[fd.Start]) || fd.End < len(text) && !utf8.RuneStart(text[fd.End])) {
				t.Fatalf("finding %+v not on rune boundaries", fd)
			}
			if fd.Start < prev {
				t.Fatalf("findings out of order")
			}
			prev = fd.Start
		}
	})
}

func BenchmarkDenyList(b *testing.B) {
	var kws []string
	for _, w := range strings.Fields("bluebird falcon kestrel osprey harrier merlin hobby peregrine condor vulture drop-table truncate shutdown reboot") {
		kws = append(kws, w, "project "+w)
	}
	d, err := NewDenyList(DenyRule{Name: "banned", Keywords: kws})
	if err != nil {
		b.Fatal(err)
	}
	text := benignText(4 << 10)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		if fs := d.Scan(text); fs != nil {
			b.Fatal(fs)
		}
	}
}
