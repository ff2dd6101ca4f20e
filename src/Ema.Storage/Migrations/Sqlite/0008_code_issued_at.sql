-- When each authorization code was issued: a code issued before the user disconnected its client is void
-- ("my connections"). Codes live a minute; those issued before this migration count as issued at 0 (before any
-- disconnection), which only refuses the odd code of a client its user disconnected.
ALTER TABLE authorization_codes ADD COLUMN issued_at INTEGER NOT NULL DEFAULT 0;
