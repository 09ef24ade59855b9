package web

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	get := func(method, path string) *http.Response {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
		return rec.Result()
	}
	body := func(r *http.Response) string {
		b, _ := io.ReadAll(r.Body)
		return string(b)
	}
	if !Built() {
		r := get("GET", "/")
		if r.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body(r), "make web") {
			t.Fatalf("without a build: status %d, want 503 with the make web page", r.StatusCode)
		}
		if os.Getenv("CI") == "true" {
			t.Fatal("console not built under CI=true: make ci builds it first (make web)")
		}
		t.Skip("console not built (make web): only the not-built page was checked")
	}
	tests := []struct {
		method, path string
		status       int
		contains     string
		cache        string
	}{
		{"GET", "/", 200, `<div id="app">`, "no-cache"},
		{"GET", "/index.html", 200, `<div id="app">`, "no-cache"},
		{"HEAD", "/", 200, "", "no-cache"},
		{"GET", "/assets/nope.js", 404, "", ""},
		{"GET", "/nope", 404, "", ""},
		{"POST", "/", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			r := get(tt.method, tt.path)
			if r.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", r.StatusCode, tt.status)
			}
			if b := body(r); !strings.Contains(b, tt.contains) {
				t.Errorf("body %q does not contain %q", b, tt.contains)
			}
			if tt.cache != "" && r.Header.Get("Cache-Control") != tt.cache {
				t.Errorf("Cache-Control %q, want %q", r.Header.Get("Cache-Control"), tt.cache)
			}
			if tt.status == 200 && !strings.Contains(r.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Errorf("no CSP with frame-ancestors: %q", r.Header.Get("Content-Security-Policy"))
			}
		})
	}
	// Every asset index.html names is served.
	idx := body(get("GET", "/"))
	if !strings.Contains(idx, `"/assets/`) {
		t.Fatalf("index.html names no asset: %s", idx)
	}
	for _, part := range strings.Split(idx, `"/assets/`)[1:] {
		name := "/assets/" + part[:strings.IndexByte(part, '"')]
		r := get("GET", name)
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("%s: status %d, Cache-Control %q", name, r.StatusCode, r.Header.Get("Cache-Control"))
		}
	}
}
