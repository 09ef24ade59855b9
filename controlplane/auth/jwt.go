package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Tokens issues and verifies access tokens: HS256 JWTs naming the account,
// its role and the session they belong to (revoking the session ends them).
type Tokens struct {
	Key []byte
	TTL time.Duration
}

const issuer = "keyfleet"

// Claims are what an access token asserts.
type Claims struct {
	Role      string `json:"role"`
	SessionID string `json:"sid"`
	jwt.RegisteredClaims
}

// Issue returns a signed access token.
func (t Tokens) Issue(accountID, role, sessionID string, now time.Time) (string, error) {
	if len(t.Key) < 32 {
		return "", errors.New("jwt key shorter than 32 bytes")
	}
	c := Claims{
		Role:      role,
		SessionID: sessionID,
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer:    issuer,
			Subject:   accountID,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
			ExpiresAt: jwt.NewNumericDate(now.Add(t.TTL)),
		},
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(t.Key)
	if err != nil {
		return "", fmt.Errorf("sign access token: %w", err)
	}
	return s, nil
}

// Parse verifies tok and returns its claims. Only HS256 under our key is
// accepted: "alg: none", other algorithms and other keys fail.
func (t Tokens) Parse(tok string, now time.Time) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(tok, &c, func(*jwt.Token) (any, error) { return t.Key, nil },
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithIssuer(issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(func() time.Time { return now }),
	)
	if err != nil {
		return nil, fmt.Errorf("access token: %w", err)
	}
	if c.Subject == "" || c.SessionID == "" {
		return nil, errors.New("access token: missing subject or session")
	}
	return &c, nil
}
