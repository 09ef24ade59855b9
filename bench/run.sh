#!/usr/bin/env bash
# bench/run.sh: a Keyfleet node against a real redis-server, side by side.
#
#  1. Throughput and latency: redis-benchmark (SET, GET, INCR, MSET; 50
#     clients; pipeline 1 and 16), alternating targets round by round.
#  2. Memory: 1M keys with 10-byte values loaded into a fresh instance of
#     each (bench/loadkeys): bytes per key by RSS and by INFO used_memory,
#     and the longest PING round trip a concurrent client saw.
#
# Everything runs on loopback and stops by itself. Environment knobs:
#   ROUNDS=2  N_P1=200000  N_P16=500000  CLIENTS=50  KEYSPACE=100000
#   MEM_KEYS=1000000  SKIP_THROUGHPUT=1  SKIP_MEMORY=1  OUT=<dir for raw results>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-2}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-500000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
MEM_KEYS=${MEM_KEYS:-1000000}
TESTS=set,get,incr,mset

for tool in redis-server redis-benchmark redis-cli go; do
  command -v "$tool" >/dev/null || { echo "bench: $tool is not installed (apt-get install redis-server redis-tools)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyfleet-bench.XXXXXX")
OUT=$(mkdir -p "${OUT:-$WORK}" && cd "${OUT:-$WORK}" && pwd)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  # Keep the results and logs, not the binaries and data directories.
  rm -rf "$WORK/node" "$WORK/loadkeys" "$WORK/node-data" "$WORK/redis-data"
  [ "$OUT" = "$WORK" ] || rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

echo "== building the node and the loader"
(cd "$ROOT" && go build -o "$WORK/node" ./cmd/node && go build -o "$WORK/loadkeys" ./bench/loadkeys)

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 20000))
    if ! ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
      echo "$p"
      return
    fi
  done
  echo "bench: no free port" >&2
  exit 1
}

wait_ready() { # port pid
  for _ in $(seq 1 200); do
    if redis-cli -p "$1" ping 2>/dev/null | grep -q PONG; then return 0; fi
    kill -0 "$2" 2>/dev/null || { echo "bench: server on port $1 exited" >&2; return 1; }
    sleep 0.05
  done
  echo "bench: server on port $1 did not answer PING" >&2
  return 1
}

# The node gets redis-server's flags (loopback only, persistence off); the
# engine skeleton knew only --port (and had no persistence), so a node that
# refuses them is started again with --port alone.
NODE_FLAGS=(--bind 127.0.0.1 --save '' --appendonly no)

# start_server redis|node -> sets SERVER_PORT and SERVER_PID
start_server() {
  local kind=$1 port dir
  port=$(free_port)
  dir="$WORK/$kind-data"
  rm -rf "$dir" && mkdir -p "$dir"
  if [ "$kind" = redis ]; then
    (cd "$dir" && exec redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --daemonize no --logfile "$OUT/redis.log") &
  else
    (cd "$dir" && exec "$WORK/node" --port "$port" "${NODE_FLAGS[@]}" >>"$OUT/node.log" 2>&1) &
  fi
  SERVER_PID=$!
  SERVER_PORT=$port
  PIDS+=("$SERVER_PID")
  if ! wait_ready "$port" "$SERVER_PID" 2>/dev/null; then
    if [ "$kind" = node ] && [ ${#NODE_FLAGS[@]} -gt 0 ]; then
      echo "   (the node refused ${NODE_FLAGS[*]}; starting it with --port only)"
      stop_server "$SERVER_PID"
      NODE_FLAGS=()
      start_server node
      return
    fi
    wait_ready "$port" "$SERVER_PID"
  fi
}

stop_server() { # pid
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

RESULTS="$OUT/throughput.csv"
echo "target,pipeline,round,test,rps,p50_ms,p99_ms,cpu_us" >"$RESULTS"
# CPU time (user+system) of a process, in clock ticks: the server's CPU per
# request is steadier than its throughput on a machine shared with other
# work, where redis-server's single thread and the node's goroutines get
# different shares of the cores.
HZ=$(getconf CLK_TCK)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

if [ "${SKIP_THROUGHPUT:-}" != 1 ]; then
  start_server redis; REDIS_PORT=$SERVER_PORT; REDIS_PID=$SERVER_PID
  start_server node; NODE_PORT=$SERVER_PORT; NODE_PID=$SERVER_PID
  echo "== throughput: redis-server on :$REDIS_PORT, node on :$NODE_PORT; $ROUNDS rounds, $CLIENTS clients, keyspace $KEYSPACE"
  for round in $(seq 1 "$ROUNDS"); do
    order="redis node"
    [ $((round % 2)) -eq 0 ] && order="node redis"
    for pipe in 1 16; do
      n=$N_P1; [ "$pipe" = 16 ] && n=$N_P16
      for target in $order; do
        port=$REDIS_PORT; pid=$REDIS_PID
        [ "$target" = node ] && port=$NODE_PORT && pid=$NODE_PID
        echo "   round $round, pipeline $pipe, $target ($n requests per test)"
        # One redis-benchmark per test: a command the node lacks fails its
        # own row (n/a), not the whole run.
        for t in ${TESTS//,/ }; do
          raw="$OUT/raw-$target-P$pipe-r$round-$t.csv"
          c0=$(cpu_ticks "$pid")
          if ! timeout 300 redis-benchmark -p "$port" -c "$CLIENTS" -n "$n" -P "$pipe" -r "$KEYSPACE" -t "$t" --csv -q >"$raw" 2>"$raw.err"; then
            echo "   $t against $target failed: $(grep -v '^WARNING' "$raw.err" | tail -n 1)"
            echo "$target,$pipe,$round,${t^^},NA,NA,NA,NA" >>"$RESULTS"
            continue
          fi
          cpu=$(awk -v a="$c0" -v b="$(cpu_ticks "$pid")" -v hz="$HZ" -v n="$n" 'BEGIN { printf "%.3f", (b - a) / hz * 1e6 / n }')
          # "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
          tr -d '"' <"$raw" | awk -F, -v t="$target" -v p="$pipe" -v r="$round" -v cpu="$cpu" \
            'NR > 1 && NF >= 7 { split($1, name, " "); print t "," p "," r "," name[1] "," $2 "," $5 "," $7 "," cpu }' >>"$RESULTS"
        done
      done
    done
  done
  stop_server "$NODE_PID"; stop_server "$REDIS_PID"

  echo
  echo "Throughput and latency ($ROUNDS rounds; $CLIENTS clients). ratio: node/redis ops/s, the median of the"
  echo "rounds' ratios, and their lowest and highest (the machine's noise); ops/s and latencies are means;"
  echo "cpu: each server's CPU time per request in us (steadier than ops/s on a shared machine)"
  awk -F, 'NR > 1 {
      k = $4 "," $2
      if (!(k in seen)) { seen[k] = 1; keys[++nk] = k }
      if ($5 == "NA") { failed[k "," $1] = 1; next }
      rps[k "," $1] += $5; p50[k "," $1] += $6; p99[k "," $1] += $7; cpu[k "," $1] += $8; cnt[k "," $1]++
      round[k "," $3 "," $1] = $5
    }
    END {
      printf "%-6s %4s %11s %11s %7s %11s %17s %17s %13s\n", "test", "pipe", "redis ops/s", "node ops/s", "ratio", "round range", "redis p50/p99 ms", "node p50/p99 ms", "cpu us r/n"
      for (i = 1; i <= nk; i++) {
        k = keys[i]; split(k, kk, ",")
        r = k ",redis"; n = k ",node"
        if (failed[r] || failed[n] || !cnt[r] || !cnt[n]) {
          printf "%-6s %4s %11s %11s %7s   (%s failed: see the raw results)\n", kk[1], kk[2], "n/a", "n/a", "n/a", failed[r] ? "redis" : "node"
          continue
        }
        m = 0; delete xs
        for (j = 1; j <= '"$ROUNDS"'; j++) {
          if (!((k "," j ",redis") in round) || !((k "," j ",node") in round)) continue
          xs[++m] = round[k "," j ",node"] / round[k "," j ",redis"]
        }
        for (a = 2; a <= m; a++) for (b = a; b > 1 && xs[b - 1] > xs[b]; b--) { t = xs[b]; xs[b] = xs[b - 1]; xs[b - 1] = t }
        med = m % 2 ? xs[(m + 1) / 2] : (xs[m / 2] + xs[m / 2 + 1]) / 2
        rr = rps[r] / cnt[r]; nr = rps[n] / cnt[n]
        printf "%-6s %4s %11.0f %11.0f %6.2fx %5.2f-%-5.2f %8.3f/%-8.3f %8.3f/%-8.3f %6.2f/%-6.2f\n", kk[1], kk[2], rr, nr, med, xs[1], xs[m],
          p50[r] / cnt[r], p99[r] / cnt[r], p50[n] / cnt[n], p99[n] / cnt[n], cpu[r] / cnt[r], cpu[n] / cnt[n]
      }
    }' "$RESULTS" | tee "$OUT/throughput.txt"
fi

if [ "${SKIP_MEMORY:-}" != 1 ]; then
  echo
  echo "== memory: $MEM_KEYS keys (key:N -> 10-byte value) into a fresh instance of each, one at a time"
  for target in redis node; do
    start_server "$target"
    if ! timeout 600 "$WORK/loadkeys" -addr "127.0.0.1:$SERVER_PORT" -pid "$SERVER_PID" -n "$MEM_KEYS" -d 10 >"$OUT/mem-$target.txt" 2>&1; then
      echo "bench: loading keys into $target failed: $(tail -n 3 "$OUT/mem-$target.txt")" >&2
      stop_server "$SERVER_PID"
      exit 1
    fi
    stop_server "$SERVER_PID"
  done
  field() { grep -o "$2=[^ ]*" "$OUT/mem-$1.txt" | head -n 1 | cut -d= -f2; }
  echo
  echo "Memory and pauses while loading $MEM_KEYS keys"
  printf "%-8s %10s %14s %20s %13s %13s\n" target "load s" "RSS B/key" "used_memory B/key" "ping p99 ms" "ping max ms"
  for target in redis node; do
    printf "%-8s %10s %14s %20s %13s %13s\n" "$target" "$(field $target load_s)" "$(field $target rss_per_key)" \
      "$(field $target used_per_key)" "$(field $target ping_p99_ms)" "$(field $target ping_max_ms)"
  done | tee "$OUT/memory.txt"
  r=$(field redis rss_per_key); n=$(field node rss_per_key)
  awk -v r="$r" -v n="$n" 'BEGIN { if (r > 0 && n > 0) printf "RSS bytes per key, node/redis: %.2fx\n", n / r }' | tee -a "$OUT/memory.txt"
fi

echo
echo "raw results: $OUT"
