-- A trusted issuer that serves several organizations from one `iss` is registered with the IdP tenant whose users it
-- accepts; the ID-JAG's `tenant` claim must then match it (ID-JAG §6). Null: a single-tenant issuer.
ALTER TABLE as_trusted_issuers ADD COLUMN issuer_tenant TEXT;
