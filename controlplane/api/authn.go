package api

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/mail"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-chi/chi/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
	"github.com/keyfleet/keyfleet/controlplane/store"
)

// Cookies for the web console: HttpOnly, so page scripts (and scripts
// injected from elsewhere) cannot read the tokens; SameSite=Strict, so
// other sites' pages do not send them. Requests authenticated by cookie
// must also carry the X-Requested-With header when they change state: a
// cross-origin page cannot add it without a CORS preflight, which this
// API never grants.
const (
	accessCookie  = "kf_access"
	refreshCookie = "kf_refresh"
	csrfHeader    = "X-Requested-With"
)

type ctxKey int

const (
	accountKey ctxKey = iota
	sessionKey
)

func accountFrom(ctx context.Context) store.Account {
	a, _ := ctx.Value(accountKey).(store.Account)
	return a
}

func sessionFrom(ctx context.Context) string {
	s, _ := ctx.Value(sessionKey).(string)
	return s
}

func unauthorized(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer realm="keyfleet"`)
	writeError(w, http.StatusUnauthorized, "unauthorized", msg, "authorization")
}

// authenticate accepts an access token (JWT) or an API key as
// "Authorization: Bearer", or the access token cookie.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, fromCookie := bearer(r)
		if tok == "" {
			unauthorized(w, "missing credentials: send Authorization: Bearer <access token or API key>")
			return
		}
		if fromCookie && !safeMethod(r.Method) && r.Header.Get(csrfHeader) == "" {
			writeError(w, http.StatusForbidden, "csrf", "cookie-authenticated requests that change state need the "+csrfHeader+" header", csrfHeader)
			return
		}
		now := s.cfg.Now()
		ctx := r.Context()
		if auth.IsAPIKey(tok) {
			a, err := s.store.AccountByAPIKey(ctx, auth.Digest(tok), now)
			if errors.Is(err, store.ErrNotFound) {
				unauthorized(w, "unknown or revoked API key")
				return
			}
			if err != nil {
				s.fail(w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, accountKey, a)))
			return
		}
		claims, err := s.cfg.Tokens.Parse(tok, now)
		if err != nil {
			unauthorized(w, "invalid or expired access token")
			return
		}
		a, err := s.store.SessionAccount(ctx, claims.SessionID, now)
		if errors.Is(err, store.ErrNotFound) || (err == nil && a.ID != claims.Subject) {
			unauthorized(w, "the session has ended; log in again")
			return
		}
		if err != nil {
			s.fail(w, r, err)
			return
		}
		ctx = context.WithValue(ctx, accountKey, a)
		ctx = context.WithValue(ctx, sessionKey, claims.SessionID)
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

func bearer(r *http.Request) (tok string, fromCookie bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(rest), false
		}
		return "", false
	}
	if c, err := r.Cookie(accessCookie); err == nil {
		return c.Value, true
	}
	return "", false
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if accountFrom(r.Context()).Role != store.RoleAdmin {
			writeError(w, http.StatusForbidden, "forbidden", "administrators only", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

type credentials struct {
	Email    *string `json:"email"`
	Password *string `json:"password"`
}

// commonPasswords are refused outright even when long enough.
var commonPasswords = map[string]bool{
	"1234567890": true, "12345678910": true, "123456789012": true, "0123456789": true,
	"password123": true, "password1234": true, "passwordpassword": true, "qwertyuiop": true,
	"qwertyuiop1": true, "iloveyou123": true, "abcdefghij": true, "letmein1234": true,
	"administrator": true, "welcome123": true, "aaaaaaaaaa": true,
}

const (
	minPasswordLen = 10
	maxPasswordLen = 1024
)

func validEmail(e *string) (string, error) {
	if e == nil {
		return "", missing("email")
	}
	email := strings.TrimSpace(*e)
	if email == "" {
		return "", missing("email")
	}
	addr, err := mail.ParseAddress(email)
	if err != nil || addr.Address != email || len(email) > 254 || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
		return "", invalid("email", "email is not a valid e-mail address")
	}
	return email, nil
}

// ValidatePassword says why a new password is too weak, or nil.
func ValidatePassword(pw, email string) error {
	n := utf8.RuneCountInString(pw)
	switch {
	case n < minPasswordLen:
		return invalid("password", "password must be at least %d characters", minPasswordLen)
	case len(pw) > maxPasswordLen:
		return invalid("password", "password must be at most %d bytes", maxPasswordLen)
	case commonPasswords[strings.ToLower(pw)]:
		return invalid("password", "password is too common; choose another")
	case strings.EqualFold(pw, email):
		return invalid("password", "password must not be the e-mail address")
	case strings.Count(pw, pw[:1]) == len(pw):
		return invalid("password", "password must not repeat one character")
	}
	return nil
}

// session is what sign-up, log-in and refresh answer.
type session struct {
	Account      store.Account `json:"account"`
	AccessToken  string        `json:"access_token"`
	RefreshToken string        `json:"refresh_token"`
	TokenType    string        `json:"token_type"`
	ExpiresIn    int           `json:"expires_in"` // seconds of the access token
}

func (s *Server) issue(w http.ResponseWriter, status int, a store.Account, sessionID, refresh string) {
	now := s.cfg.Now()
	access, err := s.cfg.Tokens.Issue(a.ID, a.Role, sessionID, now)
	if err != nil {
		s.log.Error("issue access token", "err", err)
		writeError(w, http.StatusInternalServerError, "internal", "internal error", "")
		return
	}
	http.SetCookie(w, &http.Cookie{Name: accessCookie, Value: access, Path: "/", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.Tokens.TTL.Seconds())})
	http.SetCookie(w, &http.Cookie{Name: refreshCookie, Value: refresh, Path: "/v1/auth", HttpOnly: true, Secure: s.cfg.SecureCookies,
		SameSite: http.SameSiteStrictMode, MaxAge: int(s.cfg.RefreshTTL.Seconds())})
	writeJSON(w, status, session{Account: a, AccessToken: access, RefreshToken: refresh, TokenType: "Bearer",
		ExpiresIn: int(s.cfg.Tokens.TTL.Seconds())})
}

func (s *Server) clearCookies(w http.ResponseWriter) {
	for _, c := range []struct{ name, path string }{{accessCookie, "/"}, {refreshCookie, "/v1/auth"}} {
		http.SetCookie(w, &http.Cookie{Name: c.name, Value: "", Path: c.path, HttpOnly: true, Secure: s.cfg.SecureCookies,
			SameSite: http.SameSiteStrictMode, MaxAge: -1})
	}
}

func (s *Server) signup(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := decode(r, &in, false); err != nil {
		s.fail(w, r, err)
		return
	}
	email, err := validEmail(in.Email)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Password == nil {
		s.fail(w, r, missing("password"))
		return
	}
	if err := ValidatePassword(*in.Password, email); err != nil {
		s.fail(w, r, err)
		return
	}
	hash, err := s.cfg.Passwords.Hash(*in.Password)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	refresh := auth.NewSecret() + auth.NewSecret()
	a, sid, err := s.store.CreateAccount(r.Context(), email, hash, store.RoleUser,
		&store.NewSession{RefreshHash: auth.Digest(refresh), ExpiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.issue(w, http.StatusCreated, a, sid, refresh)
}

// Log-in throttling. Failures count per e-mail address (whether or not an
// account has it, so a lockout says nothing about which exist) and per
// client address (so one client spraying many e-mails is stopped too); the
// counts live in Postgres so every control-plane instance enforces the
// same limits. A subject's first few failures are free, each further one
// locks it out for twice as long as the last (429 with Retry-After), up to
// a cap that bounds how long a guesser can lock a real user out.
var (
	emailLoginPolicy   = store.LoginPolicy{Free: 5, Base: 2 * time.Second, Max: 15 * time.Minute, Window: time.Hour}
	addressLoginPolicy = store.LoginPolicy{Free: 30, Base: 2 * time.Second, Max: 15 * time.Minute, Window: time.Hour}
)

// clientAddress is the subject failures from this client count against:
// the peer's IP, an IPv6 peer's /64 (one host usually owns a whole /64).
// Forwarded headers are ignored: a client could forge them to dodge the
// limit, and the control plane is served directly.
func clientAddress(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	ip = ip.Unmap()
	if ip.Is6() {
		if p, err := ip.Prefix(64); err == nil {
			return p.String()
		}
	}
	return ip.String()
}

func loginSubjects(email, addr string) []store.LoginSubject {
	return []store.LoginSubject{
		{Scope: "email", Subject: strings.ToLower(email), Policy: emailLoginPolicy},
		{Scope: "address", Subject: addr, Policy: addressLoginPolicy},
	}
}

func (s *Server) tooManyLogins(w http.ResponseWriter, until time.Time) {
	secs := int(math.Ceil(until.Sub(s.cfg.Now()).Seconds()))
	secs = max(secs, 1)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	writeError(w, http.StatusTooManyRequests, "too_many_attempts",
		fmt.Sprintf("too many failed log-ins; try again in %d seconds", secs), "")
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := decode(r, &in, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Email == nil || strings.TrimSpace(*in.Email) == "" {
		s.fail(w, r, missing("email"))
		return
	}
	if in.Password == nil {
		s.fail(w, r, missing("password"))
		return
	}
	email := strings.TrimSpace(*in.Email)
	if len(email) > 254 {
		s.fail(w, r, invalid("email", "email is not a valid e-mail address"))
		return
	}
	ctx := r.Context()
	subjects := loginSubjects(email, clientAddress(r))
	locked, charged, err := s.store.BeginLogin(ctx, subjects, s.cfg.Now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if !locked.IsZero() {
		s.tooManyLogins(w, locked)
		return
	}
	// Unknown e-mail and wrong password take the same path: a hash check,
	// then the same reply; the attempt was already counted either way.
	a, hash, err := s.store.AccountByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	if errors.Is(err, store.ErrNotFound) {
		s.cfg.Passwords.DummyCheck(*in.Password)
	} else {
		err = s.cfg.Passwords.Check(hash, *in.Password)
	}
	if err != nil {
		if !charged.IsZero() {
			s.tooManyLogins(w, charged)
			return
		}
		writeError(w, http.StatusUnauthorized, "invalid_credentials", "wrong e-mail or password", "password")
		return
	}
	if err := s.store.LoginSucceeded(ctx, subjects[0], subjects[1]); err != nil {
		s.fail(w, r, err)
		return
	}
	refresh := auth.NewSecret() + auth.NewSecret()
	sid, err := s.store.CreateSession(ctx, a.ID, store.NewSession{RefreshHash: auth.Digest(refresh), ExpiresAt: s.cfg.Now().Add(s.cfg.RefreshTTL)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.issue(w, http.StatusOK, a, sid, refresh)
}

// maxRefreshTokenLen is far above the tokens this API issues (two
// auth.NewSecret); anything longer is refused unread rather than hashed
// and looked up.
const maxRefreshTokenLen = 256

type refreshRequest struct {
	RefreshToken *string `json:"refresh_token"`
}

// refreshToken takes the token from the body or, for the console, from the
// HttpOnly cookie (then the CSRF header is required).
func refreshToken(r *http.Request, in refreshRequest) (string, error) {
	if in.RefreshToken != nil {
		if *in.RefreshToken == "" {
			return "", missing("refresh_token")
		}
		if len(*in.RefreshToken) > maxRefreshTokenLen {
			return "", invalid("refresh_token", "refresh_token is not a refresh token")
		}
		return *in.RefreshToken, nil
	}
	c, err := r.Cookie(refreshCookie)
	if err != nil || c.Value == "" {
		return "", missing("refresh_token")
	}
	if r.Header.Get(csrfHeader) == "" {
		return "", &inputError{status: http.StatusForbidden, code: "csrf", msg: "cookie-authenticated requests that change state need the " + csrfHeader + " header", field: csrfHeader}
	}
	return c.Value, nil
}

func (s *Server) refresh(w http.ResponseWriter, r *http.Request) {
	var in refreshRequest
	if err := decode(r, &in, true); err != nil {
		s.fail(w, r, err)
		return
	}
	old, err := refreshToken(r, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	refresh := auth.NewSecret() + auth.NewSecret()
	a, sid, err := s.store.RotateSession(r.Context(), auth.Digest(old), auth.Digest(refresh), s.cfg.Now())
	if errors.Is(err, store.ErrNotFound) {
		s.clearCookies(w)
		writeError(w, http.StatusUnauthorized, "invalid_refresh_token", "the refresh token is unknown, expired, revoked or already used", "refresh_token")
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.issue(w, http.StatusOK, a, sid, refresh)
}

// logout ends a session: the one of the refresh token in the body, else
// the one of the bearer access token, else (the console) the one of the
// session cookies. Ending it revokes its refresh token and every access
// token issued under it.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	var in refreshRequest
	if err := decode(r, &in, true); err != nil {
		s.fail(w, r, err)
		return
	}
	ctx, now := r.Context(), s.cfg.Now()
	revokeAccess := func(tok string) error {
		claims, err := s.cfg.Tokens.Parse(tok, now)
		if err != nil {
			return err
		}
		return s.store.RevokeSession(ctx, claims.SessionID, now)
	}
	switch tok, fromCookie := bearer(r); {
	case in.RefreshToken != nil:
		if *in.RefreshToken == "" {
			s.fail(w, r, missing("refresh_token"))
			return
		}
		if len(*in.RefreshToken) > maxRefreshTokenLen {
			s.fail(w, r, invalid("refresh_token", "refresh_token is not a refresh token"))
			return
		}
		if err := s.store.RevokeSessionByRefresh(ctx, auth.Digest(*in.RefreshToken), now); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.fail(w, r, err)
			return
		}
	case tok != "" && !fromCookie:
		if auth.IsAPIKey(tok) {
			s.fail(w, r, invalid("authorization", "API keys are revoked with DELETE /v1/api-keys/{id}, not logged out"))
			return
		}
		if err := revokeAccess(tok); err != nil {
			unauthorized(w, "invalid or expired access token")
			return
		}
	default:
		rc, rerr := r.Cookie(refreshCookie)
		if rerr != nil && !fromCookie {
			s.fail(w, r, missing("refresh_token"))
			return
		}
		if r.Header.Get(csrfHeader) == "" {
			writeError(w, http.StatusForbidden, "csrf", "cookie-authenticated requests that change state need the "+csrfHeader+" header", csrfHeader)
			return
		}
		if rerr == nil {
			if err := s.store.RevokeSessionByRefresh(ctx, auth.Digest(rc.Value), now); err != nil && !errors.Is(err, store.ErrNotFound) {
				s.fail(w, r, err)
				return
			}
		}
		if fromCookie {
			// An expired access cookie has nothing left to end.
			_ = revokeAccess(tok)
		}
	}
	s.clearCookies(w)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, accountFrom(r.Context()))
}

type apiKeyRequest struct {
	Name *string `json:"name"`
}

type createdAPIKey struct {
	store.APIKey
	Key string `json:"key"`
}

const maxNameLen = 63

func (s *Server) createAPIKey(w http.ResponseWriter, r *http.Request) {
	var in apiKeyRequest
	if err := decode(r, &in, false); err != nil {
		s.fail(w, r, err)
		return
	}
	if in.Name == nil || strings.TrimSpace(*in.Name) == "" {
		s.fail(w, r, missing("name"))
		return
	}
	name := strings.TrimSpace(*in.Name)
	if utf8.RuneCountInString(name) > maxNameLen {
		s.fail(w, r, invalid("name", "name must be at most %d characters", maxNameLen))
		return
	}
	key, prefix := auth.NewAPIKey()
	k, err := s.store.CreateAPIKey(r.Context(), accountFrom(r.Context()).ID, name, prefix, auth.Digest(key))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, createdAPIKey{APIKey: k, Key: key})
}

func (s *Server) listAPIKeys(w http.ResponseWriter, r *http.Request) {
	keys, err := s.store.ListAPIKeys(r.Context(), accountFrom(r.Context()).ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if keys == nil {
		keys = []store.APIKey{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"api_keys": keys})
}

func (s *Server) revokeAPIKey(w http.ResponseWriter, r *http.Request) {
	if err := s.store.RevokeAPIKey(r.Context(), accountFrom(r.Context()).ID, chi.URLParam(r, "id"), s.cfg.Now()); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) {
	evs, err := s.store.Events(r.Context(), accountFrom(r.Context()).ID, 100)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []store.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs})
}
