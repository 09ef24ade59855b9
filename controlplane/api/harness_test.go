package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/pgtest"
	"github.com/keyfleet/keyfleet/controlplane/store"
	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

const (
	nodeToken  = "node-token-for-tests"
	proxyToken = "proxy-token-for-tests"
	endpoint   = "localhost:6379"
)

var jwtKey = []byte(strings.Repeat("j", 32))

type env struct {
	t     *testing.T
	srv   *Server
	store *store.Store
	http  *httptest.Server
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sealer, err := auth.NewSealer([]byte(strings.Repeat("s", 32)))
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(ctx, pgtest.NewDB(t), sealer, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Store: st, Tokens: auth.Tokens{Key: jwtKey, TTL: 15 * time.Minute}, Passwords: auth.Passwords{Cost: bcrypt.MinCost},
		NodeToken: nodeToken, ProxyToken: proxyToken, ProxyEndpoint: endpoint, ProvisionTimeout: time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { srv.Run(ctx, time.Hour, time.Hour); close(done) }()
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		cancel()
		<-done
		st.Close()
	})
	return &env{t: t, srv: srv, store: st, http: hs}
}

type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// field digs into a JSON reply: r.field("error", "code").
func (r reply) field(path ...string) any {
	var cur any = r.body
	for _, p := range path {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[p]
	}
	return cur
}

func (r reply) str(path ...string) string {
	s, _ := r.field(path...).(string)
	return s
}

// do sends a request; body is JSON-encoded unless it is a string (sent
// as is) or nil. hdr holds extra headers ("Authorization" may be a bare
// token: "Bearer " is added).
func (e *env) do(method, path string, body any, token string, hdr ...string) reply {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		raw, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, e.http.URL+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	r := reply{status: res.StatusCode, header: res.Header, raw: raw}
	if len(raw) > 0 && strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.body); err != nil {
			e.t.Fatalf("%s %s: reply is not a JSON object: %s", method, path, raw)
		}
	}
	return r
}

// expect fails unless the reply has the status (and, for errors, the code
// and field).
func (e *env) expect(r reply, status int, codeField ...string) {
	e.t.Helper()
	if r.status != status {
		e.t.Fatalf("status %d, want %d: %s", r.status, status, r.raw)
	}
	if len(codeField) > 0 && codeField[0] != "" && r.str("error", "code") != codeField[0] {
		e.t.Fatalf("error code %q, want %q: %s", r.str("error", "code"), codeField[0], r.raw)
	}
	if len(codeField) > 1 && r.str("error", "field") != codeField[1] {
		e.t.Fatalf("error field %q, want %q: %s", r.str("error", "field"), codeField[1], r.raw)
	}
	if status >= 400 && r.str("error", "message") == "" {
		e.t.Fatalf("error without a message: %s", r.raw)
	}
}

// signup makes an account and returns its access token and refresh token.
func (e *env) signup(email string) (access, refresh string) {
	e.t.Helper()
	r := e.do("POST", "/v1/auth/signup", map[string]string{"email": email, "password": "correct horse battery"}, "")
	e.expect(r, http.StatusCreated)
	return r.str("access_token"), r.str("refresh_token")
}

// admin makes an administrator and returns its access token.
func (e *env) admin() string {
	e.t.Helper()
	hash, _ := auth.Passwords{Cost: bcrypt.MinCost}.Hash("admin password 1")
	if _, _, err := e.store.CreateAccount(context.Background(), "root@example.com", hash, store.RoleAdmin, nil); err != nil {
		e.t.Fatal(err)
	}
	r := e.do("POST", "/v1/auth/login", map[string]string{"email": "root@example.com", "password": "admin password 1"}, "")
	e.expect(r, http.StatusOK)
	return r.str("access_token")
}

// node registers a node host through the internal API.
func (e *env) node(name string, memMB int64) string {
	e.t.Helper()
	r := e.do("POST", wire.PathNodeRegister, wire.NodeRegister{Name: name, Advertise: "127.0.0.1", PortMin: 7000, PortMax: 7999, MemoryMB: memMB}, nodeToken)
	e.expect(r, http.StatusOK)
	return r.str("node_id")
}

// beat heartbeats as the node, reporting every desired shard running
// (or failing with errMsg), and returns the desired state.
func (e *env) beat(nodeID, errMsg string) wire.NodeDesired {
	e.t.Helper()
	var desired wire.NodeDesired
	for i := 0; i < 2; i++ {
		var st []wire.ShardStatus
		for _, sh := range desired.Shards {
			st = append(st, wire.ShardStatus{ShardID: sh.ShardID, Port: sh.Port, Role: sh.Role, Epoch: sh.Epoch, Error: errMsg})
		}
		r := e.do("POST", wire.PathNodeHeartbeat, wire.NodeHeartbeat{NodeID: nodeID, Shards: st}, nodeToken)
		e.expect(r, http.StatusOK)
		desired = wire.NodeDesired{}
		if err := json.Unmarshal(r.raw, &desired); err != nil {
			e.t.Fatal(err)
		}
	}
	return desired
}

func (e *env) routes(version int64, wait string) (int, wire.Routes) {
	e.t.Helper()
	path := wire.PathRoutes
	if version >= 0 {
		path += "?version=" + itoa(version) + "&wait=" + wait
	}
	r := e.do("GET", path, nil, proxyToken)
	var routes wire.Routes
	if r.status == http.StatusOK {
		if err := json.Unmarshal(r.raw, &routes); err != nil {
			e.t.Fatal(err)
		}
	}
	return r.status, routes
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
