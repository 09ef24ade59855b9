package proxy

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestScripting(t *testing.T) {
	tp, srvs := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	k := keyOn("sc", 2, 3)
	// EVAL goes to the shard of its keys.
	r.expect("+OK\r\n", "EVAL", "return redis.call('SET', KEYS[1], ARGV[1])", "1", k, "v")
	if v := srvs[2].do(t, "GET", k); string(v.Str) != "v" {
		t.Errorf("EVAL's write is not on the key's shard")
	}
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "EVAL", "return 1", "2", keyOn("sc", 0, 3), keyOn("sc", 1, 3))
	r.expect(":3\r\n", "EVAL", "return 3", "0")
	// A malformed key count reaches the shard, which answers as Redis.
	r.expectPrefix("-ERR Number of keys can't be greater than number of args", "EVAL", "return 1", "5", "a")
	// A script EVAL ran on one shard only is not usable by EVALSHA
	// everywhere: SCRIPT EXISTS says so until SCRIPT LOAD.
	r.expect("*2\r\n:0\r\n:0\r\n", "SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0000000000000000000000000000000000000000")
	r.expect("$40\r\ne0e1f9fabfc9d4800c877a703b823ac0578ff8db\r\n", "SCRIPT", "LOAD", "return 1")
	r.expect("*2\r\n:1\r\n:0\r\n", "SCRIPT", "EXISTS", "e0e1f9fabfc9d4800c877a703b823ac0578ff8db", "0000000000000000000000000000000000000000")
}

// selfSigned returns a TLS certificate for 127.0.0.1 and a pool trusting it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "keyfleet-test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestTLS(t *testing.T) {
	srvs := servers(t, 1)
	cp := newFakeCP(t)
	cp.setRoutes(routeFor("db1", "pw1", wire.Limits{}, srvs[0]))
	cert, pool := selfSigned(t)
	tp := startProxy(t, cp, func(o *Options) {
		o.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	rc := redis.NewClient(&redis.Options{
		Addr: tp.addr, Username: "db1", Password: "pw1", Protocol: 3, DisableIdentity: true,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"},
	})
	defer rc.Close()
	if err := rc.Set(ctxb, "tls", "yes", 0).Err(); err != nil {
		t.Fatalf("SET over TLS: %v", err)
	}
	if v, err := rc.Get(ctxb, "tls").Result(); err != nil || v != "yes" {
		t.Errorf("GET over TLS = %q, %v", v, err)
	}
	// Plain text on the TLS port gets nowhere.
	conn, err := net.Dial("tcp", tp.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write([]byte("*1\r\n$4\r\nPING\r\n"))
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if strings.Contains(string(buf[:n]), "PONG") {
		t.Error("plain text was answered on the TLS listener")
	}
}

func TestMetrics(t *testing.T) {
	tp, _ := oneShard(t, wire.Limits{}, nil)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db1", "pw1")
	r.expect("+OK\r\n", "SET", "m", "1")
	r.expectPrefix("-WRONGPASS", "AUTH", "db1", "bad")
	srv := httptest.NewServer(tp.MetricsHandler())
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`keyfleet_proxy_ops_total{database="db1"`,
		`keyfleet_proxy_connections{database="db1"`,
		`keyfleet_proxy_auth_failures_total`,
		`keyfleet_proxy_clients`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %s:\n%s", want, body)
		}
	}
}

func TestParseFlags(t *testing.T) {
	env := map[string]string{
		"KEYFLEET_CONTROLPLANE": "http://cp:8080",
		"KEYFLEET_PROXY_TOKEN":  "from-env",
		"KEYFLEET_POOL_SIZE":    "4",
	}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	o, err := ParseFlags([]string{"--listen", ":7000", "--proxy-token", "from-flag", "--id", "p1"}, lookup)
	if err != nil {
		t.Fatal(err)
	}
	if o.Listen != ":7000" || o.ControlPlane != "http://cp:8080" || o.ProxyToken != "from-flag" || o.PoolSize != 4 || o.ID != "p1" {
		t.Errorf("options = %+v", o)
	}
	if _, err := ParseFlags(nil, func(string) (string, bool) { return "", false }); err == nil {
		t.Error("no control plane: want an error")
	}
	if _, err := ParseFlags([]string{"--controlplane", "x", "--tls-cert", "c"}, lookup); err == nil {
		t.Error("--tls-cert without --tls-key: want an error")
	}
	env["KEYFLEET_POOL_SIZE"] = "many"
	if _, err := ParseFlags(nil, lookup); err == nil || !strings.Contains(err.Error(), "KEYFLEET_POOL_SIZE") {
		t.Errorf("bad env value: %v", err)
	}
}

// TestTrackingRedirect: RESP2 tracking sends invalidations to another
// client's __redis__:invalidate subscription, whichever shard the key is
// on.
func TestTrackingRedirect(t *testing.T) {
	tp, _ := threeShards(t)
	sub := tp.raw(t)
	sub.expect("+OK\r\n", "AUTH", "db3", "pw3")
	id := strings.Trim(sub.do("CLIENT", "ID"), ":\r\n")
	sub.expect("*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n", "SUBSCRIBE", "__redis__:invalidate")
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r.expectPrefix("-ERR The client ID you want redirect to does not exist", "CLIENT", "TRACKING", "ON", "REDIRECT", "999999")
	r.expect("+OK\r\n", "CLIENT", "TRACKING", "ON", "REDIRECT", id)
	r.expect(":"+id+"\r\n", "CLIENT", "GETREDIR")
	keys := []string{keyOn("rk", 0, 3), keyOn("rk", 1, 3)}
	for _, k := range keys {
		r.expect("$-1\r\n", "GET", k)
	}
	w := tp.raw(t)
	w.expect("+OK\r\n", "AUTH", "db3", "pw3")
	for _, k := range keys {
		w.expect("+OK\r\n", "SET", k, "v")
		want := "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n" + bulk(k)
		if got := sub.recv(); got != want {
			t.Errorf("redirected invalidation = %q, want %q", got, want)
		}
	}
}
