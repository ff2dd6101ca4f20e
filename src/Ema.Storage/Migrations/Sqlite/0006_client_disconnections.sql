-- Issue [5 of 5], self-service: a user disconnects a client ("my connections"). Its refresh-token families are revoked
-- and the time is kept, so ID tokens issued to the client before it cannot be exchanged for ID-JAGs any more.
CREATE TABLE client_disconnections (
    user_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    disconnected_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, client_id)
);
CREATE INDEX ix_refresh_tokens_user ON refresh_tokens (user_id);
