-- Identity core: tenants, agents, OAuth clients, signing keys, revocations, audit log.
-- Ids are UUIDv7 (time-ordered), timestamps timestamptz; every tenant-owned row carries
-- tenant_id and every query filters on it.

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email       text NOT NULL CHECK (length(email) BETWEEN 3 AND 320),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE agents (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    name            text NOT NULL,
    description     text NOT NULL DEFAULT '',
    agent_type      text NOT NULL CHECK (agent_type IN ('screener', 'classifier', 'orchestrator',
                        'extractor', 'summarizer', 'router', 'monitor', 'custom')),
    version         text NOT NULL,
    capabilities    text[] NOT NULL DEFAULT '{}',
    owner           text NOT NULL,
    deployment_env  text NOT NULL CHECK (deployment_env IN ('development', 'staging', 'production')),
    tags            text[] NOT NULL DEFAULT '{}',
    listed          boolean NOT NULL DEFAULT true,
    status          text NOT NULL DEFAULT 'active'
                        CHECK (status IN ('active', 'suspended', 'decommissioned')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Keyset pagination in (created_at, id) order, per tenant.
CREATE INDEX agents_tenant_page ON agents (tenant_id, created_at, id);
CREATE INDEX agents_tags ON agents USING gin (tags);

-- OAuth clients: agent credentials, tenant-admin clients and internal service clients.
CREATE TABLE clients (
    id                          uuid PRIMARY KEY,
    client_id                   text NOT NULL UNIQUE,
    kind                        text NOT NULL CHECK (kind IN ('agent', 'tenant_admin', 'service')),
    tenant_id                   uuid REFERENCES tenants (id),
    agent_id                    uuid REFERENCES agents (id),
    service_name                text,
    -- HMAC-SHA-256(CREDENTIAL_PEPPER, secret); the secret itself is never stored.
    secret_hash                 bytea NOT NULL,
    previous_secret_hash        bytea,
    previous_secret_expires_at  timestamptz,
    -- NULL: every scope the agent's capabilities allow.
    scopes                      text[],
    status                      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    expires_at                  timestamptz,
    created_at                  timestamptz NOT NULL DEFAULT now(),
    rotated_at                  timestamptz,
    revoked_at                  timestamptz,
    CHECK ((kind = 'agent') = (agent_id IS NOT NULL)),
    CHECK ((kind = 'service') = (tenant_id IS NULL)),
    CHECK ((kind = 'service') = (service_name IS NOT NULL))
);
CREATE INDEX clients_agent ON clients (agent_id, created_at) WHERE agent_id IS NOT NULL;
CREATE UNIQUE INDEX clients_one_active_service ON clients (service_name)
    WHERE kind = 'service' AND status = 'active';

-- Token signing keys. A key signs from activates_at until the next key activates, and is
-- published from creation until every token it signed has expired.
CREATE TABLE signing_keys (
    kid              text PRIMARY KEY,
    alg              text NOT NULL CHECK (alg IN ('ES256', 'RS256', 'EdDSA')),
    public_jwk       jsonb NOT NULL,
    -- AES-256-GCM(KEY_ENCRYPTION_KEY, PKCS#8 DER), associated data = kid.
    private_key_enc  bytea NOT NULL,
    source           text NOT NULL CHECK (source IN ('generated', 'imported')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    activates_at     timestamptz NOT NULL
);
CREATE INDEX signing_keys_activation ON signing_keys (activates_at);

-- Revocations, mirrored in Redis (revoked:*). kind 'jti': one token; 'sub': every token of
-- an agent issued at or before revoked_at; 'client': every token of a credential issued at
-- or before revoked_at. Rows expire when no token they cover can still be valid.
CREATE TABLE token_revocations (
    kind        text NOT NULL CHECK (kind IN ('jti', 'sub', 'client')),
    subject     text NOT NULL,
    tenant_id   uuid,
    revoked_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (kind, subject)
);
CREATE INDEX token_revocations_expiry ON token_revocations (expires_at);

-- The audit log: append-only, hash-chained per tenant, and the change feed of the other
-- services. The nil UUID is the system's own chain (service clients, key rotation).
CREATE SEQUENCE audit_feed_seq;
CREATE TABLE audit_events (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL,
    chain_seq    bigint NOT NULL,
    actor        text NOT NULL,
    action       text NOT NULL,
    outcome      text NOT NULL CHECK (outcome IN ('success', 'failure')),
    target       text,
    details      jsonb NOT NULL,
    occurred_at  timestamptz NOT NULL,
    prev_hash    bytea NOT NULL,
    hash         bytea NOT NULL,
    -- Change-feed position: the writing transaction, then the order within it. The feed
    -- only reads below the oldest running transaction, so out-of-order commits never make a
    -- reader skip an event.
    tx           bigint NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    feed_seq     bigint NOT NULL DEFAULT nextval('audit_feed_seq'),
    UNIQUE (tenant_id, chain_seq)
);
CREATE INDEX audit_events_feed ON audit_events (tx, feed_seq);
-- Listing walks (tenant_id, chain_seq), which follows time within a tenant; time-range
-- filters narrow with a BRIN index, nearly free to maintain on an append-only table.
CREATE INDEX audit_events_time ON audit_events USING brin (occurred_at);

CREATE TABLE audit_chain_heads (
    tenant_id  uuid PRIMARY KEY,
    chain_seq  bigint NOT NULL,
    hash       bytea NOT NULL
);
INSERT INTO audit_chain_heads (tenant_id, chain_seq, hash)
VALUES ('00000000-0000-0000-0000-000000000000', 0, '\x0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: the database refuses to change or remove audit events. The retention job
-- alone may delete, and only events older than its horizon, by setting
-- agentidp.audit_retention for its transaction.
CREATE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('agentidp.audit_retention', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

-- Each agent's own P-256 key, the verification method of its did:web document.
CREATE TABLE agent_keys (
    agent_id         uuid PRIMARY KEY REFERENCES agents (id),
    tenant_id        uuid NOT NULL REFERENCES tenants (id),
    public_jwk       jsonb NOT NULL,
    -- AES-256-GCM(KEY_ENCRYPTION_KEY, PKCS#8 DER), associated data = 'did:' || agent_id.
    private_key_enc  bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);

-- One-round-trip append for the group-commit writer: it chains events onto the heads it
-- believes current; if any head moved (another writer got there first) nothing is written
-- and SQLSTATE AU001 tells the writer to lock and retry.
CREATE FUNCTION audit_append(
    p_id uuid[], p_tenant uuid[], p_seq bigint[], p_actor text[], p_action text[],
    p_outcome text[], p_target text[], p_details jsonb[], p_at timestamptz[],
    p_prev bytea[], p_hash bytea[],
    h_tenant uuid[], h_expected bigint[], h_seq bigint[], h_hash bytea[]
) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
    moved int;
BEGIN
    UPDATE audit_chain_heads h SET chain_seq = v.seq, hash = v.hash
      FROM unnest(h_tenant, h_expected, h_seq, h_hash) AS v(tenant_id, expected, seq, hash)
     WHERE h.tenant_id = v.tenant_id AND h.chain_seq = v.expected;
    GET DIAGNOSTICS moved = ROW_COUNT;
    IF moved <> cardinality(h_tenant) THEN
        RAISE EXCEPTION 'audit chain head moved' USING ERRCODE = 'AU001';
    END IF;
    INSERT INTO audit_events (id, tenant_id, chain_seq, actor, action, outcome, target,
                              details, occurred_at, prev_hash, hash)
    SELECT * FROM unnest(p_id, p_tenant, p_seq, p_actor, p_action, p_outcome, p_target,
                         p_details, p_at, p_prev, p_hash);
END;
$$;
