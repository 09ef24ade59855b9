package proxy

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestPubSubAcrossShards: a PUBLISH on any shard reaches every subscriber
// of the database, once.
func TestPubSubAcrossShards(t *testing.T) {
	tp, _ := threeShards(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			sub := tp.client(t, "db3", "pw3", proto)
			pub := tp.client(t, "db3", "pw3", proto)
			ps := sub.Subscribe(ctxb)
			defer ps.Close()
			// Channels whose slots fall on each of the three shards.
			chans := []string{keyOn("ch", 0, 3), keyOn("ch", 1, 3), keyOn("ch", 2, 3)}
			if err := ps.Subscribe(ctxb, chans...); err != nil {
				t.Fatal(err)
			}
			if err := ps.PSubscribe(ctxb, "news.*"); err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"subscribe", "subscribe", "subscribe", "psubscribe"} {
				m, err := ps.ReceiveTimeout(ctxb, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				s, ok := m.(*redis.Subscription)
				if !ok || s.Kind != want {
					t.Fatalf("got %#v, want a %s confirmation", m, want)
				}
			}
			for _, ch := range chans {
				n, err := pub.Publish(ctxb, ch, "hello "+ch).Result()
				if err != nil || n != 1 {
					t.Errorf("PUBLISH %s = %d, %v; want 1 receiver", ch, n, err)
				}
			}
			pub.Publish(ctxb, "news.tech", "pattern")
			var got []string
			for i := 0; i < 4; i++ {
				m, err := ps.ReceiveTimeout(ctxb, 5*time.Second)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				msg, ok := m.(*redis.Message)
				if !ok {
					t.Fatalf("got %#v", m)
				}
				got = append(got, msg.Channel+"="+msg.Payload+"/"+msg.Pattern)
			}
			sort.Strings(got)
			want := []string{}
			for _, ch := range chans {
				want = append(want, ch+"=hello "+ch+"/")
			}
			want = append(want, "news.tech=pattern/news.*")
			sort.Strings(want)
			if strings.Join(got, ",") != strings.Join(want, ",") {
				t.Errorf("messages %v, want %v", got, want)
			}
			// Nothing more (no duplicates from the other shards).
			if m, err := ps.ReceiveTimeout(ctxb, 200*time.Millisecond); err == nil {
				t.Errorf("unexpected %#v", m)
			}
			// PUBSUB sees the subscriptions.
			if n, err := pub.PubSubNumSub(ctxb, chans[1]).Result(); err != nil || n[chans[1]] != 1 {
				t.Errorf("NUMSUB = %v, %v", n, err)
			}
			if n, err := pub.PubSubNumPat(ctxb).Result(); err != nil || n != 1 {
				t.Errorf("NUMPAT = %d, %v", n, err)
			}
		})
	}
}

// TestPubSubRaw checks the exact replies of subscribe mode in RESP2.
func TestPubSubRaw(t *testing.T) {
	tp, _ := threeShards(t)
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r.expect("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:0\r\n", "UNSUBSCRIBE")
	r.send("SUBSCRIBE", "a", "b")
	r.send("PING")
	for _, want := range []string{
		"*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n",
		"*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n",
		"*2\r\n$4\r\npong\r\n$0\r\n\r\n",
	} {
		if got := r.recv(); got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
	r.expect("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n", "GET", "x")
	r.send("UNSUBSCRIBE")
	got := r.recv() + r.recv()
	if !strings.Contains(got, "$1\r\na\r\n") || !strings.Contains(got, "$1\r\nb\r\n") || !strings.HasSuffix(got, ":0\r\n") {
		t.Errorf("UNSUBSCRIBE = %q", got)
	}
	r.expect("$-1\r\n", "GET", "x")

	// CLIENT REPLY OFF silences replies, not pub/sub confirmations.
	r.send("CLIENT", "REPLY", "OFF")
	r.send("SUBSCRIBE", "z")
	if got := r.recv(); got != "*3\r\n$9\r\nsubscribe\r\n$1\r\nz\r\n:1\r\n" {
		t.Errorf("SUBSCRIBE with replies off = %q", got)
	}
	r.send("UNSUBSCRIBE", "z")
	r.send("GET", "x")
	r.send("CLIENT", "REPLY", "ON")
	if got := r.recv() + r.recv(); got != "*3\r\n$11\r\nunsubscribe\r\n$1\r\nz\r\n:0\r\n+OK\r\n" {
		t.Errorf("UNSUBSCRIBE with replies off, then ON = %q", got)
	}

	// RESP3: subscribed clients may run any command; confirmations are
	// pushes.
	r3 := tp.raw(t)
	r3.expectPrefix("%7", "HELLO", "3", "AUTH", "db3", "pw3")
	r3.expect(">3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:1\r\n", "SUBSCRIBE", "c")
	r3.expect("_\r\n", "GET", "x")
	pub := tp.raw(t)
	pub.expect("+OK\r\n", "AUTH", "db3", "pw3")
	pub.expect(":1\r\n", "PUBLISH", "c", "m")
	if got := r3.recv(); got != ">3\r\n$7\r\nmessage\r\n$1\r\nc\r\n$1\r\nm\r\n" {
		t.Errorf("push = %q", got)
	}
}

func TestShardedPubSub(t *testing.T) {
	tp, srvs := threeShards(t)
	sub := tp.client(t, "db3", "pw3", 3)
	pub := tp.client(t, "db3", "pw3", 2)
	ch := keyOn("sch", 2, 3)
	ps := sub.SSubscribe(ctxb, ch)
	defer ps.Close()
	if _, err := ps.ReceiveTimeout(ctxb, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if v := srvs[2].do(t, "PUBSUB", "SHARDNUMSUB", ch); len(v.Elems) != 2 || v.Elems[1].Int != 1 {
		t.Errorf("owning shard SHARDNUMSUB = %s", v.String())
	}
	if v := srvs[0].do(t, "PUBSUB", "SHARDNUMSUB", ch); v.Elems[1].Int != 0 {
		t.Errorf("other shard SHARDNUMSUB = %s", v.String())
	}
	if n, err := pub.SPublish(ctxb, ch, "hi").Result(); err != nil || n != 1 {
		t.Errorf("SPUBLISH = %d, %v", n, err)
	}
	m, err := ps.ReceiveTimeout(ctxb, 5*time.Second)
	if msg, ok := m.(*redis.Message); err != nil || !ok || msg.Payload != "hi" {
		t.Errorf("got %#v, %v", m, err)
	}
	chs, err := pub.PubSubShardChannels(ctxb, "*").Result()
	if err != nil || len(chs) != 1 || chs[0] != ch {
		t.Errorf("SHARDCHANNELS = %v, %v", chs, err)
	}
	r := tp.raw(t)
	r.expect("+OK\r\n", "AUTH", "db3", "pw3")
	r.expect("-CROSSSLOT Keys in request don't hash to the same slot\r\n", "SSUBSCRIBE", keyOn("s", 0, 3), keyOn("s", 1, 3))
}

// TestKeyspaceNotifications: events happen on the shard holding the key;
// a subscriber hears them whichever shard it is.
func TestKeyspaceNotifications(t *testing.T) {
	tp, _ := threeShards(t)
	rc := tp.client(t, "db3", "pw3", 2)
	if err := rc.ConfigSet(ctxb, "notify-keyspace-events", "KA").Err(); err != nil {
		t.Fatal(err)
	}
	ps := rc.PSubscribe(ctxb, "__keyspace@0__:*")
	defer ps.Close()
	if _, err := ps.ReceiveTimeout(ctxb, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	keys := []string{keyOn("n", 0, 3), keyOn("n", 1, 3), keyOn("n", 2, 3)}
	for _, k := range keys {
		rc.Set(ctxb, k, 1, 0)
	}
	seen := map[string]bool{}
	for range keys {
		m, err := ps.ReceiveTimeout(ctxb, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		seen[strings.TrimPrefix(m.(*redis.Message).Channel, "__keyspace@0__:")] = true
	}
	for _, k := range keys {
		if !seen[k] {
			t.Errorf("no event for %s", k)
		}
	}
}
