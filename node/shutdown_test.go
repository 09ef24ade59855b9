package node

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

var (
	nodeBinOnce sync.Once
	nodeBin     string
	nodeBinErr  error
)

// buildNode builds cmd/node once per test binary: the signal tests need a
// process of their own to signal.
func buildNode(t *testing.T) string {
	t.Helper()
	nodeBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "keyfleet-node-bin")
		if err != nil {
			nodeBinErr = err
			return
		}
		nodeBin = filepath.Join(dir, "node")
		out, err := exec.Command("go", "build", "-o", nodeBin, "../cmd/node").CombinedOutput()
		if err != nil {
			nodeBinErr = errors.New(string(out))
		}
	})
	if nodeBinErr != nil {
		t.Fatalf("build cmd/node: %v", nodeBinErr)
	}
	return nodeBin
}

// nodeProc is a node process with its log file.
type nodeProc struct {
	t      *testing.T
	cmd    *exec.Cmd
	log    string
	exited chan error
	rdb    *redis.Client
}

func startNodeProc(t *testing.T, dir string, args ...string) *nodeProc {
	t.Helper()
	port := freePort(t)
	p := &nodeProc{t: t, log: filepath.Join(dir, "node.log"), exited: make(chan error, 1)}
	all := append([]string{"--port", port, "--bind", "127.0.0.1", "--dir", dir, "--logfile", p.log}, args...)
	p.cmd = exec.Command(buildNode(t), all...)
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.exited
	})
	p.rdb = redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + port, MaxRetries: -1})
	t.Cleanup(func() { p.rdb.Close() })
	deadline := time.Now().Add(10 * time.Second)
	for p.rdb.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("node did not start: %s", p.logText())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func (p *nodeProc) logText() string {
	b, _ := os.ReadFile(p.log)
	return string(b)
}

// waitLog polls the log file for line (the process's only output).
func (p *nodeProc) waitLog(line string) {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.logText(), line) {
		if time.Now().After(deadline) {
			p.t.Fatalf("log line %q not seen; log:\n%s", line, p.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitExit waits for the process to end and returns its exit code.
func (p *nodeProc) waitExit() int {
	p.t.Helper()
	select {
	case err := <-p.exited:
		p.exited <- err // for the cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			p.t.Fatal(err)
		}
		return 0
	case <-time.After(15 * time.Second):
		p.t.Fatalf("node did not exit; log:\n%s", p.logText())
	}
	return -1
}

func TestShutdownOnSignal(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a node process")
	}
	for _, tc := range []struct {
		name     string
		args     []string
		sig      syscall.Signal
		wantDump bool
		wantLogs []string
	}{
		{name: "sigterm saves with save points", args: []string{"--save", "3600 1"}, sig: syscall.SIGTERM, wantDump: true,
			wantLogs: []string{"Received SIGTERM scheduling shutdown...", "User requested shutdown...",
				"Saving the final RDB snapshot before exiting.", "DB saved on disk", "Redis is now ready to exit, bye bye..."}},
		{name: "sigint without save points does not save", args: []string{"--save", ""}, sig: syscall.SIGINT,
			wantLogs: []string{"Received SIGINT scheduling shutdown...", "Redis is now ready to exit, bye bye..."}},
		{name: "shutdown-on-sigterm save", args: []string{"--save", "", "--shutdown-on-sigterm", "save"}, sig: syscall.SIGTERM, wantDump: true,
			wantLogs: []string{"Saving the final RDB snapshot before exiting."}},
		{name: "shutdown-on-sigint nosave", args: []string{"--save", "3600 1", "--shutdown-on-sigint", "nosave"}, sig: syscall.SIGINT},
		{name: "appendonly fsyncs", args: []string{"--save", "", "--appendonly", "yes"}, sig: syscall.SIGTERM,
			wantLogs: []string{"Calling fsync() on the AOF file."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := startNodeProc(t, dir, tc.args...)
			ctx := context.Background()
			if err := p.rdb.Set(ctx, "k", "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			p.cmd.Process.Signal(tc.sig)
			if code := p.waitExit(); code != 0 {
				t.Fatalf("exit code %d; log:\n%s", code, p.logText())
			}
			_, err := os.Stat(filepath.Join(dir, "dump.rdb"))
			if got := err == nil; got != tc.wantDump {
				t.Fatalf("dump.rdb exists: %v, want %v; log:\n%s", got, tc.wantDump, p.logText())
			}
			log := p.logText()
			for _, l := range tc.wantLogs {
				if !strings.Contains(log, l) {
					t.Errorf("log lacks %q:\n%s", l, log)
				}
			}
			if !tc.wantDump {
				return
			}
			// The saved dataset is what a restart loads.
			q := startNodeProc(t, dir, "--save", "")
			if v, err := q.rdb.Get(ctx, "k").Result(); err != nil || v != "v" {
				t.Fatalf("after restart GET k = %q, %v", v, err)
			}
		})
	}
}

// A final save that fails keeps the node serving (Redis's "can't exit"),
// unless shutdown-on-sigterm has force.
func TestShutdownOnSignalFailedSave(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs a node process")
	}
	dir := t.TempDir()
	gone := filepath.Join(dir, "gone")
	if err := os.Mkdir(gone, 0o755); err != nil {
		t.Fatal(err)
	}
	p := startNodeProc(t, dir, "--save", "3600 1", "--enable-protected-configs", "yes")
	ctx := context.Background()
	if err := p.rdb.ConfigSet(ctx, "dir", gone).Err(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(gone); err != nil {
		t.Fatal(err)
	}
	p.rdb.Set(ctx, "k", "v", 0)
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.waitLog("Error trying to save the DB, can't exit.")
	p.waitLog("Errors trying to shut down the server.")
	if err := p.rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("node stopped after a failed save: %v", err)
	}
	if err := p.rdb.ConfigSet(ctx, "shutdown-on-sigterm", "force").Err(); err != nil {
		t.Fatal(err)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if code := p.waitExit(); code != 0 {
		t.Fatalf("exit code %d; log:\n%s", code, p.logText())
	}
	if !strings.Contains(p.logText(), "Error trying to save the DB. Exit anyway.") {
		t.Fatalf("log lacks the forced exit:\n%s", p.logText())
	}
}
