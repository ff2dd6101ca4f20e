-- Sealed audit blocks: an HMAC-SHA256 per block over its sequence range and last hash, under a key kept encrypted at
-- rest (the data folder's Data Protection key ring). Rewriting the chain — editing a record and re-hashing everything
-- after it — then needs that key too. The key's row holds the key and the first record it seals, encrypted together.
ALTER TABLE audit_blocks ADD COLUMN seal BLOB;

CREATE TABLE audit_seal_key (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    protected_key BLOB NOT NULL,
    created_at BIGINT NOT NULL
);

-- A lost-device reset ends a user's sessions inside the audit's group-commit batch: found by user, not by a scan.
CREATE INDEX ix_sessions_user ON sessions (user_id);
