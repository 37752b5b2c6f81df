//! Stripe events, read after their signature was verified.
//!
//! We read only the fields we use, through JSON paths that hold across Stripe API versions
//! (for example `current_period_end` moved from the subscription to its items in 2025, and an
//! invoice's subscription moved under `parent.subscription_details`), so a change of the
//! account's API version does not break webhooks. An ordinary typed SDK parse fails on events
//! rendered with another API version than the one it was generated for.

use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

/// The envelope of every event.
#[derive(Debug, Deserialize)]
struct RawEvent {
    id: String,
    #[serde(rename = "type")]
    kind: String,
    created: i64,
    data: RawData,
}

#[derive(Debug, Deserialize)]
struct RawData {
    object: Value,
}

/// What an event says about a subscription.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionState {
    /// `sub_...`.
    pub id: String,
    /// From `metadata.tenant_id`, when present.
    pub tenant: Option<Uuid>,
    /// `cus_...`.
    pub customer: Option<String>,
    /// Stripe's status (`active`, `past_due`, `canceled`, ...).
    pub status: String,
    /// The first item's price.
    pub price: Option<String>,
    /// The first item's id (needed to change its price on upgrade).
    pub item: Option<String>,
    /// End of the paid period (unix seconds).
    pub current_period_end: Option<i64>,
    /// Whether it ends at the period's end.
    pub cancel_at_period_end: bool,
}

/// The change an event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// `checkout.session.completed` of a subscription checkout.
    CheckoutCompleted {
        /// `metadata.tenant_id`, else `client_reference_id`.
        tenant: Option<Uuid>,
        /// `cus_...`.
        customer: Option<String>,
        /// `sub_...`.
        subscription: Option<String>,
        /// `metadata.price_id` (set by us when creating the session).
        price: Option<String>,
        /// `payment_status` is `paid` or `no_payment_required`.
        paid: bool,
    },
    /// `customer.subscription.created` / `updated`.
    SubscriptionUpserted(SubscriptionState),
    /// `customer.subscription.deleted`: terminal for the subscription id.
    SubscriptionDeleted(SubscriptionState),
    /// `invoice.payment_succeeded` / `invoice.payment_failed`.
    InvoicePayment {
        /// The invoice's subscription.
        subscription: Option<String>,
        /// Succeeded (`true`) or failed.
        succeeded: bool,
    },
    /// Any other type: acknowledged, nothing stored but the event id.
    Ignored,
}

/// A verified, parsed event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// `evt_...`.
    pub id: String,
    /// Its type.
    pub kind: String,
    /// When Stripe created it (unix seconds): the order of states.
    pub created: i64,
    /// What it changes.
    pub change: Change,
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    let mut cur = v;
    for p in path {
        cur = cur.get(p)?;
    }
    cur.as_str().filter(|s| !s.is_empty())
}

/// A field that is an id, or an expanded object with an `id`.
fn id_at(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => o.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn uuid_at(v: &Value, path: &[&str]) -> Option<Uuid> {
    str_at(v, path).and_then(|s| Uuid::parse_str(s).ok())
}

fn subscription(o: &Value) -> Result<SubscriptionState, String> {
    let id = str_at(o, &["id"]).ok_or("data.object.id is missing")?;
    let item = o
        .get("items")
        .and_then(|i| i.get("data"))
        .and_then(Value::as_array)
        .and_then(|a| a.first());
    let price = item
        .and_then(|i| str_at(i, &["price", "id"]).or_else(|| str_at(i, &["plan", "id"])))
        .or_else(|| str_at(o, &["plan", "id"]));
    let period_end = o
        .get("current_period_end")
        .and_then(Value::as_i64)
        .or_else(|| item.and_then(|i| i.get("current_period_end")?.as_i64()));
    Ok(SubscriptionState {
        id: id.to_owned(),
        tenant: uuid_at(o, &["metadata", "tenant_id"]),
        customer: id_at(o, "customer"),
        status: str_at(o, &["status"])
            .ok_or("data.object.status is missing")?
            .to_owned(),
        price: price.map(str::to_owned),
        item: item.and_then(|i| str_at(i, &["id"])).map(str::to_owned),
        current_period_end: period_end,
        cancel_at_period_end: o
            .get("cancel_at_period_end")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// Parses a verified payload.
pub fn parse(body: &[u8]) -> Result<Event, String> {
    let raw: RawEvent =
        serde_json::from_slice(body).map_err(|e| format!("not a Stripe event: {e}"))?;
    if !raw.id.starts_with("evt_") || raw.id.len() > 255 {
        return Err("id must be a Stripe event id (evt_...)".into());
    }
    let o = &raw.data.object;
    let change = match raw.kind.as_str() {
        "checkout.session.completed" => {
            if str_at(o, &["mode"]).is_some_and(|m| m != "subscription") {
                Change::Ignored
            } else {
                Change::CheckoutCompleted {
                    tenant: uuid_at(o, &["metadata", "tenant_id"])
                        .or_else(|| uuid_at(o, &["client_reference_id"])),
                    customer: id_at(o, "customer"),
                    subscription: id_at(o, "subscription"),
                    price: str_at(o, &["metadata", "price_id"]).map(str::to_owned),
                    paid: matches!(
                        str_at(o, &["payment_status"]),
                        Some("paid" | "no_payment_required")
                    ),
                }
            }
        }
        "customer.subscription.created" | "customer.subscription.updated" => {
            Change::SubscriptionUpserted(subscription(o)?)
        }
        "customer.subscription.deleted" => Change::SubscriptionDeleted(subscription(o)?),
        "invoice.payment_succeeded" | "invoice.payment_failed" => Change::InvoicePayment {
            subscription: id_at(o, "subscription").or_else(|| {
                o.get("parent")
                    .and_then(|p| p.get("subscription_details"))
                    .and_then(|d| id_at(d, "subscription"))
            }),
            succeeded: raw.kind == "invoice.payment_succeeded",
        },
        _ => Change::Ignored,
    };
    Ok(Event {
        id: raw.id,
        kind: raw.kind,
        created: raw.created,
        change,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(kind: &str, object: Value) -> Vec<u8> {
        json!({"id": "evt_1", "object": "event", "type": kind, "created": 1_700_000_000,
               "api_version": "2025-09-30.clover", "data": {"object": object}})
        .to_string()
        .into_bytes()
    }

    #[test]
    fn subscription_fields_of_old_and_new_api_versions() {
        let t = Uuid::new_v4();
        let new = event(
            "customer.subscription.updated",
            json!({"id": "sub_1", "object": "subscription", "customer": "cus_1", "status": "active",
                   "metadata": {"tenant_id": t.to_string()}, "cancel_at_period_end": false,
                   "items": {"data": [{"id": "si_1", "price": {"id": "price_pro"}, "current_period_end": 1_800_000_000}]}}),
        );
        let Change::SubscriptionUpserted(s) = parse(&new).unwrap().change else {
            panic!("wrong change");
        };
        assert_eq!(s.tenant, Some(t));
        assert_eq!(s.price.as_deref(), Some("price_pro"));
        assert_eq!(s.item.as_deref(), Some("si_1"));
        assert_eq!(s.current_period_end, Some(1_800_000_000));
        let old = event(
            "customer.subscription.deleted",
            json!({"id": "sub_1", "customer": {"id": "cus_1"}, "status": "canceled",
                   "current_period_end": 1_700_000_500, "plan": {"id": "price_pro"}}),
        );
        let Change::SubscriptionDeleted(s) = parse(&old).unwrap().change else {
            panic!("wrong change");
        };
        assert_eq!(s.customer.as_deref(), Some("cus_1"));
        assert_eq!(s.current_period_end, Some(1_700_000_500));
        assert_eq!(s.price.as_deref(), Some("price_pro"));
    }

    #[test]
    fn invoices_and_unknown_types() {
        let inv = event(
            "invoice.payment_failed",
            json!({"id": "in_1", "parent": {"subscription_details": {"subscription": "sub_9"}}}),
        );
        assert_eq!(
            parse(&inv).unwrap().change,
            Change::InvoicePayment {
                subscription: Some("sub_9".into()),
                succeeded: false
            }
        );
        let other = event("charge.refunded", json!({"id": "ch_1"}));
        assert_eq!(parse(&other).unwrap().change, Change::Ignored);
        assert!(parse(b"{}").is_err());
        assert!(
            parse(&event(
                "customer.subscription.updated",
                json!({"id": "sub_1"})
            ))
            .is_err()
        );
    }
}
