-- The analytics projection of identity's change feed: counters per hour and day, and the
-- agents and credentials the compliance report and agent cards are built from.

-- Where the feed consumer stands (platform::feed); updated in each page's transaction.
CREATE TABLE feed_cursors (
    consumer    text PRIMARY KEY,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- The last event each projection applied, so that an event delivered again (a rewound
-- cursor, a replayed page) changes nothing.
CREATE TABLE projection_state (
    projection       text PRIMARY KEY,
    applied_through  text NOT NULL,
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Event counts per tenant, bucket, metric and agent. `agent_id` is the nil UUID for events
-- without an agent (a tenant-admin client's tokens). `bucket` is the UTC start of the hour
-- or day.
CREATE TABLE rollups (
    tenant_id    uuid NOT NULL,
    granularity  text NOT NULL CHECK (granularity IN ('hour', 'day')),
    bucket       timestamptz NOT NULL,
    metric       text NOT NULL,
    agent_id     uuid NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
    count        bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (tenant_id, granularity, bucket, metric, agent_id)
);
-- Retention deletes by age across tenants.
CREATE INDEX rollups_bucket_idx ON rollups (bucket);

-- Agents as their latest event shows them.
CREATE TABLE agents (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    status      text NOT NULL,
    snapshot    jsonb NOT NULL,
    publisher   text,
    has_did_key boolean NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);
CREATE INDEX agents_tenant_status_idx ON agents (tenant_id, status);

-- Credentials' lifecycle facts (never secrets).
CREATE TABLE credentials (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL,
    agent_id    uuid NOT NULL,
    client_id   text NOT NULL UNIQUE,
    status      text NOT NULL CHECK (status IN ('active', 'revoked')),
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz,
    rotated_at  timestamptz,
    rotations   integer NOT NULL DEFAULT 0,
    revoked_at  timestamptz
);
CREATE INDEX credentials_tenant_status_idx ON credentials (tenant_id, status);
