//! A local fake of the Stripe API calls billing makes, and Stripe-shaped webhook events.
//!
//! The fake speaks Stripe's wire format: form-encoded requests (`line_items[0][price]`),
//! bearer secret keys, JSON answers shaped like the real API's, Stripe's error envelope. It
//! keeps every request for assertions and remembers the sessions it created, so a test can
//! "complete" a checkout and receive the events Stripe would send
//! ([`FakeStripe::complete_checkout`]). Events are signed with Stripe's scheme
//! (`Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">`) by [`sign`], an
//! implementation independent of billing's verifier.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

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
    seq: Mutex<u64>,
}

impl State {
    fn next_id(&self, prefix: &str) -> String {
        let mut s = self
            .seq
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
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
    let rec = Recorded {
        method: req.method().to_string(),
        path: req.path().to_owned(),
        form,
        idempotency_key: req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    };
    state
        .requests
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(rec.clone());
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
    let id = state.next_id("cs");
    let session = json!({
        "id": id,
        "object": "checkout.session",
        "mode": rec.field("mode"),
        "status": "open",
        "payment_status": "unpaid",
        "url": format!("https://checkout.stripe.com/c/pay/{id}"),
        "client_reference_id": rec.field("client_reference_id"),
        "customer": rec.field("customer"),
        "subscription": null,
        "metadata": nested(&rec.form, "metadata"),
        "success_url": rec.field("success_url"),
        "cancel_url": rec.field("cancel_url"),
        "livemode": false,
        "created": now(),
        "expires_at": now() + 86_400,
        "line_items_price": rec.field("line_items[0][price]"),
        "subscription_metadata": nested(&rec.form, "subscription_data[metadata]"),
    });
    state
        .sessions
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .insert(id, session.clone());
    let mut public = session;
    if let Some(o) = public.as_object_mut() {
        o.remove("line_items_price");
        o.remove("subscription_metadata");
    }
    HttpResponse::Ok().json(public)
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
    let id = path.into_inner();
    if !id.starts_with("sub_") {
        return stripe_error(
            404,
            "invalid_request_error",
            &format!("No such subscription: '{id}'"),
            Some("id"),
        );
    }
    HttpResponse::Ok().json(json!({
        "id": id,
        "object": "subscription",
        "status": "active",
        "items": {"object": "list", "data": [{
            "id": rec.field("items[0][id]"),
            "object": "subscription_item",
            "price": {"id": rec.field("items[0][price]"), "object": "price"},
        }]},
    }))
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
        self.state
            .requests
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The events Stripe sends when the customer pays session `session_id`: the
    /// subscription's creation, the completed checkout and the paid invoice, with `created`
    /// = `at`. Returns `(subscription_id, events)`.
    pub fn complete_checkout(&self, session_id: &str, at: i64) -> Option<(String, Vec<String>)> {
        let session = self
            .state
            .sessions
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(session_id)
            .cloned()?;
        let sub_id = self.state.next_id("sub");
        let customer = session["customer"]
            .as_str()
            .map_or_else(|| self.state.next_id("cus"), str::to_owned);
        let price = session["line_items_price"].as_str().unwrap_or_default();
        let mut sub = subscription(&sub_id, &customer, price, "active", at + 30 * 86_400);
        sub["metadata"] = session["subscription_metadata"].clone();
        let mut done = session.clone();
        if let Some(o) = done.as_object_mut() {
            o.remove("line_items_price");
            o.remove("subscription_metadata");
        }
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

/// A subscription object as the 2025+ API renders it (period on the item).
pub fn subscription(id: &str, customer: &str, price: &str, status: &str, period_end: i64) -> Value {
    json!({
        "id": id,
        "object": "subscription",
        "customer": customer,
        "status": status,
        "cancel_at_period_end": false,
        "livemode": false,
        "metadata": {},
        "items": {"object": "list", "data": [{
            "id": format!("si_{}", id.trim_start_matches("sub_")),
            "object": "subscription_item",
            "current_period_end": period_end,
            "price": {"id": price, "object": "price", "currency": "usd", "unit_amount": 4900},
            "quantity": 1,
        }]},
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
