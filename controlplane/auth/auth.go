// Package auth holds the control plane's credentials: password hashing,
// JWT access tokens, opaque secrets (refresh tokens, API keys, database
// passwords) and the AES-GCM sealing of secrets kept at rest.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
)

// lowerBase32 spells random bytes with [a-z2-7]: safe in URLs, shells and
// redis:// user-info without escaping.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Random returns n random bytes spelled in lower-case base32.
func Random(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		// crypto/rand never fails on Linux (getrandom); if it did there
		// would be no safe way on.
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return lowerBase32.EncodeToString(b)
}

// NewID returns prefix + "_" + 60 random bits, e.g. "db_k3j4…".
func NewID(prefix string) string { return prefix + "_" + Random(8)[:12] }

// NewSecret returns a secret of 160 random bits.
func NewSecret() string { return Random(20) }

// Digest is SHA-256 of a high-entropy secret; a fast digest suffices for
// values with 128+ random bits.
func Digest(secret string) []byte {
	d := sha256.Sum256([]byte(secret))
	return d[:]
}

// HexDigest is hex(SHA-256(secret)), the form proxies receive.
func HexDigest(secret string) string { return hex.EncodeToString(Digest(secret)) }

// Equal compares two secrets in constant time.
func Equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// API keys look like "kf_<prefix>_<secret>"; the prefix is shown in lists so
// a user can tell keys apart.
const apiKeyPrefix = "kf_"

// NewAPIKey returns a new key and its displayable prefix.
func NewAPIKey() (key, prefix string) {
	prefix = Random(5)[:8]
	return apiKeyPrefix + prefix + "_" + Random(24), apiKeyPrefix + prefix
}

// IsAPIKey says whether a bearer token has the API key shape.
func IsAPIKey(tok string) bool { return strings.HasPrefix(tok, apiKeyPrefix) }

// Passwords are hashed with bcrypt over a SHA-256 pre-hash, so passphrases
// longer than bcrypt's 72 bytes still count in full.
type Passwords struct {
	Cost int // bcrypt cost; 0 means bcrypt.DefaultCost
}

// ErrBadPassword is returned when a password does not match its hash.
var ErrBadPassword = errors.New("password does not match")

func prehash(pw string) []byte {
	d := sha256.Sum256([]byte(pw))
	return []byte(base64.StdEncoding.EncodeToString(d[:]))
}

// Hash returns the stored form of pw.
func (p Passwords) Hash(pw string) (string, error) {
	cost := p.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword(prehash(pw), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// Check returns nil when pw matches hash, else ErrBadPassword.
func (p Passwords) Check(hash, pw string) error {
	if err := bcrypt.CompareHashAndPassword([]byte(hash), prehash(pw)); err != nil {
		return ErrBadPassword
	}
	return nil
}

// DummyCheck spends as long as Check, so that a log-in for an unknown
// e-mail takes as long as one with a wrong password.
func (p Passwords) DummyCheck(pw string) {
	cost := p.Cost
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	// A hash of a fixed string at the same cost.
	h, _ := bcrypt.GenerateFromPassword([]byte("keyfleet-dummy"), cost)
	_ = bcrypt.CompareHashAndPassword(h, prehash(pw))
}
