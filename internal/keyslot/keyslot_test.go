package keyslot

import "testing"

func TestOf(t *testing.T) {
	// Reference values from redis-cli CLUSTER KEYSLOT on Redis 7.0.
	cases := []struct {
		key  string
		slot int
	}{
		{"foo", 12182},
		{"bar", 5061},
		{"{user1000}.following", 3443},
		{"{user1000}.followers", 3443},
		{"foo{}{bar}", 8363},
		{"foo{{bar}}zap", 4015},
		{"foo{bar}{zap}", 5061},
		{"", 0},
		{"123456789", 12739},
	}
	for _, c := range cases {
		if got := Of([]byte(c.key)); got != c.slot {
			t.Errorf("Of(%q) = %d, want %d", c.key, got, c.slot)
		}
	}
}

func FuzzOf(f *testing.F) {
	f.Add([]byte("{a}b"))
	f.Fuzz(func(t *testing.T, key []byte) {
		if s := Of(key); s < 0 || s >= Slots {
			t.Fatalf("slot %d out of range", s)
		}
	})
}
