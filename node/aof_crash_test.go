package node

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestCrashChild is the node process TestAOFCrashSafety kills: it runs
// only when re-executed with KEYFLEET_CRASH_ARGS.
func TestCrashChild(t *testing.T) {
	args := os.Getenv("KEYFLEET_CRASH_ARGS")
	if args == "" {
		t.Skip("helper process for TestAOFCrashSafety")
	}
	Main(context.Background(), strings.Fields(args), io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
}

// TestAOFCrashSafety kills the node with SIGKILL in the middle of a write
// load, several times, and checks after each restart that every write it
// acknowledged is there (appendfsync always). SIGKILL keeps the page
// cache, so this checks that the AOF is written before the reply, not
// the fsync itself against power loss.
func TestAOFCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := fmt.Sprintf("--port %d --bind 127.0.0.1 --dir %s --appendonly yes --appendfsync always", port, dir)
	ctx := context.Background()
	acked := map[string]string{}
	start := func() (*exec.Cmd, *redis.Client) {
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$")
		cmd.Env = append(os.Environ(), "KEYFLEET_CRASH_ARGS="+args)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		rc := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), DisableIdentity: true, MaxRetries: -1})
		deadline := time.Now().Add(20 * time.Second)
		for rc.Ping(ctx).Err() != nil {
			if time.Now().After(deadline) {
				cmd.Process.Kill()
				t.Fatal("node did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cmd, rc
	}
	for round := range 4 {
		cmd, rc := start()
		for k, v := range acked {
			if got := rc.Get(ctx, k).Val(); got != v {
				cmd.Process.Kill()
				t.Fatalf("round %d: acknowledged %s=%s lost (got %q)", round, k, v, got)
			}
		}
		done := make(chan int)
		go func() {
			n := 0
			for i := 0; ; i++ {
				k, v := fmt.Sprintf("r%d:k%d", round, i%500), fmt.Sprint(i)
				if rc.Set(ctx, k, v, 0).Err() != nil {
					done <- n
					return
				}
				acked[k] = v
				n++
			}
		}()
		// The kill lands at a random point of the load, from outside it.
		time.AfterFunc(time.Duration(50+rand.IntN(150))*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
		n := <-done
		cmd.Wait()
		rc.Close()
		t.Logf("round %d: %d writes acknowledged before SIGKILL", round, n)
	}
	cmd, rc := start()
	defer func() { cmd.Process.Kill(); cmd.Wait(); rc.Close() }()
	for k, v := range acked {
		if got := rc.Get(ctx, k).Val(); got != v {
			t.Fatalf("acknowledged %s=%s lost (got %q)", k, v, got)
		}
	}
}
