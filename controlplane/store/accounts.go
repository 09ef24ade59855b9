package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/keyfleet/keyfleet/controlplane/auth"
)

// Account is a tenant (or an administrator).
type Account struct {
	ID        string    `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	CreatedAt time.Time `json:"created_at"`
}

// Roles.
const (
	RoleAdmin = "admin"
	RoleUser  = "user"
)

// NewSession is a session to open with an account: the refresh token's
// digest and when it expires.
type NewSession struct {
	RefreshHash []byte
	ExpiresAt   time.Time
}

// CreateAccount creates an account and, when sess is not nil, its first
// session, in one transaction. A taken e-mail is a ConflictError on
// "email".
func (s *Store) CreateAccount(ctx context.Context, email, passwordHash, role string, sess *NewSession) (Account, string, error) {
	a := Account{ID: auth.NewID("acc"), Email: email, Role: role}
	var sessionID string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `INSERT INTO accounts (id, email, password_hash, role) VALUES ($1, $2, $3, $4) RETURNING created_at`,
			a.ID, email, passwordHash, role).Scan(&a.CreatedAt)
		if isUniqueViolation(err, "accounts_email_key") {
			return &ConflictError{Field: "email", Msg: "an account with this e-mail already exists"}
		}
		if err != nil {
			return fmt.Errorf("insert account: %w", err)
		}
		if sess != nil {
			if sessionID, err = insertSession(ctx, tx, a.ID, *sess); err != nil {
				return err
			}
		}
		return event(ctx, tx, "account.created", "account "+email+" created", a.ID, "", "")
	})
	if err != nil {
		return Account{}, "", err
	}
	return a, sessionID, nil
}

func insertSession(ctx context.Context, tx pgx.Tx, accountID string, sess NewSession) (string, error) {
	id := auth.NewID("ses")
	if _, err := tx.Exec(ctx, `INSERT INTO sessions (id, account_id, refresh_hash, expires_at) VALUES ($1, $2, $3, $4)`,
		id, accountID, sess.RefreshHash, sess.ExpiresAt); err != nil {
		return "", fmt.Errorf("insert session: %w", err)
	}
	return id, nil
}

// HasAccounts says whether any account exists (dev mode creates the first
// admin otherwise).
func (s *Store) HasAccounts(ctx context.Context) (bool, error) {
	var ok bool
	if err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM accounts)`).Scan(&ok); err != nil {
		return false, fmt.Errorf("count accounts: %w", err)
	}
	return ok, nil
}

// AccountByEmail returns the account and its password hash.
func (s *Store) AccountByEmail(ctx context.Context, email string) (Account, string, error) {
	var a Account
	var hash string
	err := s.pool.QueryRow(ctx, `SELECT id, email, role, created_at, password_hash FROM accounts WHERE lower(email) = lower($1)`, email).
		Scan(&a.ID, &a.Email, &a.Role, &a.CreatedAt, &hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, "", ErrNotFound
	}
	if err != nil {
		return Account{}, "", fmt.Errorf("look up account: %w", err)
	}
	return a, hash, nil
}

// AccountByID returns one account.
func (s *Store) AccountByID(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.pool.QueryRow(ctx, `SELECT id, email, role, created_at FROM accounts WHERE id = $1`, id).
		Scan(&a.ID, &a.Email, &a.Role, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("look up account: %w", err)
	}
	return a, nil
}

// AccountSummary is an account as administrators list it.
type AccountSummary struct {
	Account
	Databases int `json:"databases"`
}

// ListAccounts lists every account, oldest first.
func (s *Store) ListAccounts(ctx context.Context) ([]AccountSummary, error) {
	rows, err := s.pool.Query(ctx, `SELECT a.id, a.email, a.role, a.created_at,
			(SELECT count(*) FROM databases d WHERE d.account_id = a.id AND d.status <> 'deleting')
		FROM accounts a ORDER BY a.created_at, a.id`)
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (AccountSummary, error) {
		var a AccountSummary
		err := r.Scan(&a.ID, &a.Email, &a.Role, &a.CreatedAt, &a.Databases)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("list accounts: %w", err)
	}
	return out, nil
}

// CreateSession opens a session for a log-in.
func (s *Store) CreateSession(ctx context.Context, accountID string, sess NewSession) (string, error) {
	var id string
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		id, err = insertSession(ctx, tx, accountID, sess)
		return err
	})
	return id, err
}

// RotateSession swaps the session's refresh token for a new one and returns
// the session's account. An unknown, expired or revoked token is
// ErrNotFound; a token that was already rotated away revokes the session
// (someone else holds a copy of it) and is ErrNotFound too.
func (s *Store) RotateSession(ctx context.Context, oldHash, newHash []byte, now time.Time) (Account, string, error) {
	var a Account
	var sessionID string
	found := false
	// A replay's revocation must commit, so "not found" is not an error
	// inside the transaction.
	err := s.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE sessions SET previous_hash = refresh_hash, refresh_hash = $2, refreshed_at = $3
			WHERE refresh_hash = $1 AND revoked_at IS NULL AND expires_at > $3
			RETURNING id, account_id`, oldHash, newHash, now).Scan(&sessionID, &a.ID)
		if errors.Is(err, pgx.ErrNoRows) {
			tag, err := tx.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE previous_hash = $1 AND revoked_at IS NULL`, oldHash, now)
			if err != nil {
				return fmt.Errorf("revoke replayed session: %w", err)
			}
			if tag.RowsAffected() > 0 {
				s.log.Warn("refresh token replayed; session revoked")
			}
			return nil
		}
		if err != nil {
			return fmt.Errorf("rotate session: %w", err)
		}
		found = true
		if err := tx.QueryRow(ctx, `SELECT email, role, created_at FROM accounts WHERE id = $1`, a.ID).Scan(&a.Email, &a.Role, &a.CreatedAt); err != nil {
			return fmt.Errorf("look up session account: %w", err)
		}
		return nil
	})
	if err != nil {
		return Account{}, "", err
	}
	if !found {
		return Account{}, "", ErrNotFound
	}
	return a, sessionID, nil
}

// SessionActive says whether a session is neither revoked nor expired.
func (s *Store) SessionActive(ctx context.Context, sessionID string, now time.Time) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sessions WHERE id = $1 AND revoked_at IS NULL AND expires_at > $2)`, sessionID, now).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check session: %w", err)
	}
	return ok, nil
}

// SessionAccount returns the account of a live session (neither revoked
// nor expired), or ErrNotFound.
func (s *Store) SessionAccount(ctx context.Context, sessionID string, now time.Time) (Account, error) {
	var a Account
	err := s.pool.QueryRow(ctx, `SELECT a.id, a.email, a.role, a.created_at FROM sessions se JOIN accounts a ON a.id = se.account_id
		WHERE se.id = $1 AND se.revoked_at IS NULL AND se.expires_at > $2`, sessionID, now).Scan(&a.ID, &a.Email, &a.Role, &a.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("check session: %w", err)
	}
	return a, nil
}

// RevokeSession ends a session: its refresh token and its access tokens stop working.
func (s *Store) RevokeSession(ctx context.Context, sessionID string, now time.Time) error {
	if _, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL`, sessionID, now); err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// RevokeSessionByRefresh ends the session a refresh token belongs to.
// It returns ErrNotFound when no live session has that token.
func (s *Store) RevokeSessionByRefresh(ctx context.Context, hash []byte, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sessions SET revoked_at = $2 WHERE refresh_hash = $1 AND revoked_at IS NULL`, hash, now)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// APIKey is a long-lived credential of an account; its secret is only ever
// shown when created.
type APIKey struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Prefix     string     `json:"prefix"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
	RevokedAt  *time.Time `json:"revoked_at"`
}

// CreateAPIKey stores a key's digest.
func (s *Store) CreateAPIKey(ctx context.Context, accountID, name, prefix string, hash []byte) (APIKey, error) {
	k := APIKey{ID: auth.NewID("key"), Name: name, Prefix: prefix}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `INSERT INTO api_keys (id, account_id, name, prefix, secret_hash) VALUES ($1, $2, $3, $4, $5) RETURNING created_at`,
			k.ID, accountID, name, prefix, hash).Scan(&k.CreatedAt); err != nil {
			return fmt.Errorf("insert api key: %w", err)
		}
		return event(ctx, tx, "api_key.created", "API key "+prefix+" created", accountID, "", "")
	})
	return k, err
}

// ListAPIKeys lists an account's keys, revoked ones included, newest first.
func (s *Store) ListAPIKeys(ctx context.Context, accountID string) ([]APIKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, name, prefix, created_at, last_used_at, revoked_at
		FROM api_keys WHERE account_id = $1 ORDER BY created_at DESC, id`, accountID)
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (APIKey, error) {
		var k APIKey
		err := r.Scan(&k.ID, &k.Name, &k.Prefix, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)
		return k, err
	})
	if err != nil {
		return nil, fmt.Errorf("list api keys: %w", err)
	}
	return out, nil
}

// RevokeAPIKey revokes one of the account's keys; another account's key is
// ErrNotFound.
func (s *Store) RevokeAPIKey(ctx context.Context, accountID, id string, now time.Time) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = coalesce(revoked_at, $3) WHERE id = $1 AND account_id = $2`, id, accountID, now)
		if err != nil {
			return fmt.Errorf("revoke api key: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		return event(ctx, tx, "api_key.revoked", "API key "+id+" revoked", accountID, "", "")
	})
}

// AccountByAPIKey resolves a live key to its account and notes its use
// (at most once a minute, to keep reads cheap).
func (s *Store) AccountByAPIKey(ctx context.Context, hash []byte, now time.Time) (Account, error) {
	var a Account
	var keyID string
	var lastUsed *time.Time
	err := s.pool.QueryRow(ctx, `SELECT a.id, a.email, a.role, a.created_at, k.id, k.last_used_at
		FROM api_keys k JOIN accounts a ON a.id = k.account_id
		WHERE k.secret_hash = $1 AND k.revoked_at IS NULL`, hash).Scan(&a.ID, &a.Email, &a.Role, &a.CreatedAt, &keyID, &lastUsed)
	if errors.Is(err, pgx.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, fmt.Errorf("look up api key: %w", err)
	}
	if lastUsed == nil || now.Sub(*lastUsed) > time.Minute {
		if _, err := s.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = $1`, keyID, now); err != nil {
			return Account{}, fmt.Errorf("note api key use: %w", err)
		}
	}
	return a, nil
}

// LoginPolicy says how failed log-ins on one subject (an e-mail address or
// a client address) are slowed: the first Free failures cost nothing, each
// further one locks the subject out for Base, then twice as long, up to
// Max. A subject whose last failure is older than Window starts afresh.
type LoginPolicy struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// lockout is how long the n-th failure in a row locks the subject out.
func (p LoginPolicy) lockout(n int) time.Duration {
	if n <= p.Free {
		return 0
	}
	d := p.Base
	for i := p.Free + 1; i < n && d < p.Max; i++ {
		d *= 2
	}
	return min(d, p.Max)
}

// LoginSubject is one thing failed log-ins are counted against: Scope is
// "email" or "address".
type LoginSubject struct {
	Scope   string
	Subject string
	Policy  LoginPolicy
}

// BeginLogin is called before a log-in's password is checked. When any
// subject is locked out it counts nothing and returns locked, the latest
// end of those lockouts. Otherwise it counts the attempt as a failure
// against every subject up front (the row locks serialise concurrent
// attempts, so a burst of parallel guesses cannot all slip past the
// limit) and returns charged, the lockout that failure set (zero when
// none): LoginSucceeded takes the charge back.
func (s *Store) BeginLogin(ctx context.Context, subjects []LoginSubject, now time.Time) (locked, charged time.Time, err error) {
	err = s.tx(ctx, func(tx pgx.Tx) error {
		counts := make([]int, len(subjects))
		for i, sub := range subjects {
			var last time.Time
			var until *time.Time
			err := tx.QueryRow(ctx, `INSERT INTO login_failures AS f (scope, subject, failures, last_failure)
				VALUES ($1, $2, 0, $3)
				ON CONFLICT (scope, subject) DO UPDATE SET failures = f.failures
				RETURNING failures, last_failure, locked_until`, sub.Scope, sub.Subject, now).Scan(&counts[i], &last, &until)
			if err != nil {
				return fmt.Errorf("check log-in lockout: %w", err)
			}
			if until != nil && until.After(now) && until.After(locked) {
				locked = *until
			}
			if last.Before(now.Add(-sub.Policy.Window)) {
				counts[i] = 0
			}
		}
		if !locked.IsZero() {
			return nil
		}
		for i, sub := range subjects {
			n := counts[i] + 1
			var until *time.Time
			if d := sub.Policy.lockout(n); d > 0 {
				t := now.Add(d)
				until = &t
				if t.After(charged) {
					charged = t
				}
			}
			if _, err := tx.Exec(ctx, `UPDATE login_failures SET failures = $3, last_failure = $4, locked_until = $5
				WHERE scope = $1 AND subject = $2`, sub.Scope, sub.Subject, n, now, until); err != nil {
				return fmt.Errorf("count log-in attempt: %w", err)
			}
		}
		return nil
	})
	return locked, charged, err
}

// LoginSucceeded takes back the charge of BeginLogin: the e-mail's
// failures are forgotten, the client address's count goes down by one
// (and its lockout goes when that leaves it within its free failures).
// Forgiving the address entirely would let a guesser reset it by logging
// in to an account of their own between guesses.
func (s *Store) LoginSucceeded(ctx context.Context, email, address LoginSubject) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM login_failures WHERE scope = $1 AND subject = $2`, email.Scope, email.Subject); err != nil {
			return fmt.Errorf("reset failed log-ins: %w", err)
		}
		if _, err := tx.Exec(ctx, `UPDATE login_failures SET failures = greatest(failures - 1, 0),
				locked_until = CASE WHEN failures - 1 <= $3 THEN NULL ELSE locked_until END
			WHERE scope = $1 AND subject = $2`, address.Scope, address.Subject, address.Policy.Free); err != nil {
			return fmt.Errorf("reset failed log-ins: %w", err)
		}
		return nil
	})
}
