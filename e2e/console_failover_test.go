package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane"
	"github.com/keyfleet/keyfleet/node/host"
	"github.com/keyfleet/keyfleet/web"
)

// TestConsoleFailover walks the console's replication panel in chromium:
// an administrator sees a database's primary and replica with its lag,
// fails it over with the button after confirming, and sees the failover
// listed with its timings; the proxies' routes name the new primary.
// The walk is web/e2e/failover.mjs.
func TestConsoleFailover(t *testing.T) {
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
	var pgURL string
	p := startPlatform(t, func(o *controlplane.Options) {
		o.Console = web.Handler()
		pgURL = o.DatabaseURL
	})
	// A second node host, so that the replica has a node of its own.
	opts2 := p.hostOpts
	opts2.Name, opts2.DataDir = "e2e-node-2", t.TempDir()
	opts2.PortMin, opts2.PortMax = freePortRange(t, 10)
	h2, err := host.New(opts2, p.hostLog)
	if err != nil {
		t.Fatal(err)
	}
	start(t, "node host 2", h2.Run)

	const email, password = "ops@example.com", "a long enough password"
	p.signup(email, password)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, pgURL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `UPDATE accounts SET role = 'admin' WHERE email = $1`, email); err != nil {
		t.Fatal(err)
	}
	conn.Close(ctx)
	var login struct {
		AccessToken string `json:"access_token"`
	}
	p.call("POST", "/v1/auth/login", "", map[string]string{"email": email, "password": password}, http.StatusOK, &login)
	token := login.AccessToken

	var db struct {
		ID, Status, URL string
		Topology        []topoShard `json:"topology"`
	}
	p.call("POST", "/v1/databases", token, map[string]any{"name": "ha", "plan": "starter", "memory_mb": 64, "replicas": 1}, http.StatusAccepted, &db)
	waitUntil(t, 60*time.Second, "the database active with its replica in sync", func() (bool, error) {
		p.call("GET", "/v1/databases/"+db.ID, token, nil, http.StatusOK, &db)
		if db.Status != "active" || len(db.Topology) != 1 {
			return false, nil
		}
		for _, c := range db.Topology[0].Placements {
			if !c.Running || c.ReportedRole != c.Role || c.Role == "replica" && c.LinkStatus != "up" {
				return false, nil
			}
		}
		return true, nil
	})
	waitUntil(t, 30*time.Second, "the proxy to serve the database", func() (bool, error) {
		return pingURL(db.URL) == nil, nil
	})
	c, err := writeThroughProxy(ctx, db.URL)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	cmd := exec.CommandContext(ctx, "node", "e2e/failover.mjs")
	cmd.Dir = webDir
	cmd.Env = append(os.Environ(), "CONSOLE_URL="+p.cpURL, "ARTIFACTS="+artifacts, "CHROMIUM="+chromiumPath,
		"EMAIL="+email, "PASSWORD="+password, "DB_ID="+db.ID)
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
			t.Logf("failover.mjs: %s", line)
			continue
		}
		step, arg, _ := strings.Cut(strings.TrimPrefix(line, "STEP "), " ")
		steps = append(steps, step)
		answer := "OK"
		if step == "FAILOVER" {
			from, to, _ := strings.Cut(arg, " ")
			if r := p.route(db.ID); r.Shards[0].Primary != to || len(r.Shards[0].Replicas) != 1 || r.Shards[0].Replicas[0] != from {
				answer = fmt.Sprintf("FAIL routes after the failover: %+v, want primary %s", r.Shards[0], to)
				t.Error(answer)
			} else if err := pingURL(db.URL); err != nil {
				answer = "FAIL the database does not answer through the proxy: " + err.Error()
				t.Error(answer)
			}
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
	if strings.Join(steps, " ") != "FAILOVER DONE" {
		t.Fatalf("steps %v", steps)
	}
}
