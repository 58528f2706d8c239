-- The latest progress a lifecycle command's agent reported, shown in the
-- command history; NULL before the first report and for other commands. No
-- event stored before this version is a progress report, so the model needs
-- no rebuild.
ALTER TABLE rm_commands ADD COLUMN progress_stage TEXT;
ALTER TABLE rm_commands ADD COLUMN progress_percent BIGINT;
