package audit

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/secureai-go/secureai/internal/jsonstr"
	"github.com/secureai-go/secureai/keyprovider"
)

// The record format of the hash-chained file, shared by FileSink and Verify.
//
// Every record is one line of JSON that begins with its sequence number and
// the hash of the line before it:
//
//	{"chain.seq":7,"chain.prev":"<64 hex>", ...}
//
// An event record continues with the keys of Event.MarshalJSON. An encrypted
// event record continues with "chain.enc", "chain.key", "chain.nonce" and
// "chain.data". A control record continues with "chain.type" ("open" or
// "seal") and ends with "chain.mac", an HMAC-SHA256 over the line's bytes
// before the ',"chain.mac"' key.
const (
	recPrefixSeq  = `{"chain.seq":`
	recPrefixPrev = `,"chain.prev":"`
	recType       = `","chain.type":"`
	recEnc        = `","chain.enc":"`
	recMAC        = `,"chain.mac":"`
	encAlgorithm  = "A256GCM"

	typeOpen = "open"
	typeSeal = "seal"

	sealRotate  = "rotate"  // the chain continues in the next file
	sealClose   = "close"   // the sink was closed: the chain ends here
	sealRecover = "recover" // sealed when a crashed file was reopened
)

// genesis is the "chain.prev" of the first record of a chain.
var genesis = [sha256.Size]byte{}

// macLen is the length of the line's tail that holds the MAC:
// ,"chain.mac":"<64 hex>"}
const macLen = len(recMAC) + 2*sha256.Size + 2

// minSealKey is the shortest seal key accepted, in bytes.
const minSealKey = 16

// sealKeyBytes returns the HMAC key of a seal key.
func sealKeyBytes(s keyprovider.Secret) ([]byte, error) {
	if s.Len() < minSealKey {
		return nil, fmt.Errorf("audit: seal key must hold at least %d bytes", minSealKey)
	}
	return []byte(s.Reveal()), nil
}

// newAEAD returns AES-256-GCM keyed by s, which must hold 32 bytes written
// as 64 hex digits or in base64 (standard or URL alphabet, padded or not).
func newAEAD(s keyprovider.Secret) (cipher.AEAD, error) {
	key, err := decodeKey32(s.Reveal())
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	clear(key)
	if err != nil {
		return nil, fmt.Errorf("audit: encryption key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("audit: encryption key: %w", err)
	}
	return aead, nil
}

var errKeyFormat = errors.New("audit: encryption key must be 32 bytes written as 64 hex digits or in base64")

func decodeKey32(v string) ([]byte, error) {
	if len(v) == 64 {
		if b, err := hex.DecodeString(v); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(v); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errKeyFormat
}

// appendRecordHead appends the start of a record: its sequence number and
// the previous record's hash, without the closing quote of the hash.
func appendRecordHead(b []byte, seq uint64, prev *[sha256.Size]byte) []byte {
	b = append(b, recPrefixSeq...)
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, recPrefixPrev...)
	return hex.AppendEncode(b, prev[:])
}

// encAAD is the additional data of an encrypted record: it binds the
// ciphertext to its place in the chain.
func encAAD(b []byte, seq uint64, prev []byte) []byte {
	b = append(b, SchemaVersion...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, seq, 10)
	b = append(b, ' ')
	return append(b, prev...)
}

// appendControl appends an open or seal record, MAC included. records is
// the number of event records in the file (seal only).
func appendControl(b []byte, mac []byte, seq uint64, prev *[sha256.Size]byte, typ, reason string, records int, t time.Time) []byte {
	start := len(b)
	b = appendRecordHead(b, seq, prev)
	b = append(b, recType...)
	b = append(b, typ...)
	b = append(b, `","schema":"`+SchemaVersion+`","time":`...)
	b = appendTime(b, t)
	if typ == typeSeal {
		b = append(b, `,"chain.reason":`...)
		b = jsonstr.AppendSlog(b, reason)
		b = append(b, `,"chain.records":`...)
		b = strconv.AppendInt(b, int64(records), 10)
	}
	sum := controlMAC(mac, b[start:])
	b = append(b, recMAC...)
	b = hex.AppendEncode(b, sum)
	return append(b, '"', '}')
}

// controlMAC is the HMAC-SHA256 of a control record's bytes before its MAC.
func controlMAC(key, msg []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(msg)
	return h.Sum(nil)
}
