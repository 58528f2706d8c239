#!/usr/bin/env python3
"""How long a command issued through one server takes to reach an agent
long-polling on another server of the same PostgreSQL log. Starts two
`agentledger serve` processes on one new schema (sharing a JWT secret),
registers an agent through the first and logs it in at the second, then 40
times: the agent waits on the second (`?wait=25`), the command is issued on
the first 0.3 s later, and the time from sending the command to the agent's
answer is taken. Only Python's standard library.

    python3 bench/cluster-wakeup.py target/release/agentledger [schema]
"""
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request

SERVER = "postgres://postgres@127.0.0.1:5432/test"
ROUNDS = 40


def psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "test", "-qc",
                    f"set client_min_messages=warning; {sql}"], check=True,
                   stdout=subprocess.DEVNULL)


def start(binary, env, port):
    process = subprocess.Popen([binary, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                               stdout=subprocess.PIPE, text=True)
    key = None
    for line in process.stdout:
        if line.startswith("admin API key: "):
            key = line.split(": ", 1)[1].strip()
        if "listening on" in line:
            break
    # Keep reading, so the server never blocks on a full pipe.
    threading.Thread(target=lambda: [None for _ in process.stdout], daemon=True).start()
    return process, key


def call(method, url, token=None, body=None):
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method,
                                     headers={"content-type": "application/json"})
    if token:
        request.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read() or b"null")


def main():
    binary = sys.argv[1]
    schema = sys.argv[2] if len(sys.argv) > 2 else "cluster_wakeup"
    psql(f"drop schema if exists {schema} cascade; create schema {schema}")
    env = dict(os.environ, RUST_LOG="info",
               AGENTLEDGER_DATABASE_URL=f"{SERVER}?options[search_path]={schema}",
               AGENTLEDGER_JWT_SECRET="cluster-wakeup-secret-cluster-wakeup")
    first, key = start(binary, env, 18081)
    second, _ = start(binary, env, 18082)
    a, b = "http://127.0.0.1:18081", "http://127.0.0.1:18082"
    try:
        agent = call("POST", f"{a}/api/v1/agents", key,
                     {"name": "w", "kind": "worker", "permissions": ["commands:poll"],
                      "rate_limit_per_minute": 6000})
        token = call("POST", f"{b}/api/v1/agents/auth", None,
                     {"agent_id": agent["agent_id"], "secret": agent["secret"]})["access_token"]
        took = []
        for _ in range(ROUNDS):
            got = {}

            def wait():
                got["answer"] = call("GET", f"{b}/api/v1/agents/me/commands?wait=25", token)
                got["at"] = time.monotonic()

            waiting = threading.Thread(target=wait)
            waiting.start()
            time.sleep(0.3)
            sent = time.monotonic()
            issued = call("POST", f"{a}/api/v1/agents/{agent['agent_id']}/commands", key,
                          {"command": "ping"})
            waiting.join()
            delivered = [c["command_id"] for c in got["answer"]["commands"]]
            assert delivered == [issued["command_id"]], got
            took.append((got["at"] - sent) * 1000)
        took.sort()
        print(f"issued on one server, delivered on the other, {ROUNDS} commands: "
              f"p50 {took[ROUNDS // 2]:.1f} ms, max {took[-1]:.1f} ms, min {took[0]:.1f} ms")
    finally:
        first.kill()
        second.kill()
        psql(f"drop schema if exists {schema} cascade")


if __name__ == "__main__":
    main()
