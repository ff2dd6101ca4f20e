-- Issue [5 of 5]: policy as code, versioned. Each import adds a version (the whole YAML, as validated); the newest
-- is in force; a rollback adds a copy of an older version, so the history only grows.
CREATE TABLE policy_versions (
    version INTEGER PRIMARY KEY AUTOINCREMENT,
    yaml TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    created_by TEXT NOT NULL,
    comment TEXT NULL
);
