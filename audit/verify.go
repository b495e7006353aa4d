package audit

import (
	"bufio"
	"bytes"
	"context"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"

	"github.com/secureai-go/secureai/keyprovider"
)

// VerifyOptions configures [Verify]. The zero value checks nothing but the
// hash chain and fails: set SealKey, or SkipSeals explicitly.
type VerifyOptions struct {
	// SealKey is the FileSink's seal key, to check the HMAC of every open
	// and seal record. Required unless SkipSeals is set.
	SealKey keyprovider.Secret
	// SkipSeals checks the hash chain and the records' order without the
	// seal key, as anyone can. Records cut off the end of the chain, and a
	// chain rebuilt by someone who changed records, then go undetected.
	SkipSeals bool
	// EncryptionKey, if not empty, also decrypts every encrypted record and
	// checks that it holds an event.
	EncryptionKey keyprovider.Secret
	// Live accepts a last file that does not end with a seal, or that was
	// sealed for a rotation: the file a running FileSink is writing.
	// Records cut off its end cannot be detected.
	Live bool
	// FS, if not nil, is where the files are read; otherwise they are read
	// from the operating system's file system.
	FS fs.FS
}

// FaultKind says what is wrong with a record.
type FaultKind string

// The faults Verify reports.
const (
	FaultChanged   FaultKind = "changed"   // the record's bytes are not those the next record's hash covers
	FaultRemoved   FaultKind = "removed"   // records are missing before this one
	FaultReordered FaultKind = "reordered" // the record is out of sequence: moved or duplicated
	FaultAdded     FaultKind = "added"     // the record is where none can be: after its file's seal, or an open record inside a file
	FaultTruncated FaultKind = "truncated" // the file, or the chain, ends without its seal
	FaultSeal      FaultKind = "seal"      // an open or seal record's HMAC does not match the seal key
	FaultMalformed FaultKind = "malformed" // the line is not a record of the chain
)

// Fault names the first bad record of a chain.
type Fault struct {
	Kind   FaultKind // what is wrong
	File   string    // as passed to Verify
	Line   int       // 1-based line in File; 0 for a fault of the whole file
	Seq    uint64    // the record's sequence number, 0 if unknown
	Detail string    // what was found, in a few words
}

// String returns "FILE:LINE (seq SEQ): KIND: DETAIL".
func (f *Fault) String() string {
	s := f.File + ":" + strconv.Itoa(f.Line)
	if f.Seq != 0 {
		s += " (seq " + strconv.FormatUint(f.Seq, 10) + ")"
	}
	return s + ": " + string(f.Kind) + ": " + f.Detail
}

// Report is the result of [Verify].
type Report struct {
	Files    int    // files read
	Records  int    // event records checked
	FirstSeq uint64 // sequence number of the first record
	LastSeq  uint64 // sequence number of the last good record
	// Sealed reports that the chain ends with a valid seal written by
	// [FileSink.Close]; false for a Live chain that ends unsealed.
	Sealed bool
	// Warnings note what is not a fault but limits what the check proves:
	// a chain that begins after its first record (earlier files removed by
	// retention, or not given), seals written on recovery after a crash.
	Warnings []string
	// Fault is the first bad record, or nil if the chain verifies.
	Fault *Fault
}

// OK reports whether the chain verified: r.Fault is nil.
func (r *Report) OK() bool { return r.Fault == nil }

// maxLine is the longest line Verify reads; longer ones are malformed.
const maxLine = 4 << 20

// Verify checks the hash-chained files written by a [FileSink], given in
// chain order (their names sort in that order), and reports the first bad
// record: a record changed, removed, reordered or added, a file truncated,
// a seal that does not match. The chain may begin at any record, since
// retention deletes the oldest files, but each file must be whole.
//
// Tampering is reported in the Report, not as an error. The error reports a
// file that cannot be read, bad options, or the end of ctx.
func Verify(ctx context.Context, opts VerifyOptions, files ...string) (Report, error) {
	v := &verifier{opts: opts}
	if len(files) == 0 {
		return v.rep, errors.New("audit: verify: no files")
	}
	if !opts.SkipSeals {
		var err error
		if v.mac, err = sealKeyBytes(opts.SealKey); err != nil {
			return v.rep, fmt.Errorf("audit: verify: %w (or set SkipSeals)", err)
		}
	}
	if !opts.EncryptionKey.IsZero() {
		var err error
		if v.aead, err = newAEAD(opts.EncryptionKey); err != nil {
			return v.rep, err
		}
	}
	for i, name := range files {
		if err := v.file(ctx, name, i == len(files)-1); err != nil {
			return v.rep, err
		}
		v.rep.Files++
		if v.rep.Fault != nil && v.missing == 0 {
			break
		}
	}
	if v.missing != 0 { // the missing record never showed up later
		v.rep.Fault.Kind = FaultRemoved
	}
	return v.rep, nil
}

type verifier struct {
	opts VerifyOptions
	mac  []byte
	aead cipher.AEAD
	rep  Report

	started  bool
	expect   uint64
	prev     [sha256.Size]byte
	prevFile string
	prevLine int
	prevSeq  uint64
	// missing, when not 0, is the sequence number expected where a higher
	// one came: the remaining lines are scanned for it to tell a reordered
	// record from removed ones.
	missing uint64
}

func (v *verifier) open(name string) (io.ReadCloser, error) {
	if v.opts.FS != nil {
		return v.opts.FS.Open(name)
	}
	return os.Open(name)
}

// file checks one file. last reports whether it is the last one given.
func (v *verifier) file(ctx context.Context, name string, last bool) error {
	f, err := v.open(name)
	if err != nil {
		return fmt.Errorf("audit: verify: %w", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var (
		buf      []byte
		lineNo   int
		sealed   bool
		reason   string
		lastSeq  uint64
		fileRecs int
	)
	fault := func(kind FaultKind, line int, seq uint64, format string, args ...any) {
		v.rep.Fault = &Fault{Kind: kind, File: name, Line: line, Seq: seq, Detail: fmt.Sprintf(format, args...)}
	}
	for {
		var line []byte
		var complete bool
		line, complete, buf, err = readLine(br, buf)
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("audit: verify: %s: %w", name, err)
		}
		lineNo++
		if lineNo%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("audit: verify: %w", err)
			}
		}
		if v.missing != 0 { // only looking for the missing record
			if r, err := parseRecord(line); err == nil && r.seq == v.missing {
				v.rep.Fault.Kind = FaultReordered
				v.rep.Fault.Detail = fmt.Sprintf("seq %d found at %s:%d", v.missing, name, lineNo)
				v.missing = 0
				return nil
			}
			continue
		}
		if len(line) > maxLine {
			fault(FaultMalformed, lineNo, 0, "line longer than %d bytes", maxLine)
			return nil
		}
		if !complete {
			fault(FaultTruncated, lineNo, 0, "last line is incomplete")
			return nil
		}
		r, err := parseRecord(line)
		if err != nil {
			fault(FaultMalformed, lineNo, 0, "%v", err)
			return nil
		}
		switch {
		case sealed:
			fault(FaultAdded, lineNo, r.seq, "record after the file's seal")
			return nil
		case lineNo == 1 && r.typ != typeOpen:
			fault(FaultRemoved, lineNo, r.seq, "file does not begin with its open record")
			return nil
		case lineNo != 1 && r.typ == typeOpen:
			fault(FaultAdded, lineNo, r.seq, "open record inside a file")
			return nil
		}
		if !v.started {
			v.started = true
			v.expect = r.seq
			v.rep.FirstSeq = r.seq
			if _, err := hex.Decode(v.prev[:], r.prev); err != nil {
				fault(FaultMalformed, lineNo, r.seq, "bad chain.prev")
				return nil
			}
			if v.prev != genesis {
				v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("the chain begins at seq %d: earlier files were removed by retention or not given", r.seq))
			}
		}
		switch {
		case r.seq < v.expect:
			fault(FaultReordered, lineNo, r.seq, "seq %d where %d was expected", r.seq, v.expect)
			return nil
		case r.seq > v.expect:
			if r.seq == v.expect+1 {
				fault(FaultRemoved, lineNo, r.seq, "seq %d follows seq %d: record %d is missing", r.seq, v.expect-1, v.expect)
			} else {
				fault(FaultRemoved, lineNo, r.seq, "seq %d follows seq %d: records %d to %d are missing", r.seq, v.expect-1, v.expect, r.seq-1)
			}
			v.missing = v.expect
			continue
		}
		var want [2 * sha256.Size]byte
		hex.Encode(want[:], v.prev[:])
		if !bytes.Equal(want[:], r.prev) {
			if v.prevFile == "" {
				fault(FaultChanged, lineNo, r.seq, "chain.prev does not match")
			} else {
				v.rep.Fault = &Fault{Kind: FaultChanged, File: v.prevFile, Line: v.prevLine, Seq: v.prevSeq,
					Detail: fmt.Sprintf("its hash does not match chain.prev of the next record (%s:%d)", name, lineNo)}
			}
			return nil
		}
		switch r.typ {
		case typeOpen, typeSeal:
			if !v.opts.SkipSeals && !v.checkMAC(line) {
				fault(FaultSeal, lineNo, r.seq, "%s record's HMAC does not match the seal key", r.typ)
				return nil
			}
			if r.typ == typeSeal {
				sealed, reason = true, r.reason
				if reason == sealRecover {
					v.rep.Warnings = append(v.rep.Warnings, fmt.Sprintf("%s:%d: sealed on recovery after a crash: records written just before it may be missing", name, lineNo))
				}
			}
		default:
			if detail := v.checkEvent(line, &r); detail != "" {
				fault(FaultChanged, lineNo, r.seq, "%s", detail)
				return nil
			}
			fileRecs++
			v.rep.Records++
		}
		v.prev = sha256.Sum256(line)
		v.prevFile, v.prevLine, v.prevSeq = name, lineNo, r.seq
		v.rep.LastSeq = r.seq
		lastSeq = r.seq
		v.expect++
	}
	if v.missing != 0 {
		return nil
	}
	switch {
	case lineNo == 0:
		fault(FaultTruncated, 0, 0, "empty file")
	case !sealed && !(last && v.opts.Live):
		fault(FaultTruncated, lineNo, lastSeq, "file ends without a seal: records were cut off its end")
	case sealed && reason == sealRotate && last && !v.opts.Live:
		fault(FaultTruncated, lineNo, lastSeq, "sealed for a rotation, but the next file is missing")
	case sealed && last:
		v.rep.Sealed = true
	}
	return nil
}

// checkMAC reports whether a control record's HMAC is right.
func (v *verifier) checkMAC(line []byte) bool {
	if len(line) < macLen || !bytes.HasPrefix(line[len(line)-macLen:], []byte(recMAC)) || !bytes.HasSuffix(line, []byte(`"}`)) {
		return false
	}
	got := make([]byte, sha256.Size)
	if _, err := hex.Decode(got, line[len(line)-macLen+len(recMAC):len(line)-2]); err != nil {
		return false
	}
	return hmac.Equal(got, controlMAC(v.mac, line[:len(line)-macLen]))
}

// encRecord holds the fields of an encrypted record.
type encRecord struct {
	Enc   string `json:"chain.enc"`
	Key   string `json:"chain.key"`
	Nonce string `json:"chain.nonce"`
	Data  string `json:"chain.data"`
}

// checkEvent checks an event record's form, and decrypts it when it is
// encrypted and a key was given. It returns what is wrong, or "".
func (v *verifier) checkEvent(line []byte, r *fileRecord) string {
	if !json.Valid(line) {
		return "not valid JSON"
	}
	if !r.enc {
		return ""
	}
	var er encRecord
	if err := json.Unmarshal(line, &er); err != nil || er.Enc != encAlgorithm {
		return "bad encrypted record"
	}
	if v.aead == nil {
		return ""
	}
	nonce, err1 := base64.StdEncoding.DecodeString(er.Nonce)
	data, err2 := base64.StdEncoding.DecodeString(er.Data)
	if err1 != nil || err2 != nil || len(nonce) != v.aead.NonceSize() {
		return "bad encrypted record"
	}
	plain, err := v.aead.Open(nil, nonce, data, encAAD(nil, r.seq, r.prev))
	if err != nil {
		return "does not decrypt with the key (altered, or another key)"
	}
	if !json.Valid(plain) {
		return "decrypted record is not an event"
	}
	return ""
}

// readLine reads one line, without its '\n', into buf (grown as needed)
// and reports whether the line ended with '\n'. It returns io.EOF at the
// end. A line longer than maxLine is returned cut to maxLine+1 bytes.
func readLine(br *bufio.Reader, buf []byte) (line []byte, complete bool, _ []byte, err error) {
	buf = buf[:0]
	for {
		chunk, err := br.ReadSlice('\n')
		if len(buf) <= maxLine {
			buf = append(buf, chunk...)
		}
		switch {
		case err == nil:
			return buf[:len(buf)-1], true, buf, nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case err == io.EOF && len(buf) > 0:
			return buf, false, buf, nil
		default:
			return nil, false, buf, err
		}
	}
}
