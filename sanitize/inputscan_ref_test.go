package sanitize

import (
	"slices"
	"strings"
)

// Reference copies of the scanners as they were before the combined input
// scan: the equality tests and FuzzInputScanMatches compare against them.

var refPIIAnchor = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	for c := 'A'; c <= 'Z'; c++ {
		t[c] = 1
	}
	t['@'], t['+'], t['('], t[':'] = 1, 1, 1, 1
	return t
}()

func refScanSecrets(text string) []Finding {
	var out []Finding
	lastTried := -1
	for i := 0; ; i++ {
		if i = nextAnchor(text, i, &anchor); i >= len(text) {
			break
		}
		var start, end int
		var typ string
		switch c := text[i]; c {
		case '=', ':':
			if c == ':' && strings.HasPrefix(text[i+1:], "//") {
				start, end, typ = matchURL(text, i)
			}
			if typ == "" {
				start, end, typ = new(tokenRuns).matchAssignment(text, i)
			}
		default:
			s := tokenStart(text, i)
			if s == lastTried {
				continue
			}
			lastTried = s
			end, typ = new(tokenRuns).matchToken(text, s)
			start = s
			if typ != "" && typ != "private_key" && placeholder(text[s:end]) {
				typ = ""
			}
		}
		if typ == "" {
			continue
		}
		if n := len(out); n > 0 && start < out[n-1].End {
			// Keep the earlier, longer-reaching finding.
			if end <= out[n-1].End {
				continue
			}
			start = out[n-1].End
		}
		out = append(out, Finding{Kind: KindSecret, Type: typ, Start: start, End: end})
		if typ == "aws_access_key_id" {
			if s, e := awsSecretNear(text, end); e > 0 {
				out = append(out, Finding{Kind: KindSecret, Type: "aws_secret_access_key", Start: s, End: e})
				end = e
			}
		}
		if end > i+1 {
			i = end - 1
		}
	}
	return out
}

func refScanPII(text string) []Finding {
	var out []Finding
	lastIP := -1
	for i := 0; ; i++ {
		if i = nextAnchor(text, i, &refPIIAnchor); i >= len(text) {
			break
		}
		c := text[i]
		var s, e int
		var typ string
		switch {
		case c == '@':
			s, e, typ = matchEmail(text, i)
		case c == ':':
			if t := ipStart(text, i); t != lastIP {
				lastIP = t
				s = t
				e, typ = matchIP(text, t)
			}
		case c >= 'A' && c <= 'Z':
			if boundaryBefore(text, i) {
				s = i
				e, typ = matchIBAN(text, i)
			}
		default: // digit, '+', '('
			if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.') {
				continue
			}
			s = i
			if c >= '0' && c <= '9' {
				lastIP = i
				e, typ = matchIP(text, i)
			}
			if typ == "" && !(i > 0 && (text[i-1] == '+' || text[i-1] == '(' || text[i-1] == '-' && i > 1 && isAlnum(text[i-2]))) {
				e, typ = matchNumber(text, i)
			}
		}
		if typ == "" {
			continue
		}
		if n := len(out); n > 0 && s < out[n-1].End {
			continue
		}
		out = append(out, Finding{Kind: KindPII, Type: typ, Start: s, End: e})
		i = e - 1
	}
	return out
}

func (d *InjectionDetector) refSignals(text string, depth int) []Signal {
	var st injState
	d.refPass(&st, text, depth)
	if st.cjk {
		d.cjk(&st, text)
	}
	if st.invis {
		d.invisible(&st, text, depth, nil, false)
	}
	if st.fold && depth < injMaxDepth {
		d.folded(&st, text, depth)
	}
	if len(st.sigs) > 1 {
		slices.SortStableFunc(st.sigs, func(a, b Signal) int { return a.Start - b.Start })
	}
	return st.sigs
}

func (d *InjectionDetector) refPass(st *injState, text string, depth int) {
	n := len(text)
	tab := injTab
	for i := 0; i < n; {
		c := injClass[text[i]]
		if c == cSkip {
			i++
			continue
		}
		if c == cWord {
			j := i + 1
			for j < n && injClass[text[j]] == cWord {
				j++
			}
			switch wl := j - i; {
			case wl >= 16:
				if e := d.encoded(st, text, i, j, depth); e > j {
					i = e
					continue
				}
				if id := tab.lookup(text, i, j); id >= 0 {
					d.word(st, text, i, j, id, depth)
				}
			case wl >= 2:
				h := injBloomHash(text[i]|0x20, text[i+1]|0x20, text[i+min(3, wl-1)]|0x20, text[j-1]|0x20, wl)
				if tab.bloom[h>>6]&(1<<(h&63)) != 0 {
					if id := tab.lookup(text, i, j); id >= 0 {
						d.word(st, text, i, j, id, depth)
					}
				}
			}
			i = j
			continue
		}
		switch c {
		case cHigh:
			i += d.high(st, text, i)
		case cLT:
			d.lt(st, text, i)
			i++
		case cLB:
			d.lb(st, text, i)
			i++
		case cRB:
			if i+1 < n && text[i+1] == '(' {
				d.link(st, text, i)
			}
			i++
		}
	}
}
