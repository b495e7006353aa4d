package secureai

import (
	"sync"

	"github.com/secureai-go/secureai/sanitize"
)

// sharedScan runs the built-in content checks of stages 4 and 5 that read
// every text — invisible Unicode (hygiene), secrets and personal data
// (redaction), prompt injection — as one pass per text with a
// [sanitize.InputScanner], whose results equal those of the separate
// scanners (a text that needs the Unicode rules alone gets
// [sanitize.ScanUnicode], which is faster on its own). The first check to read a field scans it for every family that
// is on; a later check reads the kept result as long as the field's text is
// the same, and scans again when an earlier check rewrote it. So a clean
// prompt is read once, and the checks decide exactly as when each scanned
// on its own.
//
// The results live in a call's scanCache, taken from a pool when the first
// field is scanned and returned at the end of stage 8 (prepare), so that a
// call whose texts hold nothing allocates nothing for its scans.
type sharedScan struct {
	scored   *sanitize.InputScanner // every family on, injection included
	unscored *sanitize.InputScanner // the same without injection
	// The families on: unicode for the hygiene check, secrets (and
	// personal data) for the redactor, injection for the injection check
	// (off when it has a classifier: Detect then scores the text itself).
	unicode, secrets, injection bool
	pool                        sync.Pool // *scanCache
}

// newSharedScan returns the shared scan for the families that are on, or
// nil when none is.
func newSharedScan(unicode, secrets, injection bool, opts sanitize.InjectionOptions) (*sharedScan, error) {
	if !unicode && !secrets && !injection {
		return nil, nil
	}
	s := &sharedScan{unicode: unicode, secrets: secrets, injection: injection}
	o := sanitize.InputScanOptions{Injection: opts, SkipSecrets: !secrets, SkipKeyRules: !secrets, SkipPII: !secrets,
		SkipUnicode: !unicode, SkipInjection: !injection}
	var err error
	if s.scored, err = sanitize.NewInputScanner(o); err != nil {
		return nil, err
	}
	o.SkipInjection = true
	if s.unscored, err = sanitize.NewInputScanner(o); err != nil {
		return nil, err
	}
	s.pool.New = func() any { return new(scanCache) }
	return s, nil
}

// scanCache holds one call's scan results, by field index. Its fields
// only grow, so that their InputScans keep their storage across calls.
type scanCache struct {
	fields []fieldScan
	buf    []sanitize.Finding // the redactor's merged findings
}

// fieldScan is the scan of one field's text. text is the string scanned:
// the result stands only while the field still holds it.
type fieldScan struct {
	text  string
	valid bool
	inj   bool // the injection rules ran
	scan  sanitize.InputScan
}

// field returns the scan of text, the text of field i of the call's input,
// with the injection rules run when inj is set: the kept one when it is of
// the same text, else a new scan. The result is valid until the next call
// of field for the same index, and at most until release.
func (s *sharedScan) field(call *Call, i int, text string, inj bool) *sanitize.InputScan {
	c := call.scans
	if c == nil {
		c = s.pool.Get().(*scanCache)
		call.scans = c
	}
	for len(c.fields) <= i {
		c.fields = append(c.fields, fieldScan{})
	}
	e := &c.fields[i]
	inj = inj && s.injection
	if e.valid && (e.inj || !inj) && e.text == text {
		return &e.scan
	}
	switch {
	case inj:
		s.scored.ScanInto(&e.scan, text)
	case !s.secrets:
		// The Unicode rules alone (or nothing): their own scanner is faster
		// than the combined pass, which pays for the word loop of the others.
		e.scan = sanitize.InputScan{}
		if s.unicode {
			e.scan.Invisible = sanitize.ScanUnicode(text)
		}
	default:
		s.unscored.ScanInto(&e.scan, text)
	}
	e.text, e.valid, e.inj = text, true, inj
	return &e.scan
}

// redactionFindings returns the findings of [sanitize.NewScanner] for
// text, field i of the call's input, in its order. The slice is the call's
// scratch buffer: valid until the next call.
func (s *sharedScan) redactionFindings(call *Call, i int, text string, scored bool) []sanitize.Finding {
	sc := s.field(call, i, text, scored)
	if len(sc.Secrets)+len(sc.PII) == 0 {
		return nil
	}
	c := call.scans
	// NewScanner's order before its sort: secrets (ours, then the key
	// rules: InputScan.Secrets holds both), PII.
	c.buf = append(c.buf[:0], sc.Secrets...)
	c.buf = append(c.buf, sc.PII...)
	sanitize.SortFindings(c.buf)
	return c.buf
}

// release returns the call's scan results to the pool, without the texts
// they were made of.
func (s *sharedScan) release(call *Call) {
	c := call.scans
	if c == nil {
		return
	}
	call.scans = nil
	for i := range c.fields { // the scans' storage stays for the next call
		c.fields[i].text, c.fields[i].valid = "", false
	}
	c.buf = c.buf[:0]
	s.pool.Put(c)
}
