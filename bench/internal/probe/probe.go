// Package probe holds what the benchmark programs in bench/ need to start
// and measure a server under test: a free loopback port, waiting until it
// answers, its resident memory and its INFO used_memory.
package probe

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitReady waits until rc's server answers PING, for at most 30 s.
func WaitReady(ctx context.Context, rc *redis.Client) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := rc.Ping(ctx).Err()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("server not answering PING: %w", err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RSS reads a process's resident set size in bytes from /proc.
func RSS(pid int) (int64, error) {
	if pid <= 0 {
		return 0, errors.New("read RSS: no pid")
	}
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read RSS: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmRSS %q: %w", rest, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}

// UsedMemory reads INFO memory's used_memory.
func UsedMemory(ctx context.Context, rc *redis.Client) (int64, error) {
	info, err := rc.Info(ctx, "memory").Result()
	if err != nil {
		return 0, fmt.Errorf("INFO memory: %w", err)
	}
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory:"); ok {
			return strconv.ParseInt(v, 10, 64)
		}
	}
	return 0, errors.New("INFO memory has no used_memory")
}

// Server is a fresh server process under measurement, with a client.
type Server struct {
	Client *redis.Client
	Pid    int
	cmd    *exec.Cmd
	dir    string
}

// Start runs bin (redis-server or the Keyfleet node: both take the same
// flags) on a free loopback port with persistence off and an empty
// temporary dir, and returns once it answers PING. env is added to the
// process's environment; logs, if not nil, receives its output.
func Start(ctx context.Context, bin string, env []string, logs io.Writer) (*Server, error) {
	port, err := FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "keyfleet-bench-")
	if err != nil {
		return nil, fmt.Errorf("temp dir: %w", err)
	}
	cmd := exec.CommandContext(ctx, bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if logs != nil {
		cmd.Stdout, cmd.Stderr = logs, logs
	}
	if len(env) > 0 {
		cmd.Env = append(os.Environ(), env...)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, dir: dir, Pid: cmd.Process.Pid}
	s.Client = redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), Protocol: 2,
		DisableIdentity: true, ReadTimeout: time.Minute, WriteTimeout: time.Minute})
	if err := WaitReady(ctx, s.Client); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Memory reads the server's RSS and INFO used_memory, in bytes.
func (s *Server) Memory(ctx context.Context) (rss, used int64, err error) {
	if rss, err = RSS(s.Pid); err != nil {
		return 0, 0, err
	}
	if used, err = UsedMemory(ctx, s.Client); err != nil {
		return 0, 0, err
	}
	return rss, used, nil
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Client.Close()
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	os.RemoveAll(s.dir)
}
