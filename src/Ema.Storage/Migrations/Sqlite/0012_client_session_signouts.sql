-- A refresh-token family revoked (the client signed out through RFC 7009 revocation, or a refresh token was reused)
-- ends that client's part of the IdP session: ID tokens issued to the client in the session before the cut-off no
-- longer yield ID-JAGs (the cut-off is the start of the second after the revocation: ID tokens carry whole seconds).
CREATE TABLE client_session_signouts (
    session_id TEXT NOT NULL,
    client_id TEXT NOT NULL,
    signed_out_at BIGINT NOT NULL,
    PRIMARY KEY (session_id, client_id)
);
