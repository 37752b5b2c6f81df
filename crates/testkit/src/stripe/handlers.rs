//! The API calls the fake answers: Checkout Session creation and subscription updates.

use std::sync::Arc;

use actix_web::{HttpRequest, HttpResponse, web};

use super::objects::{checkout_session, plan_object, price_object, public};
use super::record::{State, accept, lock, nested, stripe_error};
use super::wire::unix_now;

/// `POST /v1/checkout/sessions`.
pub(super) async fn create_session(
    state: web::Data<Arc<State>>,
    req: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let rec = match accept(&state, &req, &body) {
        Ok(r) => r,
        Err(res) => return *res,
    };
    for required in ["mode", "success_url", "line_items[0][price]"] {
        if rec.field(required).is_none() {
            return stripe_error(
                400,
                "invalid_request_error",
                &format!("Missing required param: {required}."),
                Some(required),
            );
        }
    }
    let delay = *lock(&state.delay);
    tokio::time::sleep(delay).await;
    let id = state.next_id("cs");
    let mut session = checkout_session(&id, &rec);
    // What the fake keeps for `complete_checkout`; never part of an answer.
    session["line_items_price"] = rec.field("line_items[0][price]").into();
    session["subscription_metadata"] = nested(&rec.form, "subscription_data[metadata]");
    lock(&state.sessions).insert(id, session.clone());
    HttpResponse::Ok().json(public(session))
}

/// `POST /v1/subscriptions/{id}`: a price change.
pub(super) async fn update_subscription(
    state: web::Data<Arc<State>>,
    req: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let rec = match accept(&state, &req, &body) {
        Ok(r) => r,
        Err(res) => return *res,
    };
    let delay = *lock(&state.delay);
    tokio::time::sleep(delay).await;
    let id = path.into_inner();
    let mut subs = lock(&state.subscriptions);
    let Some(sub) = subs.get_mut(&id) else {
        return stripe_error(
            404,
            "invalid_request_error",
            &format!("No such subscription: '{id}'"),
            Some("id"),
        );
    };
    if let Some(item_id) = rec.field("items[0][id]") {
        let items = sub["items"]["data"].as_array_mut();
        let Some(item) = items.and_then(|d| d.iter_mut().find(|i| i["id"] == item_id)) else {
            return stripe_error(
                400,
                "invalid_request_error",
                &format!("Invalid subscription_item id: {item_id}"),
                Some("items[0][id]"),
            );
        };
        if let Some(price) = rec.field("items[0][price]") {
            let created = item["created"].as_i64().unwrap_or_else(unix_now);
            item["price"] = price_object(price, created);
            item["plan"] = plan_object(price, created);
        }
    }
    HttpResponse::Ok().json(sub.clone())
}
