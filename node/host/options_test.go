package host

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keyfleet/keyfleet/internal/wire"
)

func TestParsePorts(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi int
		bad    bool
	}{
		{"7000-7999", 7000, 7999, false},
		{"7000", 7000, 7000, false},
		{" 1-65535 ", 1, 65535, false},
		{"7999-7000", 0, 0, true},
		{"0-10", 0, 0, true},
		{"1-65536", 0, 0, true},
		{"a-b", 0, 0, true},
		{"7000-", 0, 0, true},
		{"", 0, 0, true},
		{"-5", 0, 0, true},
	}
	for _, tc := range tests {
		lo, hi, err := ParsePorts(tc.in)
		if (err != nil) != tc.bad || lo != tc.lo || hi != tc.hi {
			t.Errorf("ParsePorts(%q) = %d, %d, %v", tc.in, lo, hi, err)
		}
	}
}

func TestParseFlags(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	full := []string{"--controlplane", "http://cp:8080/", "--node-token", "T", "--advertise", "10.0.0.5", "--ports", "7000-7099"}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		check   func(o Options) bool
		wantErr string
	}{
		{"flags", append(full, "--memory-mb", "512", "--data-dir", "/d", "--name", "n"), nil, func(o Options) bool {
			return o.ControlPlane == "http://cp:8080" && o.NodeToken == "T" && o.Advertise == "10.0.0.5" &&
				o.PortMin == 7000 && o.PortMax == 7099 && o.MemoryMB == 512 && o.DataDir == "/d" && o.Name == "n" && o.Bind == "*"
		}, ""},
		{"defaults", full, nil, func(o Options) bool {
			return o.Name == "10.0.0.5" && o.DataDir == defaultDataDir && o.MemoryMB > 0
		}, ""},
		{"loopback advertise binds loopback", []string{"--controlplane=http://cp", "--node-token=T", "--advertise=127.0.0.1", "--ports=7000-7001"}, nil,
			func(o Options) bool { return o.Bind == "127.0.0.1" }, ""},
		{"env", nil, map[string]string{
			"KEYFLEET_CONTROLPLANE": "https://cp", "KEYFLEET_NODE_TOKEN": "E", "KEYFLEET_ADVERTISE": "h",
			"KEYFLEET_PORTS": "8000-8001", "KEYFLEET_MEMORY_MB": "100", "KEYFLEET_DATA_DIR": "/e",
		}, func(o Options) bool {
			return o.ControlPlane == "https://cp" && o.NodeToken == "E" && o.PortMin == 8000 && o.MemoryMB == 100 && o.DataDir == "/e"
		}, ""},
		{"flag beats env", []string{"--node-token", "F"}, map[string]string{
			"KEYFLEET_CONTROLPLANE": "http://cp", "KEYFLEET_NODE_TOKEN": "E", "KEYFLEET_ADVERTISE": "h", "KEYFLEET_PORTS": "8000",
		}, func(o Options) bool { return o.NodeToken == "F" }, ""},
		{"no control plane", []string{"--node-token", "T", "--advertise", "h", "--ports", "1-2"}, nil, nil, "--controlplane is required"},
		{"bad url", []string{"--controlplane", "cp:8080", "--node-token", "T", "--advertise", "h", "--ports", "1-2"}, nil, nil, "not an http(s) URL"},
		{"no token", []string{"--controlplane", "http://cp", "--advertise", "h", "--ports", "1-2"}, nil, nil, "--node-token is required"},
		{"no advertise", []string{"--controlplane", "http://cp", "--node-token", "T", "--ports", "1-2"}, nil, nil, "--advertise is required"},
		{"no ports", []string{"--controlplane", "http://cp", "--node-token", "T", "--advertise", "h"}, nil, nil, "--ports is required"},
		{"bad ports", append(full[:6:6], "--ports", "9-1"), nil, nil, "--ports"},
		{"bad memory", append(full, "--memory-mb", "-3"), nil, nil, "--memory-mb"},
		{"unknown flag", append(full, "--port", "6379"), nil, nil, "flag provided but not defined"},
		{"stray argument", append(full, "redis.conf"), nil, nil, "unexpected argument"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := ParseFlags(tc.args, env(tc.env), io.Discard)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tc.check(o) {
				t.Errorf("options = %+v", o)
			}
		})
	}
}

func TestIsManaged(t *testing.T) {
	none := func(string) string { return "" }
	tests := []struct {
		args []string
		env  func(string) string
		want bool
	}{
		{[]string{"--controlplane", "http://x"}, none, true},
		{[]string{"--port", "1", "-controlplane=http://x"}, none, true},
		{[]string{"--port", "6379"}, none, false},
		{[]string{"redis.conf"}, none, false},
		{[]string{"controlplane"}, none, false},
		{nil, func(k string) string {
			if k == "KEYFLEET_CONTROLPLANE" {
				return "http://x"
			}
			return ""
		}, true},
	}
	for _, tc := range tests {
		if got := IsManaged(tc.args, tc.env); got != tc.want {
			t.Errorf("IsManaged(%q) = %v", tc.args, got)
		}
	}
}

func TestCPClientRetriesTransientFailures(t *testing.T) {
	var calls atomic.Int32
	fail := atomic.Int32{}
	status := atomic.Int32{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if fail.Add(-1) >= 0 {
			w.WriteHeader(int(status.Load()))
			io.WriteString(w, `{"error":{"code":"c","message":"m"}}`)
			return
		}
		io.WriteString(w, `{"node_id":"n9","heartbeat_interval_ns":1000000000}`)
	}))
	defer srv.Close()
	c := newCPClient(srv.URL, "T", time.Second)
	ctx := context.Background()

	fail.Store(2)
	status.Store(http.StatusServiceUnavailable)
	reg, err := c.register(ctx, wire.NodeRegister{Name: "x"})
	if err != nil || reg.NodeID != "n9" || reg.HeartbeatInterval != time.Second || calls.Load() != 3 {
		t.Errorf("after two 503s: %+v, %v, %d calls", reg, err, calls.Load())
	}

	calls.Store(0)
	fail.Store(5)
	status.Store(http.StatusBadRequest)
	_, err = c.register(ctx, wire.NodeRegister{Name: "x"})
	var he *HTTPError
	if !errors.As(err, &he) || he.Status != 400 || he.Code != "c" || calls.Load() != 1 {
		t.Errorf("a 400 is not retried: %v, %d calls", err, calls.Load())
	}

	calls.Store(0)
	fail.Store(5)
	status.Store(http.StatusBadGateway)
	if _, err = c.register(ctx, wire.NodeRegister{Name: "x"}); err == nil || calls.Load() != 3 {
		t.Errorf("persistent 502: %v after %d calls, want an error after 3", err, calls.Load())
	}
}

func TestCPClientHonoursContext(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	c := newCPClient(srv.URL, "T", time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.heartbeat(ctx, wire.NodeHeartbeat{NodeID: "n"})
	if err == nil || time.Since(start) > 5*time.Second {
		t.Errorf("heartbeat against a hung control plane: %v after %v", err, time.Since(start))
	}
}
