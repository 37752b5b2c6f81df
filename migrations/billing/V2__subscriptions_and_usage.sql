-- Billing: Stripe subscriptions, webhook dedupe, usage.

-- One row per Stripe subscription, in the newest state its webhooks have told us.
-- `state_at` is the `created` time (unix seconds) of the event that set the row; an event
-- older than it changes nothing, and `deleted` is terminal for the subscription id.
CREATE TABLE tenant_subscriptions (
    subscription_id       text PRIMARY KEY,
    tenant_id             uuid NOT NULL,
    customer_id           text,
    price_id              text,
    item_id               text,
    tier                  text NOT NULL DEFAULT 'free' CHECK (tier IN ('free', 'pro', 'enterprise')),
    status                text NOT NULL,
    current_period_end    timestamptz,
    cancel_at_period_end  boolean NOT NULL DEFAULT false,
    deleted               boolean NOT NULL DEFAULT false,
    state_at              bigint NOT NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tenant_subscriptions_tenant ON tenant_subscriptions (tenant_id);

-- The Stripe customer of each tenant, learnt from completed checkouts.
CREATE TABLE tenant_customers (
    tenant_id    uuid PRIMARY KEY,
    customer_id  text NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Every Stripe event applied, so a redelivery changes nothing.
CREATE TABLE stripe_events (
    event_id      text PRIMARY KEY,
    event_type    text NOT NULL,
    created       bigint NOT NULL,
    tenant_id     uuid,
    received_at   timestamptz NOT NULL DEFAULT now()
);

-- Usage per tenant, UTC day and metric, summed from the services' batches.
CREATE TABLE usage_events (
    tenant_id  uuid NOT NULL,
    day        date NOT NULL,
    metric     text NOT NULL CHECK (metric IN ('api_calls', 'token_issuances')),
    count      bigint NOT NULL CHECK (count >= 0),
    PRIMARY KEY (tenant_id, day, metric)
);

-- Every usage batch recorded, written in the same transaction as its counts.
CREATE TABLE usage_batches (
    batch_id     uuid PRIMARY KEY,
    service      text NOT NULL,
    entries      integer NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX usage_batches_received ON usage_batches USING brin (received_at);
