package store

import (
	"context"
	"sync"
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
	email := LoginSubject{Scope: "email", Subject: "a@example.com", Policy: p}
	addr := LoginSubject{Scope: "address", Subject: "192.0.2.1", Policy: p}
	subs := []LoginSubject{email, addr}
	begin := func(at time.Time, subs ...LoginSubject) (locked, charged time.Time) {
		t.Helper()
		l, c, err := s.BeginLogin(ctx, subs, at)
		if err != nil {
			t.Fatal(err)
		}
		return l, c
	}
	for i := 0; i < p.Free; i++ {
		if l, c := begin(t0, subs...); !l.IsZero() || !c.IsZero() {
			t.Fatalf("free attempt %d: locked %v charged %v", i, l, c)
		}
	}
	if l, c := begin(t0, subs...); !l.IsZero() || !c.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("third attempt: locked %v charged %v", l, c)
	}
	// Locked: refused, and not counted.
	if l, _ := begin(t0.Add(5*time.Second), subs...); !l.Equal(t0.Add(10 * time.Second)) {
		t.Fatalf("locked until %v", l)
	}
	// At the deadline the next attempt goes through and doubles the lockout.
	if l, c := begin(t0.Add(10*time.Second), subs...); !l.IsZero() || !c.Equal(t0.Add(30*time.Second)) {
		t.Fatalf("fourth attempt: locked %v charged %v", l, c)
	}
	// A success forgives the e-mail, and the address by one attempt only.
	if err := s.LoginSucceeded(ctx, email, addr); err != nil {
		t.Fatal(err)
	}
	if l, _ := begin(t0.Add(11*time.Second), email); !l.IsZero() {
		t.Fatalf("forgiven e-mail locked until %v", l)
	}
	if l, _ := begin(t0.Add(11*time.Second), addr); l.IsZero() {
		t.Fatal("the address was forgiven entirely")
	}
	// After a quiet window the count starts afresh.
	later := t0.Add(2 * time.Hour)
	if l, c := begin(later, subs...); !l.IsZero() || !c.IsZero() {
		t.Fatalf("after the window: locked %v charged %v", l, c)
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

// TestLoginBurst: parallel guesses cannot all slip past the limit.
func TestLoginBurst(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	now := time.Now()
	p := LoginPolicy{Free: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
	subs := []LoginSubject{{Scope: "email", Subject: "b@example.com", Policy: p}}
	const n = 20
	passed := make(chan bool, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			locked, _, err := s.BeginLogin(ctx, subs, now)
			if err != nil {
				t.Error(err)
			}
			passed <- err == nil && locked.IsZero()
		}()
	}
	wg.Wait()
	close(passed)
	got := 0
	for ok := range passed {
		if ok {
			got++
		}
	}
	// The free attempts, and the one whose failure sets the lockout.
	if got != p.Free+1 {
		t.Fatalf("%d of %d parallel attempts got through, want %d", got, n, p.Free+1)
	}
}
