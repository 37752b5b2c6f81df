-- Trust layer: audit retention with signed checkpoints, background verification results,
-- webhooks with their delivery history, and the cursors of identity's own feed consumers.

-- Retention may delete only events older than the horizon it declares for its transaction
-- (agentidp.audit_retention_before); everything else stays refused.
CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE'
       AND OLD.occurred_at < nullif(current_setting('agentidp.audit_retention_before', true), '')::timestamptz
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_events is append-only (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

-- Where retention cut a tenant's chain: the last removed event's position and hash, signed
-- by the token signing key as a JWT (verifiable with the JWKS alone). The remaining chain
-- continues from `hash`. When the signing key rotates, the signature is renewed; the
-- statement itself never changes.
CREATE TABLE audit_checkpoints (
    tenant_id    uuid NOT NULL,
    chain_seq    bigint NOT NULL,
    event_id     uuid NOT NULL,
    hash         bytea NOT NULL,
    occurred_at  timestamptz NOT NULL,
    created_at   timestamptz NOT NULL,
    kid          text NOT NULL,
    jwt          text NOT NULL,
    signed_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, chain_seq)
);

CREATE FUNCTION audit_checkpoints_immutable() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND (NEW.tenant_id, NEW.chain_seq, NEW.event_id, NEW.hash, NEW.occurred_at, NEW.created_at)
           IS NOT DISTINCT FROM
           (OLD.tenant_id, OLD.chain_seq, OLD.event_id, OLD.hash, OLD.occurred_at, OLD.created_at)
    THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'audit checkpoints are immutable (% refused)', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_checkpoints_immutable
    BEFORE UPDATE OR DELETE ON audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION audit_checkpoints_immutable();

-- The latest background verification of each chain (feeds agentidp_audit_chain_integrity).
CREATE TABLE audit_verifications (
    tenant_id    uuid PRIMARY KEY,
    valid        boolean NOT NULL,
    report       jsonb NOT NULL,
    verified_at  timestamptz NOT NULL
);

-- The change-feed horizon: every transaction of this database with an id below it has
-- finished, so a reader that reads only events with `tx` below it can never skip an event
-- committed later. It is the oldest transaction id still running in this database (other
-- databases of the cluster cannot write here), else the next id to be assigned. The next id
-- is read before the running transactions: one that started in between has a larger id.
-- Callers read events in a later statement, whose snapshot sees every finished transaction.
CREATE FUNCTION feed_horizon() RETURNS bigint
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    next_xid bigint := pg_snapshot_xmax(pg_current_snapshot())::text::bigint;
    epoch bigint := (next_xid >> 32) << 32;
    oldest bigint;
BEGIN
    SELECT min(CASE WHEN epoch + x > next_xid THEN epoch + x - 4294967296 ELSE epoch + x END)
      INTO oldest
      FROM (SELECT backend_xid::text::bigint AS x
              FROM pg_stat_activity
             WHERE datname = current_database() AND backend_xid IS NOT NULL) running;
    RETURN least(coalesce(oldest, next_xid), next_xid);
END;
$$;

-- Feed consumers inside identity (the webhook dispatcher).
CREATE TABLE feed_cursors (
    consumer    text PRIMARY KEY,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Webhook subscriptions. The signing secret is sealed with KEY_ENCRYPTION_KEY (associated
-- data 'webhook:' || id): deliveries are signed with it, so it cannot be a one-way hash.
CREATE TABLE webhooks (
    id           uuid PRIMARY KEY,
    tenant_id    uuid NOT NULL REFERENCES tenants (id),
    url          text NOT NULL,
    description  text NOT NULL DEFAULT '',
    event_types  text[] NOT NULL,
    secret_enc   bytea NOT NULL,
    active       boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX webhooks_tenant_page ON webhooks (tenant_id, created_at, id);

-- One delivery per (webhook, event). `body` is sent byte for byte on every attempt.
CREATE TABLE webhook_deliveries (
    id                uuid PRIMARY KEY,
    webhook_id        uuid NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    tenant_id         uuid NOT NULL,
    event_id          uuid NOT NULL,
    event_type        text NOT NULL,
    body              text NOT NULL,
    status            text NOT NULL DEFAULT 'pending'
                          CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts          integer NOT NULL DEFAULT 0,
    next_attempt_at   timestamptz,
    last_attempt_at   timestamptz,
    last_status_code  integer,
    last_error        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    delivered_at      timestamptz,
    UNIQUE (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at)
    WHERE status = 'pending';
CREATE INDEX webhook_deliveries_page ON webhook_deliveries (webhook_id, created_at DESC, id DESC);

-- Every attempt of a delivery (`attempt` counts within a round; a manual redelivery starts
-- a new round).
CREATE TABLE webhook_attempts (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id   uuid NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    attempted_at  timestamptz NOT NULL,
    status_code   integer,
    error         text,
    duration_ms   integer NOT NULL
);
CREATE INDEX webhook_attempts_delivery ON webhook_attempts (delivery_id, id);
