-- private_key_jwt (RFC 7523 §2.2; decisions 13–14): a client's public keys (a JWK Set document), at the IdP and at the
-- authorization server. Null for clients that authenticate with a secret or not at all.
ALTER TABLE clients ADD COLUMN jwks TEXT;
ALTER TABLE as_clients ADD COLUMN jwks TEXT;
