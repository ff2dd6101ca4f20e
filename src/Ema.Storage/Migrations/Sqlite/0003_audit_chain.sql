-- Issue [5 of 5]: the audit trail is hash-chained. Each record holds the hash of the one before it and its own hash
-- over its sequence number, its fields and that previous hash (Ema.Server.Audit.AuditChain), so an edited, deleted,
-- inserted or reordered record breaks the chain at that point. Records written before this migration have no hash.
ALTER TABLE audit_events ADD COLUMN prev_hash TEXT NULL;
ALTER TABLE audit_events ADD COLUMN hash TEXT NULL;
