-- A client whose ID-JAGs must be bound to a DPoP key (ADR 0007): the IdP refuses its token exchanges without a proof, the
-- authorization server its unbound ID-JAGs.
ALTER TABLE clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
ALTER TABLE as_clients ADD COLUMN require_dpop INTEGER NOT NULL DEFAULT 0;
