// Package keyslot computes Redis Cluster hash slots: CRC16 (XMODEM) of the
// key, or of its first non-empty {hashtag}, modulo 16384.
package keyslot

// Slots is the number of hash slots in a Redis Cluster keyspace.
const Slots = 16384

var table [256]uint16

func init() {
	for i := range table {
		crc := uint16(i) << 8
		for j := 0; j < 8; j++ {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
		table[i] = crc
	}
}

// CRC16 is the CCITT/XMODEM CRC16 that Redis Cluster uses.
func CRC16(b []byte) uint16 {
	var crc uint16
	for _, c := range b {
		crc = crc<<8 ^ table[byte(crc>>8)^c]
	}
	return crc
}

// HashTag returns the part of key that is hashed: the content of the first
// {...} if it is non-empty, else the whole key.
func HashTag(key []byte) []byte {
	for i, c := range key {
		if c == '{' {
			for j := i + 1; j < len(key); j++ {
				if key[j] == '}' {
					if j == i+1 {
						return key
					}
					return key[i+1 : j]
				}
			}
			return key
		}
	}
	return key
}

// Of returns the hash slot of key.
func Of(key []byte) int { return int(CRC16(HashTag(key)) & (Slots - 1)) }
