package node

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestGlobMatch: each case's answer is what KEYS gives on redis-server
// 7.0.15 for a database holding just that key (bar the "*" special case).
func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, str string
		want         bool
	}{
		// KEYS * returns every key without matching; the matcher itself,
		// like stringmatchlen, never matches an empty string with "*".
		{"*", "", false},
		{"**", "", false},
		{"*", "abc", true},
		{"a*", "abc", true},
		{"a*c", "abc", true},
		{"a*d", "abc", false},
		{"?", "a", true},
		{"?", "", false},
		{"??", "a", false},
		{"a?c", "abc", true},
		{"[abc]", "b", true},
		{"[abc]", "d", false},
		{"[^abc]", "d", true},
		{"[^abc]", "a", false},
		{"[a-c]", "b", true},
		{"[c-a]", "b", true},
		{"[a-c]", "d", false},
		{"[^a-c]", "d", true},
		{"\\*", "*", true},
		{"\\*", "a", false},
		{"a\\", "a\\", true},
		{"a\\", "a", false},
		{"[\\]]", "]", true},
		{"[\\-]", "-", true},
		{"[a-]", "-", false},
		{"[a-]", "b", false},
		{"[a-]", "]", true},
		{"[abc", "a", true},
		{"[abc", "b", true},
		{"[", "[", false},
		{"[", "a", false},
		{"[^", "a", true},
		{"[^", "", false},
		{"[]]", "]", false},
		{"[]", "a", false},
		{"*[", "a[", false},
		{"h?llo", "hello", true},
		{"h*llo", "heeeello", true},
		{"h[ae]llo", "hallo", true},
		{"h[^e]llo", "hello", false},
		{"h[a-b]llo", "hbllo", true},
		{"a*a*a*a*a*a*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
		{"**a", "a", true},
		{"a**", "a", true},
		{"*?", "a", true},
		{"*?", "", false},
		{"[[]", "[", true},
		{"[\\", "\\", true},
		{"[\\", "a", false},
		{"\\", "\\", true},
		{"a[b-", "ab", true},
		{"a[b-", "a-", true},
		{"[a-z][0-9]", "x5", true},
		{"[A-Z]", "a", false},
		{"*.txt", "file.txt", true},
		{"*.txt", "file.txt.bak", false},
		{"user:*:name", "user:42:name", true},
		{"user:*:name", "user:42:email", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.str, false); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tc.pattern, tc.str, got, tc.want)
		}
		if got := globMatch([]byte(tc.pattern), []byte(tc.str), false); got != tc.want {
			t.Errorf("globMatch([]byte %q, %q) = %v, want %v", tc.pattern, tc.str, got, tc.want)
		}
	}
}

func TestGlobMatchNocase(t *testing.T) {
	tests := []struct {
		pattern, str string
		want         bool
	}{
		{"MAXMEMORY*", "maxmemory-policy", true},
		{"[A-C]x", "bX", true},
		{"[a-c]", "B", true},
		{"[^A]", "a", false},
		{"h?LLO", "Hello", true},
		{"abc", "abd", false},
	}
	for _, tc := range tests {
		if got := globMatch(tc.pattern, tc.str, true); got != tc.want {
			t.Errorf("nocase globMatch(%q, %q) = %v, want %v", tc.pattern, tc.str, got, tc.want)
		}
	}
}

// TestGlobMatchAgainstRedis compares random patterns over a small,
// glob-heavy alphabet with a real redis-server's KEYS. It needs
// redis-server on PATH: skipped without it, except under CI=true.
func TestGlobMatchAgainstRedis(t *testing.T) {
	rc := startRealRedis(t)
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	randWord := func(alphabet string, n int) string {
		b := make([]byte, r.IntN(n+1))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	var keys []string
	for i := 0; i < 200; i++ {
		k := randWord("abA[]^-\\*?", 5)
		keys = append(keys, k)
		rc.Set(ctx, k, "1", 0)
	}
	slices.Sort(keys)
	keys = slices.Compact(keys)
	for i := 0; i < 1000; i++ {
		p := randWord("ab[]^-\\*?A", 7)
		want, err := rc.Keys(ctx, p).Result()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, k := range keys {
			if p == "*" || globMatch(p, k, false) { // KEYS * skips matching
				got = append(got, k)
			}
		}
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("pattern %q: matched %q, redis-server %q", p, got, want)
		}
	}
}

func FuzzGlobMatch(f *testing.F) {
	for _, s := range []string{"*", "[a-", "\\", "[^", "a*b*c", "[\\]]"} {
		f.Add(s, "abc")
	}
	f.Fuzz(func(t *testing.T, pattern, str string) {
		// Must not panic or hang, and strings and byte slices agree.
		for _, nocase := range []bool{false, true} {
			if globMatch(pattern, str, nocase) != globMatch([]byte(pattern), []byte(str), nocase) {
				t.Fatalf("%q vs %q (nocase %v): string and []byte disagree", pattern, str, nocase)
			}
		}
	})
}

// startRealRedis starts a throwaway redis-server on a free port and returns
// a client for it. The server is stopped when the test ends.
func startRealRedis(t *testing.T) *redis.Client {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("redis-server is not on PATH")
		}
		t.Skip("redis-server is not on PATH")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", t.TempDir())
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		signalled := false
		for sc.Scan() {
			if !signalled && slices.Contains([]string{"Ready to accept connections"}, trimLogLine(sc.Text())) {
				close(ready)
				signalled = true
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(10 * time.Second):
		t.Fatal("redis-server did not become ready")
	}
	rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Protocol: 2, DisableIdentity: true})
	t.Cleanup(func() { rc.Close() })
	return rc
}

// trimLogLine drops redis-server's log prefix ("pid:role date * ").
func trimLogLine(line string) string {
	for i := 0; i+2 < len(line); i++ {
		if line[i] == ' ' && (line[i+1] == '*' || line[i+1] == '#' || line[i+1] == '-' || line[i+1] == '.') && line[i+2] == ' ' {
			return line[i+3:]
		}
	}
	return line
}
