package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
)

func TestSessionLifecycle(t *testing.T) {
	e := newEnv(t)
	access, refresh := e.signup("ann@example.com")
	r := e.do("GET", "/v1/me", nil, access)
	e.expect(r, http.StatusOK)
	if r.str("email") != "ann@example.com" || r.str("role") != "user" {
		t.Fatalf("me = %s", r.raw)
	}

	// Refresh rotates: the new pair works, the old refresh token does not.
	r = e.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": refresh}, "")
	e.expect(r, http.StatusOK)
	access2, refresh2 := r.str("access_token"), r.str("refresh_token")
	if refresh2 == refresh || access2 == "" {
		t.Fatalf("refresh did not rotate: %s", r.raw)
	}
	e.expect(e.do("GET", "/v1/me", nil, access2), http.StatusOK)
	// Replaying the old one is theft: the whole session ends.
	e.expect(e.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": refresh}, ""), http.StatusUnauthorized, "invalid_refresh_token", "refresh_token")
	e.expect(e.do("GET", "/v1/me", nil, access2), http.StatusUnauthorized, "unauthorized")
	e.expect(e.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": refresh2}, ""), http.StatusUnauthorized)

	// Log in again; log out by refresh token ends the access token too.
	login := func() (string, string) {
		r := e.do("POST", "/v1/auth/login", map[string]string{"email": "ANN@example.com", "password": "correct horse battery"}, "")
		e.expect(r, http.StatusOK)
		return r.str("access_token"), r.str("refresh_token")
	}
	a3, r3 := login()
	e.expect(e.do("POST", "/v1/auth/logout", map[string]string{"refresh_token": r3}, ""), http.StatusNoContent)
	e.expect(e.do("GET", "/v1/me", nil, a3), http.StatusUnauthorized)
	e.expect(e.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": r3}, ""), http.StatusUnauthorized)

	// Log out by bearer access token.
	a4, r4 := login()
	e.expect(e.do("POST", "/v1/auth/logout", nil, a4), http.StatusNoContent)
	e.expect(e.do("GET", "/v1/me", nil, a4), http.StatusUnauthorized)
	e.expect(e.do("POST", "/v1/auth/refresh", map[string]string{"refresh_token": r4}, ""), http.StatusUnauthorized)

	// Nothing to log out.
	e.expect(e.do("POST", "/v1/auth/logout", nil, ""), http.StatusBadRequest, "missing_field", "refresh_token")

	// Wrong password and unknown e-mail look the same.
	w1 := e.do("POST", "/v1/auth/login", map[string]string{"email": "ann@example.com", "password": "wrong password!"}, "")
	w2 := e.do("POST", "/v1/auth/login", map[string]string{"email": "nobody@example.com", "password": "wrong password!"}, "")
	e.expect(w1, http.StatusUnauthorized, "invalid_credentials")
	e.expect(w2, http.StatusUnauthorized, "invalid_credentials")
	if w1.str("error", "message") != w2.str("error", "message") {
		t.Fatal("login errors tell known and unknown e-mails apart")
	}
}

func TestSignupRejectsBadInput(t *testing.T) {
	e := newEnv(t)
	e.signup("taken@example.com")
	tests := []struct {
		name, body  string
		status      int
		code, field string
	}{
		{"malformed", `{"email": "a@example.com",`, 400, "invalid_json", ""},
		{"not an object", `["a@example.com"]`, 400, "invalid_json", ""},
		{"empty", ``, 400, "invalid_json", ""},
		{"trailing data", `{"email":"a@example.com","password":"long enough pw"} {}`, 400, "invalid_json", ""},
		{"unknown field", `{"email":"a@example.com","password":"long enough pw","role":"admin"}`, 400, "unknown_field", "role"},
		{"wrong type", `{"email":"a@example.com","password":1234567890123}`, 400, "invalid_field", "password"},
		{"missing email", `{"password":"long enough pw"}`, 400, "missing_field", "email"},
		{"missing password", `{"email":"a@example.com"}`, 400, "missing_field", "password"},
		{"bad email", `{"email":"not-an-address","password":"long enough pw"}`, 400, "invalid_field", "email"},
		{"short password", `{"email":"a@example.com","password":"short"}`, 400, "invalid_field", "password"},
		{"common password", `{"email":"a@example.com","password":"password123"}`, 400, "invalid_field", "password"},
		{"repeated password", `{"email":"a@example.com","password":"zzzzzzzzzzzz"}`, 400, "invalid_field", "password"},
		{"taken email", `{"email":"Taken@example.com","password":"long enough pw"}`, 409, "conflict", "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			r := e.do("POST", "/v1/auth/signup", tt.body, "")
			e.expect(r, tt.status, tt.code, tt.field)
		})
	}
	e.t = t
	// Nothing half-created: only the first account exists.
	r := e.do("POST", "/v1/auth/login", map[string]string{"email": "a@example.com", "password": "long enough pw"}, "")
	e.expect(r, http.StatusUnauthorized)
	accounts, err := e.store.ListAccounts(t.Context())
	if err != nil || len(accounts) != 1 {
		t.Fatalf("accounts %v %v", accounts, err)
	}
}

func TestForgedTokensAreRefused(t *testing.T) {
	e := newEnv(t)
	access, _ := e.signup("eve@example.com")
	good, err := (auth.Tokens{Key: jwtKey, TTL: time.Minute}).Parse(access, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	claims := *good
	claims.Role = "admin"
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	wrongKey, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(strings.Repeat("x", 32)))
	expired := claims
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Minute))
	expiredTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, expired).SignedString(jwtKey)
	otherSession := claims
	otherSession.SessionID = "ses_forged"
	otherSessionTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, otherSession).SignedString(jwtKey)

	for name, tok := range map[string]string{
		"alg none": none, "wrong key": wrongKey, "expired": expiredTok, "garbage": "not.a.jwt",
		"unknown session": otherSessionTok, "unknown api key": "kf_abcdefgh_nope",
	} {
		t.Run(name, func(t *testing.T) {
			e.t = t
			r := e.do("GET", "/v1/me", nil, tok)
			e.expect(r, http.StatusUnauthorized, "unauthorized", "authorization")
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate header")
			}
		})
	}
	e.t = t
	e.expect(e.do("GET", "/v1/me", nil, ""), http.StatusUnauthorized, "unauthorized")
	e.expect(e.do("GET", "/v1/me", nil, "", "Authorization", "Basic Zm9vOmJhcg=="), http.StatusUnauthorized)
}

func TestAPIKeys(t *testing.T) {
	e := newEnv(t)
	access, _ := e.signup("kim@example.com")
	other, _ := e.signup("lee@example.com")

	r := e.do("POST", "/v1/api-keys", map[string]string{"name": "ci"}, access)
	e.expect(r, http.StatusCreated)
	key, id := r.str("key"), r.str("id")
	if !strings.HasPrefix(key, r.str("prefix")+"_") {
		t.Fatalf("key %q prefix %q", key, r.str("prefix"))
	}
	me := e.do("GET", "/v1/me", nil, key)
	e.expect(me, http.StatusOK)
	if me.str("email") != "kim@example.com" {
		t.Fatalf("api key authenticates as %s", me.raw)
	}
	r = e.do("GET", "/v1/api-keys", nil, access)
	e.expect(r, http.StatusOK)
	if strings.Contains(string(r.raw), key) || !strings.Contains(string(r.raw), id) {
		t.Fatalf("list shows the secret or misses the key: %s", r.raw)
	}
	keys := r.field("api_keys").([]any)
	if len(keys) != 1 || keys[0].(map[string]any)["last_used_at"] == nil {
		t.Fatalf("last use not recorded: %s", r.raw)
	}

	e.expect(e.do("POST", "/v1/api-keys", map[string]string{}, access), http.StatusBadRequest, "missing_field", "name")
	e.expect(e.do("POST", "/v1/api-keys", map[string]string{"name": strings.Repeat("n", 64)}, access), http.StatusBadRequest, "invalid_field", "name")
	e.expect(e.do("POST", "/v1/api-keys", map[string]any{"name": "x", "scope": "all"}, access), http.StatusBadRequest, "unknown_field", "scope")

	// Another account cannot revoke it; the owner can, and it stops working.
	e.expect(e.do("DELETE", "/v1/api-keys/"+id, nil, other), http.StatusNotFound, "not_found")
	e.expect(e.do("GET", "/v1/me", nil, key), http.StatusOK)
	e.expect(e.do("DELETE", "/v1/api-keys/"+id, nil, access), http.StatusNoContent)
	e.expect(e.do("GET", "/v1/me", nil, key), http.StatusUnauthorized)
	e.expect(e.do("DELETE", "/v1/api-keys/key_missing", nil, access), http.StatusNotFound)
	// An API key cannot be "logged out".
	r = e.do("POST", "/v1/api-keys", map[string]string{"name": "two"}, access)
	e.expect(e.do("POST", "/v1/auth/logout", nil, r.str("key")), http.StatusBadRequest, "invalid_field", "authorization")
}

func TestCookieSessionsNeedCSRFHeader(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", "/v1/auth/signup", map[string]string{"email": "web@example.com", "password": "correct horse battery"}, "")
	e.expect(r, http.StatusCreated)
	var access, refresh *http.Cookie
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		switch c.Name {
		case accessCookie:
			access = c
		case refreshCookie:
			refresh = c
		}
	}
	if access == nil || refresh == nil || !access.HttpOnly || !refresh.HttpOnly ||
		access.SameSite != http.SameSiteStrictMode || refresh.Path != "/v1/auth" {
		t.Fatalf("cookies %+v %+v", access, refresh)
	}
	ac := "kf_access=" + access.Value
	e.expect(e.do("GET", "/v1/me", nil, "", "Cookie", ac), http.StatusOK)
	e.expect(e.do("POST", "/v1/api-keys", map[string]string{"name": "x"}, "", "Cookie", ac), http.StatusForbidden, "csrf")
	e.expect(e.do("POST", "/v1/api-keys", map[string]string{"name": "x"}, "", "Cookie", ac, "X-Requested-With", "keyfleet"), http.StatusCreated)

	rc := "kf_refresh=" + refresh.Value
	e.expect(e.do("POST", "/v1/auth/refresh", nil, "", "Cookie", rc), http.StatusForbidden, "csrf")
	r = e.do("POST", "/v1/auth/refresh", nil, "", "Cookie", rc, "X-Requested-With", "keyfleet")
	e.expect(r, http.StatusOK)
	newAccess := r.str("access_token")

	e.expect(e.do("POST", "/v1/auth/logout", nil, "", "Cookie", "kf_access="+newAccess), http.StatusForbidden, "csrf")
	r = e.do("POST", "/v1/auth/logout", nil, "", "Cookie", "kf_access="+newAccess, "X-Requested-With", "keyfleet")
	e.expect(r, http.StatusNoContent)
	if !strings.Contains(strings.Join(r.header.Values("Set-Cookie"), ";"), "Max-Age=0") {
		t.Fatalf("logout did not clear cookies: %v", r.header.Values("Set-Cookie"))
	}
	e.expect(e.do("GET", "/v1/me", nil, "", "Cookie", "kf_access="+newAccess), http.StatusUnauthorized)
}
