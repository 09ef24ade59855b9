package rdb

import (
	"encoding/binary"
	"fmt"

	"github.com/keyfleet/keyfleet/node/ds/listpack"
)

// Ziplist decodes a ziplist blob (RDB ≤ 9's small lists, hashes and
// sorted sets) into its entries, validating every header and length; it
// never panics.
func Ziplist(b []byte) ([]listpack.Entry, error) {
	const header = 10
	if len(b) < header+1 {
		return nil, fmt.Errorf("%w: ziplist of %d bytes", ErrCorrupt, len(b))
	}
	if int(binary.LittleEndian.Uint32(b)) != len(b) || b[len(b)-1] != 0xff {
		return nil, fmt.Errorf("%w: ziplist size mismatch", ErrCorrupt)
	}
	var out []listpack.Entry
	p := header
	for {
		if p >= len(b) {
			return nil, fmt.Errorf("%w: ziplist entry past the end", ErrCorrupt)
		}
		if b[p] == 0xff {
			if p != len(b)-1 {
				return nil, fmt.Errorf("%w: ziplist end marker inside", ErrCorrupt)
			}
			return out, nil
		}
		// prevlen
		if b[p] < 254 {
			p++
		} else if b[p] == 254 {
			p += 5
		} else {
			return nil, fmt.Errorf("%w: ziplist prevlen", ErrCorrupt)
		}
		if p >= len(b) {
			return nil, fmt.Errorf("%w: ziplist entry past the end", ErrCorrupt)
		}
		enc := b[p]
		var e listpack.Entry
		need := func(n int) bool { return p+n <= len(b)-1 }
		switch {
		case enc>>6 == 0, enc>>6 == 1, enc>>6 == 2:
			var n, hl int
			switch enc >> 6 {
			case 0:
				n, hl = int(enc&0x3f), 1
			case 1:
				if !need(2) {
					return nil, fmt.Errorf("%w: ziplist entry header", ErrCorrupt)
				}
				n, hl = int(enc&0x3f)<<8|int(b[p+1]), 2
			default:
				if !need(5) {
					return nil, fmt.Errorf("%w: ziplist entry header", ErrCorrupt)
				}
				n, hl = int(binary.BigEndian.Uint32(b[p+1:])), 5
			}
			if n < 0 || !need(hl+n) {
				return nil, fmt.Errorf("%w: ziplist string past the end", ErrCorrupt)
			}
			e.Str = b[p+hl : p+hl+n]
			p += hl + n
		default:
			var sz int
			switch enc {
			case 0xc0:
				sz = 2
			case 0xd0:
				sz = 4
			case 0xe0:
				sz = 8
			case 0xf0:
				sz = 3
			case 0xfe:
				sz = 1
			default:
				if enc >= 0xf1 && enc <= 0xfd {
					e.IsInt, e.Int = true, int64(enc&0x0f)-1
					p++
					out = append(out, e)
					continue
				}
				return nil, fmt.Errorf("%w: ziplist encoding %#x", ErrCorrupt, enc)
			}
			if !need(1 + sz) {
				return nil, fmt.Errorf("%w: ziplist integer past the end", ErrCorrupt)
			}
			v := b[p+1 : p+1+sz]
			e.IsInt = true
			switch sz {
			case 1:
				e.Int = int64(int8(v[0]))
			case 2:
				e.Int = int64(int16(binary.LittleEndian.Uint16(v)))
			case 3:
				e.Int = int64(int32(uint32(v[0])<<8|uint32(v[1])<<16|uint32(v[2])<<24) >> 8)
			case 4:
				e.Int = int64(int32(binary.LittleEndian.Uint32(v)))
			case 8:
				e.Int = int64(binary.LittleEndian.Uint64(v))
			}
			p += 1 + sz
		}
		out = append(out, e)
	}
}

// Zipmap decodes a zipmap blob (RDB ≤ 3's small hashes) into alternating
// fields and values.
func Zipmap(b []byte) ([][]byte, error) {
	if len(b) < 2 {
		return nil, fmt.Errorf("%w: zipmap of %d bytes", ErrCorrupt, len(b))
	}
	var out [][]byte
	p := 1
	readLen := func() (int, error) {
		if p >= len(b) {
			return 0, fmt.Errorf("%w: zipmap past the end", ErrCorrupt)
		}
		if b[p] < 254 {
			p++
			return int(b[p-1]), nil
		}
		if b[p] == 254 && p+5 <= len(b) {
			n := int(binary.LittleEndian.Uint32(b[p+1:]))
			p += 5
			return n, nil
		}
		return 0, fmt.Errorf("%w: zipmap length", ErrCorrupt)
	}
	for {
		if p >= len(b) {
			return nil, fmt.Errorf("%w: zipmap without end", ErrCorrupt)
		}
		if b[p] == 0xff {
			if p != len(b)-1 || len(out)%2 != 0 {
				return nil, fmt.Errorf("%w: zipmap end", ErrCorrupt)
			}
			return out, nil
		}
		n, err := readLen()
		if err != nil {
			return nil, err
		}
		if n < 0 || p+n > len(b) {
			return nil, fmt.Errorf("%w: zipmap key past the end", ErrCorrupt)
		}
		out = append(out, b[p:p+n])
		p += n
		n, err = readLen()
		if err != nil {
			return nil, err
		}
		if p >= len(b) {
			return nil, fmt.Errorf("%w: zipmap past the end", ErrCorrupt)
		}
		free := int(b[p])
		p++
		if n < 0 || p+n+free > len(b) {
			return nil, fmt.Errorf("%w: zipmap value past the end", ErrCorrupt)
		}
		out = append(out, b[p:p+n])
		p += n + free
	}
}

// Payload frames a serialized value as DUMP does: the value, the RDB
// version (2 bytes LE) and the CRC64 of both (8 bytes LE).
func Payload(value []byte) []byte {
	b := binary.LittleEndian.AppendUint16(value, Version)
	return binary.LittleEndian.AppendUint64(b, CRC64(0, b))
}

// CheckPayload verifies a DUMP payload's footer (verifyDumpPayload) and
// returns the value part. check false skips the checksum.
func CheckPayload(p []byte, check bool) ([]byte, bool) {
	if len(p) < 10 {
		return nil, false
	}
	n := len(p)
	if binary.LittleEndian.Uint16(p[n-10:]) > Version {
		return nil, false
	}
	if check && binary.LittleEndian.Uint64(p[n-8:]) != CRC64(0, p[:n-8]) {
		return nil, false
	}
	return p[:n-10], true
}
