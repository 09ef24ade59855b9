// Package lzf implements the LZF compression format (liblzf 3.6) that
// Redis uses for compressed quicklist nodes and for compressed strings in
// RDB files. Decompress accepts any valid LZF stream; Compress produces
// one that liblzf decompresses (not necessarily the same bytes as
// liblzf's compressor, whose output depends on uninitialised memory).
package lzf

import (
	"errors"
	"sync"
)

const (
	hlog   = 16
	hsize  = 1 << hlog
	maxLit = 1 << 5
	maxOff = 1 << 13
	maxRef = (1 << 8) + (1 << 3)
)

// Errors returned by Decompress.
var (
	ErrTooBig  = errors.New("lzf: output larger than expected")
	ErrCorrupt = errors.New("lzf: corrupt input")
)

// compressor holds the match table between calls. Entries are stamped
// with a base that grows with every call, so the table never needs
// clearing: an entry not above the current base belongs to an earlier
// input and reads as empty.
type compressor struct {
	tab  [hsize]uint32
	base uint32
}

var pool = sync.Pool{New: func() any { return new(compressor) }}

func idx(h uint32) uint32 {
	// liblzf's VERY_FAST hash of the next three bytes.
	return ((h >> (3*8 - hlog)) - h*5) & (hsize - 1)
}

// Compress compresses src into dst (whose length is ignored; its capacity
// is reused) and returns the result, or nil when the output would need
// more than maxOut bytes (liblzf returns 0 then: callers store the data
// uncompressed). maxOut <= 0 means len(src)-1, the only useful bound.
func Compress(dst, src []byte, maxOut int) []byte {
	if maxOut <= 0 {
		maxOut = len(src) - 1
	}
	if len(src) == 0 || maxOut <= 0 {
		return nil
	}
	c := pool.Get().(*compressor)
	defer pool.Put(c)
	if c.base > 1<<31 {
		c.tab = [hsize]uint32{}
		c.base = 0
	}
	base := c.base
	c.base += uint32(len(src)) + 1

	if cap(dst) < maxOut {
		dst = make([]byte, maxOut)
	}
	out := dst[:maxOut]
	inEnd := len(src)
	ip, op := 0, 0
	lit := 0
	op++ // start a literal run
	set := func(h uint32, pos int) { c.tab[idx(h)] = base + uint32(pos) + 1 }
	hval := uint32(0)
	if inEnd >= 2 {
		hval = uint32(src[0])<<8 | uint32(src[1])
	}
	for ip < inEnd-2 {
		hval = hval<<8 | uint32(src[ip+2])
		slot := &c.tab[idx(hval)]
		ref := -1
		if v := *slot; v > base {
			ref = int(v - base - 1)
		}
		*slot = base + uint32(ip) + 1
		if ref > 0 && ref < ip && ip-ref-1 < maxOff &&
			src[ref] == src[ip] && src[ref+1] == src[ip+1] && src[ref+2] == src[ip+2] {
			off := ip - ref - 1
			length := 2
			maxLen := inEnd - ip - length
			if maxLen > maxRef {
				maxLen = maxRef
			}
			if op+3+1 >= maxOut {
				back := 0
				if lit == 0 {
					back = 1
				}
				if op-back+3+1 >= maxOut {
					return nil
				}
			}
			out[op-lit-1] = byte(lit - 1) // stop the run
			if lit == 0 {
				op-- // undo an empty run
			}
			for {
				length++
				if length >= maxLen || src[ref+length] != src[ip+length] {
					break
				}
			}
			length -= 2 // octets - 1
			ip++
			if length < 7 {
				out[op] = byte(off>>8) + byte(length<<5)
				op++
			} else {
				out[op] = byte(off>>8) + 7<<5
				out[op+1] = byte(length - 7)
				op += 2
			}
			out[op] = byte(off)
			op++
			lit = 0
			op++ // start a run
			ip += length + 1
			if ip >= inEnd-2 {
				break
			}
			ip -= 2
			hval = uint32(src[ip])<<8 | uint32(src[ip+1])
			hval = hval<<8 | uint32(src[ip+2])
			set(hval, ip)
			ip++
			hval = hval<<8 | uint32(src[ip+2])
			set(hval, ip)
			ip++
		} else {
			if op >= maxOut {
				return nil
			}
			lit++
			out[op] = src[ip]
			op++
			ip++
			if lit == maxLit {
				out[op-lit-1] = byte(lit - 1)
				lit = 0
				op++
			}
		}
	}
	if op+3 > maxOut {
		return nil
	}
	for ip < inEnd {
		lit++
		out[op] = src[ip]
		op++
		ip++
		if lit == maxLit {
			out[op-lit-1] = byte(lit - 1)
			lit = 0
			op++
		}
	}
	out[op-lit-1] = byte(lit - 1)
	if lit == 0 {
		op--
	}
	return out[:op]
}

// Decompress decompresses src, which must expand to exactly n bytes,
// appending to dst[:0]'s storage. It never panics on bad input.
func Decompress(dst, src []byte, n int) ([]byte, error) {
	if n < 0 {
		return nil, ErrCorrupt
	}
	if cap(dst) < n {
		dst = make([]byte, 0, n)
	}
	out := dst[:n]
	ip, op := 0, 0
	for ip < len(src) {
		ctrl := int(src[ip])
		ip++
		if ctrl < 1<<5 {
			ctrl++
			if op+ctrl > n {
				return nil, ErrTooBig
			}
			if ip+ctrl > len(src) {
				return nil, ErrCorrupt
			}
			copy(out[op:], src[ip:ip+ctrl])
			op += ctrl
			ip += ctrl
			continue
		}
		length := ctrl >> 5
		ref := op - (ctrl&0x1f)<<8 - 1
		if ip >= len(src) {
			return nil, ErrCorrupt
		}
		if length == 7 {
			length += int(src[ip])
			ip++
			if ip >= len(src) {
				return nil, ErrCorrupt
			}
		}
		ref -= int(src[ip])
		ip++
		length += 2
		if op+length > n {
			return nil, ErrTooBig
		}
		if ref < 0 {
			return nil, ErrCorrupt
		}
		// Byte by byte: the reference may overlap the output (runs).
		for i := 0; i < length; i++ {
			out[op+i] = out[ref+i]
		}
		op += length
	}
	if op != n {
		return nil, ErrCorrupt
	}
	return out, nil
}
