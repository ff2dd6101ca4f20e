-- Issue [5 of 5]: TOTP (RFC 6238) as a second factor, asked for when a client requests it (acr_values), which is how
-- the IdP's step-up answer (insufficient_user_authentication) is satisfied. Secrets are encrypted (Data Protection).
ALTER TABLE pending_authorizations ADD COLUMN acr_values TEXT NULL;
CREATE TABLE user_totp (
    user_id TEXT NOT NULL PRIMARY KEY,
    protected_secret BLOB NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_step BIGINT NOT NULL DEFAULT 0
);
