package tokens

import (
	"errors"
	"fmt"
)

// The encodings [Count] knows, by their tiktoken names.
const (
	O200kBase  = "o200k_base"
	Cl100kBase = "cl100k_base"
)

// ErrUnknownModel is returned by [Count] for a model whose encoding this
// package does not know; the caller keeps the upper bound.
var ErrUnknownModel = errors.New("tokens: no known encoding for model")

// encodings maps model name prefixes to their encoding, longest first (see
// hasModelPrefix; "." continues a prefix here: gpt-5.1 is a gpt-5). Written
// from OpenAI's model pages: the 4o generation and everything after it use
// o200k_base; GPT-4, GPT-3.5 and the text-embedding models use cl100k_base.
var encodings = []struct{ prefix, encoding string }{
	{"gpt-4o", O200kBase},
	{"gpt-4.1", O200kBase},
	{"gpt-4.5", O200kBase},
	{"chatgpt-4o", O200kBase},
	{"gpt-5", O200kBase},
	{"gpt-oss", O200kBase},
	{"o1", O200kBase},
	{"o3", O200kBase},
	{"o4", O200kBase},
	{"computer-use-preview", O200kBase},
	{"omni-moderation", O200kBase},
	{"gpt-4", Cl100kBase},
	{"gpt-3.5", Cl100kBase},
	{"text-embedding-3", Cl100kBase},
	{"text-embedding-ada-002", Cl100kBase},
}

// EncodingFor returns the name of the encoding of model ([O200kBase] or
// [Cl100kBase]), and whether the model is known. Fine-tuned models
// ("ft:gpt-4o-mini-2024-07-18:org::id") resolve to their base model.
func EncodingFor(model string) (string, bool) {
	model = baseModel(model)
	for _, e := range encodings {
		if hasModelPrefix(model, e.prefix, true) {
			return e.encoding, true
		}
	}
	return "", false
}

// Count returns the exact number of tokens of texts in model's encoding, as
// ordinary text: special-token markers a user typed ("<|endoftext|>") are
// counted as the characters they are, never interpreted, so no text makes it
// fail or panic. Bytes that are not valid UTF-8 are counted as the U+FFFD
// that encoding/json sends in their place, so Count(m, s) <= [WireBytes](s)
// for every s. Each text is counted on its own. The framing of messages is
// not included: see [Estimate.WithTextTokens].
//
// The counts are tiktoken's (tiktoken-go's EncodeOrdinary, token for
// token), computed by this package's own BPE over the same rank files. The
// first call for an encoding builds it (tens of milliseconds); later calls
// count about 100 MB/s. Count is safe for concurrent use. It returns an
// error wrapping [ErrUnknownModel] for a model whose encoding is not known.
func Count(model string, texts ...string) (int, error) {
	name, ok := EncodingFor(model)
	if !ok {
		return 0, fmt.Errorf("%w: %q", ErrUnknownModel, model)
	}
	return CountEncoding(name, texts...)
}

// CountEncoding is [Count] with the encoding named directly ([O200kBase] or
// [Cl100kBase]).
func CountEncoding(encoding string, texts ...string) (int, error) {
	enc, err := encodingNamed(encoding)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range texts {
		n += enc.count(t)
	}
	return n, nil
}

// encodingNamed returns the encoding, built on first use and shared.
func encodingNamed(name string) (*encoding, error) {
	switch name {
	case O200kBase:
		return o200k()
	case Cl100kBase:
		return cl100k()
	}
	return nil, fmt.Errorf("tokens: unknown encoding %q", name)
}
