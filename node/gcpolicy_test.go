package node

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPolicyPercent(t *testing.T) {
	p := GCPolicy{MinPercent: 25, MaxPercent: 100, Headroom: 16 << 20}
	for _, tc := range []struct {
		live uint64
		want int
	}{
		{0, 100},
		{4 << 20, 100},   // a small heap may double
		{16 << 20, 100},  // the floor is exactly the live heap
		{32 << 20, 50},   // 16 MiB of headroom
		{64 << 20, 25},   // now the fraction rules
		{1 << 30, 25},    // a quarter of a big heap, not 16 MiB
		{640 << 20, 25},  // never below MinPercent
		{20 << 20, 80},   // in between
		{1 << 62, 25},    // no overflow
		{48 << 20, 33},   // rounds down
		{100 << 20, 25},  // the 1M-key benchmark's heap
		{8 << 20, 100},   // capped at MaxPercent
		{16<<20 + 1, 99}, // just over the floor
	} {
		if got := p.percent(tc.live); got != tc.want {
			t.Errorf("percent(%d) = %d, want %d", tc.live, got, tc.want)
		}
	}
}

func TestGCPolicyFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    GCPolicy
		wantErr bool
	}{
		{env: nil, want: DefaultGCPolicy},
		{env: map[string]string{"GOGC": "50"}, want: GCPolicy{}},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "off"}, want: GCPolicy{}},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "0"}, want: GCPolicy{MaxPercent: 100, Headroom: 16 << 20}},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "10"}, want: GCPolicy{MinPercent: 10, MaxPercent: 100, Headroom: 16 << 20}},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "150"}, want: GCPolicy{MinPercent: 150, MaxPercent: 150, Headroom: 16 << 20}},
		{env: map[string]string{"KEYFLEET_GC_HEADROOM_MB": "64"}, want: GCPolicy{MinPercent: 25, MaxPercent: 100, Headroom: 64 << 20}},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "x"}, wantErr: true},
		{env: map[string]string{"KEYFLEET_GC_MIN_PERCENT": "-1"}, wantErr: true},
		{env: map[string]string{"KEYFLEET_GC_HEADROOM_MB": "1e3"}, wantErr: true},
	} {
		got, err := GCPolicyFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("env %v: %+v, %v; want %+v (error %v)", tc.env, got, err, tc.want, tc.wantErr)
		}
	}
}

// TestRunGCPolicy: the policy sets GOGC after a collection, from the live
// heap, and restores the previous GOGC when it stops.
func TestRunGCPolicy(t *testing.T) {
	prev := debug.SetGCPercent(100)
	defer debug.SetGCPercent(prev)
	// A headroom of 1 byte makes any heap "large": GOGC must go to 30.
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { RunGCPolicy(ctx, GCPolicy{MinPercent: 30, MaxPercent: 100, Headroom: 1}); close(done) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		runtime.GC()
		got := currentGOGC()
		if got == 30 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GOGC = %d after collections, want 30", got)
		}
		time.Sleep(gcPolicyTick) // the policy polls; nothing to await
	}
	cancel()
	<-done
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GOGC after the policy stopped = %d, want the 100 it found", got)
	}
}

// currentGOGC reads GOGC without setting it (SetGCPercent would race
// with the policy).
func currentGOGC() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}
