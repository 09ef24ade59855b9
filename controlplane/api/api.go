// Package api is the control plane's HTTP surface: the public REST API
// under /v1 (JSON, described by the OpenAPI document at /v1/openapi.json),
// the internal API under /internal/v1 for node hosts and proxies, /healthz
// and /metrics.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/placement"
	"github.com/keyfleet/keyfleet/controlplane/store"
	"github.com/keyfleet/keyfleet/internal/wire"
)

// Config is everything the API needs.
type Config struct {
	Store     *store.Store
	Tokens    auth.Tokens    // access tokens (JWT)
	Passwords auth.Passwords // account password hashing
	// RefreshTTL is how long a session lives without being refreshed.
	RefreshTTL time.Duration
	// NodeToken and ProxyToken authenticate /internal/v1 callers; an empty
	// token disables that side.
	NodeToken  string
	ProxyToken string
	// ProxyEndpoint is the host:port tenants connect to.
	ProxyEndpoint string
	// ProvisionTimeout bounds how long a database may stay provisioning.
	ProvisionTimeout time.Duration
	// HeartbeatInterval is what nodes are told to use.
	HeartbeatInterval time.Duration
	// WriteLease is the write lease nodes are told to grant their
	// primaries after each heartbeat (wire.NodeRegistered); 0: none.
	WriteLease time.Duration
	// MaxLongPoll caps the wait of a routes long-poll.
	MaxLongPoll time.Duration
	// SecureCookies sets the Secure flag on session cookies (behind TLS).
	SecureCookies bool
	// Console, when set, serves everything outside /v1, /internal, /healthz
	// and /metrics (the web console).
	Console http.Handler
	Log     *slog.Logger
	// Leader, when set, says whether this instance leads failover
	// (reported by /healthz).
	Leader func() bool
	// FailoverMaxLag bounds, in bytes, how far behind its primary a
	// replica may be for a manual failover that is not forced.
	FailoverMaxLag int64
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Server serves the API. Start its background work with Run.
type Server struct {
	cfg     Config
	store   *store.Store
	log     *slog.Logger
	routes  *versionWatcher
	metrics *metrics
	router  chi.Router
}

// New builds the server and its router.
func New(cfg Config) (*Server, error) {
	if cfg.Store == nil {
		return nil, errors.New("api: no store")
	}
	if len(cfg.Tokens.Key) < 32 {
		return nil, errors.New("api: JWT key shorter than 32 bytes")
	}
	if cfg.Tokens.TTL == 0 {
		cfg.Tokens.TTL = 15 * time.Minute
	}
	if cfg.RefreshTTL == 0 {
		cfg.RefreshTTL = 30 * 24 * time.Hour
	}
	if cfg.ProvisionTimeout == 0 {
		cfg.ProvisionTimeout = 2 * time.Minute
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = time.Second
	}
	if cfg.MaxLongPoll == 0 {
		cfg.MaxLongPoll = 2 * time.Minute
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.FailoverMaxLag == 0 {
		cfg.FailoverMaxLag = 1 << 20
	}
	s := &Server{cfg: cfg, store: cfg.Store, log: cfg.Log}
	s.routes = newVersionWatcher(cfg.Store, cfg.Log)
	m, err := newMetrics(cfg.Store)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.router = s.buildRouter()
	return s, nil
}

// Handler is the HTTP handler of every route.
func (s *Server) Handler() http.Handler { return s.router }

// Router exposes the chi router (the OpenAPI check walks it).
func (s *Server) Router() chi.Router { return s.router }

// Run does the server's background work until ctx ends: following the
// route version (LISTEN/NOTIFY plus a periodic check) and reconciling
// (nodes down, provisioning timeouts, deleted databases).
func (s *Server) Run(ctx context.Context, reconcileEvery, nodeTimeout time.Duration) {
	go s.routes.run(ctx)
	t := time.NewTicker(reconcileEvery)
	defer t.Stop()
	for {
		if err := s.store.Reconcile(ctx, s.cfg.Now(), store.ReconcileOptions{NodeTimeout: nodeTimeout, ProvisionTimeout: s.cfg.ProvisionTimeout}); err != nil && ctx.Err() == nil {
			s.log.Error("reconcile", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Server) buildRouter() chi.Router {
	r := chi.NewRouter()
	r.Use(s.recoverer, s.metrics.middleware)

	r.Get("/healthz", s.healthz)
	r.Method(http.MethodGet, "/metrics", s.metrics.handler)

	r.Route("/v1", func(r chi.Router) {
		r.Get("/openapi.json", serveOpenAPI)
		r.Post("/auth/signup", s.signup)
		r.Post("/auth/login", s.login)
		r.Post("/auth/refresh", s.refresh)
		r.Post("/auth/logout", s.logout)

		r.Group(func(r chi.Router) {
			r.Use(s.authenticate)
			r.Get("/me", s.me)
			r.Get("/plans", s.listPlans)
			r.Get("/events", s.listEvents)
			r.Get("/api-keys", s.listAPIKeys)
			r.Post("/api-keys", s.createAPIKey)
			r.Delete("/api-keys/{id}", s.revokeAPIKey)

			r.Get("/databases", s.listDatabases)
			r.Post("/databases", s.createDatabase)
			r.Get("/databases/{id}", s.getDatabase)
			r.Patch("/databases/{id}", s.updateDatabase)
			r.Delete("/databases/{id}", s.deleteDatabase)
			r.Post("/databases/{id}/rotate-password", s.rotatePassword)
			r.Post("/databases/{id}/retry", s.retryDatabase)
			r.Get("/databases/{id}/usage", s.databaseUsage)
			r.Post("/databases/{id}/failover", s.failoverDatabase)
			r.Get("/databases/{id}/failovers", s.listFailovers)

			r.Group(func(r chi.Router) {
				r.Use(requireAdmin)
				r.Get("/admin/nodes", s.adminNodes)
				r.Post("/admin/nodes/{id}/drain", s.adminDrainNode)
				r.Get("/admin/accounts", s.adminAccounts)
				r.Get("/admin/plans", s.listPlans)
			})
		})
		r.NotFound(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path, "")
		})
		r.MethodNotAllowed(func(w http.ResponseWriter, r *http.Request) {
			writeError(w, http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path, "")
		})
	})

	r.Group(func(r chi.Router) {
		r.Use(s.internalAuth(s.cfg.NodeToken, "node"))
		r.Post(wire.PathNodeRegister, s.nodeRegister)
		r.Post(wire.PathNodeHeartbeat, s.nodeHeartbeat)
	})
	r.Group(func(r chi.Router) {
		r.Use(s.internalAuth(s.cfg.ProxyToken, "proxy"))
		r.Get(wire.PathRoutes, s.proxyRoutes)
		r.Post(wire.PathUsage, s.proxyUsage)
	})

	if s.cfg.Console != nil {
		r.Handle("/*", s.cfg.Console)
	}
	return r
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		writeError(w, http.StatusServiceUnavailable, "unavailable", "postgres: "+err.Error(), "")
		return
	}
	out := map[string]any{"status": "ok"}
	if s.cfg.Leader != nil {
		out["leader"] = s.cfg.Leader()
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// apiError is the body of every error: {"error": {...}}.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Field   string `json:"field,omitempty"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg, field string) {
	writeJSON(w, status, map[string]apiError{"error": {Code: code, Message: msg, Field: field}})
}

// fail maps an error from the store or a handler to a response; anything
// unexpected is logged and answered 500 without details.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ie *inputError
	var ce *store.ConflictError
	var le *store.LimitError
	var pe *placement.CapacityError
	var lag *store.ReplicaLagError
	var nr *store.NoReplicaError
	switch {
	case errors.As(err, &lag):
		writeError(w, http.StatusConflict, "replica_lagging", lag.Error(), "force")
	case errors.As(err, &nr):
		writeError(w, http.StatusConflict, "no_replica", nr.Error(), "shard")
	case errors.As(err, &ie):
		writeError(w, ie.status, ie.code, ie.msg, ie.field)
	case errors.Is(err, store.ErrNotFound):
		writeError(w, http.StatusNotFound, "not_found", "not found", "")
	case errors.As(err, &ce):
		writeError(w, http.StatusConflict, "conflict", ce.Msg, ce.Field)
	case errors.As(err, &le):
		writeError(w, http.StatusUnprocessableEntity, "plan_limit", le.Msg, le.Field)
	case errors.As(err, &pe):
		writeError(w, http.StatusConflict, "insufficient_capacity", pe.Msg, "")
	case errors.Is(err, context.Canceled) && r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
	}
}

// inputError is a 4xx about the request itself.
type inputError struct {
	status int
	code   string
	msg    string
	field  string
}

func (e *inputError) Error() string { return e.msg }

func invalid(field, format string, args ...any) error {
	return &inputError{status: http.StatusBadRequest, code: "invalid_field", msg: fmt.Sprintf(format, args...), field: field}
}

func missing(field string) error {
	return &inputError{status: http.StatusBadRequest, code: "missing_field", msg: field + " is required", field: field}
}

func overPlan(field, format string, args ...any) error {
	return &inputError{status: http.StatusUnprocessableEntity, code: "plan_limit", msg: fmt.Sprintf(format, args...), field: field}
}

const maxBody = 1 << 20

// decode reads one JSON object into v, strictly: unknown fields, trailing
// data, wrong types and oversized bodies are 400s naming what is wrong.
// An empty body decodes as {} when allowEmpty.
func decode(r *http.Request, v any, allowEmpty bool) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return &inputError{status: http.StatusBadRequest, code: "invalid_body", msg: "reading the body: " + err.Error()}
	}
	if len(body) > maxBody {
		return &inputError{status: http.StatusRequestEntityTooLarge, code: "body_too_large", msg: fmt.Sprintf("the body exceeds %d bytes", maxBody)}
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		if allowEmpty {
			return nil
		}
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body must be a JSON object"}
	}
	if !utf8.Valid(body) {
		// encoding/json would quietly turn the bad bytes into U+FFFD.
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body is not valid UTF-8"}
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if dec.More() {
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body must hold exactly one JSON object"}
	}
	if f := nulField(v); f != "" {
		return invalid(f, "%s must not contain a NUL character", f)
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	case errors.As(err, &te):
		field := te.Field
		if field == "" {
			return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "the body must be a JSON object"}
		}
		return &inputError{status: http.StatusBadRequest, code: "invalid_field", msg: fmt.Sprintf("%s must be a %s", field, jsonKind(te.Type.Kind().String())), field: field}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "malformed JSON: unexpected end of input"}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &inputError{status: http.StatusBadRequest, code: "unknown_field", msg: "unknown field " + field, field: field}
	default:
		return &inputError{status: http.StatusBadRequest, code: "invalid_json", msg: "malformed JSON: " + err.Error()}
	}
}

func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"):
		return "whole number"
	case strings.HasPrefix(k, "float"):
		return "number"
	case k == "string":
		return "string"
	case k == "bool":
		return "boolean"
	}
	return k
}
