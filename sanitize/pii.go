package sanitize

import (
	"net/netip"
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// PhoneRegion is the region ScanPII assumes for phone numbers written
// without a "+" country code. It is "US": the other national rules here (SSN)
// are American too, and a number with a country code validates for any
// region. A different default belongs in a scanner option when a caller
// needs one.
const PhoneRegion = "US"

// piiAnchor marks the bytes that can start a PII rule: '@' (e-mail), digits
// (phone numbers, cards, SSNs, IPv4, and the check digits of an IBAN, whose
// two capitals are found by looking back), '+' and '(' (phone numbers) and
// ':' (IPv6). Capital letters are not anchors: in prose they start
// sentences and names far more often than IBANs.
var piiAnchor = func() (t [256]uint8) {
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['@'], t['+'], t['('], t[':'] = 1, 1, 1, 1
	return t
}()

// ScanPII reports personal data in text as findings of kind [KindPII].
// Types: "email", "phone" (validated with libphonenumber, see
// [PhoneRegion]), "credit_card" (Luhn and issuer ranges), "iban" (country
// length and mod-97), "us_ssn" (area, group and serial rules; written with
// '-', ' ' or '.' separators) and "ip_address" (IPv4 and IPv6).
//
// Findings are ordered by offset and do not overlap. ScanPII allocates
// nothing when it finds nothing, except while libphonenumber validates a
// phone-number candidate of 7 or more digits that a table drawn from its
// metadata cannot rule out (see nanpaPossible).
func ScanPII(text string) []Finding {
	st := piiState{lastIP: -1}
	for i := 0; ; i = st.next {
		if i = nextAnchor(text, i, &piiAnchor); i >= len(text) {
			break
		}
		st.at(text, i)
	}
	return st.out
}

// piiState is ScanPII's state between anchors, so that the combined input
// scan can drive the same rules from its own pass.
type piiState struct {
	out    []Finding
	lastIP int // start of the last IPv6 candidate tried
	next   int // the first offset still to look at
}

// at runs the PII rules at text[i], a byte marked in piiAnchor. Anchors
// must be given in increasing order; those before st.next are ignored.
func (st *piiState) at(text string, i int) {
	prev := st.next
	if i < prev {
		return
	}
	st.next = i + 1
	c := text[i]
	// An IBAN starts with two capitals and two check digits: try it from
	// its first digit, as if its first capital were the anchor.
	if s := i - 2; s >= prev && isDigit(c) && s >= 0 && isUpper(text[s+1]) && isUpper(text[s]) && boundaryBefore(text, s) {
		if e, typ := matchIBAN(text, s); typ != "" {
			st.add(s, e, typ)
			return
		}
	}
	var s, e int
	var typ string
	switch {
	case c == '@':
		s, e, typ = matchEmail(text, i)
	case c == ':':
		if t := ipStart(text, i); t != st.lastIP {
			st.lastIP = t
			s = t
			e, typ = matchIP(text, t)
		}
	default: // digit, '+', '('
		if i > 0 && (isAlnum(text[i-1]) || text[i-1] == '.') {
			return
		}
		s = i
		if c >= '0' && c <= '9' {
			st.lastIP = i
			e, typ = matchIP(text, i)
		}
		if typ == "" && !(i > 0 && (text[i-1] == '+' || text[i-1] == '(' || text[i-1] == '-' && i > 1 && isAlnum(text[i-2]))) {
			e, typ = matchNumber(text, i)
		}
	}
	if typ != "" {
		st.add(s, e, typ)
	}
}

// add records a finding at [s, e) unless it overlaps the previous one.
func (st *piiState) add(s, e int, typ string) {
	if n := len(st.out); n > 0 && s < st.out[n-1].End {
		return
	}
	st.out = append(st.out, Finding{Kind: KindPII, Type: typ, Start: s, End: e})
	st.next = e
}

func isUpper(c byte) bool { return c >= 'A' && c <= 'Z' }

func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

func isDomainByte(c byte) bool { return isAlnum(c) || c == '.' || c == '-' }

func matchEmail(text string, at int) (int, int, string) {
	s := at
	for s > 0 && at-s < 64 && isEmailLocal(text[s-1]) {
		s--
	}
	for s < at && (text[s] == '.' || text[s] == '-' || text[s] == '+') {
		s++
	}
	if s == at {
		return 0, 0, ""
	}
	e := at + 1
	for e < len(text) && e-at < 254 && isDomainByte(text[e]) {
		e++
	}
	for e > at+1 && (text[e-1] == '.' || text[e-1] == '-') {
		e--
	}
	dom := text[at+1 : e]
	dot := strings.LastIndexByte(dom, '.')
	if dot <= 0 || strings.Contains(dom, "..") {
		return 0, 0, ""
	}
	tld := dom[dot+1:]
	if len(tld) < 2 {
		return 0, 0, ""
	}
	if !strings.HasPrefix(tld, "xn--") {
		for i := 0; i < len(tld); i++ {
			if !(tld[i] >= 'a' && tld[i] <= 'z' || tld[i] >= 'A' && tld[i] <= 'Z') {
				return 0, 0, ""
			}
		}
	}
	return s, e, "email"
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

func isIPByte(c byte) bool { return isHex(c) || c == ':' || c == '.' }

// ipStart walks back from i over hex digits, colons and dots.
func ipStart(text string, i int) int {
	s := i
	for s > 0 && i-s < 45 && isIPByte(text[s-1]) {
		s--
	}
	return s
}

// matchIP matches an IPv4 or IPv6 address starting at s.
func matchIP(text string, s int) (int, string) {
	if s > 0 && (isAlnum(text[s-1]) || text[s-1] == '_') {
		return 0, ""
	}
	e := s
	colons, dots := 0, 0
	for e < len(text) && e-s < 45 && isIPByte(text[e]) {
		switch text[e] {
		case ':':
			colons++
		case '.':
			dots++
		}
		e++
	}
	for e > s && text[e-1] == '.' { // end of a sentence
		e--
		dots--
	}
	if e < len(text) && (isAlnum(text[e]) || text[e] == '_') {
		return 0, ""
	}
	if colons < 2 && dots != 3 || colons > 0 && e-s < 6 && e-s > 2 && !hasDigit(text[s:e]) { // "a::b" is a C++ name
		return 0, ""
	}
	if colons == 0 {
		for j := s; j < e; j++ {
			if text[j] != '.' && (text[j] < '0' || text[j] > '9') {
				return 0, ""
			}
		}
	}
	if colons > 0 && colons < 7 && !strings.Contains(text[s:e], "::") {
		// Too few groups for a full IPv6 address and no "::": a time
		// (10:30:45) or a MAC address, turned down before the parser.
		return 0, ""
	}
	if _, err := netip.ParseAddr(text[s:e]); err != nil {
		return 0, ""
	}
	return e, "ip_address"
}

// matchNumber matches a payment card, a US SSN or a phone number written
// with digits and the separators " -.()" from s.
func matchNumber(text string, s int) (int, string) {
	var digits [20]byte
	nd := 0
	e := s
	seps := 0
	lastSep := byte(0)
	plus := text[s] == '+'
	j := s
	if plus {
		j++
	}
	for ; j < len(text) && j-s < 32; j++ {
		c := text[j]
		if c >= '0' && c <= '9' {
			if nd == len(digits) {
				return 0, ""
			}
			digits[nd] = c
			nd++
			e = j + 1
			lastSep = 0
			continue
		}
		if c != ' ' && c != '-' && c != '.' && c != '(' && c != ')' {
			break
		}
		if lastSep != 0 && !(lastSep == ')' && c == ' ' || lastSep == ' ' && c == '(') {
			break
		}
		lastSep = c
		seps++
	}
	if e < len(text) && isAlnum(text[e]) || nd < 7 {
		return 0, ""
	}
	num := text[s:e]
	if !plus && nd >= 13 && nd <= 19 && !strings.ContainsAny(num, "().") && luhn(digits[:nd]) && cardIIN(digits[:nd]) {
		return e, "credit_card"
	}
	if !plus && nd == 9 && ssnShape(num) && ssnValid(digits[:9]) {
		return e, "us_ssn"
	}
	if nd <= 15 {
		if !plus && nd == 9 && seps == 0 {
			return 0, "" // a bare nine-digit number is more often an ID than a phone
		}
		if (plus || !dateLike(num) && nanpaPossible(digits[:nd])) && phoneValid(num) {
			return e, "phone"
		}
	}
	return 0, ""
}

// phoneValid reports whether libphonenumber parses num, in PhoneRegion,
// as a valid number: a few microseconds, with allocations.
func phoneValid(num string) bool {
	pn, err := phonenumbers.Parse(num, PhoneRegion)
	return err == nil && phonenumbers.IsValidNumber(pn)
}

// dateLike reports whether num, a phone-number candidate, is an ISO date
// (YYYY-MM-DD) or a range of years (YYYY-YYYY), years 1900 to 2099, with
// or without a '(' before it. Prose is full of them, libphonenumber takes
// microseconds to turn one down, and it turns down every one:
// TestDateLikeNotPhone checks all of them.
func dateLike(num string) bool {
	num = strings.TrimPrefix(num, "(")
	year := func(s string) bool {
		return len(s) == 4 && (s[:2] == "19" || s[:2] == "20") && isDigit(s[2]) && isDigit(s[3])
	}
	two := func(s string, lo, hi int) bool {
		if len(s) != 2 || !isDigit(s[0]) || !isDigit(s[1]) {
			return false
		}
		v := int(s[0]-'0')*10 + int(s[1]-'0')
		return v >= lo && v <= hi
	}
	switch len(num) {
	case 9:
		return year(num[:4]) && num[4] == '-' && year(num[5:])
	case 10:
		return year(num[:4]) && num[4] == '-' && two(num[5:7], 1, 12) && num[7] == '-' && two(num[8:], 1, 31)
	}
	return false
}

func luhn(d []byte) bool {
	sum := 0
	double := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if double {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		double = !double
	}
	return sum%10 == 0
}

func prefixNum(d []byte, n int) int {
	v := 0
	for i := 0; i < n && i < len(d); i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v
}

// cardIIN checks the issuer prefix and length of a card number: Visa,
// Mastercard, American Express, Discover, JCB, Diners Club, UnionPay,
// Maestro.
func cardIIN(d []byte) bool {
	n := len(d)
	p1, p2, p4 := prefixNum(d, 1), prefixNum(d, 2), prefixNum(d, 4)
	p3, p6 := prefixNum(d, 3), prefixNum(d, 6)
	switch {
	case p1 == 4:
		return n == 13 || n == 16 || n == 19
	case p2 >= 51 && p2 <= 55, p4 >= 2221 && p4 <= 2720:
		return n == 16
	case p2 == 34 || p2 == 37:
		return n == 15
	case p4 == 6011, p2 == 65, p3 >= 644 && p3 <= 649, p6 >= 622126 && p6 <= 622925:
		return n >= 16
	case p4 >= 3528 && p4 <= 3589:
		return n >= 16
	case p3 >= 300 && p3 <= 305, p2 == 36, p2 == 38, p2 == 39, p4 == 3095:
		return n >= 14
	case p2 == 62, p2 == 81:
		return n >= 16
	case p2 == 50, p2 >= 56 && p2 <= 69:
		return n >= 12
	case p4 == 1220: // UATP-like test range used by card test suites
		return n == 15
	}
	return false
}

// ssnShape accepts ddd-dd-dddd with one separator kind throughout.
func ssnShape(s string) bool {
	if len(s) != 11 {
		return false
	}
	sep := s[3]
	return (sep == '-' || sep == ' ' || sep == '.') && s[6] == sep
}

func ssnValid(d []byte) bool {
	area, group, serial := prefixNum(d, 3), prefixNum(d[3:], 2), prefixNum(d[5:], 4)
	if area == 0 || area == 666 || area >= 900 || group == 0 || serial == 0 {
		return false
	}
	// Numbers published in advertising and never valid.
	return !(area == 78 && group == 5 && serial == 1120) && !(area == 219 && group == 9 && serial == 9999) &&
		!(area == 123 && group == 45 && serial == 6789)
}

// ibanLength is the length of an IBAN by country (ISO 13616 registry).
var ibanLength = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21,
	"LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28,
	"NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22,
	"RU": 33, "SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// matchIBAN matches an IBAN at s, compact or in groups separated by single
// spaces, and checks its length and mod-97 checksum.
func matchIBAN(text string, s int) (int, string) {
	if len(text)-s < 15 || !(text[s+1] >= 'A' && text[s+1] <= 'Z') || !isDigit(text[s+2]) || !isDigit(text[s+3]) {
		return 0, ""
	}
	want, ok := ibanLength[text[s:s+2]]
	if !ok {
		return 0, ""
	}
	var buf [34]byte
	n := 0
	e := s
	for j := s; j < len(text) && n < want; j++ {
		c := text[j]
		switch {
		case isDigit(c) || c >= 'A' && c <= 'Z':
			buf[n] = c
			n++
			e = j + 1
		case c == ' ' && j > s && text[j-1] != ' ':
		default:
			j = len(text)
		}
	}
	if n != want || e < len(text) && isAlnum(text[e]) {
		return 0, ""
	}
	// Move the first four characters to the end, letters to 10..35, mod 97.
	rem := 0
	for k := 0; k < n; k++ {
		c := buf[(k+4)%n]
		if isDigit(c) {
			rem = (rem*10 + int(c-'0')) % 97
		} else {
			rem = (rem*100 + int(c-'A'+10)) % 97
		}
	}
	if rem != 1 {
		return 0, ""
	}
	return e, "iban"
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
