// Package oracle runs a real redis-server and reads its command metadata
// (COMMAND INFO and COMMAND DOCS) into the commands package's types. It is
// the reference the command table is generated from (gen/) and tested
// against.
package oracle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/keyfleet/keyfleet/internal/commands"
	"github.com/redis/go-redis/v9"
)

// ErrNoRedis is returned by Start when redis-server is not on PATH.
var ErrNoRedis = errors.New("oracle: redis-server not found on PATH")

// Server is a throwaway redis-server listening on a unix socket only, so
// that it can never collide with another process's port.
type Server struct {
	cmd    *exec.Cmd
	dir    string
	Socket string        // the unix socket it listens on
	Client *redis.Client // RESP2
}

// Start launches redis-server in a temporary directory and waits until it
// answers PING or ctx ends.
func Start(ctx context.Context) (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoRedis
	}
	dir, err := os.MkdirTemp("", "keyfleet-oracle-")
	if err != nil {
		return nil, fmt.Errorf("oracle: temp dir: %w", err)
	}
	sock := filepath.Join(dir, "redis.sock")
	cmd := exec.Command(bin, "--port", "0", "--unixsocket", sock, "--save", "",
		"--appendonly", "no", "--dir", dir, "--daemonize", "no", "--logfile", filepath.Join(dir, "log"))
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("oracle: start %s: %w", bin, err)
	}
	s := &Server{cmd: cmd, dir: dir, Socket: sock}
	s.Client = redis.NewClient(&redis.Options{Network: "unix", Addr: sock, Protocol: 2, DisableIdentity: true, MaxRetries: -1})
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if err := s.Client.Ping(ctx).Err(); err == nil {
			return s, nil // exited is buffered: the Wait goroutine ends with the process
		}
		select {
		case err := <-exited:
			s.Client.Close()
			os.RemoveAll(dir)
			return nil, fmt.Errorf("oracle: redis-server exited: %v", err)
		case <-ctx.Done():
			s.Close()
			return nil, fmt.Errorf("oracle: waiting for redis-server: %w", ctx.Err())
		case <-tick.C:
		}
	}
}

// Version returns the server's redis_version.
func (s *Server) Version(ctx context.Context) (string, error) {
	info, err := s.Client.Info(ctx, "server").Result()
	if err != nil {
		return "", fmt.Errorf("oracle: INFO: %w", err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "redis_version:"); ok {
			return v, nil
		}
	}
	return "", errors.New("oracle: no redis_version in INFO")
}

// Close stops the server and removes its directory.
func (s *Server) Close() {
	s.Client.Close()
	if s.cmd.Process != nil {
		s.cmd.Process.Kill()
	}
	os.RemoveAll(s.dir)
}

// Commands reads every command (with its subcommands) from COMMAND INFO
// and COMMAND DOCS, sorted by name. Flags Redis hides from COMMAND INFO
// (may_replicate, protected) cannot be seen and are absent; Finalize has
// not run, so First/Last/Step and movablekeys are as Redis reports them.
func (s *Server) Commands(ctx context.Context) ([]*commands.Command, error) {
	info, err := s.Client.Do(ctx, "COMMAND", "INFO").Slice()
	if err != nil {
		return nil, fmt.Errorf("oracle: COMMAND INFO: %w", err)
	}
	docs, err := s.Client.Do(ctx, "COMMAND", "DOCS").Slice()
	if err != nil {
		return nil, fmt.Errorf("oracle: COMMAND DOCS: %w", err)
	}
	docMap, err := pairs(docs)
	if err != nil {
		return nil, fmt.Errorf("oracle: COMMAND DOCS: %w", err)
	}
	var out []*commands.Command
	for _, e := range info {
		c, err := parseInfo(e)
		if err != nil {
			return nil, fmt.Errorf("oracle: COMMAND INFO: %w", err)
		}
		if err := applyDocs(c, docMap[c.Name]); err != nil {
			return nil, fmt.Errorf("oracle: COMMAND DOCS %s: %w", c.Name, err)
		}
		out = append(out, c)
	}
	sortCommands(out)
	return out, nil
}

// GetKeys asks COMMAND GETKEYSANDFLAGS for the keys of args. It returns
// the Redis error text for an error reply.
func (s *Server) GetKeys(ctx context.Context, args []string) (keys []string, flags []commands.KeyFlag, rerr string, err error) {
	a := []any{"COMMAND", "GETKEYSANDFLAGS"}
	for _, x := range args {
		a = append(a, x)
	}
	v, err := s.Client.Do(ctx, a...).Slice()
	if err != nil {
		var re redis.Error
		if errors.As(err, &re) {
			return nil, nil, err.Error(), nil
		}
		return nil, nil, "", fmt.Errorf("oracle: COMMAND GETKEYSANDFLAGS: %w", err)
	}
	for _, e := range v {
		kf, ok := e.([]any)
		if !ok || len(kf) != 2 {
			return nil, nil, "", fmt.Errorf("oracle: GETKEYSANDFLAGS entry %v", e)
		}
		k, _ := kf[0].(string)
		f, err := keyFlags(kf[1])
		if err != nil {
			return nil, nil, "", err
		}
		keys = append(keys, k)
		flags = append(flags, f)
	}
	return keys, flags, "", nil
}

func sortCommands(cs []*commands.Command) {
	for i := 1; i < len(cs); i++ {
		for j := i; j > 0 && cs[j].Name < cs[j-1].Name; j-- {
			cs[j], cs[j-1] = cs[j-1], cs[j]
		}
	}
	for _, c := range cs {
		sortCommands(c.Subcommands)
	}
}

func parseInfo(v any) (*commands.Command, error) {
	a, ok := v.([]any)
	if !ok || len(a) != 10 {
		return nil, fmt.Errorf("entry is not a 10-element array: %v", v)
	}
	c := &commands.Command{}
	var err error
	if c.Name, err = str(a[0]); err != nil {
		return nil, err
	}
	ints := []*int{&c.Arity, nil, &c.First, &c.Last, &c.Step}
	for i, p := range ints {
		if p == nil {
			continue
		}
		n, ok := a[1+i].(int64)
		if !ok {
			return nil, fmt.Errorf("%s: field %d is not an integer: %v", c.Name, 1+i, a[1+i])
		}
		*p = int(n)
	}
	flags, err := strs(a[2])
	if err != nil {
		return nil, fmt.Errorf("%s flags: %w", c.Name, err)
	}
	for _, f := range flags {
		x, ok := commands.FlagByName(f)
		if !ok {
			return nil, fmt.Errorf("%s: unknown flag %q", c.Name, f)
		}
		c.Flags |= x
	}
	acl, err := strs(a[6])
	if err != nil {
		return nil, fmt.Errorf("%s acl: %w", c.Name, err)
	}
	for _, cat := range acl {
		c.ACL = append(c.ACL, strings.TrimPrefix(cat, "@"))
	}
	if c.Tips, err = strs(a[7]); err != nil {
		return nil, fmt.Errorf("%s tips: %w", c.Name, err)
	}
	specs, ok := a[8].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: key specs are not an array", c.Name)
	}
	for _, sv := range specs {
		ks, err := parseKeySpec(sv)
		if err != nil {
			return nil, fmt.Errorf("%s key spec: %w", c.Name, err)
		}
		c.KeySpecs = append(c.KeySpecs, ks)
	}
	subs, ok := a[9].([]any)
	if !ok {
		return nil, fmt.Errorf("%s: subcommands are not an array", c.Name)
	}
	for _, sv := range subs {
		sc, err := parseInfo(sv)
		if err != nil {
			return nil, err
		}
		c.Subcommands = append(c.Subcommands, sc)
	}
	return c, nil
}

func parseKeySpec(v any) (commands.KeySpec, error) {
	var ks commands.KeySpec
	m, err := pairs(v)
	if err != nil {
		return ks, err
	}
	for k, x := range m {
		switch k {
		case "notes":
			if ks.Notes, err = str(x); err != nil {
				return ks, err
			}
		case "flags":
			if ks.Flags, err = keyFlags(x); err != nil {
				return ks, err
			}
		case "begin_search":
			typ, spec, err := typedSpec(x)
			if err != nil {
				return ks, err
			}
			switch typ {
			case "index":
				ks.BeginSearch = commands.BeginSearch{Type: commands.BeginIndex, Index: intOf(spec["index"])}
			case "keyword":
				kw, _ := spec["keyword"].(string)
				ks.BeginSearch = commands.BeginSearch{Type: commands.BeginKeyword, Keyword: kw, StartFrom: intOf(spec["startfrom"])}
			case "unknown":
			default:
				return ks, fmt.Errorf("begin_search type %q", typ)
			}
		case "find_keys":
			typ, spec, err := typedSpec(x)
			if err != nil {
				return ks, err
			}
			switch typ {
			case "range":
				ks.FindKeys = commands.FindKeys{Type: commands.FindRange, LastKey: intOf(spec["lastkey"]),
					KeyStep: intOf(spec["keystep"]), Limit: intOf(spec["limit"])}
			case "keynum":
				ks.FindKeys = commands.FindKeys{Type: commands.FindKeyNum, KeyNumIdx: intOf(spec["keynumidx"]),
					FirstKey: intOf(spec["firstkey"]), KeyStep: intOf(spec["keystep"])}
			case "unknown":
			default:
				return ks, fmt.Errorf("find_keys type %q", typ)
			}
		default:
			return ks, fmt.Errorf("unknown key spec field %q", k)
		}
	}
	return ks, nil
}

func typedSpec(v any) (string, map[string]any, error) {
	m, err := pairs(v)
	if err != nil {
		return "", nil, err
	}
	typ, _ := m["type"].(string)
	spec, err := pairs(m["spec"])
	if err != nil {
		return "", nil, err
	}
	return typ, spec, nil
}

func keyFlags(v any) (commands.KeyFlag, error) {
	names, err := strs(v)
	if err != nil {
		return 0, err
	}
	var f commands.KeyFlag
	for _, n := range names {
		x, ok := commands.KeyFlagByName(n)
		if !ok {
			return 0, fmt.Errorf("unknown key flag %q", n)
		}
		f |= x
	}
	return f, nil
}

func applyDocs(c *commands.Command, v any) error {
	if v == nil {
		return errors.New("no docs")
	}
	m, err := pairs(v)
	if err != nil {
		return err
	}
	for k, x := range m {
		switch k {
		case "summary":
			c.Summary, err = str(x)
		case "since":
			c.Since, err = str(x)
		case "group":
			c.Group, err = str(x)
		case "complexity":
			c.Complexity, err = str(x)
		case "doc_flags":
			c.DocFlags, err = strs(x)
		case "deprecated_since":
			c.DeprecatedSince, err = str(x)
		case "replaced_by":
			c.ReplacedBy, err = str(x)
		case "history":
			hs, ok := x.([]any)
			if !ok {
				return errors.New("history is not an array")
			}
			for _, h := range hs {
				e, err := strs(h)
				if err != nil || len(e) != 2 {
					return fmt.Errorf("history entry %v", h)
				}
				c.History = append(c.History, commands.History{Since: e[0], Changes: e[1]})
			}
		case "arguments":
			c.Args, err = parseArgs(x)
		case "subcommands":
			subs, err := pairs(x)
			if err != nil {
				return err
			}
			for _, sc := range c.Subcommands {
				if err := applyDocs(sc, subs[sc.Name]); err != nil {
					return fmt.Errorf("%s: %w", sc.Name, err)
				}
			}
		default:
			return fmt.Errorf("unknown docs field %q", k)
		}
		if err != nil {
			return fmt.Errorf("%s: %w", k, err)
		}
	}
	return nil
}

func parseArgs(v any) ([]commands.Arg, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, errors.New("arguments are not an array")
	}
	var out []commands.Arg
	for _, e := range list {
		m, err := pairs(e)
		if err != nil {
			return nil, err
		}
		a := commands.Arg{KeySpec: -1}
		for k, x := range m {
			switch k {
			case "name":
				a.Name, err = str(x)
			case "type":
				a.Type, err = str(x)
			case "token":
				a.Token, err = str(x)
				a.HasToken = true
			case "summary":
				a.Summary, err = str(x)
			case "since":
				a.Since, err = str(x)
			case "deprecated_since":
				a.DeprecatedSince, err = str(x)
			case "key_spec_index":
				a.KeySpec = intOf(x)
			case "flags":
				var fs []string
				fs, err = strs(x)
				for _, f := range fs {
					switch f {
					case "optional":
						a.Optional = true
					case "multiple":
						a.Multiple = true
					case "multiple_token":
						a.MultipleToken = true
					default:
						err = fmt.Errorf("unknown argument flag %q", f)
					}
				}
			case "arguments":
				a.Args, err = parseArgs(x)
			default:
				err = fmt.Errorf("unknown argument field %q", k)
			}
			if err != nil {
				return nil, err
			}
		}
		out = append(out, a)
	}
	return out, nil
}

// pairs reads a RESP2 flat map.
func pairs(v any) (map[string]any, error) {
	a, ok := v.([]any)
	if !ok || len(a)%2 != 0 {
		return nil, fmt.Errorf("not a flat map: %v", v)
	}
	m := make(map[string]any, len(a)/2)
	for i := 0; i < len(a); i += 2 {
		k, ok := a[i].(string)
		if !ok {
			return nil, fmt.Errorf("map key %v is not a string", a[i])
		}
		m[k] = a[i+1]
	}
	return m, nil
}

func str(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("%v is not a string", v)
	}
	return s, nil
}

func strs(v any) ([]string, error) {
	a, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("%v is not an array", v)
	}
	var out []string
	for _, x := range a {
		s, err := str(x)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func intOf(v any) int {
	n, _ := v.(int64)
	return int(n)
}
