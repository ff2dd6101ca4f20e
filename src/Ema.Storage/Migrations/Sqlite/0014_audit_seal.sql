-- Sealed audit blocks: an HMAC-SHA256 per block over its sequence range and last hash, under a key kept outside the
-- database (audit-seal.key in the data folder, encrypted by its Data Protection key ring): rewriting the chain — editing
-- a record and re-hashing everything after it — then needs that key too, and nothing in the database can remove it.
ALTER TABLE audit_blocks ADD COLUMN seal BLOB;

-- A lost-device reset ends a user's sessions inside the audit's group-commit batch: found by user, not by a scan.
CREATE INDEX ix_sessions_user ON sessions (user_id);
