-- Issue [5 of 5]: the audit trail is stored in blocks, one row per group commit, instead of one row per record with
-- secondary indexes. Each block holds its records as lines of canonical JSON (the bytes the chain hash covers, with the
-- hash appended) and a Bloom filter over their lookup keys; searches read the filters and decode matching blocks only.
-- Index maintenance per record was most of the audit's cost in a token exchange (docs/benchmarks.md).
CREATE TABLE audit_blocks (
    first_seq INTEGER PRIMARY KEY,
    last_seq INTEGER NOT NULL,
    record_count INTEGER NOT NULL,
    min_time BIGINT NOT NULL,
    max_time BIGINT NOT NULL,
    last_hash TEXT NULL,
    key_filter BLOB NULL,
    records BLOB NOT NULL
);

-- Existing records move over one per block, with no key filter (such blocks are always decoded). Their lines carry the
-- same values, so their hashes still verify.
INSERT INTO audit_blocks (first_seq, last_seq, record_count, min_time, max_time, last_hash, key_filter, records)
SELECT seq, seq, 1, time, time, hash, NULL,
       json_array(seq, prev_hash, id, time, type, outcome, action, error_id, reason, client_id, subject, resource, audience, scope,
                  token_id, parent_token_id, session_id, remote_address, hash) || char(10)
FROM audit_events ORDER BY seq;

DROP TABLE audit_events;
