-- Each workflow as it stands: its name, how many versions it has published
-- and whether it is archived; `seq` is the position of its creation, the key
-- its list is paged by. The draft and every version are in its stream.
CREATE TABLE rm_workflows (
    workflow_id     TEXT PRIMARY KEY,
    tenant_id       TEXT NOT NULL,
    name            TEXT NOT NULL,
    steps           BIGINT NOT NULL,
    latest_version  BIGINT NOT NULL,
    archived        BOOLEAN NOT NULL,
    created_us      BIGINT NOT NULL,
    updated_us      BIGINT NOT NULL,
    seq             BIGINT NOT NULL
);
CREATE INDEX rm_workflows_by_tenant ON rm_workflows (tenant_id, seq);
