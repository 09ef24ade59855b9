package api

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
)

func TestLoginThrottle(t *testing.T) {
	e := newEnv(t)
	e.signup("ann@example.com")
	login := func(email, pw string) reply {
		return e.do("POST", "/v1/auth/login", map[string]string{"email": email, "password": pw}, "")
	}
	locked := func(r reply) {
		t.Helper()
		e.expect(r, http.StatusTooManyRequests, "too_many_attempts")
		if n, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || n < 1 {
			t.Fatalf("Retry-After %q", r.header.Get("Retry-After"))
		}
	}

	// A success forgives earlier failures.
	for i := 0; i < emailLoginPolicy.Free; i++ {
		e.expect(login("ann@example.com", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	}
	e.expect(login("ann@example.com", "correct horse battery"), http.StatusOK)

	// Past the free failures the e-mail is locked out, and then even the
	// right password is refused, so a lockout answers no guess.
	for i := 0; i < emailLoginPolicy.Free; i++ {
		e.expect(login("Ann@example.com", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	}
	locked(login("ann@example.com", "wrong password!"))
	locked(login("ann@example.com", "correct horse battery"))

	// An e-mail without an account is treated exactly alike.
	for i := 0; i < emailLoginPolicy.Free; i++ {
		e.expect(login("nobody@example.com", "wrong password!"), http.StatusUnauthorized, "invalid_credentials")
	}
	locked(login("nobody@example.com", "wrong password!"))

	// A malformed body is no guess and is answered as such.
	e.expect(login("bob@example.com", ""), http.StatusUnauthorized, "invalid_credentials")
	e.expect(e.do("POST", "/v1/auth/login", `{"email":`, ""), http.StatusBadRequest, "invalid_json")
}

func TestLoginThrottlePerAddress(t *testing.T) {
	e := newEnv(t)
	e.signup("ann@example.com")
	// One client spraying e-mails, each below its own limit.
	for n := 0; n < addressLoginPolicy.Free; n++ {
		email := fmt.Sprintf("user%d@example.com", n%(addressLoginPolicy.Free/2+1))
		r := e.do("POST", "/v1/auth/login", map[string]string{"email": email, "password": "wrong password!"}, "")
		e.expect(r, http.StatusUnauthorized, "invalid_credentials")
	}
	r := e.do("POST", "/v1/auth/login", map[string]string{"email": "fresh@example.com", "password": "wrong password!"}, "")
	e.expect(r, http.StatusTooManyRequests, "too_many_attempts")
	// The address stays locked even for a correct log-in of another account.
	r = e.do("POST", "/v1/auth/login", map[string]string{"email": "ann@example.com", "password": "correct horse battery"}, "")
	e.expect(r, http.StatusTooManyRequests, "too_many_attempts")
}

func TestClientAddress(t *testing.T) {
	for _, tc := range []struct{ remote, want string }{
		{"192.0.2.7:5555", "192.0.2.7"},
		{"[2001:db8:1:2:3:4:5:6]:443", "2001:db8:1:2::/64"},
		{"[::ffff:192.0.2.7]:80", "192.0.2.7"},
		{"garbage", "garbage"},
	} {
		r := httptest.NewRequest("POST", "/v1/auth/login", nil)
		r.RemoteAddr = tc.remote
		if got := clientAddress(r); got != tc.want {
			t.Errorf("clientAddress(%q) = %q, want %q", tc.remote, got, tc.want)
		}
	}
}
