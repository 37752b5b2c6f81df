-- Where each tenant's chain was last verified intact: `GET /api/v1/audit/verify` walks on
-- from here unless asked for a full walk. Only ever moves forward; a full walk that finds
-- the chain broken removes it, so later walks start from the beginning again.
CREATE TABLE audit_verified_positions (
    tenant_id    uuid PRIMARY KEY,
    chain_seq    bigint NOT NULL,
    hash         bytea NOT NULL,
    verified_at  timestamptz NOT NULL
);

-- Revocations committed while Redis could not take them: every revocation whose
-- `revoked_at` is at or after `dirty_since` is mirrored to Redis again by the next instance
-- that reaches Redis. One row; `dirty_since` is NULL when Redis holds every revocation.
-- `version` counts the failures recorded, so clearing never forgets one recorded meanwhile.
CREATE TABLE revocation_mirror (
    singleton    boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    dirty_since  timestamptz,
    version      bigint NOT NULL DEFAULT 0
);
INSERT INTO revocation_mirror (singleton) VALUES (true);
