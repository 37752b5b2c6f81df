//! DID documents: `/.well-known/did.json` (this deployment) and `/agents/{id}/did.json`.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use platform::ApiResult;

use super::support::path_id;
use crate::agents::Agents;
use crate::keys::directory::KeyDirectory;

fn did_json(doc: &serde_json::Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .content_type("application/did+json")
        .body(doc.to_string())
}

/// `GET /.well-known/did.json`: the deployment's DID, with the token signing keys.
pub async fn instance(keys: web::Data<KeyDirectory>) -> HttpResponse {
    did_json(&keys.did_document())
}

/// `GET /agents/{id}/did.json`: 410 once the agent is decommissioned.
pub async fn agent(agents: web::Data<Agents>, path: web::Path<String>) -> ApiResult<HttpResponse> {
    let id = path_id(&path, "agent")?;
    Ok(did_json(&agents.did_document(id).await?))
}
