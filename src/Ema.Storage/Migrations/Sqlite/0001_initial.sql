-- Ema schema v1. Times are Unix milliseconds (BIGINT); lists are space-separated or JSON text.
-- Kept to SQL that PostgreSQL also accepts, except where noted, so the PostgreSQL set stays a near copy.

CREATE TABLE users (
    id TEXT NOT NULL PRIMARY KEY,
    username TEXT NOT NULL,
    username_normalized TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    email TEXT NULL,
    status TEXT NOT NULL,
    department TEXT NULL,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until BIGINT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE groups (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NULL
);

CREATE TABLE group_members (
    group_id TEXT NOT NULL REFERENCES groups (id),
    user_id TEXT NOT NULL REFERENCES users (id),
    PRIMARY KEY (group_id, user_id)
);

CREATE TABLE user_roles (
    user_id TEXT NOT NULL REFERENCES users (id),
    role TEXT NOT NULL,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    redirect_uris TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    secret_hash TEXT NULL,
    grant_types TEXT NOT NULL,
    token_exchange_allowed INTEGER NOT NULL,
    public_token_exchange_allowed INTEGER NOT NULL,
    enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE resources (
    id TEXT NOT NULL PRIMARY KEY,
    display_name TEXT NOT NULL,
    resource TEXT NOT NULL UNIQUE,
    as_issuer TEXT NOT NULL,
    scopes TEXT NOT NULL,
    enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE client_resource_ids (
    client_id TEXT NOT NULL REFERENCES clients (client_id),
    resource_id TEXT NOT NULL REFERENCES resources (id),
    client_id_at_resource TEXT NOT NULL,
    PRIMARY KEY (client_id, resource_id)
);

CREATE TABLE entitlements (
    id TEXT NOT NULL PRIMARY KEY,
    subject_type TEXT NOT NULL,
    subject_id TEXT NOT NULL,
    client_id TEXT NOT NULL REFERENCES clients (client_id),
    resource_id TEXT NOT NULL REFERENCES resources (id),
    scopes TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX ix_entitlements_client ON entitlements (client_id);

CREATE TABLE sessions (
    id TEXT NOT NULL PRIMARY KEY,
    handle_hash TEXT NOT NULL UNIQUE,
    user_id TEXT NOT NULL REFERENCES users (id),
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NULL,
    expires_at BIGINT NOT NULL,
    revoked INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE pending_authorizations (
    id TEXT NOT NULL PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    scope TEXT NOT NULL,
    state TEXT NULL,
    nonce TEXT NULL,
    code_challenge TEXT NOT NULL,
    max_age INTEGER NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE authorization_codes (
    code_hash TEXT NOT NULL PRIMARY KEY,
    client_id TEXT NOT NULL,
    redirect_uri TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    nonce TEXT NULL,
    code_challenge TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT NULL
);

CREATE TABLE refresh_tokens (
    token_hash TEXT NOT NULL PRIMARY KEY,
    family_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    scope TEXT NOT NULL,
    auth_time BIGINT NOT NULL,
    amr TEXT NOT NULL,
    acr TEXT NULL,
    expires_at BIGINT NOT NULL,
    consumed_at BIGINT NULL
);
CREATE INDEX ix_refresh_tokens_family ON refresh_tokens (family_id);
CREATE INDEX ix_refresh_tokens_session ON refresh_tokens (session_id);

-- SQLite spelling: PostgreSQL uses BYTEA for protected_key.
CREATE TABLE signing_keys (
    purpose TEXT NOT NULL,
    kid TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    status TEXT NOT NULL,
    protected_key BLOB NOT NULL,
    created_at BIGINT NOT NULL,
    retired_at BIGINT NULL,
    PRIMARY KEY (purpose, kid)
);

-- SQLite spelling: PostgreSQL uses BIGINT GENERATED ALWAYS AS IDENTITY for seq.
CREATE TABLE audit_events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    time BIGINT NOT NULL,
    type TEXT NOT NULL,
    outcome TEXT NOT NULL,
    action TEXT NULL,
    error_id TEXT NULL,
    reason TEXT NULL,
    client_id TEXT NULL,
    subject TEXT NULL,
    resource TEXT NULL,
    audience TEXT NULL,
    scope TEXT NULL,
    token_id TEXT NULL,
    parent_token_id TEXT NULL,
    session_id TEXT NULL,
    remote_address TEXT NULL
);
CREATE INDEX ix_audit_subject ON audit_events (subject);
CREATE INDEX ix_audit_token ON audit_events (token_id);
CREATE INDEX ix_audit_parent_token ON audit_events (parent_token_id);
