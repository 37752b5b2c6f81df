-- Resource servers (RFC 8707): a tenant's APIs that access tokens may name as their audience.
-- A token for one carries `aud = identifier` and only the scopes it defines; the platform API
-- (the issuer) accepts none of them.
CREATE TABLE resource_servers (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id),
    identifier  text NOT NULL CHECK (length(identifier) BETWEEN 1 AND 256),
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    scopes      text[] NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, identifier)
);
CREATE INDEX resource_servers_tenant_page ON resource_servers (tenant_id, created_at, id);
