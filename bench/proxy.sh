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
# shared machine's load hits all three alike; the first table shows the
# median ops/s of the rounds and the ratios proxy/direct and
# proxy/twemproxy. The second shows the CPU time each process spent per
# request (median over the rounds, from /proc/PID/stat): on a shared
# machine it moves much less than throughput, and the proxy's against
# twemproxy's is the overhead each adds.
#
# BASELINE=<proxy binary> adds a fourth target, that binary as a proxy
# (e.g. one built from an older commit), for before/after in one run.
#
# Environment knobs:
#   ROUNDS=3  N_P1=200000  N_P16=1000000  CLIENTS=50  KEYSPACE=100000
#   BACKEND=redis|node  POOL=2 (proxy connections per shard)  OUT=<dir>
#   BASELINE=<proxy binary>
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${ROUNDS:-3}
N_P1=${N_P1:-200000}
N_P16=${N_P16:-1000000}
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-100000}
BACKEND=${BACKEND:-redis}
POOL=${POOL:-2}
BASELINE=${BASELINE:-}
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
PROXY_PID=$!
wait_ping "$PPORT" --user bench --pass bench
if [ -n "$BASELINE" ]; then
  BLPORT=$(free_port)
  "$BASELINE" --listen "127.0.0.1:$BLPORT" --routes-file "$WORK/routes.json" \
    --pool-size "$POOL" --id bench-baseline >"$OUT/baseline.log" 2>&1 &
  PIDS+=($!)
  BASELINE_PID=$!
  wait_ping "$BLPORT" --user bench --pass bench
fi

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
TWEM_PID=$!
wait_ping "$TPORT"
BACKEND_PID=${PIDS[0]}

declare -A PORT=([direct]=$BPORT [proxy]=$PPORT [twemproxy]=$TPORT)
declare -A AUTH=([direct]="" [proxy]="--user bench -a bench" [twemproxy]="")
declare -A MIDPID=([direct]="" [proxy]=$PROXY_PID [twemproxy]=$TWEM_PID)
TARGETS=(direct proxy twemproxy)
if [ -n "$BASELINE" ]; then
  PORT[baseline]=$BLPORT
  AUTH[baseline]="--user bench -a bench"
  MIDPID[baseline]=$BASELINE_PID
  TARGETS+=(baseline)
fi
TICK=$(getconf CLK_TCK)

# cpu_ticks pid -> user+system clock ticks the process has used
cpu_ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }

# run target test pipeline round -> "ops/s backend-us/req middle-us/req"
# (n/a when the run failed; the middle process is the proxy or twemproxy,
# 0 for direct)
run_one() {
  local target=$1 test=$2 pipe=$3 round=$4 n=$N_P1
  [ "$pipe" -gt 1 ] && n=$N_P16
  local csv="$OUT/$target-$test-P$pipe-r$round.csv" mid=${MIDPID[$target]}
  local b0 m0=0 b1 m1=0
  b0=$(cpu_ticks "$BACKEND_PID"); [ -n "$mid" ] && m0=$(cpu_ticks "$mid")
  # shellcheck disable=SC2086
  if timeout 300 redis-benchmark -p "${PORT[$target]}" ${AUTH[$target]} -c "$CLIENTS" -n "$n" \
      -r "$KEYSPACE" -P "$pipe" -t "$test" --csv >"$csv" 2>"$csv.err"; then
    b1=$(cpu_ticks "$BACKEND_PID"); [ -n "$mid" ] && m1=$(cpu_ticks "$mid")
    awk -F'","' -v n="$n" -v tick="$TICK" -v b=$((b1 - b0)) -v m=$((m1 - m0)) \
      'NR==2 {gsub(/"/,"",$2); printf "%s %.2f %.2f\n", $2, b*1e6/tick/n, m*1e6/tick/n}' "$csv"
  else
    echo n/a
  fi
}

declare -A VALS CPUB CPUM
for round in $(seq 1 "$ROUNDS"); do
  # Rotate the order every round.
  shift_by=$(( (round - 1) % ${#TARGETS[@]} ))
  order=("${TARGETS[@]:$shift_by}" "${TARGETS[@]:0:$shift_by}")
  for pipe in 1 16; do
    for test in $TESTS; do
      for target in "${order[@]}"; do
        read -r ops cb cm <<<"$(run_one "$target" "$test" "$pipe" "$round")"
        echo "round $round  P$pipe  $test  $target: $ops ops/s  cpu us/req: backend ${cb:-n/a} middle ${cm:-n/a}"
        if [ "$ops" != n/a ]; then
          k="$target,$test,$pipe"
          VALS[$k]+="$ops "; CPUB[$k]+="$cb "; CPUM[$k]+="$cm "
        fi
      done
    done
  done
done

# median "v1 v2 ..." -> the median (n/a when empty)
median() {
  [ -z "${1// /}" ] && { echo n/a; return; }
  echo "$1" | tr ' ' '\n' | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {m = NR % 2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2; printf "%.6g\n", m}'
}
ratio() { [ "$1" = n/a ] || [ "$2" = n/a ] && echo n/a || awk -v a="$1" -v b="$2" 'BEGIN{printf "%.2fx", a/b}'; }
ops_of() { local m; m=$(median "${VALS[$1]:-}"); [ "$m" = n/a ] && echo n/a || printf '%.0f' "$m"; }

echo
echo "backend: $BACKEND  rounds: $ROUNDS  clients: $CLIENTS  proxy pool: $POOL  (median ops/s)"
echo
hdr="| test | pipeline | direct | proxy | twemproxy |"; sep="|------|---------:|-------:|------:|----------:|"
[ -n "$BASELINE" ] && { hdr+=" baseline |"; sep+="---------:|"; }
hdr+=" proxy/direct | proxy/twemproxy |"; sep+="-------------:|----------------:|"
[ -n "$BASELINE" ] && { hdr+=" proxy/baseline |"; sep+="---------------:|"; }
echo "$hdr"; echo "$sep"
for pipe in 1 16; do
  for test in $TESTS; do
    d=$(ops_of "direct,$test,$pipe"); p=$(ops_of "proxy,$test,$pipe"); t=$(ops_of "twemproxy,$test,$pipe")
    row="| ${test^^} | $pipe | $d | $p | $t |"
    [ -n "$BASELINE" ] && { bl=$(ops_of "baseline,$test,$pipe"); row+=" $bl |"; }
    row+=" $(ratio "$p" "$d") | $(ratio "$p" "$t") |"
    [ -n "$BASELINE" ] && row+=" $(ratio "$p" "$bl") |"
    echo "$row"
  done
done
echo
echo "CPU per request, median us (backend / the proxy or twemproxy in front of it):"
echo
hdr="| test | pipeline | backend direct | backend via proxy | proxy | backend via twemproxy | twemproxy |"
sep="|------|---------:|---------------:|------------------:|------:|----------------------:|----------:|"
[ -n "$BASELINE" ] && { hdr+=" baseline |"; sep+="---------:|"; }
echo "$hdr"; echo "$sep"
for pipe in 1 16; do
  for test in $TESTS; do
    row="| ${test^^} | $pipe | $(median "${CPUB[direct,$test,$pipe]:-}") | $(median "${CPUB[proxy,$test,$pipe]:-}") | $(median "${CPUM[proxy,$test,$pipe]:-}") | $(median "${CPUB[twemproxy,$test,$pipe]:-}") | $(median "${CPUM[twemproxy,$test,$pipe]:-}") |"
    [ -n "$BASELINE" ] && row+=" $(median "${CPUM[baseline,$test,$pipe]:-}") |"
    echo "$row"
  done
done
echo
echo "raw results: $OUT"
