-- Each tenant's dashboard model as of its every 500th dashboard event: a
-- past dashboard loads the latest one at or before its moment and replays
-- only the events after it. `state` is JSON: the rows a
-- dashboard read from that moment on can still need (see
-- projections/src/dashboard_snapshots.rs).
CREATE TABLE rm_dashboard_snapshots (
    tenant_id TEXT   NOT NULL,
    position  BIGINT NOT NULL,
    state     TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, position)
);

-- A tenant's dashboard events so far.
CREATE TABLE rm_dashboard_counts (
    tenant_id TEXT   PRIMARY KEY,
    events    BIGINT NOT NULL
);
