#!/usr/bin/env bash
# bench/proxy.sh: the Keyfleet proxy's overhead. redis-benchmark GET and SET
# (50 clients, pipeline 1 and 16) against one backend three ways, in one run:
#
#   direct     straight to the backend
#   proxy      through cmd/proxy (one-shard database, routes from a file)
#   twemproxy  through Debian's nutcracker in front of the same backend
#
# The backend is a real redis-server (BACKEND=redis, the default) or the
# Keyfleet node built from this tree (BACKEND=node). Targets alternate
# within each round and the order rotates every round, so drift in the
# shared machine's load hits all three alike; the table shows the mean
# ops/s of the rounds and the ratios proxy/direct and proxy/twemproxy.
#
# Environment knobs:
#   ROUNDS=3  N_P1=200000  N_P16=1000000  CLIENTS=50  KEYSPACE=100000
#   BACKEND=redis|node  POOL=2 (proxy connections per shard)  OUT=<dir>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
BACKEND=${BACKEND:-redis}
POOL=${POOL:-2}
TESTS="set get"

for tool in redis-server redis-benchmark redis-cli nutcracker go; do
  command -v "$tool" >/dev/null || { echo "bench/proxy: $tool is not installed (apt-get install redis-server redis-tools nutcracker)" >&2; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/keyfleet-proxybench.XXXXXX")
OUT=$(mkdir -p "${OUT:-$WORK}" && cd "${OUT:-$WORK}" && pwd)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do
    [ -n "$p" ] && kill "$p" 2>/dev/null && wait "$p" 2>/dev/null || true
  done
  rm -rf "$WORK/bin" "$WORK/backend-data"
  [ "$OUT" = "$WORK" ] || rmdir "$WORK" 2>/dev/null || true
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_ping() { # port [auth args...]
  local port=$1; shift
  for _ in $(seq 1 100); do
    if [ "$(timeout 2 redis-cli -p "$port" "$@" --no-auth-warning PING 2>/dev/null)" = PONG ]; then return 0; fi
    sleep 0.1
  done
  echo "bench/proxy: nothing answers on port $port" >&2
  return 1
}

mkdir -p "$WORK/bin" "$WORK/backend-data"
echo "== building cmd/proxy${BACKEND/redis/}"
(cd "$ROOT" && go build -o "$WORK/bin/proxy" ./cmd/proxy)
[ "$BACKEND" = node ] && (cd "$ROOT" && go build -o "$WORK/bin/node" ./cmd/node)

BPORT=$(free_port)
case "$BACKEND" in
  redis) redis-server --port "$BPORT" --bind 127.0.0.1 --save '' --appendonly no \
           --dir "$WORK/backend-data" --loglevel warning >"$OUT/backend.log" 2>&1 & ;;
  node)  "$WORK/bin/node" --port "$BPORT" --bind 127.0.0.1 --save '' --appendonly no \
           --dir "$WORK/backend-data" >"$OUT/backend.log" 2>&1 & ;;
  *) echo "bench/proxy: BACKEND is redis or node" >&2; exit 1 ;;
esac
PIDS+=($!)
wait_ping "$BPORT"

# The proxy: one database, one shard, all slots, routes from a file.
PPORT=$(free_port)
DIGEST=$(printf '%s' bench | sha256sum | cut -d' ' -f1)
cat >"$WORK/routes.json" <<EOF
{"version": 1, "databases": [{"id": "bench", "password_digest": "$DIGEST", "status": "active",
  "limits": {}, "shards": [{"shard_id": "bench-0", "slots": [{"start": 0, "end": 16383}],
  "primary": "127.0.0.1:$BPORT", "epoch": 1, "password": ""}]}]}
EOF
"$WORK/bin/proxy" --listen "127.0.0.1:$PPORT" --routes-file "$WORK/routes.json" \
  --pool-size "$POOL" --id bench >"$OUT/proxy.log" 2>&1 &
PIDS+=($!)
wait_ping "$PPORT" --user bench --pass bench

# twemproxy in front of the same backend.
TPORT=$(free_port)
cat >"$WORK/nutcracker.yml" <<EOF
bench:
  listen: 127.0.0.1:$TPORT
  hash: fnv1a_64
  distribution: ketama
  redis: true
  auto_eject_hosts: false
  servers:
   - 127.0.0.1:$BPORT:1
EOF
nutcracker -c "$WORK/nutcracker.yml" -o "$OUT/nutcracker.log" -s "$(free_port)" &
PIDS+=($!)
wait_ping "$TPORT"

declare -A PORT=([direct]=$BPORT [proxy]=$PPORT [twemproxy]=$TPORT)
declare -A AUTH=([direct]="" [proxy]="--user bench -a bench" [twemproxy]="")
TARGETS=(direct proxy twemproxy)

# run target test pipeline round -> ops/s (or n/a)
run_one() {
  local target=$1 test=$2 pipe=$3 round=$4 n=$N_P1
  [ "$pipe" -gt 1 ] && n=$N_P16
  local csv="$OUT/$target-$test-P$pipe-r$round.csv"
  # shellcheck disable=SC2086
  if timeout 300 redis-benchmark -p "${PORT[$target]}" ${AUTH[$target]} -c "$CLIENTS" -n "$n" \
      -r "$KEYSPACE" -P "$pipe" -t "$test" --csv >"$csv" 2>"$csv.err"; then
    awk -F'","' 'NR==2 {gsub(/"/,"",$2); print $2}' "$csv"
  else
    echo n/a
  fi
}

declare -A SUM CNT
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order every round.
  shift_by=$(( (round - 1) % 3 ))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  for pipe in 1 16; do
    for test in $TESTS; do
      for target in "${order[@]}"; do
        ops=$(run_one "$target" "$test" "$pipe" "$round")
        echo "round $round  P$pipe  $test  $target: $ops ops/s"
        if [ "$ops" != n/a ]; then
          k="$target,$test,$pipe"
          SUM[$k]=$(awk -v a="${SUM[$k]:-0}" -v b="$ops" 'BEGIN{print a+b}')
          CNT[$k]=$(( ${CNT[$k]:-0} + 1 ))
        fi
      done
    done
  done
done

mean() { local k=$1; [ -n "${CNT[$k]:-}" ] && awk -v s="${SUM[$k]}" -v c="${CNT[$k]}" 'BEGIN{printf "%.0f", s/c}' || echo n/a; }
ratio() { [ "$1" = n/a ] || [ "$2" = n/a ] && echo n/a || awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }

echo
echo "backend: $BACKEND  rounds: $ROUNDS  clients: $CLIENTS  proxy pool: $POOL  (mean ops/s)"
echo
echo "| test | pipeline | direct | proxy | twemproxy | proxy/direct | proxy/twemproxy |"
echo "|------|---------:|-------:|------:|----------:|-------------:|----------------:|"
for pipe in 1 16; do
  for test in $TESTS; do
    d=$(mean "direct,$test,$pipe"); p=$(mean "proxy,$test,$pipe"); t=$(mean "twemproxy,$test,$pipe")
    printf '| %s | %s | %s | %s | %s | %s | %s |\n' "${test^^}" "$pipe" "$d" "$p" "$t" "$(ratio "$p" "$d")" "$(ratio "$p" "$t")"
  done
done
echo
echo "raw results: $OUT"
