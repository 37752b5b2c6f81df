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

mod handlers;
mod objects;
mod record;
mod wire;

use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer, web};
use serde_json::json;

use handlers::{create_session, update_subscription};
use objects::public;
use record::{State, lock, stripe_error};

pub use objects::subscription;
pub use record::Recorded;
pub use wire::{event, sign, unix_now};

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeStripe {
    port: u16,
    state: Arc<State>,
    handle: ServerHandle,
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
