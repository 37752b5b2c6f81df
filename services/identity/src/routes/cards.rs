//! `GET /agents/{id}/.well-known/agent-card.json`: an active agent's A2A AgentCard (v1.0),
//! built by `domain::cards` like the analytics export. Suspended agents answer 404,
//! decommissioned ones 410 (as their DID documents do).

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use domain::cards::{self, CardContext};
use platform::{ApiError, ApiResult};

use super::path_id;
use crate::agents;
use crate::repo::{agents as repo, tenants};
use crate::startup::State;

/// The handler (public: agent cards are for discovery).
pub async fn agent(state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let c = state.core.db.get().await?;
    let (row, _) = repo::get_public_with_key(&c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    match row.status.as_str() {
        "active" => {}
        "decommissioned" => {
            return Err(ApiError::new(
                StatusCode::GONE,
                "agent_decommissioned",
                "this agent was decommissioned; it has no agent card",
            ));
        }
        _ => return Err(ApiError::not_found("agent")),
    }
    let publisher = tenants::get(&c, row.tenant_id).await?.map(|t| t.name);
    let base = state.config.common.public_base();
    let card = cards::a2a_card(
        &agents::snapshot(&state, &row),
        CardContext {
            base_url: &base,
            publisher: publisher.as_deref(),
        },
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/json")
        .body(card.to_string()))
}
