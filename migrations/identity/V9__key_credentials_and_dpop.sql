-- Secretless clients (private_key_jwt, RFC 7523): a client authenticates with a JWT signed by
-- one of its registered public keys (inline `jwks`, or fetched from `jwks_uri`). Such a
-- client's secret_hash is empty, which no secret's HMAC ever equals. `dpop_bound`: the
-- client's tokens must be sender-constrained with DPoP (RFC 9449).
ALTER TABLE clients
    ADD COLUMN auth_method text NOT NULL DEFAULT 'client_secret'
        CHECK (auth_method IN ('client_secret', 'private_key_jwt')),
    ADD COLUMN jwks jsonb,
    ADD COLUMN jwks_uri text,
    ADD COLUMN dpop_bound boolean NOT NULL DEFAULT false,
    ADD CONSTRAINT clients_keys_of_key_clients CHECK (
        (auth_method = 'private_key_jwt') = (jwks IS NOT NULL OR jwks_uri IS NOT NULL));
