//! DID documents: `/.well-known/did.json` (this deployment) and `/agents/{id}/did.json`.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpResponse, web};
use platform::{ApiError, ApiResult};

use super::path_id;
use crate::did;
use crate::repo::agents;
use crate::startup::State;

fn did_json(doc: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/did+json")
        .body(doc.to_string())
}

/// `GET /.well-known/did.json`: the deployment's DID, with the token signing keys.
pub async fn instance(state: State) -> HttpResponse {
    let url = &state.config.common.public_url;
    let keys: Vec<serde_json::Value> = state
        .keys
        .current()
        .published(time::OffsetDateTime::now_utc())
        .map(|k| k.public_jwk.clone())
        .collect();
    did_json(&did::document(&did::instance_did(url), &keys))
}

/// `GET /agents/{id}/did.json`: 410 once the agent is decommissioned.
pub async fn agent(state: State, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    let c = state.core.db.get().await?;
    let (row, jwk) = agents::get_public_with_key(&c, id)
        .await?
        .ok_or_else(|| ApiError::not_found("agent"))?;
    if row.status == "decommissioned" {
        return Err(ApiError::new(
            StatusCode::GONE,
            "agent_decommissioned",
            "this agent was decommissioned; its DID is deactivated",
        ));
    }
    let did = did::agent_did(&state.config.common.public_url, id);
    Ok(did_json(&did::document(&did, &[jwk])))
}
