// Package crc64 is the CRC-64 variant Redis uses for RDB files and DUMP
// payloads: Jones polynomial (0xad93d23594c935a9), reflected input and
// output, initial value 0 and no final xor. Go's hash/crc64 tables are
// built for the ISO and ECMA polynomials with inverted init and output,
// so they do not produce Redis's checksums.
package crc64

// poly is the Jones polynomial in reflected (LSB-first) form.
const poly = 0x95ac9329ac4bc9b5

var table = func() (t [8][256]uint64) {
	for i := range 256 {
		crc := uint64(i)
		for range 8 {
			if crc&1 == 1 {
				crc = crc>>1 ^ poly
			} else {
				crc >>= 1
			}
		}
		t[0][i] = crc
	}
	// Slicing-by-8 tables: t[k][i] is the CRC of byte i followed by k
	// zero bytes.
	for i := range 256 {
		crc := t[0][i]
		for k := 1; k < 8; k++ {
			crc = t[0][crc&0xff] ^ crc>>8
			t[k][i] = crc
		}
	}
	return t
}()

// Update returns the CRC of data appended to a stream whose CRC so far is
// crc (0 for a new stream), as Redis's crc64(crc, data, len).
func Update(crc uint64, data []byte) uint64 {
	for len(data) >= 8 {
		crc ^= uint64(data[0]) | uint64(data[1])<<8 | uint64(data[2])<<16 | uint64(data[3])<<24 |
			uint64(data[4])<<32 | uint64(data[5])<<40 | uint64(data[6])<<48 | uint64(data[7])<<56
		crc = table[7][crc&0xff] ^ table[6][crc>>8&0xff] ^ table[5][crc>>16&0xff] ^ table[4][crc>>24&0xff] ^
			table[3][crc>>32&0xff] ^ table[2][crc>>40&0xff] ^ table[1][crc>>48&0xff] ^ table[0][crc>>56]
		data = data[8:]
	}
	for _, b := range data {
		crc = table[0][byte(crc)^b] ^ crc>>8
	}
	return crc
}

// Checksum is Update(0, data).
func Checksum(data []byte) uint64 { return Update(0, data) }
