package moderation

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"unicode/utf8"
)

// Wire limits. The endpoint documents none; these keep each request and
// each answer of a reasonable size.
const (
	// maxChunk is the largest text, in bytes, sent as one input; a longer
	// text is split into chunks of at most maxChunk bytes, cut on rune
	// boundaries, each overlapping the previous one by chunkOverlap bytes
	// so that a phrase cut in two is still seen whole once.
	maxChunk     = 32 << 10
	chunkOverlap = 512
	// maxBatch is the most inputs sent in one request (as an array of
	// strings); more are sent in further requests.
	maxBatch = 32
	// maxResponse bounds the answer body read.
	maxResponse = 1 << 20
)

// request is the body of POST /moderations.
type request struct {
	Model string `json:"model"`
	// Input is a string, a []string or a []part.
	Input any `json:"input"`
}

// part is one element of a multi-modal input.
type part struct {
	Type     string    `json:"type"` // "text" or "image_url"
	Text     string    `json:"text,omitempty"`
	ImageURL *imageURL `json:"image_url,omitempty"`
}

type imageURL struct {
	URL string `json:"url"`
}

// batch is one request to send and how many results its answer must hold.
type batch struct {
	input   any
	results int // exact count for strings; for parts, at least 1
	parts   bool
}

// plan splits an input into the requests to send. Texts are chunked; text
// chunks go as a string (one chunk) or arrays of strings (one result each).
// Each image goes in its own multi-modal request, the first one together
// with the first text chunk so that the model sees an image with its
// caption; the other chunks go as strings.
func plan(in Input) []batch {
	var chunks []string
	for _, t := range in.Texts {
		if t != "" {
			chunks = appendChunks(chunks, t, maxChunk, chunkOverlap)
		}
	}
	var out []batch
	for i, u := range in.ImageURLs {
		parts := make([]part, 0, 2)
		if i == 0 && len(chunks) > 0 {
			parts = append(parts, part{Type: "text", Text: chunks[0]})
			chunks = chunks[1:]
		}
		parts = append(parts, part{Type: "image_url", ImageURL: &imageURL{URL: u}})
		out = append(out, batch{input: parts, results: 1, parts: true})
	}
	if len(chunks) == 1 {
		return append(out, batch{input: chunks[0], results: 1})
	}
	for len(chunks) > 0 {
		n := min(len(chunks), maxBatch)
		out = append(out, batch{input: chunks[:n:n], results: n})
		chunks = chunks[n:]
	}
	return out
}

// appendChunks appends s to dst, split into pieces of at most size bytes
// that overlap by overlap bytes, cut on rune boundaries where s is valid
// UTF-8. overlap must be less than size/2 - utf8.UTFMax.
func appendChunks(dst []string, s string, size, overlap int) []string {
	chunkSpans(len(s), size, overlap, func(start, end int) bool {
		dst = append(dst, s[start:end])
		return true
	}, func(i, floor int) int { return runeStart(s, i, floor) })
	return dst
}

// chunkSpans calls yield with the bounds of each chunk of a text of n
// bytes; align moves a cut back to a rune start, not below floor.
func chunkSpans(n, size, overlap int, yield func(start, end int) bool, align func(i, floor int) int) {
	for start := 0; ; {
		if n-start <= size {
			yield(start, n)
			return
		}
		end := align(start+size, start+size-utf8.UTFMax)
		if !yield(start, end) {
			return
		}
		start = align(end-overlap, end-overlap-utf8.UTFMax)
	}
}

// runeStart moves i back to the start of the rune it falls in, but not
// below floor (for invalid UTF-8, a run of continuation bytes).
func runeStart(s string, i, floor int) int {
	for j := i; j > floor && j > 0; j-- {
		if utf8.RuneStart(s[j]) {
			return j
		}
	}
	return i
}

// response is the part of a moderation answer the Checker reads. The
// categories are decoded into maps, not named fields, so that categories
// the typed SDKs lack ("illicit", "illicit/violent") and future ones are
// kept.
type response struct {
	ID      string   `json:"id"`
	Model   string   `json:"model"`
	Results []result `json:"results"`
}

type result struct {
	Flagged        bool               `json:"flagged"`
	Categories     map[string]bool    `json:"categories"`
	CategoryScores map[string]float64 `json:"category_scores"`
}

var (
	errNoResults  = errors.New("moderation: response has no results")
	errResults    = errors.New("moderation: response has the wrong number of results")
	errNoScores   = errors.New("moderation: result has no category scores")
	errScoreRange = errors.New("moderation: category score outside [0, 1]")
	errTrailing   = errors.New("moderation: response has data after its JSON value")
)

// decode parses a moderation answer that must hold want results (at least
// want when atLeast). It refuses anything else: not one JSON object, no
// results, a result without scores, a score outside [0, 1]. A malformed
// answer must never read as "not flagged".
func decode(body []byte, want int, atLeast bool) (*response, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var r response
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errTrailing
	}
	switch {
	case len(r.Results) == 0:
		return nil, errNoResults
	case len(r.Results) != want && !atLeast, len(r.Results) < want:
		return nil, errResults
	}
	for _, res := range r.Results {
		if len(res.CategoryScores) == 0 {
			return nil, errNoScores
		}
		for _, s := range res.CategoryScores {
			if !(s >= 0 && s <= 1) || math.IsNaN(s) {
				return nil, errScoreRange
			}
		}
	}
	return &r, nil
}

// maxName bounds category names, model names and ids taken from an answer.
const maxName = 128

// safeName returns s if it looks like a category, model or id (ASCII
// letters, digits and "/-_.:", at most maxName bytes), else "". Names from
// the answer end up in errors and verdicts; this keeps anything else, even
// from a broken proxy, out of them.
func safeName(s string) string {
	if s == "" || len(s) > maxName {
		return ""
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			c == '/' || c == '-' || c == '_' || c == '.' || c == ':'
		if !ok {
			return ""
		}
	}
	return s
}

// unknownCategory stands for a category whose name [safeName] refused.
const unknownCategory = "unknown"
