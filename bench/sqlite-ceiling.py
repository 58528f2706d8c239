#!/usr/bin/env python3
"""What SQLite alone does on this machine with the log's table: no agentledger,
no Rust, Python's own sqlite3 module. Rows shaped like agentledger's events
(the same columns and indexes as migrations/sqlite/0001_events.sql, an action's
payload, ids in time order as UUIDv7s are) are inserted in transactions of
64 and of 4096 rows, with synchronous=FULL (every commit flushed, as the log
is) and OFF (no flush at all), for 5 s each. The rows are built before the
clock starts, so the figure is SQLite's: the most events per second any store
writing this table through SQLite can reach here.

    python3 bench/sqlite-ceiling.py [directory]
"""
import os
import sqlite3
import sys
import tempfile
import time

SCHEMA = """
CREATE TABLE events (
    position INTEGER PRIMARY KEY, event_id BLOB NOT NULL UNIQUE, stream_id TEXT NOT NULL,
    stream_version INTEGER NOT NULL, event_type TEXT NOT NULL, schema_version INTEGER NOT NULL,
    tenant_id BLOB NOT NULL, occurred_at TEXT NOT NULL, recorded_at TEXT NOT NULL,
    actor_kind TEXT NOT NULL, actor_id TEXT NOT NULL, correlation_id BLOB, causation_id BLOB,
    payload TEXT NOT NULL, hash BLOB NOT NULL, UNIQUE (stream_id, stream_version));
CREATE INDEX events_by_tenant ON events (tenant_id, position);
"""
PAYLOAD = (
    '{"agent_id":"01a250a2-e4db-77c0-9913-e09037faaf4e","action":"approve_post",'
    '"resource_type":"post","resource_id":"r-1","status":"success","confidence":0.9,'
    '"execution_time_ms":120,"reasoning":"matched policy rules","request_data":{"batch":1}}'
)
STREAMS = 64


def measure(path, synchronous, group, seconds=5.0):
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute(f"PRAGMA synchronous={synchronous}")
    db.executescript(SCHEMA)
    tenant = os.urandom(16)
    at = "2026-12-07T12:00:00.123456+00:00"
    position, versions = 0, [0] * STREAMS
    groups = []
    while len(groups) * group < 400_000 and len(groups) < 4000:
        rows = []
        for i in range(group):
            position += 1
            stream = position % STREAMS
            rows.append((position, position.to_bytes(16, "big"), f"agent-{stream}", versions[stream],
                         "ActionRecorded", 1, tenant, at, at, "agent", "a", None, None, PAYLOAD,
                         os.urandom(32)))
            versions[stream] += 1
        groups.append(rows)
    started, events, commits = time.monotonic(), 0, 0
    for rows in groups:
        if time.monotonic() - started >= seconds:
            break
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO events VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        db.execute("COMMIT")
        events += len(rows)
        commits += 1
    elapsed = time.monotonic() - started
    db.close()
    return events / elapsed, 1000 * elapsed / commits


def main():
    directory = sys.argv[1] if len(sys.argv) > 1 else tempfile.mkdtemp()
    path = os.path.join(directory, "sqlite-ceiling.db")
    print(f"SQLite {sqlite3.sqlite_version}, {path}")
    print("| synchronous | rows per commit | events/s | ms per commit |")
    print("| --- | ---: | ---: | ---: |")
    for synchronous in ("FULL", "OFF"):
        for group in (64, 4096):
            rate, per_commit = measure(path, synchronous, group)
            print(f"| {synchronous} | {group} | {rate:,.0f} | {per_commit:.2f} |")
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)


if __name__ == "__main__":
    main()
