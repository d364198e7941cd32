-- Sessions are bound to what they were signed in with: a personal token (token_id, checked to
-- be unrevoked at every request) or a bootstrap token (token_hash, its SHA-256, checked to be
-- in API_TOKENS still). Sessions from before this migration have neither and no longer work.
ALTER TABLE sessions ADD COLUMN token_hash TEXT;
-- Admins can remove a person: their row stays for the history, marked, and no credential of
-- theirs works again.
ALTER TABLE people ADD COLUMN removed_at INTEGER;
