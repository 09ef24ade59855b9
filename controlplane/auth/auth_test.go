package auth

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"
)

func TestPasswords(t *testing.T) {
	p := Passwords{Cost: bcrypt.MinCost}
	long := strings.Repeat("x", 100)
	h, err := p.Hash(long)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Check(h, long); err != nil {
		t.Fatalf("right password rejected: %v", err)
	}
	// bcrypt alone would ignore bytes past 72; the pre-hash must not.
	if err := p.Check(h, strings.Repeat("x", 99)+"y"); err == nil {
		t.Fatal("a password differing after byte 72 was accepted")
	}
	if err := p.Check("garbage", long); err == nil {
		t.Fatal("garbage hash accepted")
	}
}

func TestTokens(t *testing.T) {
	now := time.Now()
	tk := Tokens{Key: []byte(strings.Repeat("k", 32)), TTL: 15 * time.Minute}
	good, err := tk.Issue("acc_1", "user", "ses_1", now)
	if err != nil {
		t.Fatal(err)
	}
	c, err := tk.Parse(good, now)
	if err != nil {
		t.Fatal(err)
	}
	if c.Subject != "acc_1" || c.SessionID != "ses_1" || c.Role != "user" {
		t.Fatalf("claims = %+v", c)
	}

	other := Tokens{Key: []byte(strings.Repeat("o", 32)), TTL: time.Minute}
	wrongKey, _ := other.Issue("acc_1", "admin", "ses_1", now)
	claims := Claims{Role: "admin", SessionID: "ses_1", RegisteredClaims: jwt.RegisteredClaims{
		Issuer: issuer, Subject: "acc_1", ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
	}}
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	hs512, _ := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(tk.Key)
	noExp := claims
	noExp.ExpiresAt = nil
	noExpTok, _ := jwt.NewWithClaims(jwt.SigningMethodHS256, noExp).SignedString(tk.Key)
	// Tamper with the payload, keep the signature.
	parts := strings.Split(good, ".")
	payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(payload), `"user"`, `"admin"`, 1)))
	tampered := strings.Join(parts, ".")

	for name, tok := range map[string]string{
		"expired":   good,
		"wrong key": wrongKey,
		"alg none":  none,
		"HS512":     hs512,
		"no exp":    noExpTok,
		"tampered":  tampered,
		"garbage":   "a.b.c",
	} {
		at := now
		if name == "expired" {
			at = now.Add(16 * time.Minute)
		}
		if _, err := tk.Parse(tok, at); err == nil {
			t.Errorf("%s token accepted", name)
		}
	}
}

func TestSealer(t *testing.T) {
	s, err := NewSealer([]byte(strings.Repeat("e", 32)))
	if err != nil {
		t.Fatal(err)
	}
	ct := s.Seal("secret", "db_1")
	if strings.Contains(string(ct), "secret") {
		t.Fatal("plaintext visible in sealed value")
	}
	if pt, err := s.Open(ct, "db_1"); err != nil || pt != "secret" {
		t.Fatalf("open = %q, %v", pt, err)
	}
	if _, err := s.Open(ct, "db_2"); err == nil {
		t.Fatal("opened with another row's associated data")
	}
	if _, err := NewSealer([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestSecrets(t *testing.T) {
	a, b := NewSecret(), NewSecret()
	if a == b || len(a) < 26 { // 26 base32 chars = 130 bits
		t.Fatalf("secrets %q %q", a, b)
	}
	key, prefix := NewAPIKey()
	if !IsAPIKey(key) || !strings.HasPrefix(key, prefix+"_") {
		t.Fatalf("key %q prefix %q", key, prefix)
	}
	if id := NewID("db"); !strings.HasPrefix(id, "db_") || len(id) != 15 {
		t.Fatalf("id %q", id)
	}
}
