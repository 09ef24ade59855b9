package aof

import (
	"bytes"
	"errors"
	"io"
	"testing"
)

func TestManifestRoundTrip(t *testing.T) {
	m := &Manifest{Base: &Info{"appendonly.aof.1.base.rdb", 1, TypeBase},
		Incrs: []Info{{"appendonly.aof.1.incr.aof", 1, TypeIncr}, {"appendonly.aof.2.incr.aof", 2, TypeIncr}}}
	b := m.Bytes()
	want := "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\nfile appendonly.aof.2.incr.aof seq 2 type i\n"
	if string(b) != want {
		t.Fatalf("manifest %q", b)
	}
	m2, err := ParseManifest(b)
	if err != nil || string(m2.Bytes()) != want {
		t.Fatalf("parse: %v %q", err, m2.Bytes())
	}
	for _, bad := range []string{"", "file x seq 1", "file x seq 1 type z\n", "file a/b seq 1 type b\n",
		"file a seq 2 type i\nfile b seq 1 type i\n"} {
		if _, err := ParseManifest([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestReader(t *testing.T) {
	var b []byte
	b = AppendCommand(b, [][]byte{[]byte("SET"), []byte("k"), []byte("v\r\n")})
	b = AppendCommand(b, [][]byte{[]byte("DEL"), []byte("k")})
	whole := len(b)
	r := NewReader(bytes.NewReader(b), int64(len(b)))
	for i := 0; i < 2; i++ {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := r.Next(); err != io.EOF || r.Offset() != int64(whole) {
		t.Fatalf("end: %v at %d", err, r.Offset())
	}
	for cut := 1; cut < whole; cut++ {
		r := NewReader(bytes.NewReader(b[:cut]), int64(cut))
		var err error
		for err == nil {
			_, err = r.Next()
		}
		if err == io.EOF && r.Offset() != int64(cut) {
			t.Errorf("cut %d: clean EOF at %d", cut, r.Offset())
		}
		if err != io.EOF && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrBadFormat) {
			t.Errorf("cut %d: %v", cut, err)
		}
	}
	r = NewReader(bytes.NewReader([]byte("GARBAGE\r\n")), 9)
	if _, err := r.Next(); !errors.Is(err, ErrBadFormat) {
		t.Fatalf("garbage: %v", err)
	}
}

// FuzzAOF feeds arbitrary bytes to the manifest parser and the command
// reader: errors, never panics or hangs.
func FuzzAOF(f *testing.F) {
	f.Add([]byte("*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"))
	f.Add([]byte("file appendonly.aof.1.base.rdb seq 1 type b\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if m, err := ParseManifest(b); err == nil {
			if _, err := ParseManifest(m.Bytes()); err != nil {
				t.Fatalf("formatted manifest does not parse: %v", err)
			}
		}
		r := NewReader(bytes.NewReader(b), int64(len(b)))
		for {
			argv, err := r.Next()
			if err != nil {
				break
			}
			if len(argv) == 0 || r.Offset() > int64(len(b)) {
				t.Fatalf("bad command %q at %d", argv, r.Offset())
			}
		}
	})
}
