-- Tenant-admin clients have a lifecycle: several per tenant, each with a name and a subset
-- of the platform scopes, rotated and deleted through /api/v1/tenants/me/clients.
--
-- Rolling upgrade: only a nullable column and an index are added. Instances of the previous
-- release neither read nor write `name` and keep authenticating every client; a signup they
-- make while the upgrade runs has no name, which the new release shows as "signup".

ALTER TABLE clients ADD COLUMN name text;

-- The one admin client every tenant has had until now is its signup client.
UPDATE clients SET name = 'signup' WHERE kind = 'tenant_admin' AND name IS NULL;

-- A tenant's active admin clients, in the order they are listed.
CREATE INDEX clients_tenant_admin ON clients (tenant_id, created_at, id)
    WHERE kind = 'tenant_admin' AND status = 'active';
