package secureaitest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"math"
	"net/http"
	"strconv"
)

// DefaultEmbeddingDimensions is the length of the vectors the embeddings
// endpoint returns when a request does not set "dimensions".
const DefaultEmbeddingDimensions = 8

type embeddingsRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          *string         `json:"model"`
	Dimensions     *int            `json:"dimensions"`
	EncodingFormat *string         `json:"encoding_format"`
}

type embeddingList struct {
	Object string          `json:"object"`
	Data   []embeddingItem `json:"data"`
	Model  string          `json:"model"`
	Usage  embeddingUsage  `json:"usage"`
}

type embeddingItem struct {
	Object    string `json:"object"`
	Index     int    `json:"index"`
	Embedding any    `json:"embedding"` // []float64, or a base64 string
}

type embeddingUsage struct {
	PromptTokens int `json:"prompt_tokens"`
	TotalTokens  int `json:"total_tokens"`
}

// embeddingInput is one input of an embeddings request: text or tokens.
type embeddingInput struct {
	key    []byte // what the vector is derived from
	tokens int
}

// embeddingInputs parses the "input" of an embeddings request: a string, an
// array of strings, an array of tokens or an array of token arrays. It
// reports false for anything else, or an empty input.
func embeddingInputs(raw json.RawMessage) ([]embeddingInput, bool) {
	text := func(s string) embeddingInput {
		return embeddingInput{key: []byte(s), tokens: estimateTokens(len(s))}
	}
	tokens := func(ts []int64) embeddingInput {
		key := []byte("tokens:")
		for _, t := range ts {
			key = strconv.AppendInt(append(key, ' '), t, 10)
		}
		return embeddingInput{key: key, tokens: len(ts)}
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return []embeddingInput{text(s)}, s != ""
	}
	var ss []string
	if json.Unmarshal(raw, &ss) == nil {
		var out []embeddingInput
		for _, s := range ss {
			if s == "" {
				return nil, false
			}
			out = append(out, text(s))
		}
		return out, len(out) > 0
	}
	var ts []int64
	if json.Unmarshal(raw, &ts) == nil {
		return []embeddingInput{tokens(ts)}, len(ts) > 0
	}
	var tss [][]int64
	if json.Unmarshal(raw, &tss) == nil {
		var out []embeddingInput
		for _, ts := range tss {
			if len(ts) == 0 {
				return nil, false
			}
			out = append(out, tokens(ts))
		}
		return out, len(out) > 0
	}
	return nil, false
}

// embed returns a deterministic unit vector of n dimensions for key.
func embed(key []byte, n int) []float32 {
	v := make([]float32, n)
	var sum [sha256.Size]byte
	var norm float64
	for i := range v {
		if i%(sha256.Size/4) == 0 {
			h := sha256.New()
			h.Write(binary.BigEndian.AppendUint64(nil, uint64(i)))
			h.Write(key)
			h.Sum(sum[:0])
		}
		u := binary.BigEndian.Uint32(sum[(i%(sha256.Size/4))*4:])
		x := float64(u)/math.MaxUint32*2 - 1
		v[i] = float32(x)
		norm += x * x
	}
	if norm > 0 {
		for i := range v {
			v[i] = float32(float64(v[i]) / math.Sqrt(norm))
		}
	}
	return v
}

func (c *call) embeddings() {
	var req embeddingsRequest
	if !c.decode(&req) {
		return
	}
	switch {
	case req.Model == nil || *req.Model == "":
		c.writeError(http.StatusBadRequest, apiError{
			Message: "you must provide a model parameter",
			Type:    "invalid_request_error",
		})
		return
	case req.Input == nil:
		c.missing("input")
		return
	}
	inputs, ok := embeddingInputs(req.Input)
	if !ok {
		c.writeError(http.StatusBadRequest, apiError{
			Message: "'$.input' is invalid. Please check the API reference: " +
				"https://platform.openai.com/docs/api-reference.",
			Type: "invalid_request_error",
		})
		return
	}
	if !c.checkInt("dimensions", req.Dimensions, 1, 4096) {
		return
	}
	dims := DefaultEmbeddingDimensions
	if req.Dimensions != nil {
		dims = *req.Dimensions
	}
	format := "float"
	if req.EncodingFormat != nil {
		format = *req.EncodingFormat
	}
	if format != "float" && format != "base64" {
		c.writeError(http.StatusBadRequest, apiError{
			Message: strconv.Quote(format) + " is not one of ['float', 'base64'] - 'encoding_format'",
			Type:    "invalid_request_error",
			Param:   "encoding_format",
		})
		return
	}

	resp := embeddingList{Object: "list", Data: []embeddingItem{}, Model: *req.Model}
	for i, in := range inputs {
		v := embed(in.key, dims)
		item := embeddingItem{Object: "embedding", Index: i}
		if format == "base64" {
			b := make([]byte, 0, 4*len(v))
			for _, x := range v {
				b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
			}
			item.Embedding = base64.StdEncoding.EncodeToString(b)
		} else {
			fs := make([]float64, len(v))
			for j, x := range v {
				fs[j] = float64(x)
			}
			item.Embedding = fs
		}
		resp.Data = append(resp.Data, item)
		resp.Usage.PromptTokens += in.tokens
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	c.writeJSON(resp, resp.Usage.TotalTokens)
}
