//! `GET /agents/{id}/.well-known/agent-card.json`: an active agent's A2A AgentCard (v1.0),
//! built by `domain::cards` like the analytics export. Suspended agents answer 404,
//! decommissioned ones 410 (as their DID documents do).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;

use super::support::path_id;
use crate::agents::Agents;

/// The handler (public: agent cards are for discovery).
pub async fn agent(agents: web::Data<Agents>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let card = agents.card(id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/json")
        .body(card.to_string()))
}
