-- How long a tenant's LLM runs took, per tenant's day, counted in buckets
-- whose bounds grow by a tenth (bucket b holds latencies above 1.1^(b-1) ms
-- and up to 1.1^b ms; bucket 0 up to 1 ms), so a percentile read from them is
-- at most a tenth above the true one, whatever the spread, in a few hundred
-- rows a day at most.
CREATE TABLE rm_run_latency (
    tenant_id  TEXT NOT NULL,
    day        TEXT NOT NULL,
    bucket     INTEGER NOT NULL,
    runs       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, bucket)
);
