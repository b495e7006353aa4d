package sanitize

import "testing"

func BenchmarkScanner(b *testing.B) {
	sc := NewScanner()
	for _, size := range []struct {
		name string
		n    int
	}{{"4KB", 4 << 10}, {"1MB", 1 << 20}} {
		text := benignText(size.n)
		b.Run(size.name, func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			for b.Loop() {
				if fs := sc.Scan(text); fs != nil {
					b.Fatal(fs)
				}
			}
		})
	}
}
