-- The marketplace projection: one row per agent identity has announced on its change feed,
-- kept up to date from the feed and searchable. Only rows with `visible` (an active, listed
-- agent) are ever shown; hidden rows stay so that a late, older event cannot bring an agent
-- back (each row remembers the feed position of the last event applied to it).

-- Where the change-feed consumer stands (platform::feed). Written in the same transaction
-- as the listings a page of events changes.
CREATE TABLE feed_cursors (
    consumer    text PRIMARY KEY,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now()
);

-- array_to_string is only STABLE (it formats any element type); for text[] it is immutable,
-- which a generated column needs.
CREATE FUNCTION search_words(text[]) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$ SELECT array_to_string($1, ' ') $$;

CREATE TABLE listings (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL,
    -- The tenant's name when the last event was applied.
    publisher        text NOT NULL,
    name             text NOT NULL,
    description      text NOT NULL,
    agent_type       text NOT NULL,
    version          text NOT NULL,
    capabilities     text[] NOT NULL,
    tags             text[] NOT NULL,
    deployment_env   text NOT NULL,
    status           text NOT NULL,
    listed           boolean NOT NULL,
    did              text NOT NULL,
    -- The public JWK of the agent's DID key (NULL for synthetic benchmark listings).
    public_jwk       jsonb,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    -- Feed position of the last event applied; an event at or before it is a redelivery.
    -- Synthetic listings from `marketplace seed` have feed_tx 0.
    feed_tx          bigint NOT NULL,
    feed_seq         bigint NOT NULL,
    -- Events applied to this row.
    revision         integer NOT NULL DEFAULT 1,
    -- listing_version.version of the transaction that last wrote the row (cache invalidation).
    changed_version  bigint NOT NULL,
    visible          boolean GENERATED ALWAYS AS (status = 'active' AND listed) STORED,
    -- Full-text document, 'english' configuration (stemming: "invoices" finds "invoice").
    -- Weights: name A (1.0), tags and capabilities B (0.4), description C (0.2).
    search           tsvector GENERATED ALWAYS AS (
        setweight(to_tsvector('english', name), 'A')
        || setweight(to_tsvector('english', search_words(tags) || ' ' || search_words(capabilities)), 'B')
        || setweight(to_tsvector('english', description), 'C')
    ) STORED
);

-- Every index a query uses covers visible rows only.
CREATE INDEX listings_search ON listings USING gin (search) WHERE visible;
CREATE INDEX listings_exact_name ON listings (lower(name)) WHERE visible;
CREATE INDEX listings_recent ON listings (created_at DESC, id DESC) WHERE visible;
CREATE INDEX listings_type_recent ON listings (agent_type, created_at DESC, id DESC) WHERE visible;
CREATE INDEX listings_publisher_recent ON listings (lower(publisher), created_at DESC, id DESC)
    WHERE visible;
CREATE INDEX listings_capabilities ON listings USING gin (capabilities) WHERE visible;
CREATE INDEX listings_tags ON listings USING gin (tags) WHERE visible;
-- Renaming a tenant renames its listings' publisher.
CREATE INDEX listings_tenant ON listings (tenant_id);
-- What changed since a version (response-cache invalidation).
CREATE INDEX listings_changed ON listings (changed_version);
-- Synthetic benchmark listings, for `marketplace seed --purge`.
CREATE INDEX listings_synthetic ON listings (id) WHERE feed_tx = 0;

-- A counter bumped by every transaction that writes listings (the row lock also orders the
-- writers, so versions commit in order). Instances poll it to invalidate cached responses:
-- rows with changed_version above the version an instance has seen are what changed.
-- reset_version records the last change that removed rows outright (rebuild, purge of
-- synthetic listings), after which caches start over.
CREATE TABLE listing_version (
    singleton      boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    version        bigint NOT NULL,
    reset_version  bigint NOT NULL
);
INSERT INTO listing_version (version, reset_version) VALUES (0, 0);
