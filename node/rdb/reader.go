package rdb

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/keyfleet/keyfleet/node/ds/lzf"
)

// ErrCorrupt is wrapped by every error about malformed data.
var ErrCorrupt = errors.New("corrupt RDB data")

// Reader reads RDB data, keeping the offset for error messages and the
// running CRC64. It refuses any length larger than what is left of the
// input, so a corrupt length never allocates more than the input's size.
type Reader struct {
	r     *bufio.Reader
	off   int64
	limit int64 // total input size; -1 unknown
	crc   uint64
	noCRC bool
	name  string
	tmp   [8]byte
}

// NewReader returns a Reader on r whose total size is size (-1 when
// unknown: lengths are then capped at 512MB, proto-max-bulk-len's
// ceiling). name labels errors (a file name or "payload").
func NewReader(r io.Reader, size int64, name string) *Reader {
	return &Reader{r: bufio.NewReaderSize(r, 64<<10), limit: size, name: name}
}

// Offset returns the bytes consumed.
func (r *Reader) Offset() int64 { return r.off }

// CRC returns the checksum of everything read so far.
func (r *Reader) CRC() uint64 { return r.crc }

// Errorf returns a corruption error naming the input and offset.
func (r *Reader) Errorf(format string, a ...any) error {
	return fmt.Errorf("%s at offset %d: %w: %s", r.name, r.off, ErrCorrupt, fmt.Sprintf(format, a...))
}

func (r *Reader) fail(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return r.Errorf("unexpected end of data")
	}
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%s at offset %d: read: %w", r.name, r.off, err)
}

// Full reads exactly len(p) bytes.
func (r *Reader) Full(p []byte) error {
	if _, err := io.ReadFull(r.r, p); err != nil {
		return r.fail(err)
	}
	r.off += int64(len(p))
	if !r.noCRC {
		r.crc = CRC64(r.crc, p)
	}
	return nil
}

// Byte reads one byte.
func (r *Reader) Byte() (byte, error) {
	if err := r.Full(r.tmp[:1]); err != nil {
		return 0, err
	}
	return r.tmp[0], nil
}

// Header reads the magic and returns the version.
func (r *Reader) Header() (int, error) {
	var b [9]byte
	if err := r.Full(b[:]); err != nil {
		return 0, err
	}
	if string(b[:5]) != "REDIS" {
		return 0, r.Errorf("wrong signature trying to load DB from file")
	}
	v, err := strconv.Atoi(string(b[5:]))
	if err != nil || v < 1 || v > Version {
		return 0, r.Errorf("can't handle RDB format version %s", b[5:])
	}
	return v, nil
}

// lenOrEnc reads a length, or reports an encoded-string marker.
func (r *Reader) lenOrEnc() (n uint64, enc int, err error) {
	b, err := r.Byte()
	if err != nil {
		return 0, -1, err
	}
	switch b >> 6 {
	case len6bit:
		return uint64(b & 0x3f), -1, nil
	case len14bit:
		b2, err := r.Byte()
		if err != nil {
			return 0, -1, err
		}
		return uint64(b&0x3f)<<8 | uint64(b2), -1, nil
	case lenEncVal:
		return 0, int(b & 0x3f), nil
	}
	switch b {
	case len32bit:
		if err := r.Full(r.tmp[:4]); err != nil {
			return 0, -1, err
		}
		return uint64(binary.BigEndian.Uint32(r.tmp[:4])), -1, nil
	case len64bit:
		if err := r.Full(r.tmp[:8]); err != nil {
			return 0, -1, err
		}
		return binary.BigEndian.Uint64(r.tmp[:8]), -1, nil
	}
	return 0, -1, r.Errorf("unknown length encoding %d", b)
}

// Len reads a length.
func (r *Reader) Len() (uint64, error) {
	n, enc, err := r.lenOrEnc()
	if err != nil {
		return 0, err
	}
	if enc >= 0 {
		return 0, r.Errorf("encoded value where a length was expected")
	}
	return n, nil
}

// Count reads a length that counts elements each at least minSize
// bytes in the input, refusing counts the rest of the input cannot hold.
func (r *Reader) Count(minSize int) (int, error) {
	n, err := r.Len()
	if err != nil {
		return 0, err
	}
	if err := r.fits(n, uint64(max(minSize, 1))); err != nil {
		return 0, err
	}
	return int(n), nil
}

const unknownCap = 1 << 29

func (r *Reader) fits(n, each uint64) error {
	left := uint64(unknownCap)
	if r.limit >= 0 {
		left = uint64(max(r.limit-r.off, 0))
	}
	if n > left/each {
		return r.Errorf("length %d exceeds the remaining data", n)
	}
	return nil
}

// String reads a string in any of its encodings; integer-encoded strings
// come back as their decimal text.
func (r *Reader) String() ([]byte, error) {
	n, enc, err := r.lenOrEnc()
	if err != nil {
		return nil, err
	}
	switch enc {
	case -1:
		if err := r.fits(n, 1); err != nil {
			return nil, err
		}
		b := make([]byte, n)
		return b, r.Full(b)
	case encInt8, encInt16, encInt32:
		v, err := r.encInt(enc)
		if err != nil {
			return nil, err
		}
		return strconv.AppendInt(nil, v, 10), nil
	case encLZF:
		return r.lzfString()
	}
	return nil, r.Errorf("unknown string encoding %d", enc)
}

func (r *Reader) encInt(enc int) (int64, error) {
	switch enc {
	case encInt8:
		b, err := r.Byte()
		return int64(int8(b)), err
	case encInt16:
		if err := r.Full(r.tmp[:2]); err != nil {
			return 0, err
		}
		return int64(int16(binary.LittleEndian.Uint16(r.tmp[:2]))), nil
	default:
		if err := r.Full(r.tmp[:4]); err != nil {
			return 0, err
		}
		return int64(int32(binary.LittleEndian.Uint32(r.tmp[:4]))), nil
	}
}

// maxLZFRatio bounds an LZF string's expansion: LZF cannot expand more
// than about 1:110 (a back reference of 264 bytes in 3 bytes... plus
// slack), so a claimed size beyond that is corrupt, not a huge string.
const maxLZFRatio = 128

func (r *Reader) lzfString() ([]byte, error) {
	clen, err := r.Len()
	if err != nil {
		return nil, err
	}
	ulen, err := r.Len()
	if err != nil {
		return nil, err
	}
	if err := r.fits(clen, 1); err != nil {
		return nil, err
	}
	if clen == 0 || ulen > clen*maxLZFRatio+64 || ulen > unknownCap*2 {
		return nil, r.Errorf("invalid LZF lengths %d/%d", clen, ulen)
	}
	c := make([]byte, clen)
	if err := r.Full(c); err != nil {
		return nil, err
	}
	out, err := lzf.Decompress(nil, c, int(ulen))
	if err != nil || len(out) != int(ulen) {
		return nil, r.Errorf("invalid LZF compressed string")
	}
	return out, nil
}

// Int reads a string that must hold an integer (e.g. an intset-less
// set's members are strings; aux values may be integers).
func (r *Reader) Int() (int64, error) {
	s, err := r.String()
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		return 0, r.Errorf("invalid integer %q", s)
	}
	return v, nil
}

// BinaryDouble reads an 8-byte little-endian double.
func (r *Reader) BinaryDouble() (float64, error) {
	if err := r.Full(r.tmp[:8]); err != nil {
		return 0, err
	}
	return math.Float64frombits(binary.LittleEndian.Uint64(r.tmp[:8])), nil
}

// StringDouble reads the old ZSET's text double (rdbLoadDoubleValue).
func (r *Reader) StringDouble() (float64, error) {
	n, err := r.Byte()
	if err != nil {
		return 0, err
	}
	switch n {
	case 253:
		return math.NaN(), nil
	case 254:
		return math.Inf(1), nil
	case 255:
		return math.Inf(-1), nil
	}
	b := make([]byte, n)
	if err := r.Full(b); err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return 0, r.Errorf("invalid double %q", b)
	}
	return f, nil
}

// Millis reads an 8-byte little-endian ms time.
func (r *Reader) Millis() (int64, error) {
	if err := r.Full(r.tmp[:8]); err != nil {
		return 0, err
	}
	return int64(binary.LittleEndian.Uint64(r.tmp[:8])), nil
}

// Seconds reads a 4-byte little-endian seconds time (EXPIRETIME).
func (r *Reader) Seconds() (int64, error) {
	if err := r.Full(r.tmp[:4]); err != nil {
		return 0, err
	}
	return int64(int32(binary.LittleEndian.Uint32(r.tmp[:4]))), nil
}

// Trailer reads the 8-byte checksum after EOF (version >= 5) and checks
// it unless check is false or the file's checksum is 0 (rdbchecksum no).
func (r *Reader) Trailer(check bool) error {
	want := r.crc
	r.noCRC = true
	if err := r.Full(r.tmp[:8]); err != nil {
		return err
	}
	got := binary.LittleEndian.Uint64(r.tmp[:8])
	if check && got != 0 && got != want {
		return r.Errorf("wrong RDB checksum expected: (%x) got: (%x)", got, want)
	}
	return nil
}
