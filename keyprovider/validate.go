package keyprovider

import (
	"fmt"
	"unicode"
	"unicode/utf8"
	"unsafe"
)

// MaxKeyLen is the longest key, in bytes, that [ValidateKey] accepts. OpenAI
// API keys are under 200 bytes and Azure api-keys 32 or 84; Microsoft Entra
// ID access tokens (JWTs) are a few kilobytes. A longer value is almost
// certainly a whole document read by mistake.
const MaxKeyLen = 16 << 10

// ValidateKey checks that key has the shape of an API key or bearer token,
// as every provider of this package does with each key it loads. It returns
// nil or an error wrapping [ErrInvalidKey] that says what is wrong and at
// which byte, never what the key is.
//
// A valid key is non-empty, at most [MaxKeyLen] bytes, valid UTF-8, and has
// no whitespace (no space, tab or newline: a trailing newline must be
// trimmed before, as [File] does), no control characters, no invisible
// format characters (zero-width spaces, bidirectional controls, byte order
// marks), and no quote or backslash (the sign of a JSON or shell string
// that was not decoded). It does not start with "{" or "[", which would be a
// JSON document whose field was not selected.
//
// ValidateKey does not require OpenAI's "sk-" prefix, so that keys of Azure
// OpenAI and of OpenAI-compatible gateways pass.
func ValidateKey(key string) error { return checkKey(key, "") }

// checkKey is ValidateKey; where, if not empty, names the key's origin in
// the error ("environment variable X").
func checkKey(key, where string) error {
	if where != "" {
		where += ": "
	}
	if key == "" {
		return fmt.Errorf("%w: %sempty", ErrInvalidKey, where)
	}
	if len(key) > MaxKeyLen {
		return fmt.Errorf("%w: %s%d bytes, longer than %d", ErrInvalidKey, where, len(key), MaxKeyLen)
	}
	if key[0] == '{' || key[0] == '[' {
		return fmt.Errorf("%w: %slooks like a JSON document (%d bytes); select the field that holds the key", ErrInvalidKey, where, len(key))
	}
	for i := 0; i < len(key); {
		c := key[i]
		if c < utf8.RuneSelf {
			switch {
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
				return badByte(where, "whitespace", i, len(key))
			case c < 0x20 || c == 0x7f:
				return badByte(where, "a control character", i, len(key))
			case c == '"' || c == '\'' || c == '\\':
				return badByte(where, "a quote or backslash", i, len(key))
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(key[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			return badByte(where, "invalid UTF-8", i, len(key))
		case unicode.IsSpace(r):
			return badByte(where, "whitespace", i, len(key))
		case unicode.IsControl(r):
			return badByte(where, "a control character", i, len(key))
		case unicode.Is(unicode.Cf, r):
			return badByte(where, "an invisible format character", i, len(key))
		}
		i += n
	}
	return nil
}

func badByte(where, what string, at, n int) error {
	return fmt.Errorf("%w: %s%s at byte %d of %d", ErrInvalidKey, where, what, at, n)
}

// trimNewline removes one trailing "\n" or "\r\n" from b.
func trimNewline(b []byte) []byte {
	n := len(b)
	if n > 0 && b[n-1] == '\n' {
		n--
		if n > 0 && b[n-1] == '\r' {
			n--
		}
	}
	return b[:n]
}

// validateBytes is ValidateKey for a key held in a byte slice, without
// copying the key into a string: ValidateKey does not retain its argument,
// so the buffer may be zeroed afterwards.
func validateBytes(b []byte, where string) error {
	if len(b) == 0 {
		return checkKey("", where)
	}
	return checkKey(unsafe.String(&b[0], len(b)), where)
}
