-- A lease on every running purge: what is needed to run it again (JSON api::Replay, its items in
-- full), by when its fan-out will have ended (ms), and who may complete it (the original run, or
-- the cron run that took it over once the lease ran out). Completion clears all three, for its
-- owner only. `recovered`: the entry was completed by such a takeover.
ALTER TABLE purges ADD COLUMN replay TEXT;
ALTER TABLE purges ADD COLUMN lease_until INTEGER;
ALTER TABLE purges ADD COLUMN lease_owner TEXT;
ALTER TABLE purges ADD COLUMN recovered INTEGER NOT NULL DEFAULT 0;
CREATE INDEX purges_lease ON purges(lease_until) WHERE lease_until IS NOT NULL;
