//! An agent as the API shows it, and as its change-feed events carry it.

use domain::AgentSnapshot;
use platform::db::GenericClient;
use reqwest::Url;
use serde_json::json;

use crate::audit::event::format_time;
use crate::did;
use crate::repo::agents::{AgentRow, public_key};
use crate::repo::tenants;

/// The API representation of an agent (also the `agent` of its change-feed events); its
/// DID names the deployment at `public_url`.
pub fn snapshot(public_url: &Url, a: &AgentRow) -> AgentSnapshot {
    AgentSnapshot::new(
        a.id,
        &a.fields,
        a.status,
        did::agent_did(public_url, a.id),
        format_time(a.created_at),
        format_time(a.updated_at),
    )
}

/// [`snapshot`] as JSON.
pub fn to_json(public_url: &Url, a: &AgentRow) -> serde_json::Value {
    serde_json::to_value(snapshot(public_url, a)).unwrap_or_default()
}

/// The details of an agent event: the agent, its publisher (the tenant's name) and its DID
/// key, read in the change's transaction `tx`, plus the members of `extra`.
pub async fn event_details(
    public_url: &Url,
    tx: &impl GenericClient,
    a: &AgentRow,
    extra: serde_json::Value,
) -> Result<serde_json::Value, tokio_postgres::Error> {
    let publisher = tenants::get(tx, a.tenant_id).await?.map(|t| t.name);
    let public_jwk = public_key(tx, a.id).await?;
    let mut d = json!({
        "agent": to_json(public_url, a),
        "publisher": publisher,
        "public_jwk": public_jwk,
    });
    if let (Some(obj), serde_json::Value::Object(extra)) = (d.as_object_mut(), extra) {
        obj.extend(extra);
    }
    Ok(d)
}
