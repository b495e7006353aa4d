package moderation

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Rule is a local policy rule: Match is called on each text of an [Input]
// before the endpoint is asked, and an input with a matching text is flagged
// for Category without a network call. Images are not seen by rules.
//
// A Rule must be safe for concurrent use; [New] refuses a Rule with an empty
// or unprintable Name or Category, or a nil Match. Name and Category appear
// in errors and verdicts, so they must not be secret.
type Rule struct {
	// Name identifies the rule in verdicts and errors, e.g. "competitors".
	Name string
	// Category is the category the rule flags, e.g. "policy/competitors" or
	// one of the provider's ("self-harm"). It need not be a provider
	// category.
	Category string
	// Match reports whether text breaks the rule.
	Match func(text string) bool
}

// KeywordRule returns a [Rule] that matches a text containing one of words
// as a whole word or phrase, ignoring case: "Acme" matches "acme's price"
// and "ACME", not "acmeist". A word boundary is any rune that is not a
// letter, a digit or '_', or either end of the text. Case is ignored by
// comparing lower-cased text (strings.ToLower); it is no defence against
// look-alike letters, which input hygiene handles. The words are lowered
// once; a match costs one pass over the text per word, and no allocation
// for a text without upper-case letters.
//
// KeywordRule refuses an empty name or category, no words, and a word that
// is empty, only white space, or not valid UTF-8.
func KeywordRule(name, category string, words ...string) (Rule, error) {
	var errs []error
	if err := checkLabel("rule name", name); err != nil {
		errs = append(errs, err)
	}
	if err := checkLabel("rule category", category); err != nil {
		errs = append(errs, err)
	}
	if len(words) == 0 {
		errs = append(errs, errors.New("moderation: keyword rule "+quoteLabel(name)+" has no words"))
	}
	lowered := make([]string, 0, len(words))
	for i, w := range words {
		w = strings.TrimSpace(w)
		if w == "" || !utf8.ValidString(w) {
			errs = append(errs, errors.New("moderation: keyword rule "+quoteLabel(name)+": word "+strconv.Itoa(i)+" is empty or not valid UTF-8"))
			continue
		}
		if w = strings.ToLower(w); !slices.Contains(lowered, w) {
			lowered = append(lowered, w)
		}
	}
	if len(errs) > 0 {
		return Rule{}, errors.Join(errs...)
	}
	return Rule{Name: name, Category: category, Match: func(text string) bool {
		text = strings.ToLower(text)
		for _, w := range lowered {
			if containsWord(text, w) {
				return true
			}
		}
		return false
	}}, nil
}

// containsWord reports whether text contains word as a whole word: with
// no letter, digit or '_' right before or after it.
func containsWord(text, word string) bool {
	for i := 0; i <= len(text)-len(word); {
		j := strings.Index(text[i:], word)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(word)
		before, _ := utf8.DecodeLastRuneInString(text[:start])
		after, _ := utf8.DecodeRuneInString(text[end:])
		if !isWordRune(before) && !isWordRune(after) {
			return true
		}
		_, size := utf8.DecodeRuneInString(text[start:])
		i = start + size
	}
	return false
}

// isWordRune reports whether r is part of a word. The RuneError of an
// empty or invalid neighbour is not.
func isWordRune(r rune) bool {
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_')
}

// maxLabel bounds the length of rule names and categories.
const maxLabel = 64

// checkLabel refuses an empty, over-long or unprintable rule name or
// category.
func checkLabel(what, s string) error {
	if s == "" {
		return errors.New("moderation: empty " + what)
	}
	if len(s) > maxLabel || !utf8.ValidString(s) {
		return errors.New("moderation: " + what + " too long or not valid UTF-8")
	}
	for _, r := range s {
		if r <= ' ' || r == 0x7f || r == ',' {
			return errors.New("moderation: " + what + " " + quoteLabel(s) + " has a space, a comma or a control character")
		}
	}
	return nil
}

// quoteLabel quotes a configured label for an error message, shortened.
func quoteLabel(s string) string {
	if len(s) > maxLabel {
		s = s[:maxLabel]
	}
	return strconv.Quote(s)
}
