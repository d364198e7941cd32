-- Idempotency-Key on POST /api/purge: per person, the key, the fingerprint of the request it came
-- with and the history entry of its purge, written in the batch that writes that entry (a
-- second purge under a live key fails that batch, so it writes and sends nothing).
CREATE TABLE idempotency (
    person_id   INTEGER NOT NULL,
    key         TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    purge_id    INTEGER NOT NULL REFERENCES purges(id),
    at          INTEGER NOT NULL,
    PRIMARY KEY (person_id, key)
);
CREATE INDEX idempotency_at ON idempotency(at);
