// Package tokens counts prompt tokens for budgets and size limits: a cheap
// upper bound from byte counts (no tokenizer, nanoseconds), and an exact
// count, tiktoken's, for the rare call where the bound would refuse.
//
// # The upper bound
//
// Every encoding OpenAI's current models use (o200k_base, cl100k_base) is a
// byte-level BPE: each token covers at least one byte of the text, so a text
// never has more tokens than bytes. [Estimate.UpperBound] adds to the text
// bytes the fixed costs that are not text: the chat framing of each message,
// the reply priming, tool definitions and images at their documented worst
// case. The bound is therefore never below what the API bills for the
// prompt, and usually 3–4× above it for English text.
//
// # The exact count
//
// [Count] runs the model's real encoding on the texts: the rank files of
// tiktoken-go-loader (embedded, so nothing is ever downloaded), the
// encoding's split pattern written out by hand (split.go) and a byte-pair
// merge that only counts (bpe.go). Its counts are tiktoken-go's
// EncodeOrdinary, text for text; the tests hold it to that on the shared
// data sets and under fuzzing, with tiktoken-go as the reference (in tests
// only). It counts about 100 MB/s of English (microseconds on a few KB,
// 30–40× tiktoken-go), yet the pipeline still uses it only when the bound
// alone would refuse a call, then takes [Estimate.WithTextTokens] in place
// of the bound.
//
// The package is shared by the budget (ratelimit) and the input size limits
// (sanitize); it is internal because its numbers are policy, not API.
//
// # Package state
//
// Each encoding (its rank table, about 6 MB for o200k_base and 3 MB for
// cl100k_base, built in tens of milliseconds) and the table of character
// classes the split patterns use are built once, lazily (sync.OnceValue),
// and are immutable afterwards: every function is safe for concurrent use.
// The package does not use tiktoken-go, so it never touches that library's
// global BPE loader; the package's tests set it, once, for their reference.
package tokens

import "unicode/utf8"

// ImageDetail is the detail level requested for an image part
// ("image_url.detail" in chat, "detail" on Responses input images).
type ImageDetail uint8

// The detail levels. ImageAuto is the API's default and may resolve to high,
// so it is priced as high.
const (
	ImageAuto ImageDetail = iota
	ImageLow
	ImageHigh
)

// String returns the API's name of the detail level.
func (d ImageDetail) String() string {
	switch d {
	case ImageLow:
		return "low"
	case ImageHigh:
		return "high"
	}
	return "auto"
}

// ParseImageDetail returns the detail level of an API value: "low", "high";
// anything else (including "" and "auto") is [ImageAuto].
func ParseImageDetail(s string) ImageDetail {
	switch s {
	case "low":
		return ImageLow
	case "high":
		return ImageHigh
	}
	return ImageAuto
}

// Fixed token costs of a request's framing, from OpenAI's published
// counting recipe (openai-cookbook, "How to count tokens with tiktoken":
// 3 tokens per message plus its role, 1 per name, 3 to prime the reply) and
// its function-calling guide (tool definitions are rendered into a system
// section), each rounded up with a margin for roles and structure that the
// recipe does not list (tool call IDs and types, developer messages).
const (
	// MessageOverhead is the framing of one message (or Responses input
	// item): start/end markers, the role and the name separator.
	MessageOverhead = 8
	// RequestOverhead primes the reply (<|start|>assistant<|message|>).
	RequestOverhead = 3
	// ToolsOverhead is the section that holds the tool definitions, counted
	// once when a request has any tool.
	ToolsOverhead = 24
	// ToolOverhead is the framing of one tool definition; its name,
	// description and parameter schema are counted by their JSON bytes.
	ToolOverhead = 12
)

// Estimate is the input of the upper bound: what the prompt of one request
// is made of, counted without a tokenizer. The zero value is an empty
// prompt, whose bound is [RequestOverhead]. An Estimate is a plain value.
type Estimate struct {
	// TextBytes is the total size, in bytes as sent ([WireBytes] of each
	// text), of every text the model reads: message contents and text parts,
	// names, tool call arguments and IDs, Responses instructions and input
	// items. Tool definitions go in ToolSchemaBytes instead.
	TextBytes int
	// Messages is the number of messages (chat) or input items (Responses);
	// each costs [MessageOverhead]. Embeddings inputs count as 0.
	Messages int
	// Images holds the detail level of each image part, priced at its
	// documented worst case for the model ([ImageTokens]).
	Images []ImageDetail
	// Tools is the number of tool (function) definitions.
	Tools int
	// ToolSchemaBytes is the size of the tool definitions as JSON (name,
	// description, parameters).
	ToolSchemaBytes int
}

// UpperBound returns an upper bound of the prompt tokens of the request on
// model: every text byte as one token, plus the framing, the tool
// definitions and the images. It never returns less than what the API bills
// for the prompt, for any model this package knows (see [ImageTokens] for
// unknown models). Negative counts are taken as 0.
func (e Estimate) UpperBound(model string) int {
	return e.WithTextTokens(model, max(e.TextBytes, 0))
}

// WithTextTokens returns the prompt tokens of the request when its texts
// are known to hold textTokens tokens (from [Count]): the rest of the
// estimate (framing, tools, images) stays at its upper bound.
func (e Estimate) WithTextTokens(model string, textTokens int) int {
	n := RequestOverhead + max(textTokens, 0) + MessageOverhead*max(e.Messages, 0)
	if e.Tools > 0 || e.ToolSchemaBytes > 0 {
		n += ToolsOverhead + ToolOverhead*max(e.Tools, 0) + max(e.ToolSchemaBytes, 0)
	}
	if len(e.Images) > 0 {
		im := imageCostFor(model)
		for _, d := range e.Images {
			n += im.tokens(d)
		}
	}
	return n
}

// WireBytes returns the size of s as sent in a JSON request body: its length
// in bytes, where each byte that is not part of valid UTF-8 counts 3, since
// encoding/json replaces it with U+FFFD. For valid UTF-8 (what the input
// hygiene stage lets through) it is len(s).
func WireBytes(s string) int {
	n := len(s)
	if utf8.ValidString(s) {
		return n
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c < 0x80 {
			i++
			continue
		}
		r, size := decodeRune(s[i:])
		if r < 0 {
			n += 2
			i++
			continue
		}
		i += size
	}
	return n
}

// decodeRune is utf8.DecodeRuneInString that reports an invalid byte as -1
// (so that a literal U+FFFD is not taken for an error).
func decodeRune(s string) (rune, int) {
	c := s[0]
	switch {
	case c < 0xC2 || c > 0xF4:
		return -1, 1
	case c < 0xE0:
		if len(s) < 2 || s[1]&0xC0 != 0x80 {
			return -1, 1
		}
		return rune(c&0x1F)<<6 | rune(s[1]&0x3F), 2
	case c < 0xF0:
		if len(s) < 3 || s[1]&0xC0 != 0x80 || s[2]&0xC0 != 0x80 ||
			(c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F) {
			return -1, 1
		}
		return rune(c&0x0F)<<12 | rune(s[1]&0x3F)<<6 | rune(s[2]&0x3F), 3
	default:
		if len(s) < 4 || s[1]&0xC0 != 0x80 || s[2]&0xC0 != 0x80 || s[3]&0xC0 != 0x80 ||
			(c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F) {
			return -1, 1
		}
		return rune(c&0x07)<<18 | rune(s[1]&0x3F)<<12 | rune(s[2]&0x3F)<<6 | rune(s[3]&0x3F), 4
	}
}

// imageCost is how a model family prices an image: tiles (a base cost plus
// a cost per 512 px tile, at most 8 tiles after the API's resizing to fit
// 2048×2048 with the short side at most 768 px) or patches (32 px patches,
// at most 1536, times a multiplier).
type imageCost struct {
	base, tile int // tile-based
	patchMax   int // patch-based: 1536 × multiplier, rounded up; 0 for tile-based
}

func (c imageCost) tokens(d ImageDetail) int {
	if c.patchMax > 0 {
		return c.patchMax
	}
	if d == ImageLow {
		return c.base
	}
	return c.base + 8*c.tile
}

// imageCosts are OpenAI's documented image input costs (vision guide,
// "Calculating costs", as of 2025-09), matched by model name prefix, longest
// first. A model matches a prefix when it equals it or continues with "-".
var imageCosts = []struct {
	prefix string
	cost   imageCost
}{
	{"gpt-4o-mini", imageCost{base: 2833, tile: 5667}},
	{"gpt-4.1-nano", imageCost{patchMax: 3779}}, // 1536 × 2.46
	{"gpt-4.1-mini", imageCost{patchMax: 2489}}, // 1536 × 1.62
	{"gpt-5-nano", imageCost{patchMax: 3779}},   // 1536 × 2.46
	{"gpt-5-mini", imageCost{patchMax: 2489}},   // 1536 × 1.62
	{"o4-mini", imageCost{patchMax: 2642}},      // 1536 × 1.72
	{"computer-use-preview", imageCost{base: 65, tile: 129}},
	{"chatgpt-4o", imageCost{base: 85, tile: 170}},
	{"gpt-4-turbo", imageCost{base: 85, tile: 170}},
	{"gpt-4.1", imageCost{base: 85, tile: 170}},
	{"gpt-4.5", imageCost{base: 85, tile: 170}},
	{"gpt-4o", imageCost{base: 85, tile: 170}},
	{"gpt-5", imageCost{base: 70, tile: 140}},
	{"o1", imageCost{base: 75, tile: 150}},
	{"o3", imageCost{base: 75, tile: 150}},
}

// unknownImageCost is the most expensive entry of imageCosts, for models the
// table does not know: the bound must hold for them too.
var unknownImageCost = imageCost{base: 2833, tile: 5667}

func imageCostFor(model string) imageCost {
	model = baseModel(model)
	for _, e := range imageCosts {
		if hasModelPrefix(model, e.prefix, false) {
			return e.cost
		}
	}
	return unknownImageCost
}

// ImageTokens returns the most tokens one image part can cost on model at
// detail d, whatever its size: tile-based models at 8 tiles for high and
// auto, their base cost for low; patch-based models at their patch cap. A
// model this package does not know is priced at the most expensive known
// family (gpt-4o-mini's 48,169 tokens at high detail), so that the bound
// stays a bound.
func ImageTokens(model string, d ImageDetail) int { return imageCostFor(model).tokens(d) }

// baseModel strips a fine-tune name ("ft:gpt-4o-mini-2024-07-18:org::id")
// down to its base model.
func baseModel(model string) string {
	if len(model) > 3 && model[:3] == "ft:" {
		model = model[3:]
		for i := 0; i < len(model); i++ {
			if model[i] == ':' {
				return model[:i]
			}
		}
	}
	return model
}

// hasModelPrefix reports whether model is prefix or continues it with "-"
// (or, when dot is true, with "." too: "gpt-5" covers "gpt-5.1").
func hasModelPrefix(model, prefix string, dot bool) bool {
	if len(model) < len(prefix) || model[:len(prefix)] != prefix {
		return false
	}
	if len(model) == len(prefix) {
		return true
	}
	c := model[len(prefix)]
	return c == '-' || (dot && c == '.')
}
