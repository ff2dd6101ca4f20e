-- Readiness: one row the health probe rewrites through the group commit, so that "ready" means a real write reached
-- the disk (an empty transaction writes nothing and would pass on a full disk).
CREATE TABLE health_probe (
    id INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    probed_at BIGINT NOT NULL
);
