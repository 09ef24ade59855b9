package lzf

import (
	"context"
	"os/exec"
	"strconv"
	"time"

	"bytes"
	"encoding/hex"
	"github.com/redis/go-redis/v9"
	"math/rand/v2"
	"strings"
	"testing"
)

// redisDump is the LZF payload of a string DUMPed by redis-server 7.0.15
// ("hello world, " x20 + "the end" + "abcabcabcabc" x30, 627 bytes).
const redisDump = "0d68656c6c6f20776f726c642c2068e0ed0c0974686520656e64616263e0ff02e15207016263"

func TestDecompressRedis(t *testing.T) {
	src, _ := hex.DecodeString(redisDump)
	if len(src) != 38 {
		t.Fatalf("vector is %d bytes", len(src))
	}
	want := strings.Repeat("hello world, ", 20) + "the end" + strings.Repeat("abcabcabcabc", 30)
	got, err := Decompress(nil, src, len(want))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("got %q", got)
	}
	if _, err := Decompress(nil, src, len(want)-1); err == nil {
		t.Fatal("a short expected size was accepted")
	}
	if _, err := Decompress(nil, src, len(want)+1); err == nil {
		t.Fatal("a long expected size was accepted")
	}
}

func TestRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	inputs := [][]byte{
		[]byte("a"), []byte("ab"), []byte("abc"), []byte("aaaa"),
		bytes.Repeat([]byte("x"), 10000),
		bytes.Repeat([]byte("0123456789"), 1000),
	}
	for i := 0; i < 200; i++ {
		n := r.IntN(20000)
		b := make([]byte, n)
		alpha := 1 + r.IntN(255)
		for j := range b {
			b[j] = byte(r.IntN(alpha))
		}
		inputs = append(inputs, b)
	}
	for _, in := range inputs {
		c := Compress(nil, in, len(in)+len(in)/16+64)
		if c == nil {
			t.Fatalf("compressing %d bytes failed with a generous bound", len(in))
		}
		out, err := Decompress(nil, c, len(in))
		if err != nil {
			t.Fatalf("%d bytes: %v", len(in), err)
		}
		if !bytes.Equal(out, in) {
			t.Fatalf("%d bytes: round trip differs", len(in))
		}
		// The default bound only accepts a real gain.
		if c2 := Compress(nil, in, 0); c2 != nil && len(c2) >= len(in) {
			t.Fatalf("Compress returned %d bytes for %d", len(c2), len(in))
		}
	}
	if c := Compress(nil, bytes.Repeat([]byte("ab"), 1000), 0); c == nil || len(c) > 100 {
		t.Fatalf("repetitive input compressed to %d bytes", len(c))
	}
}

func FuzzDecompress(f *testing.F) {
	src, _ := hex.DecodeString(redisDump)
	f.Add(src, 627)
	f.Add([]byte{0xe0, 0xff, 0x00}, 300)
	f.Fuzz(func(t *testing.T, in []byte, n int) {
		if n > 1<<20 {
			return
		}
		out, err := Decompress(nil, in, n)
		if err == nil && len(out) != n {
			t.Fatalf("decompressed %d bytes, want %d", len(out), n)
		}
	})
}

func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte("hello hello hello hello"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c := Compress(nil, in, len(in)+len(in)/16+64)
		if len(in) == 0 {
			return
		}
		out, err := Decompress(nil, c, len(in))
		if err != nil || !bytes.Equal(out, in) {
			t.Fatalf("round trip failed: %v", err)
		}
	})
}

// TestRedisDecompressesOurs RESTOREs strings compressed here into a real
// redis-server 7.0.15 (skipped when it is not installed).
func TestRedisDecompressesOurs(t *testing.T) {
	rc := startRedis(t)
	ctx := context.Background()
	if err := rc.Do(ctx, "DEBUG", "SET-SKIP-CHECKSUM-VALIDATION", "1").Err(); err != nil {
		t.Skip("no DEBUG:", err)
	}
	r := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < 50; i++ {
		n := 100 + r.IntN(16000)
		in := make([]byte, n)
		for j := range in {
			in[j] = "abcdefgh"[r.IntN(3+i%5)]
		}
		c := Compress(nil, in, 0)
		if c == nil {
			continue
		}
		payload := []byte{0, 0xC3}
		payload = rdbLen(payload, len(c))
		payload = rdbLen(payload, n)
		payload = append(payload, c...)
		payload = append(payload, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0)
		key := "k" + strconv.Itoa(i)
		if err := rc.Do(ctx, "RESTORE", key, 0, string(payload)).Err(); err != nil {
			t.Fatalf("RESTORE: %v", err)
		}
		if got := rc.Get(ctx, key).Val(); got != string(in) {
			t.Fatalf("redis decompressed %d bytes differently", n)
		}
	}
}

func rdbLen(b []byte, n int) []byte {
	switch {
	case n < 64:
		return append(b, byte(n))
	case n < 16384:
		return append(b, 0x40|byte(n>>8), byte(n))
	default:
		return append(b, 0x80, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
}

func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed")
	}
	port := 17100 + rand.IntN(800)
	cmd := exec.Command("redis-server", "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--dir", t.TempDir(), "--enable-debug-command", "yes")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), Protocol: 2})
	t.Cleanup(func() { rc.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for rc.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatal("redis-server did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return rc
}
