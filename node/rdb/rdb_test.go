package rdb

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestCRC64(t *testing.T) {
	// Redis's crc64 test vector.
	if got := CRC64(0, []byte("123456789")); got != 0xe9c6d914c4b8d9ca {
		t.Fatalf("crc64 = %x", got)
	}
}

func TestStringRoundTrip(t *testing.T) {
	long := strings.Repeat("abcdefgh", 40)
	cases := []struct {
		in   string
		want []byte // exact encoding, nil: not checked
	}{
		{"", []byte{0}},
		{"0", []byte{0xc0, 0}},
		{"-1", []byte{0xc0, 0xff}},
		{"300", []byte{0xc1, 0x2c, 0x01}},
		{"70000", []byte{0xc2, 0x70, 0x11, 0x01, 0x00}},
		{"01", []byte{2, '0', '1'}},
		{"4294967296", nil},
		{"hello", []byte{5, 'h', 'e', 'l', 'l', 'o'}},
		{long, nil},
		{strings.Repeat("x", 20000), nil},
	}
	for _, c := range cases {
		var buf bytes.Buffer
		w := NewWriter(&buf, true)
		w.String([]byte(c.in))
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if c.want != nil && !bytes.Equal(buf.Bytes(), c.want) {
			t.Errorf("%q encoded %x, want %x", c.in, buf.Bytes(), c.want)
		}
		if c.in == long && buf.Len() >= len(long) {
			t.Errorf("long string not compressed: %d bytes", buf.Len())
		}
		r := NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "t")
		got, err := r.String()
		if err != nil || string(got) != c.in {
			t.Errorf("%q decoded %q, %v", c.in, got, err)
		}
	}
}

func TestLenRoundTrip(t *testing.T) {
	for _, n := range []uint64{0, 63, 64, 16383, 16384, math.MaxUint32, math.MaxUint32 + 1} {
		b := AppendLen(nil, n)
		r := NewReader(bytes.NewReader(b), -1, "t")
		got, err := r.Len()
		if err != nil || got != n {
			t.Errorf("len %d: got %d, %v", n, got, err)
		}
	}
}

func TestCorruptLengthsRefused(t *testing.T) {
	cases := map[string][]byte{
		"huge raw":  {0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"truncated": {5, 'a'},
		"bad lzf":   {0xc3, 2, 100, 1, 2},
		"lzf ratio": {0xc3, 1, 0x81, 0, 0, 0, 1, 0, 0, 0, 0, 0},
		"bad enc":   {0xc4},
		"empty":     {},
	}
	for name, b := range cases {
		r := NewReader(bytes.NewReader(b), int64(len(b)), "f.rdb")
		_, err := r.String()
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "f.rdb at offset") {
			t.Errorf("%s: err %v", name, err)
		}
	}
}

func TestPayload(t *testing.T) {
	p := Payload([]byte{0, 3, 'f', 'o', 'o'})
	v, ok := CheckPayload(p, true)
	if !ok || string(v) != "\x00\x03foo" {
		t.Fatalf("payload check: %q %v", v, ok)
	}
	p[3] ^= 1
	if _, ok := CheckPayload(p, true); ok {
		t.Fatal("corrupt payload accepted")
	}
	if _, ok := CheckPayload(p, false); !ok {
		t.Fatal("unchecked payload refused")
	}
}

func TestZiplist(t *testing.T) {
	// A ziplist of "a", 5 (immediate), 1000 (int16), -70000 (int32), "bb".
	body := []byte{
		0, 0x01, 'a',
		3, 0xf6,
		2, 0xc0, 0xe8, 0x03,
		4, 0xd0, 0x90, 0xee, 0xfe, 0xff,
		6, 0x02, 'b', 'b',
	}
	b := make([]byte, 10, 64)
	b = append(b, body...)
	b = append(b, 0xff)
	b[0] = byte(len(b))
	es, err := Ziplist(b)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range es {
		got = append(got, e.String())
	}
	if strings.Join(got, ",") != "a,5,1000,-70000,bb" {
		t.Fatalf("entries %v", got)
	}
	for i := 10; i < len(b)-1; i++ {
		if _, err := Ziplist(append(append([]byte(nil), b[:i]...), 0xff)); err == nil && i < len(b)-1 {
			// Truncations change zlbytes consistency: all must fail.
			t.Errorf("truncated at %d accepted", i)
		}
	}
}

func TestZipmap(t *testing.T) {
	b := []byte{2, 1, 'f', 1, 0, 'v', 2, 'g', 'g', 3, 1, 'x', 'y', 'z', 0, 0xff}
	kv, err := Zipmap(b)
	if err != nil || len(kv) != 4 || string(kv[2]) != "gg" || string(kv[3]) != "xyz" {
		t.Fatalf("zipmap %q %v", kv, err)
	}
	if _, err := Zipmap(b[:len(b)-1]); err == nil {
		t.Fatal("truncated zipmap accepted")
	}
}
