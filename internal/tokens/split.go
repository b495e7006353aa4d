package tokens

import "unicode/utf8"

// The pre-tokenizers. Each encoding first cuts a text into pieces with a
// regular expression, then runs the BPE on each piece alone. tiktoken-go
// runs those expressions with regexp2 (a backtracking engine, ~3 MB/s);
// the functions below are the same expressions written out by hand: each
// returns the end of the piece that starts at s[i:], which is the first
// alternative that matches there, with the backtracking of regexp2 made
// explicit. Every character matches some alternative, so the pieces tile
// the text. s is valid UTF-8 and i < len(s).
//
// cl100k_base:
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
//	 ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// o200k_base:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|
//	\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+

// nextCl100k returns the end of the cl100k_base piece at s[i:].
func nextCl100k(t *classTable, s string, i int) int {
	c, n := t.at(s, i)
	if s[i] == '\'' {
		if k := contraction(s, i); k > 0 {
			return i + k
		}
	}
	// [^\r\n\p{L}\p{N}]?\p{L}+
	if c&cLetter != 0 {
		return run(t, s, i+n, cLetter)
	}
	if c&notPrefix == 0 && i+n < len(s) {
		if c2, n2 := t.at(s, i+n); c2&cLetter != 0 {
			return run(t, s, i+n+n2, cLetter)
		}
	}
	if c&cNumber != 0 {
		return digits(t, s, i+n)
	}
	if j := punctuation(t, s, i, c, false); j > 0 {
		return j
	}
	return whitespace(t, s, i, n)
}

// nextO200k returns the end of the o200k_base piece at s[i:].
func nextO200k(t *classTable, s string, i int) int {
	c, n := t.at(s, i)
	// The two word alternatives, each first with the optional prefix
	// character, then without it.
	prefix := c&notPrefix == 0 && i+n < len(s)
	if prefix {
		if j := casedWord(t, s, i+n); j > 0 {
			return j
		}
	}
	if c&(cUpper|cLower) != 0 {
		if j := casedWord(t, s, i); j > 0 {
			return j
		}
	}
	if prefix {
		if j := capitalWord(t, s, i+n); j > 0 {
			return j
		}
	}
	if c&cUpper != 0 {
		return capitalWord(t, s, i)
	}
	if c&cNumber != 0 {
		return digits(t, s, i+n)
	}
	if j := punctuation(t, s, i, c, true); j > 0 {
		return j
	}
	return whitespace(t, s, i, n)
}

// casedWord matches [Upper]*[Lower]+(contraction)? at s[p:] (o200k_base),
// returning its end or 0. Upper* takes all it can, then gives characters
// back until Lower+ matches.
func casedWord(t *classTable, s string, p int) int {
	if p >= len(s) {
		return 0
	}
	u := p // end of the Upper* run
	for u < len(s) {
		c, n := t.at(s, u)
		if c&cUpper == 0 {
			break
		}
		u += n
	}
	k := u // start of Lower+
	if c, _ := classAt(t, s, u); c&cLower == 0 {
		for k > p {
			r, n := utf8.DecodeLastRuneInString(s[p:k])
			if t.of(r)&cLower != 0 {
				k -= n
				break
			}
			k -= n
		}
		if c, _ := classAt(t, s, k); k == u || c&cLower == 0 {
			return 0
		}
	}
	j := run(t, s, k, cLower)
	return j + contraction(s, j)
}

// capitalWord matches [Upper]+[Lower]*(contraction)? at s[p:] (o200k_base),
// returning its end or 0.
func capitalWord(t *classTable, s string, p int) int {
	u := run(t, s, p, cUpper)
	if u == p {
		return 0
	}
	j := run(t, s, u, cLower)
	return j + contraction(s, j)
}

// classAt is [classTable.at] that returns 0 at the end of s.
func classAt(t *classTable, s string, i int) (charClass, int) {
	if i >= len(s) {
		return 0, 0
	}
	return t.at(s, i)
}

// run returns the end of the run of characters of class c at s[i:].
func run(t *classTable, s string, i int, c charClass) int {
	for i < len(s) {
		ci, n := t.at(s, i)
		if ci&c == 0 {
			break
		}
		i += n
	}
	return i
}

// digits matches the rest of \p{N}{1,3} after its first digit.
func digits(t *classTable, s string, i int) int {
	for k := 1; k < 3 && i < len(s); k++ {
		c, n := t.at(s, i)
		if c&cNumber == 0 {
			break
		}
		i += n
	}
	return i
}

// punctuation matches " ?[^\s\p{L}\p{N}]+[\r\n]*" at s[i:] (with "/" in
// the trailing set when slash is true, for o200k_base), returning its end
// or 0; c is the class of s[i].
func punctuation(t *classTable, s string, i int, c charClass, slash bool) int {
	const other = cSpace | cLetter | cNumber
	j := i
	if s[i] == ' ' && i+1 < len(s) {
		if c2, _ := t.at(s, i+1); c2&other == 0 {
			j = i + 1
		}
	}
	if j == i && c&other != 0 {
		return 0
	}
	for j < len(s) {
		c, n := t.at(s, j)
		if c&other != 0 {
			break
		}
		j += n
	}
	for j < len(s) && (s[j] == '\r' || s[j] == '\n' || (slash && s[j] == '/')) {
		j++
	}
	return j
}

// whitespace matches "\s*[\r\n]+|\s+(?!\S)|\s+" at s[i:], which starts
// with a space character of size n.
func whitespace(t *classTable, s string, i, n int) int {
	j, last := i+n, i // end of the run, start of its last character
	for j < len(s) {
		c, n := t.at(s, j)
		if c&cSpace == 0 {
			break
		}
		last = j
		j += n
	}
	// \s*[\r\n]+: up to the last newline of the run.
	for k := j - 1; k >= i; k-- {
		if s[k] == '\r' || s[k] == '\n' {
			return k + 1
		}
	}
	// \s+(?!\S): all of it at the end of the text, else all but the last
	// character, if that leaves one.
	if j == len(s) {
		return j
	}
	if last > i {
		return last
	}
	return j // \s+
}

// contraction returns the length of (?i:'s|'t|'re|'ve|'m|'ll|'d) at s[i:],
// or 0. Under regexp2's case folding (unicode.ToLower of the text), only
// ASCII letters fold to these.
func contraction(s string, i int) int {
	if i+1 >= len(s) || s[i] != '\'' {
		return 0
	}
	switch s[i+1] | 0x20 {
	case 's', 't', 'm', 'd':
		return 2
	case 'r', 'v', 'l':
		if i+2 < len(s) {
			want := byte('e')
			if s[i+1]|0x20 == 'l' {
				want = 'l'
			}
			if s[i+2]|0x20 == want {
				return 3
			}
		}
	}
	return 0
}
