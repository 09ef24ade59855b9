package store

import (
	"context"
	"testing"
	"time"
)

func TestLoginPolicyLockout(t *testing.T) {
	p := LoginPolicy{Free: 3, Base: time.Second, Max: 5 * time.Second, Window: time.Hour}
	for _, tc := range []struct {
		n    int
		want time.Duration
	}{{1, 0}, {3, 0}, {4, time.Second}, {5, 2 * time.Second}, {6, 4 * time.Second}, {7, 5 * time.Second}, {1000, 5 * time.Second}} {
		if got := p.lockout(tc.n); got != tc.want {
			t.Errorf("lockout(%d) = %v, want %v", tc.n, got, tc.want)
		}
	}
}

func TestLoginFailures(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := LoginPolicy{Free: 2, Base: 10 * time.Second, Max: time.Minute, Window: time.Hour}
	subs := []LoginSubject{{Scope: "email", Subject: "a@example.com", Policy: p}, {Scope: "address", Subject: "192.0.2.1", Policy: p}}
	fail := func(at time.Time) time.Time {
		t.Helper()
		u, err := s.RecordLoginFailure(ctx, subs, at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	lockedUntil := func(at time.Time, subs ...LoginSubject) time.Time {
		t.Helper()
		u, err := s.LoginLockedUntil(ctx, subs, at)
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	if !fail(t0).IsZero() || !fail(t0).IsZero() {
		t.Fatal("a free failure locked out")
	}
	if u := fail(t0); !u.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("third failure locks until %v", u)
	}
	if u := lockedUntil(t0.Add(5*time.Second), subs...); !u.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("locked until %v", u)
	}
	if u := lockedUntil(t0.Add(10*time.Second), subs...); !u.IsZero() {
		t.Fatalf("still locked at the deadline: %v", u)
	}
	// The next failure doubles the lockout.
	if u := fail(t0.Add(10 * time.Second)); !u.Equal(t0.Add(30 * time.Second)) {
		t.Fatalf("fourth failure locks until %v", u)
	}
	// Forgiving the e-mail leaves the address locked.
	if err := s.ResetLoginFailures(ctx, "email", "a@example.com"); err != nil {
		t.Fatal(err)
	}
	if u := lockedUntil(t0.Add(11*time.Second), subs[0]); !u.IsZero() {
		t.Fatalf("reset e-mail locked until %v", u)
	}
	if u := lockedUntil(t0.Add(11*time.Second), subs[1]); u.IsZero() {
		t.Fatal("the address was forgiven too")
	}
	// After a quiet window the count starts afresh.
	later := t0.Add(2 * time.Hour)
	if u := fail(later); !u.IsZero() {
		t.Fatalf("a failure after the window locked until %v", u)
	}
	// The reconciler prunes what is old and no longer locking anything.
	if err := s.Reconcile(ctx, later.Add(48*time.Hour), ReconcileOptions{NodeTimeout: time.Hour}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM login_failures`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Fatalf("%d login_failures rows left after pruning", n)
	}
}
