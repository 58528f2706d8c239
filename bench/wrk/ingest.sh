#!/usr/bin/env bash
# HTTP ingest measured by an independent load generator (wrk): a server on a
# new SQLite file (or the PostgreSQL schema DATABASE_URL names), 64 agents
# registered and logged in with curl, then wrk posting single actions over
# 64 connections, each request as one of the agents in turn.
#
#   bash bench/wrk/ingest.sh                       # 64 connections, 10 s
#   CONNECTIONS=16 DURATION=20 bash bench/wrk/ingest.sh
#   AGENTLEDGER=/path/to/agentledger bash bench/wrk/ingest.sh
#   RATE=6000 bash bench/wrk/ingest.sh             # paced with wrk2's -R, if wrk is wrk2
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$(dirname "$here")")
agentledger=${AGENTLEDGER:-$root/target/release/agentledger}
connections=${CONNECTIONS:-64}
agents=${AGENTS:-64}
duration=${DURATION:-10}
threads=${THREADS:-2}

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 2; }
[ -x "$agentledger" ] || { echo "no $agentledger: cargo build --release first" >&2; exit 2; }

mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" wrk-ingest.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

url=${DATABASE_URL:-sqlite://$work/ingest.db}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"
RUST_LOG=warn "$agentledger" serve --database-url "$url" --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server=$!
admin=""
for _ in $(seq 300); do
    admin=$(sed -n 's/^admin API key: //p' "$work/server.log" | head -1)
    if [ -n "$admin" ] && curl -sf "$base/health" >/dev/null; then break; fi
    kill -0 "$server" 2>/dev/null || { cat "$work/server.log" >&2; exit 1; }
    sleep 0.1
done
[ -n "$admin" ] || { echo "the server printed no admin key (the database must be new)" >&2; exit 1; }

# Logins are limited per source address: 20 agents share one loopback address.
tokens=()
for i in $(seq 0 $((agents - 1))); do
    registered=$(curl -sf "$base/api/v1/agents" -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
        -d "{\"name\":\"wrk-$i\",\"kind\":\"load\",\"permissions\":[\"actions:write\"],\"rate_limit_per_minute\":100000}")
    address="127.0.0.$((2 + i / 20))"
    token=$(curl -sf --interface "$address" "$base/api/v1/agents/auth" -H 'Content-Type: application/json' \
        -d "$(jq -c '{agent_id, secret}' <<<"$registered")" | jq -r .access_token)
    tokens+=("$token")
done

{
    printf 'tokens = {'
    printf '"%s",' "${tokens[@]}"
    printf '}\n'
    cat "$here/actions.lua"
} >"$work/actions.lua"

echo "wrk: $connections connections, $threads threads, $duration s, $agents agents, single actions, $url"
rate=()
[ -n "${RATE:-}" ] && rate=(-R "$RATE")
wrk -t "$threads" -c "$connections" -d "${duration}s" --latency "${rate[@]}" -s "$work/actions.lua" "$base/api/v1/agents/me/actions"
