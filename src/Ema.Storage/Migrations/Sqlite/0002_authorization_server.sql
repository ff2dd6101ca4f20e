-- The authorization-server role: tenants, trusted IdPs, its own clients and resources, local accounts, and the
-- persistent single-use record of ID-JAG jtis (decision 2).

CREATE TABLE as_tenants (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE as_trusted_issuers (
    issuer TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES as_tenants (id),
    metadata_uri TEXT NULL,
    jwks_uri TEXT NULL,
    inline_jwks TEXT NULL,
    allowed_algorithms TEXT NOT NULL,
    allowed_client_ids TEXT NULL,
    jit_provisioning INTEGER NOT NULL,
    clock_skew_seconds INTEGER NOT NULL,
    max_age_seconds INTEGER NOT NULL,
    tolerate_audience_trailing_slash INTEGER NOT NULL,
    enabled INTEGER NOT NULL
);

CREATE TABLE as_clients (
    client_id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    auth_method TEXT NOT NULL,
    secret_hash TEXT NULL,
    enabled INTEGER NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE as_resources (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    resource TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL
);

CREATE TABLE as_accounts (
    id TEXT NOT NULL PRIMARY KEY,
    tenant_id TEXT NOT NULL REFERENCES as_tenants (id),
    issuer TEXT NOT NULL,
    subject TEXT NOT NULL,
    email TEXT NULL,
    created_at BIGINT NOT NULL,
    UNIQUE (tenant_id, issuer, subject)
);

CREATE TABLE replay_cache (
    key TEXT NOT NULL PRIMARY KEY,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ix_replay_cache_expires ON replay_cache (expires_at);
