package keyprovider

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

const (
	redactedText      = "[REDACTED]"
	emptyText         = "[EMPTY]"
	fingerprintPrefix = "kfp_"
)

// Secret holds an API key that cannot be printed by accident.
//
// Every fmt verb, encoding/json, encoding/text, encoding/xml and log/slog
// render a Secret as "[REDACTED]", or "[EMPTY]" when it holds no key;
// encoding/gob refuses it. The key is stored XOR-masked with a random pad, so
// the plain key bytes are not in the Secret's fields. The only way to get the
// key back is [Secret.Reveal].
//
// A Secret is of one of two kinds. An API key ([NewSecret]) is sent as
// OpenAI's "Authorization: Bearer <key>" or Azure's "api-key: <key>" header
// and does not expire by itself. A bearer token ([NewToken]), such as a
// Microsoft Entra ID access token for Azure OpenAI, is always sent as
// "Authorization: Bearer <token>", never as an api-key, and carries the
// time it expires; see [Secret.IsToken] and [Secret.Expires].
//
// The zero value is an empty Secret, equal to NewSecret(""). A Secret is an
// immutable value: it is safe to copy and to use from many goroutines at
// once. Secrets cannot be compared with ==; use [Secret.Equal].
type Secret struct {
	masked  []byte    // key XOR pad; nil for the empty Secret
	pad     []byte    // random, len(pad) == len(masked)
	fp      string    // Fingerprint, computed once
	token   bool      // a bearer token rather than an API key
	expires time.Time // zero: does not expire by itself
}

// NewSecret returns a Secret holding the API key key. It copies key into a
// masked form and does not retain the string. NewSecret("") returns the zero
// Secret. NewSecret does not check the key's shape; providers do, with
// [ValidateKey].
func NewSecret(key string) Secret {
	if key == "" {
		return Secret{}
	}
	return maskString(key)
}

// NewToken returns a Secret holding a bearer token that expires at expires,
// for example a Microsoft Entra ID access token. [Secret.IsToken] reports
// true for it, which tells the secureai transport to send it as
// "Authorization: Bearer" and never as an api-key header, and
// [Secret.Expires] returns expires, which a [Cache] honours: it never serves
// the token past that time. A zero expires means that the token's lifetime
// is unknown. NewToken("", t) returns the zero Secret, which is not a token.
func NewToken(token string, expires time.Time) Secret {
	if token == "" {
		return Secret{}
	}
	s := maskString(token)
	s.token = true
	s.expires = expires
	return s
}

// maskString returns the Secret of a non-empty key.
func maskString(key string) Secret {
	pad := make([]byte, len(key))
	rand.Read(pad) // Never fails since Go 1.24: it crashes the program instead.
	masked := make([]byte, len(key))
	for i := range len(key) {
		masked[i] = key[i] ^ pad[i]
	}
	sum := sha256.Sum256([]byte(key))
	return Secret{
		masked: masked,
		pad:    pad,
		fp:     fingerprintPrefix + hex.EncodeToString(sum[:8]),
	}
}

// NewSecretBytes returns a Secret holding the API key in key, like
// [NewSecret], without building a string from it, and then zeroes key, so
// that the buffer a provider read the key into does not keep it. An empty
// key gives the zero Secret.
func NewSecretBytes(key []byte) Secret { return maskBytes(key) }

// maskBytes is NewSecretBytes.
func maskBytes(key []byte) Secret {
	defer clear(key)
	if len(key) == 0 {
		return Secret{}
	}
	pad := make([]byte, len(key))
	rand.Read(pad)
	masked := make([]byte, len(key))
	for i := range key {
		masked[i] = key[i] ^ pad[i]
	}
	sum := sha256.Sum256(key)
	return Secret{
		masked: masked,
		pad:    pad,
		fp:     fingerprintPrefix + hex.EncodeToString(sum[:8]),
	}
}

// IsToken reports whether s holds a bearer token made by [NewToken] rather
// than an API key. A transport sends a token as "Authorization: Bearer
// <token>" and never as an api-key header.
func (s Secret) IsToken() bool { return s.token }

// Expires returns the time a token made by [NewToken] expires, or the zero
// time for an API key and for a token whose lifetime is unknown.
func (s Secret) Expires() time.Time { return s.expires }

// Reveal returns the key. It is the only way to get the key back: call it at
// the last moment (to set a request header) and do not store or log the
// result. It returns "" for an empty Secret.
func (s Secret) Reveal() string {
	if len(s.masked) == 0 {
		return ""
	}
	b := make([]byte, len(s.masked))
	pad := s.pad[:len(b)]
	for i, m := range s.masked {
		b[i] = m ^ pad[i]
	}
	return unsafe.String(&b[0], len(b)) // b is not written again, nor kept elsewhere
}

// IsZero reports whether s holds no key: it is true for the zero Secret and
// for NewSecret("").
func (s Secret) IsZero() bool { return len(s.masked) == 0 }

// Len returns the length of the key in bytes.
func (s Secret) Len() int { return len(s.masked) }

// Equal reports whether s and o hold the same key. The comparison takes time
// that depends on the keys' lengths but not on their contents. Two empty
// Secrets are equal. The kind and the expiry are not compared: a token and
// an API key with the same bytes are Equal.
func (s Secret) Equal(o Secret) bool {
	if len(s.masked) != len(o.masked) {
		return false
	}
	var diff byte
	for i := range s.masked {
		diff |= s.masked[i] ^ s.pad[i] ^ o.masked[i] ^ o.pad[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// equalString reports, like Equal, whether s holds the key v, without
// building a string from s.
func (s Secret) equalString(v string) bool {
	if len(s.masked) != len(v) {
		return false
	}
	var diff byte
	for i := range s.masked {
		diff |= s.masked[i] ^ s.pad[i] ^ v[i]
	}
	return subtle.ConstantTimeByteEq(diff, 0) == 1
}

// Fingerprint returns "kfp_" followed by the first 16 hex digits of the
// SHA-256 of the key, or "" for an empty Secret. It is stable for a given key
// and is safe to log and to store in audit records, to tell keys apart. It
// does not protect a low-entropy secret such as a password from guessing;
// API keys are long random strings, for which it is safe.
func (s Secret) Fingerprint() string { return s.fp }

// redacted returns the text every output form of s uses.
func (s Secret) redacted() string {
	if s.IsZero() {
		return emptyText
	}
	return redactedText
}

// String returns "[REDACTED]", or "[EMPTY]" when s holds no key. It never
// returns the key.
func (s Secret) String() string { return s.redacted() }

// GoString returns the same as [Secret.String], so that %#v does not print
// the key.
func (s Secret) GoString() string { return s.redacted() }

// Format implements [fmt.Formatter]. Every verb, including %v, %+v, %#v, %s,
// %x, %X and %d, writes the same text as [Secret.String]; %q writes it
// quoted. A width pads the text with spaces, on the right with the '-' flag.
func (s Secret) Format(f fmt.State, verb rune) {
	out := s.redacted()
	if verb == 'q' {
		out = strconv.Quote(out)
	}
	if w, ok := f.Width(); ok && w > len(out) {
		pad := strings.Repeat(" ", w-len(out))
		if f.Flag('-') {
			out += pad
		} else {
			out = pad + out
		}
	}
	io.WriteString(f, out)
}

// MarshalJSON implements [encoding/json.Marshaler]. It returns the JSON
// string "[REDACTED]", or "[EMPTY]" when s holds no key, never the key.
func (s Secret) MarshalJSON() ([]byte, error) {
	return []byte(strconv.Quote(s.redacted())), nil
}

// MarshalText implements [encoding.TextMarshaler], which encoding/xml and
// map-key encoding also use. It returns "[REDACTED]", or "[EMPTY]" when s
// holds no key, never the key.
func (s Secret) MarshalText() ([]byte, error) {
	return []byte(s.redacted()), nil
}

// LogValue implements [slog.LogValuer]. It returns the string "[REDACTED]",
// or "[EMPTY]" when s holds no key, never the key.
func (s Secret) LogValue() slog.Value {
	return slog.StringValue(s.redacted())
}

// GobEncode implements [encoding/gob.GobEncoder] only to refuse: it always
// returns an error wrapping [ErrNotSerializable], so encoding/gob cannot copy
// a key out of the process. Secrets are not meant to be persisted.
func (s Secret) GobEncode() ([]byte, error) {
	return nil, fmt.Errorf("%w: gob", ErrNotSerializable)
}
