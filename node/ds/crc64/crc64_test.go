package crc64

import (
	"math/rand/v2"
	"testing"
)

// Check values from Redis's crc64.c self test.
func TestRedisVectors(t *testing.T) {
	cases := []struct {
		in   string
		want uint64
	}{
		{"123456789", 0xe9c6d914c4b8d9ca},
		// sizeof in the C test: the terminating NUL is checksummed too.
		{"Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed " +
			"do eiusmod tempor incididunt ut labore et dolore magna " +
			"aliqua. Ut enim ad minim veniam, quis nostrud exercitation " +
			"ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis " +
			"aute irure dolor in reprehenderit in voluptate velit esse " +
			"cillum dolore eu fugiat nulla pariatur. Excepteur sint " +
			"occaecat cupidatat non proident, sunt in culpa qui officia " +
			"deserunt mollit anim id est laborum.\x00", 0xc7794709e69683b3},
		{"", 0},
	}
	for _, c := range cases {
		if got := Checksum([]byte(c.in)); got != c.want {
			t.Errorf("Checksum(%q) = %#x, want %#x", c.in, got, c.want)
		}
	}
}

// The sliced fast path must agree with the bytewise definition for every
// length and split point.
func TestSlicingMatchesBytewise(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200; n++ {
		data := make([]byte, n)
		for i := range data {
			data[i] = byte(r.IntN(256))
		}
		var slow uint64
		for _, b := range data {
			slow = table[0][byte(slow)^b] ^ slow>>8
		}
		if got := Checksum(data); got != slow {
			t.Fatalf("len %d: sliced %#x, bytewise %#x", n, got, slow)
		}
		if n > 0 {
			cut := r.IntN(n)
			if got := Update(Update(0, data[:cut]), data[cut:]); got != slow {
				t.Fatalf("len %d cut %d: %#x, want %#x", n, cut, got, slow)
			}
		}
	}
}
