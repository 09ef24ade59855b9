package node

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// waitUntil polls cond until it holds or the deadline passes: the events
// here (a file written by another process or goroutine) have no channel.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMainPidFile(t *testing.T) {
	dir := t.TempDir()
	pid := filepath.Join(dir, "node.pid")
	logf := filepath.Join(dir, "node.log")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Main(ctx, []string{"--port", "0", "--bind", "127.0.0.1", "--dir", dir, "--pidfile", pid, "--logfile", logf}, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	waitUntil(t, "the pid file", func() bool {
		data, err := os.ReadFile(pid)
		return err == nil && strings.TrimSpace(string(data)) != ""
	})
	waitUntil(t, "the ready line in the log file", func() bool {
		data, _ := os.ReadFile(logf)
		return strings.Contains(string(data), "Ready to accept connections")
	})
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(pid); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("pid file left behind: %v", err)
	}
	data, _ := os.ReadFile(logf)
	if !strings.Contains(string(data), "PID: ") {
		t.Errorf("log lacks the start-up line:\n%s", data)
	}
}

func TestDaemonize(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	if err := daemonize("/bin/sh", []string{"-c", "echo $" + daemonEnv + " > " + out}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the daemon's output", func() bool {
		data, _ := os.ReadFile(out)
		return strings.TrimSpace(string(data)) == "1"
	})
}

func TestMainConfigErrors(t *testing.T) {
	err := Main(context.Background(), []string{"--port", "x"}, io.Discard, nil)
	var ce *ConfigError
	if !errors.As(err, &ce) || ce.Msg != "argument couldn't be parsed into an integer" {
		t.Errorf("bad port: %v", err)
	}
	if err := Main(context.Background(), []string{"--help"}, io.Discard, nil); !errors.Is(err, ErrUsage) {
		t.Errorf("--help: %v", err)
	}
}
