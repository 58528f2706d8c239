#!/usr/bin/env bash
# The API contract, checked against a running server the way its users meet
# it: the document served at /openapi.json must validate
# (openapi-spec-validator), a Python client generated from it
# (openapi-python-client) must carry an agent's day, webhook deliveries must
# verify with the Standard Webhooks library for Python, and Schemathesis (every
# default check, a bounded number of examples) must find nothing, once with
# the admin key and once with an agent token. Any failure fails the run.
#
# Uses target/debug/agentledger (built by `cargo test`; built here if it is
# missing). The Python tools live in a virtualenv under
# ${AGENTLEDGER_CI_CACHE:-$HOME/.cache/agentledger-ci}, made on first use and
# reused while the pins below stay the same.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

pins=(
  openapi-spec-validator==0.9.0
  openapi-python-client==0.29.1
  schemathesis==4.32.5
  standardwebhooks==1.1.0
)
# Examples per operation and phase: enough to reach every parameter, few
# enough that both runs take a minute or two.
max_examples=${AGENTLEDGER_CONTRACT_EXAMPLES:-20}

started=$SECONDS
work=$(mktemp -d "${TMPDIR:-/tmp}/agentledger-contract.XXXXXX")
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
# Nothing of the run is left in the tree.
export PYTHONDONTWRITEBYTECODE=1

# -- tools -------------------------------------------------------------------
cache=${AGENTLEDGER_CI_CACHE:-$HOME/.cache/agentledger-ci}
venv=$cache/contract-venv
if [ "$(cat "$venv/pins" 2>/dev/null)" != "${pins[*]}" ]; then
  step "installing ${pins[*]}"
  rm -rf "$venv"
  mkdir -p "$cache"
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check "${pins[@]}"
  echo "${pins[*]}" >"$venv/pins"
fi

# -- server ------------------------------------------------------------------
binary=$root/target/debug/agentledger
if [ ! -x "$binary" ]; then
  step "building agentledger"
  cargo build --bin agentledger
fi

step "starting agentledger serve"
# Port 0: the server picks a free loopback port and logs which.
NO_COLOR=1 RUST_LOG=${RUST_LOG:-warn,agentledger::cli=info} \
  "$binary" serve --database-url "sqlite://$work/contract.db" --listen 127.0.0.1:0 --allow-loopback-targets \
  >"$work/server.log" 2>&1 &
server_pid=$!
base=
for _ in $(seq 1 100); do
  base=$(grep -o 'listening on 127\.0\.0\.1:[0-9]*' "$work/server.log" | head -n1 | sed 's/^listening on /http:\/\//' || true)
  [ -n "$base" ] && curl -sf "$base/health" >/dev/null 2>&1 && break
  kill -0 "$server_pid" 2>/dev/null || break
  base=
  sleep 0.1
done
if [ -z "$base" ]; then
  echo "the server did not come up:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
admin_key=$(grep -o 'admin API key: alk_[0-9a-z_]*' "$work/server.log" | head -n1 | sed 's/^admin API key: //')
if [ -z "$admin_key" ]; then
  echo "the server printed no admin key:" >&2
  cat "$work/server.log" >&2
  exit 1
fi
export AGENTLEDGER_ADMIN_KEY=$admin_key
echo "serving at $base"

failed=()
check() {
  local name=$1
  shift
  if "$@"; then
    echo "-- $name: passed"
  else
    echo "-- $name: FAILED" >&2
    failed+=("$name")
  fi
}

# -- the document --------------------------------------------------------------
step "openapi-spec-validator"
curl -sf "$base/openapi.json" -o "$work/openapi.json"
check "openapi-spec-validator" "$venv/bin/openapi-spec-validator" "$work/openapi.json"

# -- a generated client --------------------------------------------------------
step "openapi-python-client, and an agent's day through it"
# No post-generation hooks: formatting the client needs ruff, which nothing
# else here uses.
echo 'post_hooks: []' >"$work/client-config.yml"
generate_and_fly() {
  "$venv/bin/openapi-python-client" generate --path "$work/openapi.json" \
    --output-path "$work/client/agentledger_client" --meta none \
    --config "$work/client-config.yml" --fail-on-warning &&
    PYTHONPATH="$work/client" "$venv/bin/python" "$root/.ci/contract_flow.py" flow "$base"
}
check "generated client" generate_and_fly

# -- webhook signatures -------------------------------------------------------------
step "webhook deliveries verified by the Standard Webhooks library for Python"
check "webhook signatures (standardwebhooks)" "$venv/bin/python" "$root/.ci/webhook_receiver.py" "$base" "$admin_key"

# -- Schemathesis ----------------------------------------------------------------
export SCHEMATHESIS_HOOKS=$root/.ci/schemathesis_hooks.py
fuzz() {
  local as=$1 token=$2
  # From the scratch directory: Schemathesis keeps its example database in
  # the working directory.
  (cd "$work" && "$venv/bin/st" --config-file "$root/.ci/schemathesis.toml" run "$base/openapi.json" \
    --max-examples "$max_examples" \
    --header "Authorization: Bearer $token" \
    --request-timeout 30 \
    --no-color \
    >"$work/schemathesis-$as.log" 2>&1)
  local status=$?
  # The summary always; the failures in full only when there are any.
  if [ "$status" -eq 0 ]; then
    sed -n '/^=* SUMMARY =*$/,$p' "$work/schemathesis-$as.log"
  else
    cat "$work/schemathesis-$as.log"
  fi
  return "$status"
}

step "schemathesis as the admin"
check "schemathesis (admin key)" fuzz admin "$admin_key"

step "schemathesis as an agent"
agent_token() {
  PYTHONPATH="$work/client" "$venv/bin/python" "$root/.ci/contract_flow.py" agent-token "$base" >"$work/agent-token"
}
if check "agent login for schemathesis" agent_token; then
  check "schemathesis (agent token)" fuzz agent "$(cat "$work/agent-token")"
fi

# What the fuzzing wrote must not have stopped a read model (it would serve
# stale data from then on), and a server error the checks did not see (in a
# reactor or a projection, say) still fails the run.
step "after the fuzzing"
check "every read model still applies the log (/ready)" curl -sf "$base/ready" -o /dev/null
if grep -q ' ERROR ' "$work/server.log"; then
  echo "the server logged errors:" >&2
  grep ' ERROR ' "$work/server.log" | head -n 20 >&2
  failed+=("server log")
fi

echo
echo "api contract: $((SECONDS - started)) s"
if [ "${#failed[@]}" -gt 0 ]; then
  echo "failed: ${failed[*]}" >&2
  exit 1
fi
echo "api contract: all checks passed"
