-- The agent that made a subscription (NULL: an operator's), so agents list
-- and manage only their own.
ALTER TABLE rm_webhooks ADD COLUMN owner_agent_id TEXT;
