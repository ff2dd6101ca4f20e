-- One-time codes get a failure count and a lock of their own (the password's are in users): a password-only sign-in,
-- which asks for no code, must not reset the count of wrong codes.
ALTER TABLE user_totp ADD COLUMN failed_attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE user_totp ADD COLUMN locked_until BIGINT NULL;
