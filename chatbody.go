package secureai

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"

	"github.com/sashabaranov/go-openai"

	"github.com/secureai-go/secureai/internal/jsonstr"
)

// A chat request's body is the same bytes go-openai would send, encoded
// at a fraction of go-openai's cost. go-openai encodes a request with
// json.Marshal, and encoding/json copies what each message's MarshalJSON
// returns through its validating compactor, one byte at a time: for a
// 4 KB prompt that is most of a raw go-openai call's own work (about
// 25 us of 36 on a Zen 5). The compactor can change nothing in that
// output, which is itself json.Marshal's (compact, with <, >, &, U+2028
// and U+2029 escaped, invalid UTF-8 replaced). So the pipeline has each
// message encode itself, hands go-openai the request without its
// messages (every other field is still go-openai's own encoding, of
// go-openai's own struct, so fields added in later versions come along),
// and the HTTP layer puts the messages back where go-openai wrote
// "messages":null. Where that place is not found, the body is the whole
// request's json.Marshal, as go-openai would have made it. A long text
// content, the bulk of a usual request, is escaped into the body a word
// at a time by jsonstr.AppendMarshal rather than a byte at a time by
// encoding/json (see encodeMessage). TestChatBodyMatchesGoOpenAI and
// FuzzChatBody hold the bytes to go-openai's, jsonstr's tests the escaping
// to json.Marshal's.

// chatBody is a chat request's messages, encoded, on their way to the
// HTTP layer in the context of go-openai's call.
type chatBody struct {
	parts []chatPart                   // each message
	size  int                          // the array's length in bytes, before escapes
	full  openai.ChatCompletionRequest // the whole request, for the fallback
	buf   [4]chatPart                  // parts' storage for a usual call
}

// chatPart is one message's JSON: head, then text as a JSON string, then
// tail. A message with a long text content is encoded by go-openai with a
// one-byte placeholder content, and its text is escaped into the body by
// jsonstr.AppendMarshal, at about a third of encoding/json's cost; any other
// message is all head.
type chatPart struct {
	head, tail []byte
	text       string
}

type chatBodyKey struct{}

// withChatBody returns the context and request to give go-openai for req:
// req without its messages, and a context that carries them encoded. For
// a stream, go-openai sets Stream itself; stream says so here, so that
// the fallback encodes what go-openai would. When req has no messages
// slice, or a message does not encode (go-openai then reports its own
// error), it returns ctx and req unchanged.
func withChatBody(ctx context.Context, req *openai.ChatCompletionRequest, stream bool) (context.Context, openai.ChatCompletionRequest) {
	if req.Messages == nil {
		return ctx, *req
	}
	cb := &chatBody{full: *req}
	cb.full.Stream = cb.full.Stream || stream
	cb.parts = cb.buf[:0]
	cb.size = 2 + max(len(req.Messages)-1, 0) // [ , ]
	for i := range req.Messages {
		part, ok := encodeMessage(&req.Messages[i])
		if !ok {
			return ctx, *req
		}
		cb.parts = append(cb.parts, part)
		cb.size += len(part.head) + len(part.tail)
		if part.tail != nil {
			cb.size += len(part.text) + 2 // quoted
		}
	}
	light := *req
	light.Messages = nil
	return context.WithValue(ctx, chatBodyKey{}, cb), light
}

// chatBodyFrom returns the encoded messages that ctx carries, or nil.
func chatBodyFrom(ctx context.Context) *chatBody {
	cb, _ := ctx.Value(chatBodyKey{}).(*chatBody)
	return cb
}

// messagesKey and null are what go-openai writes after the model for a
// request without messages: null is the place the messages go.
const messagesKey, null = `,"messages":`, "null"

var messagesNull = []byte(messagesKey + null)

// apply gives req, which go-openai built for the request without its
// messages, the whole request's body. It reads req's body and replaces
// it, its length and GetBody. spliced reports whether the messages went
// into go-openai's body (rather than the whole request being encoded
// again).
func (cb *chatBody) apply(req *http.Request) (spliced bool, err error) {
	light, err := readBody(req)
	if err != nil {
		return false, err
	}
	var body []byte
	at := messagesAt(light)
	if at >= 0 {
		body = make([]byte, 0, len(light)-len(null)+cb.size)
		body = append(body, light[:at+len(messagesKey)]...)
		body = append(body, '[')
		for i := range cb.parts {
			p := &cb.parts[i]
			if i > 0 {
				body = append(body, ',')
			}
			body = append(body, p.head...)
			if p.tail != nil {
				body = jsonstr.AppendMarshal(body, p.text)
				body = append(body, p.tail...)
			}
		}
		body = append(body, ']')
		body = append(body, light[at+len(messagesNull):]...)
	} else if body, err = json.Marshal(&cb.full); err != nil {
		return false, err
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(body)), nil }
	return at >= 0, nil
}

// readBody reads and closes req's body (go-openai's, of a few hundred
// bytes without the messages).
func readBody(req *http.Request) ([]byte, error) {
	if req.Body == nil {
		return nil, nil
	}
	defer req.Body.Close()
	return io.ReadAll(req.Body)
}

// messagesAt returns where ,"messages":null follows the model in a chat
// request's JSON that begins {"model":"...", or -1. The model string ends
// at the first quote that no backslash escapes.
func messagesAt(b []byte) int {
	const head = `{"model":"`
	if !bytes.HasPrefix(b, []byte(head)) {
		return -1
	}
	for i := len(head); i < len(b); i++ {
		switch b[i] {
		case '\\':
			i++
		case '"':
			if bytes.HasPrefix(b[i+1:], messagesNull) {
				return i + 1
			}
			return -1
		}
	}
	return -1
}

// longText is the length from which a message's text content is escaped
// by jsonstr.AppendMarshal rather than encoding/json: below it, the second
// encoding and the search for the placeholder cost more than they save.
const longText = 256

// placeholder is the content a long text is encoded with; contentAt finds
// its encoding, which cannot occur in the message's JSON but as its
// content: a quote inside a JSON string is escaped.
const placeholder = "\x00"

var contentAt = []byte(`"content":"\u0000"`)

// encodeMessage encodes m as go-openai does (its MarshalJSON), with a
// long text content left to be escaped into the body. ok is false when m
// does not encode.
func encodeMessage(m *openai.ChatCompletionMessage) (part chatPart, ok bool) {
	if len(m.Content) < longText {
		b, err := m.MarshalJSON()
		return chatPart{head: b}, err == nil
	}
	light := *m
	light.Content = placeholder
	b, err := light.MarshalJSON()
	if err != nil {
		return chatPart{}, false
	}
	at := bytes.Index(b, contentAt)
	if at < 0 || bytes.Contains(b[at+1:], contentAt) {
		b, err = m.MarshalJSON() // not where it should be: go-openai's whole encoding
		return chatPart{head: b}, err == nil
	}
	head := at + len(`"content":`)
	return chatPart{head: b[:head], text: m.Content, tail: b[head+len(`"\u0000"`):]}, true
}
