-- Federation (trust policies: which external OIDC tokens may be exchanged for an agent's
-- token) and standing delegations between agents (RFC 8693 `act`).

CREATE TABLE trust_policies (
    id                 uuid PRIMARY KEY,
    tenant_id          uuid NOT NULL REFERENCES tenants (id),
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    provider           text NOT NULL CHECK (provider IN ('github_actions', 'oidc')),
    issuer             text NOT NULL CHECK (length(issuer) BETWEEN 1 AND 512),
    audience           text NOT NULL CHECK (length(audience) BETWEEN 1 AND 512),
    agent_id           uuid NOT NULL REFERENCES agents (id),
    scopes             text[] NOT NULL DEFAULT '{}',
    conditions         jsonb NOT NULL,
    token_ttl_seconds  integer NOT NULL CHECK (token_ttl_seconds BETWEEN 60 AND 86400),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX trust_policies_tenant_page ON trust_policies (tenant_id, created_at, id);
-- The exchange looks policies up by the external token's issuer. An (issuer, audience) pair
-- belongs to one tenant at a time (checked under an advisory lock when a policy is saved),
-- so no external token can match policies of two tenants.
CREATE INDEX trust_policies_issuer ON trust_policies (issuer, audience);
CREATE INDEX trust_policies_agent ON trust_policies (agent_id);

CREATE TABLE agent_delegations (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id),
    agent_id        uuid NOT NULL REFERENCES agents (id),
    actor_agent_id  uuid NOT NULL REFERENCES agents (id),
    scopes          text[] NOT NULL,
    max_depth       integer NOT NULL CHECK (max_depth BETWEEN 1 AND 5),
    expires_at      timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (agent_id <> actor_agent_id)
);
CREATE INDEX agent_delegations_page ON agent_delegations (agent_id, created_at, id);
CREATE INDEX agent_delegations_pair ON agent_delegations (agent_id, actor_agent_id);
