#!/usr/bin/env bash
# UmaDB (a Rust event store with its own gRPC server) against agentledger's
# store and its HTTP ingest, in one run on this machine, on loopback.
#
# UmaDB's server (crate `umadb`) is installed, and the client driver in
# bench/umadb built, under bench/.tools: neither is part of the project's
# build. Every store writes to files on the same disk, each append durable.
#
#   bash bench/peers-umadb.sh            # 5 s per row
#   SECONDS_PER_ROW=10 bash bench/peers-umadb.sh
set -euo pipefail

bench=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$bench")
tools="$bench/.tools"
seconds=${SECONDS_PER_ROW:-5}
port=${UMADB_PORT:-50151}

# UmaDB's protocol crate compiles its .proto files with protoc.
if ! command -v protoc >/dev/null; then
    sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get install -y protobuf-compiler || { $sudo apt-get update && $sudo apt-get install -y protobuf-compiler; }
fi
cargo install umadb --version 0.7.8 --locked --root "$tools"
cargo build --release --manifest-path "$bench/umadb/Cargo.toml" --target-dir "$tools/target"
cargo build --release --manifest-path "$root/Cargo.toml" -p agentledger
agentledger="$root/target/release/agentledger"

mkdir -p "$root/target"
work=$(mktemp -d -p "$root/target" peers-umadb.XXXXXX)
server=""
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

"$tools/bin/umadb" --listen "127.0.0.1:$port" --db-path "$work/uma.db" >"$work/umadb.log" 2>&1 &
server=$!
for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
    sleep 0.1
done

echo "## UmaDB $("$tools/bin/umadb" --version | awk '{print $2}'), gRPC on loopback, $seconds s per row"
"$tools/target/release/agentledger-bench-umadb" "http://127.0.0.1:$port" "$seconds"
kill "$server"; wait "$server" 2>/dev/null || true; server=""

echo
echo "## agentledger's store, SQLite, group commit on, $seconds s per row"
"$agentledger" bench store --database-url "sqlite://$work/store.db" --seconds "$seconds"

echo
echo "## agentledger's HTTP ingest, SQLite, single events"
"$agentledger" bench ingest --database-url "sqlite://$work/ingest.db" \
    --ceiling-database-url "sqlite://$work/ceiling.db" \
    --connections 1,16,64 --seconds "$seconds" --lag-seconds 0
