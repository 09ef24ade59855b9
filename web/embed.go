// Package web serves the web console: the Vite build in dist/, embedded
// into the control plane binary. The build is not committed (make web
// produces it), so a binary built without it serves a page saying how to
// build the console instead of failing to compile.
package web

import (
	"embed"
	"io/fs"
	"net/http"
	"path"
	"strings"
)

// The pattern also matches dist-not-built.html, which is committed: a
// go:embed pattern must match something, and dist/ may not exist.
//
//go:embed all:dist*
var files embed.FS

// Built reports whether the console's build was embedded.
func Built() bool {
	_, err := fs.Stat(files, "dist/index.html")
	return err == nil
}

// Handler serves the console: files from the build, index.html for the
// root, and the not-built page when there is no build.
func Handler() http.Handler {
	if !Built() {
		page, _ := files.ReadFile("dist-not-built.html")
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Cache-Control", "no-store")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write(page)
		})
	}
	dist, _ := fs.Sub(files, "dist")
	index, _ := fs.ReadFile(dist, "index.html")
	static := http.FileServerFS(dist)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		setSecurityHeaders(w.Header())
		p := path.Clean("/" + r.URL.Path)
		if p == "/" || p == "/index.html" {
			// index.html names the hashed assets of this build: never cached.
			w.Header().Set("Cache-Control", "no-cache")
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if r.Method == http.MethodGet {
				_, _ = w.Write(index)
			}
			return
		}
		if strings.HasPrefix(p, "/assets/") {
			// Vite puts a content hash in every asset name.
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		}
		static.ServeHTTP(w, r)
	})
}

// setSecurityHeaders keeps other origins from framing the console and the
// page from loading scripts from anywhere but its own origin.
func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
}
