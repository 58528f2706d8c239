-- LLM usage per tenant, UTC day, agent and model: the counters budget and
-- usage history are summed from, so a query costs days x agents x models.
CREATE TABLE rm_usage (
    tenant_id         TEXT NOT NULL,
    day               TEXT NOT NULL,
    agent_id          TEXT NOT NULL,
    model             TEXT NOT NULL,
    calls             BIGINT NOT NULL,
    prompt_tokens     BIGINT NOT NULL,
    completion_tokens BIGINT NOT NULL,
    cost_micros       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, day, agent_id, model)
);
