//! `GET /api/v1/compliance/agent-cards`: every active agent of the tenant as an A2A
//! AgentCard and an OASF record, with the pinned schema versions.

use actix_web::HttpResponse;
use domain::cards::{self, CardContext};
use platform::ApiResult;
use platform::auth::{RequireScope, TenantId, scopes};
use serde_json::json;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::repo::agents;
use crate::routes::state::State;

/// The handler.
pub async fn get(
    state: State,
    _: RequireScope<scopes::ComplianceRead>,
    TenantId(tenant): TenantId,
) -> ApiResult<HttpResponse> {
    let c = state.core.db.get().await?;
    let active = agents::list(&c, tenant, Some("active")).await?;
    let base = state.config.common.public_base();
    let items: Vec<serde_json::Value> = active
        .iter()
        .map(|a| {
            let ctx = CardContext {
                base_url: &base,
                publisher: a.publisher.as_deref(),
            };
            json!({
                "agent_id": a.snapshot.id,
                "did": a.snapshot.did,
                "card_url": cards::card_url(&base, &a.snapshot),
                "a2a_agent_card": cards::a2a_card(&a.snapshot, ctx),
                "oasf_record": cards::oasf_record(&a.snapshot, ctx),
            })
        })
        .collect();
    Ok(HttpResponse::Ok().json(json!({
        "generated_at": OffsetDateTime::now_utc().format(&Rfc3339).unwrap_or_default(),
        "schemas": {
            "a2a_agent_card": cards::A2A_SCHEMA,
            "a2a_protocol_version": cards::A2A_PROTOCOL_VERSION,
            "oasf_record": format!("OASF record {}", cards::OASF_SCHEMA_VERSION),
            "oasf_schema_version": cards::OASF_SCHEMA_VERSION,
        },
        "count": items.len(),
        "agents": items,
    })))
}
