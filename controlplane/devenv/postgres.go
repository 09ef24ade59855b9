// Package devenv runs the pieces a laptop or a test needs around the control
// plane, starting with a throwaway or persistent Postgres cluster made with
// the local Postgres binaries (initdb + postgres), never a mock.
package devenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresOptions configures StartPostgres.
type PostgresOptions struct {
	// Dir holds the cluster: Dir/data (PGDATA), Dir/postgres.log, the
	// superuser password and, when the path is short enough, the unix socket.
	// It is created when missing; an existing cluster in it is reused.
	Dir string
	// Port is the loopback TCP port; 0 picks a free one.
	Port int
	// Ephemeral trades durability for speed (fsync off): for tests only.
	Ephemeral bool
	// BinDir overrides where initdb and postgres are looked up.
	BinDir string
	Log    *slog.Logger
}

// Postgres is a running cluster owned by this process. When this process
// dies, the kernel signals the postmaster (parent-death signal), so an
// aborted test or a killed control plane does not leave it behind.
type Postgres struct {
	dir      string
	port     int
	password string
	cmd      *exec.Cmd
	exited   chan struct{}
	exitErr  error
	log      *slog.Logger
}

const superuser = "postgres"

// ErrNoBinaries is returned when no Postgres installation is found.
var ErrNoBinaries = errors.New("no Postgres binaries found: install Postgres (e.g. apt-get install postgresql) or put initdb and postgres on PATH, or set KEYFLEET_PG_BIN")

// FindBinDir returns the directory holding initdb and postgres: $KEYFLEET_PG_BIN,
// then PATH, then the newest /usr/lib/postgresql/*/bin.
func FindBinDir() (string, error) {
	if d := os.Getenv("KEYFLEET_PG_BIN"); d != "" {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
		return "", fmt.Errorf("KEYFLEET_PG_BIN=%s has no initdb and postgres", d)
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		d := filepath.Dir(p)
		if isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if isExec(filepath.Join(d, "initdb")) && isExec(filepath.Join(d, "postgres")) {
			return d, nil
		}
	}
	return "", ErrNoBinaries
}

func pgVersion(binDir string) float64 {
	v, _ := strconv.ParseFloat(filepath.Base(filepath.Dir(binDir)), 64)
	return v
}

func isExec(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir() && st.Mode()&0o111 != 0
}

// StartPostgres initialises the cluster if Dir has none, starts it and waits
// until it accepts connections.
func StartPostgres(ctx context.Context, opts PostgresOptions) (*Postgres, error) {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	binDir := opts.BinDir
	if binDir == "" {
		var err error
		if binDir, err = FindBinDir(); err != nil {
			return nil, err
		}
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, fmt.Errorf("postgres dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create postgres dir: %w", err)
	}
	cred, err := runAs(dir)
	if err != nil {
		return nil, err
	}
	p := &Postgres{dir: dir, log: log}
	if p.password, err = ensurePassword(dir); err != nil {
		return nil, err
	}
	dataDir := filepath.Join(dir, "data")
	if _, err := os.Stat(filepath.Join(dataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := initdb(ctx, binDir, dir, dataDir, p.password, cred); err != nil {
			return nil, err
		}
		log.Info("postgres cluster initialised", "dir", dataDir)
	} else if err != nil {
		return nil, fmt.Errorf("stat postgres data dir: %w", err)
	}

	// A free port can be taken between our probe and postgres's bind;
	// retry a few times with a fresh one.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				return nil, err
			}
		}
		p.port = port
		lastErr = p.start(ctx, binDir, dataDir, opts.Ephemeral, cred)
		if lastErr == nil {
			log.Info("postgres started", "port", port, "dir", dataDir)
			return p, nil
		}
		if opts.Port != 0 || ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// runAs returns the credentials postgres must run with: none for a normal
// user; the "postgres" system user when we are root (initdb and postgres
// refuse to run as root), with dir handed to it.
func runAs(dir string) (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(superuser)
	if err != nil {
		return nil, fmt.Errorf("running as root, Postgres must run as an unprivileged user, but the %q system user does not exist (create it, e.g. by installing the postgresql package): %w", superuser, err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	// The postgres user must be able to reach dir: every parent needs the
	// search bit for "others" (we do not loosen permissions behind the
	// user's back).
	for d := filepath.Dir(dir); ; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return nil, fmt.Errorf("stat %s: %w", d, err)
		}
		sys, _ := st.Sys().(*syscall.Stat_t)
		owned := sys != nil && int(sys.Uid) == uid
		if !owned && st.Mode().Perm()&0o001 == 0 {
			return nil, fmt.Errorf("Postgres runs as the %q user, which cannot enter %s (mode %v): choose a data dir it can reach, e.g. under /tmp or /var/lib", superuser, d, st.Mode().Perm())
		}
		if d == "/" || d == "." {
			break
		}
	}
	err = filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(path, uid, gid)
	})
	if err != nil {
		return nil, fmt.Errorf("hand %s to the %s user: %w", dir, superuser, err)
	}
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// ensurePassword returns the superuser password kept in dir, creating it
// on first start: the cluster listens on loopback, and other local users
// must not get in.
func ensurePassword(dir string) (string, error) {
	path := filepath.Join(dir, "superuser-password")
	b, err := os.ReadFile(path)
	if err == nil {
		return strings.TrimSpace(string(b)), nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return "", fmt.Errorf("read postgres password: %w", err)
	}
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("generate postgres password: %w", err)
	}
	pw := hex.EncodeToString(raw)
	if err := os.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write postgres password: %w", err)
	}
	return pw, nil
}

func initdb(ctx context.Context, binDir, dir, dataDir, password string, cred *syscall.Credential) error {
	pwFile := filepath.Join(dir, "initdb-pwfile")
	if err := os.WriteFile(pwFile, []byte(password+"\n"), 0o600); err != nil {
		return fmt.Errorf("write initdb password file: %w", err)
	}
	defer os.Remove(pwFile)
	if cred != nil {
		if err := os.Chown(pwFile, int(cred.Uid), int(cred.Gid)); err != nil {
			return fmt.Errorf("chown initdb password file: %w", err)
		}
	}
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, "initdb"),
		"-D", dataDir, "-U", superuser, "--pwfile", pwFile,
		"--auth-local", "scram-sha-256", "--auth-host", "scram-sha-256",
		"-E", "UTF8", "--locale", "C", "--no-sync", "--no-instructions")
	cmd.Dir = dir
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("initdb %s: %w: %s", dataDir, err, strings.TrimSpace(out.String()))
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (p *Postgres) start(ctx context.Context, binDir, dataDir string, ephemeral bool, cred *syscall.Credential) error {
	args := []string{"-D", dataDir, "-p", strconv.Itoa(p.port),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=300",
	}
	// Unix socket paths are limited to ~107 bytes; a deep data dir gets
	// TCP only.
	if len(p.dir)+len("/.s.PGSQL.65535") < 100 {
		args = append(args, "-k", p.dir)
	} else {
		args = append(args, "-k", "")
	}
	if ephemeral {
		args = append(args, "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off")
	}
	logPath := filepath.Join(p.dir, "postgres.log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open postgres log: %w", err)
	}
	// Not CommandContext: ctx bounds the start, not the server's life.
	cmd := exec.Command(filepath.Join(binDir, "postgres"), args...)
	cmd.Dir = p.dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: cred,
		// Own process group: a terminal's Ctrl-C reaches us, and we stop
		// postgres in order after our own users of it.
		Setpgid: true,
		// SIGINT is postgres's fast shutdown.
		Pdeathsig: syscall.SIGINT,
	}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start postgres: %w", err)
	}
	logFile.Close()
	p.cmd = cmd
	p.exited = make(chan struct{})
	go func() {
		p.exitErr = cmd.Wait()
		close(p.exited)
	}()

	deadline, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		// Readiness of an external process has no event to await: poll
		// with a real connection.
		cctx, ccancel := context.WithTimeout(deadline, 2*time.Second)
		conn, err := pgx.Connect(cctx, p.URL("postgres"))
		ccancel()
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("postgres exited during start (%v); its log %s ends with: %s", p.exitErr, logPath, tail(logPath, 800))
		case <-deadline.Done():
			_ = p.Stop(context.Background())
			return fmt.Errorf("postgres did not accept connections on port %d: %w (last error: %v; log %s)", p.port, deadline.Err(), err, logPath)
		case <-tick.C:
		}
	}
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return strings.TrimSpace(string(b))
}

// Port is the loopback TCP port the cluster listens on.
func (p *Postgres) Port() int { return p.port }

// Dir is the cluster's directory.
func (p *Postgres) Dir() string { return p.dir }

// URL is a connection URL for database dbname as the superuser.
func (p *Postgres) URL(dbname string) string {
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(superuser, p.password),
		Host:     net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port)),
		Path:     "/" + dbname,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// CreateDatabase creates dbname, as a copy of template when it is not empty.
// It is a no-op when dbname exists.
func (p *Postgres) CreateDatabase(ctx context.Context, dbname, template string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	var exists bool
	if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", dbname).Scan(&exists); err != nil {
		return fmt.Errorf("look up database %s: %w", dbname, err)
	}
	if exists {
		return nil
	}
	q := "CREATE DATABASE " + pgx.Identifier{dbname}.Sanitize()
	if template != "" {
		q += " TEMPLATE " + pgx.Identifier{template}.Sanitize()
	}
	if _, err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("create database %s: %w", dbname, err)
	}
	return nil
}

// DropDatabase drops dbname, closing its connections.
func (p *Postgres) DropDatabase(ctx context.Context, dbname string) error {
	conn, err := pgx.Connect(ctx, p.URL("postgres"))
	if err != nil {
		return fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{dbname}.Sanitize()+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", dbname, err)
	}
	return nil
}

// Stop shuts the cluster down (fast shutdown: clients are disconnected, a
// checkpoint is written) and waits for it, escalating to an immediate
// shutdown when ctx ends first.
func (p *Postgres) Stop(ctx context.Context) error {
	if p.cmd == nil || p.cmd.Process == nil {
		return nil
	}
	select {
	case <-p.exited:
		return nil
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGINT); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal postgres: %w", err)
	}
	select {
	case <-p.exited:
		p.log.Info("postgres stopped")
		return nil
	case <-ctx.Done():
		_ = p.cmd.Process.Signal(syscall.SIGQUIT)
		<-p.exited
		return fmt.Errorf("postgres fast shutdown: %w", ctx.Err())
	}
}
