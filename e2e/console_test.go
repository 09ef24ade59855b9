package e2e

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/web"
)

const chromiumPath = "/usr/bin/chromium"

// consoleTools says what the browser test needs that is missing, or "".
func consoleTools(webDir string) string {
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "web/node_modules (make web)")
	}
	if !web.Built() {
		missing = append(missing, "the console's build embedded in this binary (make web, then test again)")
	}
	return strings.Join(missing, ", ")
}

// TestConsole walks the web console in chromium against the whole
// platform: sign up, create a database, wait for it, copy its URL, write
// through the proxy with it, see the traffic on the ops chart, rotate the
// password (the old one is refused), API keys, delete, the admin pages,
// log out. The walk
// is web/e2e/console.mjs (playwright-core); this side does what a user's
// program would do with what the page gave, and checks the platform.
// Screenshots go to web/e2e-artifacts (or $KEYFLEET_E2E_ARTIFACTS).
func TestConsole(t *testing.T) {
	webDir, err := filepath.Abs("../web")
	if err != nil {
		t.Fatal(err)
	}
	if m := consoleTools(webDir); m != "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("the console's browser test needs %s, required under CI=true", m)
		}
		t.Skipf("the console's browser test needs %s; skipping (it fails instead under CI=true)", m)
	}
	artifacts := os.Getenv("KEYFLEET_E2E_ARTIFACTS")
	if artifacts == "" {
		artifacts = filepath.Join(webDir, "e2e-artifacts")
	}
	var dbURL string
	p := startPlatform(t, func(o *controlplane.Options) {
		o.Console = web.Handler()
		dbURL = o.DatabaseURL
	})

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "e2e/console.mjs")
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), "CONSOLE_URL="+p.cpURL, "ARTIFACTS="+artifacts, "CHROMIUM="+chromiumPath)
	cmd.Stderr = tWriter{t}
	cmd.WaitDelay = 10 * time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}

	var steps []string
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "STEP ") {
			t.Logf("console.mjs: %s", line)
			continue
		}
		step, arg, _ := strings.Cut(strings.TrimPrefix(line, "STEP "), " ")
		steps = append(steps, step)
		answer := "OK"
		if err := consoleStep(ctx, t, p, dbURL, step, arg); err != nil {
			answer = "FAIL " + err.Error()
			t.Errorf("step %s: %v", step, err)
		}
		if _, err := io.WriteString(stdin, answer+"\n"); err != nil {
			t.Errorf("answer %s: %v", step, err)
			break
		}
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("the browser walk failed after steps %v: %v (screenshots in %s)", steps, err, artifacts)
	}
	want := []string{"URL", "ROTATED", "APIKEY", "REVOKED", "DELETED", "PROMOTE", "DONE"}
	if strings.Join(steps, " ") != strings.Join(want, " ") {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	t.Logf("screenshots in %s", artifacts)
}

// consoleStep does the Go side of one step of the walk.
func consoleStep(ctx context.Context, t *testing.T, p *platform, dbURL, step, arg string) error {
	switch step {
	case "URL":
		// What a user's program does with the copied URL; the client
		// stays connected until the password rotates, so the
		// connections chart has one to show.
		c, err := writeThroughProxy(ctx, arg)
		if err == nil {
			t.Cleanup(func() { c.Close() })
		}
		return err
	case "ROTATED":
		oldURL, newURL, _ := strings.Cut(arg, " ")
		if oldURL == newURL || newURL == "" {
			return fmt.Errorf("the URL did not change: %q", arg)
		}
		// Proxies learn the new digest by long-poll: wait for it.
		return waitFor(ctx, 30*time.Second, func() error {
			if err := pingURL(oldURL); err == nil {
				return errors.New("the old password is still accepted")
			} else if !strings.Contains(err.Error(), "WRONGPASS") {
				return fmt.Errorf("the old password is refused with an unexpected error: %w", err)
			}
			c, err := writeThroughProxy(ctx, newURL)
			if err == nil {
				c.Close()
			}
			return err
		})
	case "APIKEY":
		if st := p.status("GET", "/v1/databases", arg); st != 200 {
			return fmt.Errorf("the API key shown by the console: GET /v1/databases = %d", st)
		}
		return nil
	case "REVOKED":
		if st := p.status("GET", "/v1/databases", arg); st != 401 {
			return fmt.Errorf("the revoked API key: GET /v1/databases = %d, want 401", st)
		}
		return nil
	case "DELETED":
		return waitFor(ctx, 30*time.Second, func() error {
			if err := pingURL(arg); err == nil {
				return errors.New("the deleted database still answers through the proxy")
			}
			return nil
		})
	case "PROMOTE":
		// No API makes an administrator (dev mode seeds the first one):
		// the test does it in Postgres.
		conn, err := pgx.Connect(ctx, dbURL)
		if err != nil {
			return fmt.Errorf("connect to postgres: %w", err)
		}
		defer conn.Close(ctx)
		tag, err := conn.Exec(ctx, `UPDATE accounts SET role = 'admin' WHERE email = 'console@example.com'`)
		if err != nil || tag.RowsAffected() != 1 {
			return fmt.Errorf("promote the console's account: %v (%d rows)", err, tag.RowsAffected())
		}
		return nil
	case "DONE":
		return nil
	}
	return fmt.Errorf("unknown step %q", step)
}

// writeThroughProxy writes and reads back keys through the proxy with a
// database URL, as any go-redis user would, and returns the client.
func writeThroughProxy(ctx context.Context, dbURL string) (*redis.Client, error) {
	opt, err := redis.ParseURL(dbURL)
	if err != nil {
		return nil, fmt.Errorf("parse %q: %w", dbURL, err)
	}
	c := redis.NewClient(opt)
	for i := range 200 {
		k := fmt.Sprintf("console:%d", i)
		if err := c.Set(ctx, k, i, 0).Err(); err != nil {
			c.Close()
			return nil, fmt.Errorf("SET %s: %w", k, err)
		}
		if v, err := c.Get(ctx, k).Int(); err != nil || v != i {
			c.Close()
			return nil, fmt.Errorf("GET %s = %d, %v; want %d", k, v, err, i)
		}
	}
	return c, nil
}

func waitFor(ctx context.Context, limit time.Duration, cond func() error) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return err
		case <-t.C:
		}
	}
}
