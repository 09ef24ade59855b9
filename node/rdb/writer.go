package rdb

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
	"github.com/keyfleet/keyfleet/node/ds/lzf"
)

// Writer writes RDB data to an io.Writer, keeping the running CRC64 and
// the byte count. Errors are sticky: after the first, every call is a
// no-op and Err reports it.
type Writer struct {
	w        *bufio.Writer
	crc      uint64
	n        int64
	err      error
	compress bool
	// NoChecksum writes a zero checksum (rdbchecksum no), which readers
	// take as "not computed".
	NoChecksum bool
	scratch    []byte
	lzfBuf     []byte
}

// NewWriter returns a Writer on w; compress enables LZF for strings
// longer than 20 bytes (rdbcompression).
func NewWriter(w io.Writer, compress bool) *Writer {
	return &Writer{w: bufio.NewWriterSize(w, 64<<10), compress: compress}
}

// Err returns the first error met.
func (w *Writer) Err() error { return w.err }

// Written returns the bytes written so far.
func (w *Writer) Written() int64 { return w.n }

// Raw writes p as is (it goes into the checksum).
func (w *Writer) Raw(p []byte) {
	if w.err != nil {
		return
	}
	w.crc = CRC64(w.crc, p)
	w.n += int64(len(p))
	if _, err := w.w.Write(p); err != nil {
		w.err = fmt.Errorf("rdb: write: %w", err)
	}
}

// Byte writes one byte (a type or an opcode).
func (w *Writer) Byte(b byte) {
	w.scratch = append(w.scratch[:0], b)
	w.Raw(w.scratch)
}

// Header writes the magic and version.
func (w *Writer) Header() { w.Raw(fmt.Appendf(nil, "REDIS%04d", Version)) }

// Len writes a length in the shortest encoding (rdbSaveLen).
func (w *Writer) Len(n uint64) { w.Raw(AppendLen(w.scratch[:0], n)) }

// AppendLen appends n's length encoding to b.
func AppendLen(b []byte, n uint64) []byte {
	switch {
	case n < 1<<6:
		return append(b, byte(n))
	case n < 1<<14:
		return append(b, byte(n>>8)|len14bit<<6, byte(n))
	case n <= math.MaxUint32:
		b = append(b, len32bit)
		return binary.BigEndian.AppendUint32(b, uint32(n))
	default:
		b = append(b, len64bit)
		return binary.BigEndian.AppendUint64(b, n)
	}
}

// intEncoding appends v's integer encoding when v is the canonical form
// of an integer that fits 32 bits (rdbTryIntegerEncoding).
func intEncoding(b []byte, v []byte) ([]byte, bool) {
	if len(v) > 11 {
		return b, false
	}
	n, ok := listpack.StringToInt64(v)
	if !ok {
		return b, false
	}
	return AppendInt(b, n)
}

// AppendInt appends n as an integer-encoded string if it fits 32 bits
// (rdbEncodeInteger).
func AppendInt(b []byte, n int64) ([]byte, bool) {
	switch {
	case n >= math.MinInt8 && n <= math.MaxInt8:
		return append(b, lenEncVal<<6|encInt8, byte(n)), true
	case n >= math.MinInt16 && n <= math.MaxInt16:
		return binary.LittleEndian.AppendUint16(append(b, lenEncVal<<6|encInt16), uint16(n)), true
	case n >= math.MinInt32 && n <= math.MaxInt32:
		return binary.LittleEndian.AppendUint32(append(b, lenEncVal<<6|encInt32), uint32(n)), true
	}
	return b, false
}

// String writes v as Redis's rdbSaveRawString: integer-encoded when it
// is a small integer's canonical form, LZF-compressed when compression is
// on, v is longer than 20 bytes and it shrinks by more than 4 bytes,
// raw otherwise.
func (w *Writer) String(v []byte) {
	if b, ok := intEncoding(w.scratch[:0], v); ok {
		w.Raw(b)
		return
	}
	if w.compress && len(v) > 20 {
		w.lzfBuf = lzf.Compress(w.lzfBuf[:0], v, len(v)-4)
		if len(w.lzfBuf) > 0 {
			w.LZFBlob(w.lzfBuf, len(v))
			return
		}
	}
	w.Len(uint64(len(v)))
	w.Raw(v)
}

// Blob writes v as a string without trying the integer encoding (a
// listpack, an intset: rdbSaveRawString on binary data, which never
// parses as an integer anyway).
func (w *Writer) Blob(v []byte) { w.String(v) }

// LZFBlob writes already-compressed data of uncompressed size n.
func (w *Writer) LZFBlob(c []byte, n int) {
	w.Byte(lenEncVal<<6 | encLZF)
	w.Len(uint64(len(c)))
	w.Len(uint64(n))
	w.Raw(c)
}

// Int writes n as a string (integers are strings in RDB).
func (w *Writer) Int(n int64) {
	if b, ok := AppendInt(w.scratch[:0], n); ok {
		w.Raw(b)
		return
	}
	s := strconv.AppendInt(nil, n, 10)
	w.Len(uint64(len(s)))
	w.Raw(s)
}

// BinaryDouble writes f as 8 little-endian bytes (ZSET_2 scores).
func (w *Writer) BinaryDouble(f float64) {
	w.Raw(binary.LittleEndian.AppendUint64(w.scratch[:0], math.Float64bits(f)))
}

// Millis writes an 8-byte little-endian millisecond time.
func (w *Writer) Millis(ms int64) {
	w.Raw(binary.LittleEndian.AppendUint64(w.scratch[:0], uint64(ms)))
}

// Aux writes an AUX field.
func (w *Writer) Aux(key, val string) {
	w.Byte(OpAux)
	w.String([]byte(key))
	w.String([]byte(val))
}

// AuxInt writes an AUX field with an integer value.
func (w *Writer) AuxInt(key string, v int64) {
	w.Byte(OpAux)
	w.String([]byte(key))
	w.Int(v)
}

// SelectDB writes a database selector.
func (w *Writer) SelectDB(id int) {
	w.Byte(OpSelectDB)
	w.Len(uint64(id))
}

// ResizeDB writes the database sizes hint.
func (w *Writer) ResizeDB(size, expires int) {
	w.Byte(OpResizeDB)
	w.Len(uint64(size))
	w.Len(uint64(expires))
}

// ExpireMs writes an absolute expiry time in ms for the next key.
func (w *Writer) ExpireMs(at int64) {
	w.Byte(OpExpireTimeMs)
	w.Millis(at)
}

// Idle writes the next key's idle time in seconds (LRU policies).
func (w *Writer) Idle(sec uint64) {
	w.Byte(OpIdle)
	w.Len(sec)
}

// Freq writes the next key's LFU counter.
func (w *Writer) Freq(f uint8) {
	w.Byte(OpFreq)
	w.Byte(f)
}

// End writes EOF and the checksum, and flushes.
func (w *Writer) End() error {
	w.Byte(OpEOF)
	if w.err != nil {
		return w.err
	}
	var b [8]byte
	if !w.NoChecksum {
		binary.LittleEndian.PutUint64(b[:], w.crc)
	}
	w.n += 8
	if _, err := w.w.Write(b[:]); err != nil {
		return fmt.Errorf("rdb: write: %w", err)
	}
	return w.Flush()
}

// Flush writes the buffered data out.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if err := w.w.Flush(); err != nil {
		w.err = fmt.Errorf("rdb: write: %w", err)
	}
	return w.err
}

// CRC returns the checksum of everything written so far.
func (w *Writer) CRC() uint64 { return w.crc }
