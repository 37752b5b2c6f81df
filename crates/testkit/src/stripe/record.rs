//! What the fake keeps (the requests it received, the sessions and subscriptions it
//! created) and how it accepts a request: the bearer key, a form body, Stripe's error
//! envelope otherwise.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse};
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

/// What the fake keeps between requests.
#[derive(Debug, Default)]
pub(super) struct State {
    pub(super) api_key: String,
    pub(super) requests: Mutex<Vec<Recorded>>,
    pub(super) sessions: Mutex<BTreeMap<String, Value>>,
    pub(super) subscriptions: Mutex<BTreeMap<String, Value>>,
    pub(super) delay: Mutex<Duration>,
    pub(super) seq: Mutex<u64>,
}

pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    /// A fresh id with Stripe's `prefix`.
    pub(super) fn next_id(&self, prefix: &str) -> String {
        let mut s = lock(&self.seq);
        *s += 1;
        format!(
            "{prefix}_test_{:08}{}",
            *s,
            &uuid::Uuid::new_v4().simple().to_string()[..12]
        )
    }
}

/// Stripe's error envelope.
pub(super) fn stripe_error(
    status: u16,
    kind: &str,
    message: &str,
    param: Option<&str>,
) -> HttpResponse {
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

/// Nested form fields (`metadata[tenant_id]`) under `prefix` as a JSON object.
pub(super) fn nested(form: &[(String, String)], prefix: &str) -> Value {
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
pub(super) fn accept(
    state: &State,
    req: &HttpRequest,
    body: &[u8],
) -> Result<Recorded, Box<HttpResponse>> {
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
