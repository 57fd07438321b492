#!/usr/bin/env bash
# What clustering costs a node (issue 24; a benchmark, not CI), measured side by side in one run on loopback:
#  - idle: CPU and resident memory of a cluster node (serve --cluster, no streams) beside a single node (serve, no
#    streams) over the same window;
#  - the latency a proxied Subscribe adds: one synthetic stream subscribed through its owner and through the other
#    node at once, capture-to-arrival per frame (scripts/cluster_overhead.py);
#  - failover with the shipped detection settings: kill -9 of one node, then detection, re-activation, first frame.
# JSON in artifacts/cluster/overhead.json. About 3 minutes.
#   scripts/cluster-overhead.sh [IDLE_SECONDS] [SUBSCRIBE_SECONDS]     (60, 60)
set -euo pipefail
cd "$(dirname "$0")/.."
idle="${1:-60}"
window="${2:-60}"
scripts/install-deps.sh test >/dev/null
dotnet build src/Server/StreamMtl.Server.csproj -c Release -nologo -clp:ErrorsOnly
out=artifacts/cluster
mkdir -p "$out/generated"
/usr/bin/python3 -m grpc_tools.protoc -Iprotos --python_out="$out/generated" --grpc_python_out="$out/generated" protos/streammtl.proto
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
exe=src/Server/bin/Release/net10.0/linux-x64/streammtl
pids=()
trap 'kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true' EXIT

redis=$(free_port)
redis-server --port "$redis" --bind 127.0.0.1 --save "" --appendonly no > "$out/redis.log" 2>&1 &
pids+=($!)
declare -A grpc metrics pid
start() {  # NAME [serve options...]
  local name=$1; shift
  grpc[$name]=$(free_port); metrics[$name]=$(free_port)
  "$exe" serve --no-camera --address 127.0.0.1 --grpc-port "${grpc[$name]}" --metrics-port "${metrics[$name]}" \
    --Logging:LogLevel:Default=Warning "$@" > "$out/node-$name.log" 2>&1 &
  pid[$name]=$!
  pids+=($!)
}
start single
start A --cluster "redis://127.0.0.1:$redis" --StreamMtl:Cluster:SiloPort="$(free_port)" --StreamMtl:Cluster:NodeName=A
start B --cluster "redis://127.0.0.1:$redis" --StreamMtl:Cluster:SiloPort="$(free_port)" --StreamMtl:Cluster:NodeName=B
for name in single A B; do
  for _ in $(seq 300); do curl -fsS "http://127.0.0.1:${metrics[$name]}/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
  curl -fsS "http://127.0.0.1:${metrics[$name]}/readyz" >/dev/null || { echo "node $name never ready"; tail -20 "$out/node-$name.log"; exit 1; }
done
# Settle (JIT, first reports, membership), then the idle window.
sleep 20
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
rss() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
hz=$(getconf CLK_TCK)
declare -A before
for name in single A B; do before[$name]=$(ticks "${pid[$name]}"); done
sleep "$idle"
idle_json=""
for name in single A B; do
  cpu=$(awk -v a="${before[$name]}" -v b="$(ticks "${pid[$name]}")" -v hz="$hz" -v s="$idle" 'BEGIN {printf "%.2f", 100 * (b - a) / hz / s}')
  mem=$(( $(rss "${pid[$name]}") / 1024 ))
  echo "idle $name: ${cpu}% of one core, RSS ${mem} MiB"
  idle_json+="\"$name\": {\"cpu_percent\": $cpu, \"rss_mib\": $mem}, "
done
subscribe=$(/usr/bin/python3 scripts/cluster_overhead.py "$out/generated" subscribe "127.0.0.1:${grpc[A]}" "127.0.0.1:${grpc[B]}" "$window" A B)
echo "proxied subscribe: $subscribe"
# Failover with the shipped detection settings: kill -9 of B.
failover=$(/usr/bin/python3 scripts/cluster_overhead.py "$out/generated" failover "127.0.0.1:${grpc[A]}" "http://127.0.0.1:${metrics[A]}/metrics" B "${pid[B]}")
echo "failover (kill -9, default detection): $failover"
echo "{\"idle_seconds\": $idle, \"idle\": {${idle_json%, }}, \"subscribe\": $subscribe, \"failover\": $failover}" > "$out/overhead.json"
echo "wrote $out/overhead.json"
