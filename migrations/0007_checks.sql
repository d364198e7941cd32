-- The history holds instance checks (POST /api/instances/check) beside purges: an entry's kind.
-- Every entry written before this is a purge.
ALTER TABLE purges ADD COLUMN kind TEXT NOT NULL DEFAULT 'purge';
