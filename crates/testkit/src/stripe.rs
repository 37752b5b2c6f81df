//! A local fake of the Stripe API calls billing makes, and Stripe-shaped webhook events.
//!
//! The fake speaks Stripe's wire format: form-encoded requests (`line_items[0][price]`),
//! bearer secret keys, JSON answers shaped like the real API's, Stripe's error envelope. The
//! answers carry every field a typed client (async-stripe) requires to decode a Checkout
//! Session or a Subscription, as the real API renders them. It keeps every request for
//! assertions and remembers the sessions and subscriptions it created, so a test can
//! "complete" a checkout and receive the events Stripe would send
//! ([`FakeStripe::complete_checkout`]) and then change that subscription's price. Events are signed with Stripe's scheme
//! (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`) by [`sign`], an
//! implementation independent of billing's verifier.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use aws_lc_rs::hmac;
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `POST`.
    pub method: String,
    /// `/v1/checkout/sessions`.
    pub path: String,
    /// The form fields, in order.
    pub form: Vec<(String, String)>,
    /// The `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// The `Stripe-Version` header (the API version the client pins).
    pub stripe_version: Option<String>,
}

impl Recorded {
    /// The value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    api_key: String,
    requests: Mutex<Vec<Recorded>>,
    sessions: Mutex<BTreeMap<String, Value>>,
    subscriptions: Mutex<BTreeMap<String, Value>>,
    delay: Mutex<Duration>,
    seq: Mutex<u64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    fn next_id(&self, prefix: &str) -> String {
        let mut s = lock(&self.seq);
        *s += 1;
        format!(
            "{prefix}_test_{:08}{}",
            *s,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )
    }
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeStripe {
    port: u16,
    state: Arc<State>,
    handle: ServerHandle,
}

fn stripe_error(status: u16, kind: &str, message: &str, param: Option<&str>) -> HttpResponse {
    let mut err = json!({"type": kind, "message": message});
    if let Some(p) = param {
        err["param"] = p.into();
    }
    HttpResponse::build(
        actix_web::http::StatusCode::from_u16(status)
            .unwrap_or(actix_web::http::StatusCode::BAD_REQUEST),
    )
    .insert_header(("request-id", "req_fake"))
    .json(json!({"error": err}))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Nested form fields (`metadata[tenant_id]`) under `prefix` as a JSON object.
fn nested(form: &[(String, String)], prefix: &str) -> Value {
    let mut o = serde_json::Map::new();
    for (k, v) in form {
        if let Some(rest) = k.strip_prefix(prefix).and_then(|r| r.strip_prefix('['))
            && let Some(key) = rest.strip_suffix(']').filter(|k| !k.contains('['))
        {
            o.insert(key.to_owned(), v.clone().into());
        }
    }
    Value::Object(o)
}

/// Checks the bearer key; records the request.
fn accept(state: &State, req: &HttpRequest, body: &[u8]) -> Result<Recorded, Box<HttpResponse>> {
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if auth != format!("Bearer {}", state.api_key) {
        return Err(Box::new(stripe_error(
            401,
            "invalid_request_error",
            "Invalid API Key provided",
            None,
        )));
    }
    let ct = req
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct.starts_with("application/x-www-form-urlencoded") {
        return Err(Box::new(stripe_error(
            400,
            "invalid_request_error",
            "Stripe expects application/x-www-form-urlencoded bodies",
            None,
        )));
    }
    let form: Vec<(String, String)> = form_urlencoded::parse(body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let rec = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        form,
        idempotency_key: header("idempotency-key"),
        stripe_version: header("stripe-version"),
    };
    lock(&state.requests).push(rec.clone());
    Ok(rec)
}

async fn create_session(
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

/// A session without the fake's private bookkeeping.
fn public(mut session: Value) -> Value {
    if let Some(o) = session.as_object_mut() {
        o.remove("line_items_price");
        o.remove("subscription_metadata");
    }
    session
}

/// A Checkout Session in subscription mode as the API renders it on creation.
fn checkout_session(id: &str, rec: &Recorded) -> Value {
    let created = now();
    json!({
        "id": id,
        "object": "checkout.session",
        "adaptive_pricing": null,
        "after_expiration": null,
        "allow_promotion_codes": null,
        "amount_subtotal": 4900,
        "amount_total": 4900,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": null,
        "cancel_url": rec.field("cancel_url"),
        "client_reference_id": rec.field("client_reference_id"),
        "client_secret": null,
        "collected_information": null,
        "consent": null,
        "consent_collection": null,
        "created": created,
        "currency": "usd",
        "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {
            "after_submit": null, "shipping_address": null, "submit": null,
            "terms_of_service_acceptance": null,
        },
        "customer": rec.field("customer"),
        "customer_creation": null,
        "customer_details": null,
        "customer_email": null,
        "discounts": [],
        "expires_at": created + 86_400,
        "invoice": null,
        "invoice_creation": null,
        "livemode": false,
        "locale": null,
        "metadata": nested(&rec.form, "metadata"),
        "mode": rec.field("mode"),
        "origin_context": null,
        "payment_intent": null,
        "payment_link": null,
        "payment_method_collection": "always",
        "payment_method_configuration_details": null,
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "payment_status": "unpaid",
        "permissions": null,
        "phone_number_collection": {"enabled": false},
        "recovered_from": null,
        "saved_payment_method_options": null,
        "setup_intent": null,
        "shipping_address_collection": null,
        "shipping_cost": null,
        "shipping_options": [],
        "status": "open",
        "submit_type": null,
        "subscription": null,
        "success_url": rec.field("success_url"),
        "total_details": {"amount_discount": 0, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": "hosted",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "wallet_options": null,
    })
}

async fn update_subscription(
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
            let created = item["created"].as_i64().unwrap_or_else(now);
            item["price"] = price_object(price, created);
            item["plan"] = plan_object(price, created);
        }
    }
    HttpResponse::Ok().json(sub.clone())
}

impl FakeStripe {
    /// Starts the fake on a free port, accepting `api_key`.
    pub async fn start(api_key: &str) -> anyhow::Result<Self> {
        let state = Arc::new(State {
            api_key: api_key.to_owned(),
            ..State::default()
        });
        let data = web::Data::new(state.clone());
        let server = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/v1/checkout/sessions", web::post().to(create_session))
                .route(
                    "/v1/subscriptions/{id}",
                    web::post().to(update_subscription),
                )
                .default_service(web::to(|| async {
                    stripe_error(
                        404,
                        "invalid_request_error",
                        "Unrecognized request URL",
                        None,
                    )
                }))
        })
        .workers(1)
        .disable_signals()
        .bind(("127.0.0.1", 0))?;
        let port = server
            .addrs()
            .first()
            .map(std::net::SocketAddr::port)
            .ok_or_else(|| anyhow::anyhow!("the fake bound no address"))?;
        let server = server.run();
        let handle = server.handle();
        tokio::spawn(server);
        Ok(Self {
            port,
            state,
            handle,
        })
    }

    /// `http://127.0.0.1:<port>` (billing's `STRIPE_API_BASE`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Recorded> {
        lock(&self.state.requests).clone()
    }

    /// The events Stripe sends when the customer pays session `session_id`: the
    /// subscription's creation, the completed checkout and the paid invoice, with `created`
    /// = `at`. Returns `(subscription_id, events)`.
    pub fn complete_checkout(&self, session_id: &str, at: i64) -> Option<(String, Vec<String>)> {
        let session = lock(&self.state.sessions).get(session_id).cloned()?;
        let sub_id = self.state.next_id("sub");
        let customer = session["customer"]
            .as_str()
            .map_or_else(|| self.state.next_id("cus"), str::to_owned);
        let price = session["line_items_price"].as_str().unwrap_or_default();
        let mut sub = subscription(&sub_id, &customer, price, "active", at + 30 * 86_400);
        sub["metadata"] = session["subscription_metadata"].clone();
        lock(&self.state.subscriptions).insert(sub_id.clone(), sub.clone());
        let mut done = public(session);
        done["status"] = "complete".into();
        done["payment_status"] = "paid".into();
        done["customer"] = customer.clone().into();
        done["subscription"] = sub_id.clone().into();
        let invoice = json!({
            "id": self.state.next_id("in"), "object": "invoice", "customer": customer,
            "status": "paid", "amount_paid": 4900, "currency": "usd",
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": sub_id, "metadata": sub["metadata"]}},
        });
        let events = vec![
            event(
                &self.state.next_id("evt"),
                "customer.subscription.created",
                at,
                sub,
            ),
            event(
                &self.state.next_id("evt"),
                "checkout.session.completed",
                at,
                done,
            ),
            event(
                &self.state.next_id("evt"),
                "invoice.payment_succeeded",
                at,
                invoice,
            ),
        ];
        Some((sub_id, events))
    }

    /// Holds every later answer for `delay` (a slow or hanging Stripe).
    pub fn set_delay(&self, delay: Duration) {
        *lock(&self.state.delay) = delay;
    }

    /// A fresh `evt_...` id.
    pub fn event_id(&self) -> String {
        self.state.next_id("evt")
    }
}

impl Drop for FakeStripe {
    fn drop(&mut self) {
        let handle = self.handle.clone();
        tokio::spawn(async move { handle.stop(false).await });
    }
}

/// A subscription object as the 2025+ API renders it (period on the item), with every field
/// a typed client requires.
pub fn subscription(id: &str, customer: &str, price: &str, status: &str, period_end: i64) -> Value {
    let start = period_end - 30 * 86_400;
    json!({
        "id": id,
        "object": "subscription",
        "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"disabled_reason": null, "enabled": false, "liability": null},
        "billing_cycle_anchor": start,
        "billing_cycle_anchor_config": null,
        "billing_mode": {"flexible": null, "type": "classic", "updated_at": null},
        "billing_schedules": [],
        "billing_thresholds": null,
        "cancel_at": null,
        "cancel_at_period_end": false,
        "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "reason": null},
        "collection_method": "charge_automatically",
        "created": start,
        "currency": "usd",
        "customer": customer,
        "days_until_due": null,
        "default_payment_method": null,
        "default_source": null,
        "default_tax_rates": [],
        "description": null,
        "discounts": [],
        "ended_at": null,
        "invoice_settings": {"account_tax_ids": null, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": [{
                "id": format!("si_{}", id.trim_start_matches("sub_")),
                "object": "subscription_item",
                "billing_thresholds": null,
                "created": start,
                "current_period_end": period_end,
                "current_period_start": start,
                "discounts": [],
                "metadata": {},
                "plan": plan_object(price, start),
                "price": price_object(price, start),
                "quantity": 1,
                "subscription": id,
                "tax_rates": [],
            }],
            "has_more": false,
            "total_count": 1,
            "url": format!("/v1/subscription_items?subscription={id}"),
        },
        "latest_invoice": null,
        "livemode": false,
        "metadata": {},
        "next_pending_invoice_item_invoice": null,
        "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": null,
        "pending_invoice_item_interval": null,
        "pending_setup_intent": null,
        "pending_update": null,
        "schedule": null,
        "start_date": start,
        "status": status,
        "test_clock": null,
        "transfer_data": null,
        "trial_end": null,
        "trial_settings": null,
        "trial_start": null,
    })
}

/// A monthly recurring price of 49.00 USD.
fn price_object(price: &str, created: i64) -> Value {
    json!({
        "id": price,
        "object": "price",
        "active": true,
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "custom_unit_amount": null,
        "livemode": false,
        "lookup_key": null,
        "metadata": {},
        "nickname": null,
        "product": "prod_test_agentidp",
        "recurring": {
            "interval": "month", "interval_count": 1, "meter": null,
            "trial_period_days": null, "usage_type": "licensed",
        },
        "tax_behavior": "unspecified",
        "tiers_mode": null,
        "transform_quantity": null,
        "type": "recurring",
        "unit_amount": 4900,
        "unit_amount_decimal": "4900",
    })
}

/// The legacy `plan` twin of a recurring price, still rendered on subscription items.
fn plan_object(price: &str, created: i64) -> Value {
    json!({
        "id": price,
        "object": "plan",
        "active": true,
        "amount": 4900,
        "amount_decimal": "4900",
        "billing_scheme": "per_unit",
        "created": created,
        "currency": "usd",
        "interval": "month",
        "interval_count": 1,
        "livemode": false,
        "metadata": {},
        "meter": null,
        "nickname": null,
        "product": "prod_test_agentidp",
        "tiers_mode": null,
        "transform_usage": null,
        "trial_period_days": null,
        "usage_type": "licensed",
    })
}

/// An event envelope as Stripe sends it.
pub fn event(id: &str, kind: &str, created: i64, object: Value) -> String {
    json!({
        "id": id,
        "object": "event",
        "api_version": "2025-09-30.clover",
        "created": created,
        "livemode": false,
        "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null},
        "type": kind,
        "data": {"object": object},
    })
    .to_string()
}

/// `Stripe-Signature` for `payload` signed with `secret` at unix time `t`.
pub fn sign(payload: &str, secret: &str, t: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let tag = hmac::sign(&key, format!("{t}.{payload}").as_bytes());
    let hex: String = tag.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    format!("t={t},v1={hex}")
}

/// The current unix time (seconds).
pub fn unix_now() -> i64 {
    now()
}
