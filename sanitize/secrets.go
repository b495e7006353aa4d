package sanitize

import (
	"encoding/base64"
	"hash/crc32"
	"math"
	"strings"
)

// The secret rules are written here rather than taken from gitleaks' Go
// module: the module pulls in viper, zerolog and a regexp engine per rule,
// and its detector scans benign text at about 21 MB/s. Hand-written rules
// behind a byte prefilter keep the benign path allocation-free and above
// 1 GB/s, and each rule can verify what its format allows (GitHub CRC32,
// the JWT header, OpenAI's T3BlbkFJ marker).

// anchor marks the bytes that can start a secret rule: '-' and '_' (inside
// prefixes such as "sk-", "ghp_", "glpat-", "xoxb-", "-----BEGIN"), 'A'
// ("AKIA", "AIza"), 'J' ("eyJ"), 'G' ("GR1348941"), '=' and ':'
// (assignments, "scheme://user:pass@host").
var anchor = [256]uint8{'-': 1, '_': 1, 'A': 1, 'J': 1, 'G': 1, '=': 1, ':': 1}

// nextAnchor returns the index of the first byte at or after i marked in
// table t, or len(text). It tests eight bytes per branch.
func nextAnchor(text string, i int, t *[256]uint8) int {
	for ; i+8 <= len(text); i += 8 {
		s := text[i : i+8]
		if t[s[0]]|t[s[1]]|t[s[2]]|t[s[3]]|t[s[4]]|t[s[5]]|t[s[6]]|t[s[7]] != 0 {
			break
		}
	}
	return nextAnchorTail(text, i, t)
}

// nextAnchorTail is the byte-at-a-time end of nextAnchor.
func nextAnchorTail(text string, i int, t *[256]uint8) int {
	for ; i < len(text); i++ {
		if t[text[i]] != 0 {
			return i
		}
	}
	return i
}

// ScanSecrets reports API keys, tokens, private keys and passwords in text
// as findings of kind [KindSecret]. Types: "openai_api_key",
// "anthropic_api_key", "aws_access_key_id", "aws_secret_access_key",
// "github_token", "gitlab_token", "slack_token", "slack_webhook_url",
// "stripe_api_key", "google_api_key", "azure_storage_key", "jwt",
// "private_key", "url_password", "password", "generic_secret".
//
// It makes one pass over the bytes of text and looks closer only around the
// bytes that can start a rule; it allocates nothing when it finds nothing.
// Findings are ordered by offset and do not overlap.
func ScanSecrets(text string) []Finding {
	st := secretState{lastTried: -1}
	for i := 0; ; i = st.next {
		if i = nextAnchor(text, i, &anchor); i >= len(text) {
			break
		}
		st.at(text, i)
	}
	return st.out
}

// secretState is ScanSecrets' state between anchors, so that the combined
// input scan can drive the same rules from its own pass.
type secretState struct {
	out       []Finding
	lastTried int // start of the last token tried, against retrying it
	next      int // the first offset still to look at
	runs      tokenRuns
}

// at runs the secret rules at text[i], a byte marked in anchor. Anchors
// must be given in increasing order; those before st.next are ignored.
func (st *secretState) at(text string, i int) {
	if i < st.next {
		return
	}
	st.next = i + 1
	var start, end int
	var typ string
	switch c := text[i]; c {
	case '=', ':':
		if c == ':' && strings.HasPrefix(text[i+1:], "//") {
			start, end, typ = matchURL(text, i)
		}
		if typ == "" {
			start, end, typ = st.runs.matchAssignment(text, i)
		}
	default:
		s := tokenStart(text, i)
		if s == st.lastTried {
			return
		}
		st.lastTried = s
		end, typ = st.runs.matchToken(text, s)
		start = s
		if typ != "" && typ != "private_key" && placeholder(text[s:end]) {
			typ = ""
		}
	}
	if typ == "" {
		return
	}
	out := st.out
	if n := len(out); n > 0 && start < out[n-1].End {
		// Keep the earlier, longer-reaching finding.
		if end <= out[n-1].End {
			return
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
	st.out = out
	if end > i+1 {
		st.next = end
	}
}

func isAlnum(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func isTokenByte(c byte) bool { return isAlnum(c) || c == '-' || c == '_' }

func isB64Byte(c byte) bool { return isAlnum(c) || c == '+' || c == '/' }

// tokenStart walks back from i over letters and digits (at most 16) to the
// start of the word holding i.
func tokenStart(text string, i int) int {
	s := i
	for s > 0 && i-s < 16 && isAlnum(text[s-1]) {
		s--
	}
	return s
}

// boundaryBefore reports whether no token byte precedes s.
func boundaryBefore(text string, s int) bool { return s == 0 || !isAlnum(text[s-1]) }

// run returns the end of the run of bytes from i for which ok holds.
func run(text string, i int, ok func(byte) bool) int {
	for i < len(text) && ok(text[i]) {
		i++
	}
	return i
}

// tokenRuns remembers the run of token bytes (isTokenByte) that the
// prefix rules measured last, with what they ask of it, so that the
// starts inside one long run ("sk-sk-sk-…", a hyphenated base64 blob) do
// not each read it again: a text costs time linear in its length. It
// belongs to one scan of one text; the zero value is empty.
type tokenRuns struct {
	a, e   int // the run: text[a:e] are token bytes, text[e] is not (or e == len(text))
	marker int // the start of the last "T3BlbkFJ" in it, or -1; -2 until asked
	digit  int // the offset of the last digit in it, or -1; -2 until asked
}

// end returns the end of the run of token bytes from i.
func (r *tokenRuns) end(text string, i int) int {
	if r.e > r.a && i >= r.a && i <= r.e {
		return r.e
	}
	r.a, r.e, r.marker, r.digit = i, run(text, i, isTokenByte), -2, -2
	return r.e
}

// last returns the offset of what find finds last in the run from s, or
// -1, found once per run and kept in *c (-2 until asked).
func (r *tokenRuns) last(text string, s int, c *int, find func(string) int) int {
	r.end(text, s)
	if *c == -2 {
		if *c = find(text[r.a:r.e]); *c >= 0 {
			*c += r.a
		}
	}
	return *c
}

// hasMarker reports whether OpenAI's "T3BlbkFJ" occurs in text[s:e],
// where e is the end of the run from s.
func (r *tokenRuns) hasMarker(text string, s, e int) bool {
	m := r.last(text, s, &r.marker, func(run string) int { return strings.LastIndex(run, "T3BlbkFJ") })
	return m >= s && m+8 <= e
}

// hasDigit reports whether text[s:e] holds a digit, where e is the end of
// the run from s.
func (r *tokenRuns) hasDigit(text string, s, e int) bool {
	d := r.last(text, s, &r.digit, func(run string) int { return strings.LastIndexAny(run, "0123456789") })
	return d >= s && d < e
}

// matchToken tries the prefix rules at s and returns the end and type of
// the match, or a zero type.
func (r *tokenRuns) matchToken(text string, s int) (end int, typ string) {
	if s >= len(text) || !boundaryBefore(text, s) && text[s] != '-' {
		return 0, ""
	}
	rest := text[s:]
	switch rest[0] {
	case 's', 'r':
		switch {
		case strings.HasPrefix(rest, "sk-ant-"):
			e := r.end(text, s) // the prefix is token bytes: the run from s+7
			if e-s >= 40 {
				return e, "anthropic_api_key"
			}
		case strings.HasPrefix(rest, "sk-"):
			e := r.end(text, s) // as from s+3
			if e-s >= 40 && r.hasMarker(text, s, e) {
				return e, "openai_api_key"
			}
		case strings.HasPrefix(rest, "sk_live_"), strings.HasPrefix(rest, "rk_live_"),
			strings.HasPrefix(rest, "sk_prod_"), strings.HasPrefix(rest, "rk_prod_"):
			e := run(text, s+8, isAlnum)
			if e-s >= 8+16 {
				return e, "stripe_api_key"
			}
		}
	case 'g':
		if len(rest) > 4 && rest[1] == 'h' && strings.IndexByte("pousr", rest[2]) >= 0 && rest[3] == '_' {
			e := run(text, s+4, isAlnum)
			if e-s == 40 && githubChecksumOK(text[s+4:e]) {
				return e, "github_token"
			}
			return 0, ""
		}
		if strings.HasPrefix(rest, "github_pat_") {
			e := run(text, s+11, func(c byte) bool { return isAlnum(c) || c == '_' })
			if e-s >= 11+50 {
				return e, "github_token"
			}
			return 0, ""
		}
		return r.matchGitLab(text, s)
	case 'G':
		return r.matchGitLab(text, s)
	case 'x':
		if strings.HasPrefix(rest, "xoxe.xox") {
			s += 5
			rest = text[s:]
		}
		if len(rest) > 5 && strings.HasPrefix(rest, "xox") && rest[4] == '-' && isAlnum(rest[3]) {
			e := r.end(text, s+5)
			if e-s >= 5+15 && r.hasDigit(text, s+5, e) {
				return e, "slack_token"
			}
		}
		if strings.HasPrefix(rest, "xapp-") {
			e := r.end(text, s+5)
			if e-s >= 5+20 {
				return e, "slack_token"
			}
		}
	case 'A':
		if len(rest) >= 20 && (strings.HasPrefix(rest, "AKIA") || strings.HasPrefix(rest, "ASIA") ||
			strings.HasPrefix(rest, "ABIA") || strings.HasPrefix(rest, "ACCA") || strings.HasPrefix(rest, "A3T")) {
			e := run(text, s+4, func(c byte) bool { return c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' })
			if e-s == 20 {
				return e, "aws_access_key_id"
			}
		}
		if strings.HasPrefix(rest, "AIza") {
			e := r.end(text, s+4)
			if e-s == 39 {
				return e, "google_api_key"
			}
		}
	case 'e':
		if strings.HasPrefix(rest, "eyJ") {
			if e := r.matchJWT(text, s); e > 0 {
				return e, "jwt"
			}
		}
	case '-':
		if strings.HasPrefix(rest, "-----BEGIN") {
			if e := matchPEM(text, s); e > 0 {
				return e, "private_key"
			}
		}
	}
	return 0, ""
}

func hasDigit(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			return true
		}
	}
	return false
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// githubChecksumOK checks the last six characters of a 36-character GitHub
// token body: the CRC32 of the first 30, in base 62, zero-padded.
func githubChecksumOK(body string) bool {
	var b [30]byte
	copy(b[:], body)
	n := crcIEEE(b[:])
	for i := 35; i >= 30; i-- {
		if body[i] != base62[n%62] {
			return false
		}
		n /= 62
	}
	return n == 0
}

// gitlabPrefixes lists GitLab's token prefixes with the length of the part
// after the prefix: exact when min == max, at least min when max is 0.
var gitlabPrefixes = []struct {
	prefix   string
	min, max int
}{
	{"glpat-", 20, 0}, {"gldt-", 20, 0}, {"glcbt-", 20, 0}, {"glrt-", 20, 0},
	{"glft-", 20, 0}, {"glsoat-", 20, 0}, {"glffct-", 20, 0}, {"glimt-", 25, 25},
	{"glptt-", 40, 40}, {"glagent-", 50, 0}, {"gloas-", 64, 64}, {"GR1348941", 20, 0},
}

func (r *tokenRuns) matchGitLab(text string, s int) (int, string) {
	rest := text[s:]
	for _, p := range gitlabPrefixes {
		if !strings.HasPrefix(rest, p.prefix) {
			continue
		}
		b := s + len(p.prefix)
		e := r.end(text, b)
		n := e - b
		if n < p.min || p.max > 0 && n > p.max || !isAlnum(text[e-1]) {
			return 0, ""
		}
		return e, "gitlab_token"
	}
	return 0, ""
}

// matchJWT matches header.payload[.signature] at s, where the header
// decodes to a JSON object with an "alg" member. The base64url alphabet
// is that of token bytes.
func (r *tokenRuns) matchJWT(text string, s int) int {
	h := r.end(text, s)
	if h-s < 10 || h >= len(text) || text[h] != '.' {
		return 0
	}
	p := r.end(text, h+1)
	if p-h-1 < 4 {
		return 0
	}
	var buf [512]byte
	hdr := text[s:h]
	if base64.RawURLEncoding.DecodedLen(len(hdr)) > len(buf) {
		return 0
	}
	n, err := base64.RawURLEncoding.Decode(buf[:], []byte(hdr))
	if err != nil {
		return 0
	}
	js := buf[:n]
	for len(js) > 0 && (js[len(js)-1] == ' ' || js[len(js)-1] == '\n' || js[len(js)-1] == '\r') {
		js = js[:len(js)-1]
	}
	if len(js) < 2 || js[0] != '{' || js[len(js)-1] != '}' || !containsAlg(js) {
		return 0
	}
	end := p
	if p < len(text) && text[p] == '.' {
		if sig := r.end(text, p+1); sig > p+1 {
			end = sig
		}
	}
	return end
}

func containsAlg(b []byte) bool {
	for i := 0; i+5 <= len(b); i++ {
		if b[i] == '"' && b[i+1] == 'a' && b[i+2] == 'l' && b[i+3] == 'g' && b[i+4] == '"' {
			return true
		}
	}
	return false
}

// matchPEM matches a "-----BEGIN ... PRIVATE KEY...-----" block through its
// END line; without an END line the rest of the text is taken, so that no
// part of the key survives redaction.
func matchPEM(text string, s int) int {
	line := text[s:]
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	if len(line) > 100 {
		line = line[:100]
	}
	j := strings.Index(line, "PRIVATE KEY")
	if j < 0 || !strings.Contains(line[j:], "-----") {
		return 0
	}
	if k := strings.Index(text[s+j:], "-----END"); k >= 0 {
		e := s + j + k + len("-----END")
		if m := strings.Index(text[e:], "-----"); m >= 0 && m < 100 {
			return e + m + 5
		}
		return e
	}
	return len(text)
}

// matchURL matches the password of scheme://user:password@host around the
// "://" at i, or a whole Slack webhook URL.
func matchURL(text string, i int) (start, end int, typ string) {
	a := i + 3
	if strings.HasPrefix(text[a:], "hooks.slack.com/services/") || strings.HasPrefix(text[a:], "hooks.slack.com/workflows/") {
		s := i
		for s > 0 && isAlnum(text[s-1]) {
			s--
		}
		e := run(text, a, func(c byte) bool { return isTokenByte(c) || c == '/' || c == '.' })
		if e-a > len("hooks.slack.com/services/")+20 {
			return s, e, "slack_webhook_url"
		}
		return 0, 0, ""
	}
	// The authority ends at the first '/', '?', '#', space or quote; the
	// user information is what comes before its last '@'.
	at, colon := -1, -1
	for j := a; j < len(text) && j-a < 256; j++ {
		c := text[j]
		if c <= ' ' || c >= 0x7f || c == '/' || c == '?' || c == '#' || c == '"' || c == '\'' || c == '<' || c == '>' || c == '`' {
			break
		}
		if c == '@' {
			at = j
		}
		if c == ':' && colon < 0 {
			colon = j
		}
	}
	if at < 0 || colon < 0 || colon > at || at-colon < 2 {
		return 0, 0, ""
	}
	pw := text[colon+1 : at]
	if placeholder(pw) {
		return 0, 0, ""
	}
	return colon + 1, at, "url_password"
}

// placeholder reports values that stand for a secret rather than being one.
func placeholder(v string) bool {
	if v == "" {
		return true
	}
	switch v[0] {
	case '$', '{', '<', '%', '[', '*':
		return true
	}
	same := true
	for i := 1; i < len(v); i++ {
		if v[i] != v[0] {
			same = false
			break
		}
	}
	if same {
		return true
	}
	return strings.Contains(v, "xxxx") || strings.Contains(v, "XXXX") || strings.Contains(v, "****") ||
		strings.Contains(v, "...") || strings.Contains(v, "{{")
}

// secretKeys are the lower-case fragments that make an assignment's name
// secret-bearing, by first letter.
var secretKeys = [256][]string{
	's': {"secret"},
	't': {"token"},
	'p': {"passw", "pwd", "private_key", "privatekey"},
	'a': {"apikey", "api_key", "api-key", "accesskey", "access_key", "auth", "accountkey"},
	'c': {"credential", "client_srt"},
}

// secretKeyword returns the first secret keyword in name, ignoring case.
func secretKeyword(name string) string {
	for j := 0; j < len(name); j++ {
		c := name[j] | 0x20 // lower-case letters; other bytes do not matter
		for _, w := range secretKeys[c] {
			if hasPrefixFold(name[j:], w) {
				return w
			}
		}
	}
	return ""
}

func hasPrefixFold(s, w string) bool {
	if len(s) < len(w) {
		return false
	}
	for i := 0; i < len(w); i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != w[i] {
			return false
		}
	}
	return true
}

// matchAssignment matches NAME = value and NAME: value where NAME holds a
// secret keyword and value is not a placeholder.
func (r *tokenRuns) matchAssignment(text string, i int) (start, end int, typ string) {
	// Cheap rejection first: every value this rule reports has at least
	// six bytes after the separator before the next space.
	if v := i + 1 + 6; v > len(text) || text[v-6] == '\n' || text[v-1] <= ' ' && text[v-2] <= ' ' {
		return 0, 0, ""
	}
	// The value: skip '=' or ':' repeats and spaces, an optional quote.
	v := i + 1
	for v < len(text) && v-i < 8 && (text[v] == ' ' || text[v] == '\t' || text[v] == '=' || text[v] == '>') {
		v++
	}
	var quote byte
	if v < len(text) && (text[v] == '"' || text[v] == '\'' || text[v] == '`') {
		quote = text[v]
		v++
	}
	// Every value reported, and every token, has six bytes at least: a
	// shorter one ("Thursday: what went well") is turned down before the
	// name is read, unless it is an authorization scheme the value
	// follows.
	if valueEnd(text, v, quote, v+6) < v+6 && authScheme(text[v:]) == 0 {
		return 0, 0, ""
	}
	// The name: skip a closing quote and spaces, then read [A-Za-z0-9_.-].
	k := i
	for k > 0 && i-k < 4 && (text[k-1] == ' ' || text[k-1] == '"' || text[k-1] == '\'' || text[k-1] == '\t') {
		k--
	}
	n := k
	for n > 0 && k-n < 64 && (isTokenByte(text[n-1]) || text[n-1] == '.') {
		n--
	}
	name := text[n:k]
	if len(name) < 3 {
		return 0, 0, ""
	}
	kw := secretKeyword(name)
	if kw == "" || notSecretName(name) {
		return 0, 0, ""
	}
	if kw == "auth" {
		// Authorization: Bearer <token>
		v += authScheme(text[v:])
	}
	e := valueEnd(text, v, quote, v+512)
	val := text[v:e]
	if len(val) >= 2 && val[len(val)-1] == '.' && quote == 0 {
		val = val[:len(val)-1] // end of a sentence
		e--
	}
	if placeholder(val) {
		return 0, 0, ""
	}
	if te, t := r.matchToken(text, v); t != "" {
		return v, te, t
	}
	lname := func(w string) bool { return containsFold(name, w) }
	switch {
	case lname("accountkey"):
		if len(val) >= 40 {
			return v, e, "azure_storage_key"
		}
	case lname("aws") && lname("secret"):
		if len(val) == 40 {
			return v, e, "aws_secret_access_key"
		}
	case kw == "passw" || kw == "pwd":
		if len(val) >= 6 && classes(val) >= 2 {
			return v, e, "password"
		}
		return 0, 0, ""
	}
	if len(val) >= 12 && classes(val) >= 2 && entropy(val) >= 3.0 && !notSecretValue(val) {
		return v, e, "generic_secret"
	}
	return 0, 0, ""
}

// valueEnd returns the end of the value that starts at v, closed by
// quote when it is not 0, read up to lim at most.
func valueEnd(text string, v int, quote byte, lim int) int {
	e := v
	for e < len(text) && e < lim {
		c := text[e]
		if c < 0x21 || c >= 0x7f || c == quote || quote == 0 && (c == ',' || c == ';' || c == '"' || c == '\'' || c == ')' || c == '&' || c == '<') {
			break
		}
		e++
	}
	return e
}

// authSchemes are the authorization schemes a value may follow, and
// authFirst the bytes they start with.
var (
	authSchemes = []string{"Bearer ", "Basic ", "Token ", "token ", "bearer ", "Api-Token "}
	authFirst   = func() (t [256]bool) {
		for _, s := range authSchemes {
			t[s[0]] = true
		}
		return t
	}()
)

// authScheme returns the length of the authorization scheme s starts
// with, or 0.
func authScheme(s string) int {
	if s == "" || !authFirst[s[0]] {
		return 0
	}
	for _, scheme := range authSchemes {
		if strings.HasPrefix(s, scheme) {
			return len(scheme)
		}
	}
	return 0
}

// awsSecretNear finds a 40-character base64 token within 256 bytes after an
// AWS access key ID.
func awsSecretNear(text string, from int) (int, int) {
	lim := min(len(text), from+256)
	for j := from; j < lim; j++ {
		if !isB64Byte(text[j]) || j > 0 && isB64Byte(text[j-1]) {
			continue
		}
		e := run(text, j, isB64Byte)
		if e-j == 40 && (e == len(text) || !isTokenByte(text[e])) && classes(text[j:e]) >= 3 {
			return j, e
		}
		j = e
	}
	return 0, 0
}

// containsFold reports whether s contains the lower-case ASCII word w,
// ignoring case.
func containsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for ; j < len(w); j++ {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			if c != w[j] {
				break
			}
		}
		if j == len(w) {
			return true
		}
	}
	return false
}

// classes counts the character classes (lower, upper, digit, other) in s.
func classes(s string) int {
	var l, u, d, o int
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= 'a' && c <= 'z':
			l = 1
		case c >= 'A' && c <= 'Z':
			u = 1
		case c >= '0' && c <= '9':
			d = 1
		default:
			o = 1
		}
	}
	return l + u + d + o
}

// entropy is the Shannon entropy of s in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	var h float64
	n := float64(len(s))
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

func crcIEEE(b []byte) uint32 { return crc32.ChecksumIEEE(b) }

// notSecretName reports names that hold a secret's metadata rather than
// the secret: credentialsId, access_token_url, secret_length, TokenFile.
func notSecretName(name string) bool {
	for _, suffix := range []string{"id", "ids", "url", "uri", "name", "file", "path", "length", "type", "source", "variable"} {
		if len(name) >= len(suffix) && hasPrefixFold(name[len(name)-len(suffix):], suffix) {
			return true
		}
	}
	return false
}

// notSecretValue reports values of a generic assignment that are e-mail
// addresses, URLs, host or file names or fill-in text.
func notSecretValue(v string) bool {
	if strings.Contains(v, "://") || strings.IndexByte(v, '@') >= 0 {
		return true
	}
	for _, w := range []string{"insert", "here", "your", "change"} {
		if containsFold(v, w) {
			return true
		}
	}
	if strings.IndexByte(v, '.') < 0 {
		return false
	}
	for i := 0; i < len(v); i++ { // host or file name: lower case, digits, dots, dashes
		if c := v[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return false
		}
	}
	return true
}
