//! Stripe objects as the API renders them, with every field a typed client requires.

use serde_json::{Value, json};

use super::record::{Recorded, nested};
use super::wire::unix_now;

/// A session without the fake's private bookkeeping.
pub(super) fn public(mut session: Value) -> Value {
    if let Some(o) = session.as_object_mut() {
        o.remove("line_items_price");
        o.remove("subscription_metadata");
    }
    session
}

/// A Checkout Session in subscription mode as the API renders it on creation.
pub(super) fn checkout_session(id: &str, rec: &Recorded) -> Value {
    let created = unix_now();
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
pub(super) fn price_object(price: &str, created: i64) -> Value {
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
pub(super) fn plan_object(price: &str, created: i64) -> Value {
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
