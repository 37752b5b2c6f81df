//! The identity route table. Handlers extract, parse, call the service they need (each
//! registered as app data by `startup`), and render the result; authorization is in their
//! signatures (`RequireScope<...>`, `TenantId`). Rules' errors become HTTP answers once, in
//! [`errors`]; helpers shared by the handlers are in [`support`].

mod agents;
mod audit;
mod cards;
mod clients;
mod credentials;
mod deliveries;
mod dids;
mod errors;
mod federation;
mod feed;
mod internal;
mod oauth;
mod resource_servers;
mod support;
mod tenants;
mod webhooks;
mod wellknown;

use actix_web::web;

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::PayloadConfig::new(64 * 1024))
        // OAuth 2.0 (canonical paths and the original product's aliases).
        .route("/oauth2/token", web::post().to(oauth::token))
        .route("/api/v1/token", web::post().to(oauth::token))
        .route("/oauth2/introspect", web::post().to(oauth::introspect))
        .route(
            "/api/v1/token/introspect",
            web::post().to(oauth::introspect),
        )
        .route("/oauth2/revoke", web::post().to(oauth::revoke))
        .route("/api/v1/token/revoke", web::post().to(oauth::revoke))
        // Discovery.
        .route("/.well-known/jwks.json", web::get().to(wellknown::jwks))
        .route(
            "/.well-known/openid-configuration",
            web::get().to(wellknown::metadata),
        )
        .route(
            "/.well-known/oauth-authorization-server",
            web::get().to(wellknown::metadata),
        )
        .route("/.well-known/did.json", web::get().to(dids::instance))
        .route("/agents/{id}/did.json", web::get().to(dids::agent))
        .route(
            "/agents/{id}/.well-known/agent-card.json",
            web::get().to(cards::agent),
        )
        // Internal (never routed by the ingress; service tokens only).
        .route("/internal/v1/events", web::get().to(feed::events))
        .route(
            "/internal/v1/audit/integrity/{tenant}",
            web::get().to(internal::integrity),
        )
        .route(
            "/internal/v1/signing-keys",
            web::get().to(internal::signing_keys),
        )
        .route(
            "/internal/v1/revocations/check",
            web::post().to(internal::revocation_check),
        )
        // Audit log.
        .route("/api/v1/audit", web::get().to(audit::list))
        .route("/api/v1/audit/verify", web::get().to(audit::verify))
        .route(
            "/api/v1/audit/checkpoints",
            web::get().to(audit::checkpoints),
        )
        .route("/api/v1/audit/{id}", web::get().to(audit::get))
        // Tenants.
        .route("/api/v1/tenants", web::post().to(tenants::create))
        .route("/api/v1/tenants/{id}", web::get().to(tenants::get))
        .route("/api/v1/tenants/{id}", web::patch().to(tenants::update))
        .route("/api/v1/tenants/me/clients", web::get().to(clients::list))
        .route(
            "/api/v1/tenants/me/clients",
            web::post().to(clients::create),
        )
        .route(
            "/api/v1/tenants/me/clients/{client_id}/rotate",
            web::post().to(clients::rotate),
        )
        .route(
            "/api/v1/tenants/me/clients/{client_id}",
            web::delete().to(clients::delete),
        )
        // Agents.
        .route("/api/v1/agents", web::post().to(agents::create))
        .route("/api/v1/agents", web::get().to(agents::list))
        .route("/api/v1/agents/{id}", web::get().to(agents::get))
        .route("/api/v1/agents/{id}", web::patch().to(agents::update))
        .route(
            "/api/v1/agents/{id}",
            web::delete().to(agents::decommission),
        )
        .route(
            "/api/v1/agents/{id}/suspend",
            web::post().to(agents::suspend),
        )
        .route(
            "/api/v1/agents/{id}/reactivate",
            web::post().to(agents::reactivate),
        )
        // Credentials.
        .route(
            "/api/v1/agents/{id}/credentials",
            web::post().to(credentials::create),
        )
        .route(
            "/api/v1/agents/{id}/credentials",
            web::get().to(credentials::list),
        )
        .route(
            "/api/v1/agents/{id}/credentials/{cid}/rotate",
            web::post().to(credentials::rotate),
        )
        .route(
            "/api/v1/agents/{id}/credentials/{cid}",
            web::delete().to(credentials::revoke),
        )
        .route(
            "/api/v1/agents/{id}/credentials/{cid}",
            web::patch().to(credentials::update),
        )
        // Standing delegations between agents (token exchange with `act`).
        .route(
            "/api/v1/agents/{id}/delegations",
            web::post().to(federation::create_delegation),
        )
        .route(
            "/api/v1/agents/{id}/delegations",
            web::get().to(federation::list_delegations),
        )
        .route(
            "/api/v1/agents/{id}/delegations/{delegation_id}",
            web::delete().to(federation::delete_delegation),
        )
        // Federation trust policies (external OIDC tokens exchanged for agent tokens).
        .route(
            "/api/v1/federation/trust-policies",
            web::post().to(federation::create),
        )
        .route(
            "/api/v1/federation/trust-policies",
            web::get().to(federation::list),
        )
        .route(
            "/api/v1/federation/trust-policies/{id}",
            web::get().to(federation::get),
        )
        .route(
            "/api/v1/federation/trust-policies/{id}",
            web::patch().to(federation::update),
        )
        .route(
            "/api/v1/federation/trust-policies/{id}",
            web::delete().to(federation::delete),
        )
        // Resource servers (the audiences tokens may name besides the platform API).
        .route(
            "/api/v1/resource-servers",
            web::post().to(resource_servers::create),
        )
        .route(
            "/api/v1/resource-servers",
            web::get().to(resource_servers::list),
        )
        .route(
            "/api/v1/resource-servers/{id}",
            web::get().to(resource_servers::get),
        )
        .route(
            "/api/v1/resource-servers/{id}",
            web::patch().to(resource_servers::update),
        )
        .route(
            "/api/v1/resource-servers/{id}",
            web::delete().to(resource_servers::delete),
        )
        // Webhooks.
        .route("/api/v1/webhooks", web::post().to(webhooks::create))
        .route("/api/v1/webhooks", web::get().to(webhooks::list))
        .route("/api/v1/webhooks/{id}", web::get().to(webhooks::get))
        .route("/api/v1/webhooks/{id}", web::patch().to(webhooks::update))
        .route("/api/v1/webhooks/{id}", web::delete().to(webhooks::delete))
        .route(
            "/api/v1/webhooks/{id}/rotate-secret",
            web::post().to(webhooks::rotate_secret),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries",
            web::get().to(deliveries::list),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}",
            web::get().to(deliveries::get),
        )
        .route(
            "/api/v1/webhooks/{id}/deliveries/{delivery}/redeliver",
            web::post().to(deliveries::redeliver),
        );
}
