#!/usr/bin/env python3
"""Splits a server's CPU time into the parts of a request, from folded stacks.

    perf record -F 499 -g --call-graph dwarf,16384 -p <serve pid> -- sleep 8
    perf script --no-inline | stackcollapse-perf.pl > ingest.folded
    python3 bench/profiles/budget.py ingest.folded --requests <requests in those 8 s>

perf's cpu-clock samples carry the CPU time each stands for, in
nanoseconds, and stackcollapse-perf.pl sums those: the counts are CPU time.

Each stack is put in the first part below whose marker it holds, so a part
counts what it calls: JSON read inside the token check is the token check's.
The sqlx SQLite worker threads run the statements of every caller of the
models' database (read models, idempotency records, checkpoints); their
stacks do not say whose, so they are a part of their own.
"""

import argparse
import sys

# (part, markers): the first part with a marker anywhere in the stack takes it.
PARTS = [
    ("authentication: token signature", ["TokenIssuer::verify"]),
    ("rate limit", ["Limits::agent_call"]),
    ("authentication: the agent's state", ["caller::<impl agentledger_app::app::App>::agent"]),
    ("authentication: the rest", ["auth::<impl axum_core::extract::FromRequestParts"]),
    ("idempotency", ["agentledger_api::idempotency"]),
    ("append: decide and encode (handler)", ["agentledger_commands::handler"]),
    ("append: group commit (the log's writer)", ["sqlite-log-writ", "run_writer", "sqlite_writer"]),
    # Reads of the log run on blocking threads, whose stacks do not say who
    # asked: for an action, the token check's read of the agent's stream.
    ("log reads (blocking threads)", ["sqlite_reader", "BlockingTask"]),
    ("read models (runner, in the process)", ["engine::runner", "apply_batch"]),
    ("sqlx SQLite workers (read models, idempotency, checkpoints)", ["sqlx-sqlite-wor"]),
    ("in-memory models and reactors", ["follower::follow", "reactors::spawn"]),
    ("the log's tail and subscriptions", ["tail::Tail", "subscription::Subscription"]),
    # After every part above: JSON that a part calls is that part's.
    ("request JSON (body and answer)", ["serde_json", "axum::json", "axum::extract::rejection"]),
    ("HTTP (hyper, axum, the connection)", ["hyper", "axum", "connections::serve", "tower"]),
]
REST = "runtime, kernel and the rest (scheduling, wake-ups, allocator outside the parts)"


def part_of(stack: str) -> str:
    for name, markers in PARTS:
        if any(marker in stack for marker in markers):
            return name
    return REST


def row(name: str, ns: int, total: int, requests: float | None) -> str:
    line = f"| {name} | {ns / 1e9:.2f} s | {100 * ns / total:.1f}% |"
    if requests:
        line += f" {ns / 1e3 / requests:.0f} µs |"
    return line


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folded", help="stackcollapse-perf.pl output")
    parser.add_argument("--requests", type=float, help="requests answered while sampling")
    args = parser.parse_args()

    cpu_ns: dict[str, int] = {}
    total = 0
    with open(args.folded, encoding="utf-8", errors="replace") as folded:
        for line in folded:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not stack or not count.isdigit():
                continue
            n = int(count)
            total += n
            part = part_of(stack)
            cpu_ns[part] = cpu_ns.get(part, 0) + n
    if total == 0:
        print("no samples", file=sys.stderr)
        return 1

    head = "| part | CPU | share |"
    rule = "| --- | ---: | ---: |"
    if args.requests:
        head += " CPU per request |"
        rule += " ---: |"
    print(head)
    print(rule)
    for name in [p for p, _ in PARTS] + [REST]:
        print(row(name, cpu_ns.get(name, 0), total, args.requests))
    print(row("all", total, total, args.requests))
    return 0


if __name__ == "__main__":
    sys.exit(main())
