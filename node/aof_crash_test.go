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
// acknowledged is there, for appendfsync always and everysec. SIGKILL
// keeps the page cache, so this checks that the AOF is written before the
// reply (under both policies), not the fsync itself against power loss:
// everysec's exposure to a power cut is the second between fsyncs, which
// a process kill cannot show.
//
// The write in flight when the node dies is unacknowledged but may well
// be durable (written to the AOF, reply not yet sent): after a restart a
// key may hold either its last acknowledged value or that one write's.
func TestAOFCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills processes")
	}
	for _, fsync := range []string{"always", "everysec"} {
		t.Run(fsync, func(t *testing.T) { crashRounds(t, fsync, 4) })
	}
}

// crashWrite is a write sent whose reply never came.
type crashWrite struct{ key, val string }

func crashRounds(t *testing.T, fsync string, rounds int) {
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args := fmt.Sprintf("--port %d --bind 127.0.0.1 --dir %s --appendonly yes --appendfsync %s", port, dir, fsync)
	ctx := context.Background()
	acked := map[string]string{}
	var inflight *crashWrite
	durable := 0 // in-flight writes found after the restart
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
				cmd.Wait()
				t.Fatal("node did not start")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return cmd, rc
	}
	// check compares the restarted node with what was acknowledged and
	// returns how many acknowledged writes are missing; an in-flight
	// write found durable becomes the key's expected value.
	check := func(rc *redis.Client) (lost int) {
		for k, v := range acked {
			got, err := rc.Get(ctx, k).Result()
			if err != nil && err != redis.Nil {
				t.Fatalf("GET %s: %v", k, err)
			}
			switch {
			case got == v:
			case inflight != nil && inflight.key == k && got == inflight.val:
				acked[k] = got
				durable++
			default:
				lost++
				t.Errorf("appendfsync %s: acknowledged %s=%s lost (got %q)", fsync, k, v, got)
			}
		}
		if w := inflight; w != nil {
			if _, ok := acked[w.key]; !ok {
				if got, _ := rc.Get(ctx, w.key).Result(); got == w.val {
					acked[w.key] = got
					durable++
				}
			}
		}
		inflight = nil
		return lost
	}
	total := 0
	for round := range rounds {
		cmd, rc := start()
		check(rc)
		done := make(chan int)
		go func() {
			n := 0
			for i := 0; ; i++ {
				k, v := fmt.Sprintf("r%d:k%d", round, i%500), fmt.Sprint(i)
				inflight = &crashWrite{k, v}
				if rc.Set(ctx, k, v, 0).Err() != nil {
					done <- n
					return
				}
				acked[k] = v
				inflight = nil
				n++
			}
		}()
		// The kill lands at a random point of the load, from outside it.
		time.AfterFunc(time.Duration(50+rand.IntN(150))*time.Millisecond, func() { cmd.Process.Signal(syscall.SIGKILL) })
		n := <-done
		cmd.Wait()
		rc.Close()
		total += n
		t.Logf("appendfsync %s round %d: %d writes acknowledged before SIGKILL", fsync, round, n)
	}
	cmd, rc := start()
	defer func() { cmd.Process.Kill(); cmd.Wait(); rc.Close() }()
	lost := check(rc)
	t.Logf("appendfsync %s: %d of %d acknowledged writes lost over %d kills; the unacknowledged write in flight was durable after %d of them",
		fsync, lost, total, rounds, durable)
}
