-- An audience names one API. Every tenant's tokens share the issuer, so an identifier that
-- two tenants could register would let one tenant mint tokens another tenant's API accepts
-- (`aud` and `iss` both match). Identifiers are therefore unique across tenants: the first
-- tenant to register one holds it until it deletes the resource server.
ALTER TABLE resource_servers DROP CONSTRAINT resource_servers_tenant_id_identifier_key;
ALTER TABLE resource_servers ADD CONSTRAINT resource_servers_identifier_key UNIQUE (identifier);
