"""Stripe's own Python library (stripe.WebhookSignature) signs webhook events; billing must
accept them, apply them, and refuse the same event under a wrong secret, a stale timestamp or
a modified body."""
import json
import os
import sys
import time
import uuid

import requests
import stripe

from common import expect, setup

identity, billing = sys.argv[1].rstrip("/"), sys.argv[2].rstrip("/")
secret = os.environ["STRIPE_WEBHOOK_SECRET"]
price = os.environ["STRIPE_PRICE_PRO"]
hook = f"{billing}/api/v1/billing/webhooks/stripe"

tenant, admin, _agent, _cred = setup(identity)
tenant_id = tenant["tenant"]["id"]
auth = {"Authorization": f"Bearer {admin}"}


def tier():
    r = requests.get(f"{billing}/api/v1/billing/subscription", headers=auth)
    expect(r.status_code == 200, f"subscription: {r.status_code} {r.text}")
    return r.json()["tier"]


def post(payload, header):
    return requests.post(hook, data=payload.encode(), headers={
        "Content-Type": "application/json; charset=utf-8", "Stripe-Signature": header})


now = int(time.time())
sub = f"sub_interop_{uuid.uuid4().hex[:10]}"
payload = json.dumps({
    "id": f"evt_interop_{uuid.uuid4().hex[:10]}", "object": "event", "api_version": "2025-09-30.clover",
    "created": now, "livemode": False, "pending_webhooks": 1, "type": "customer.subscription.created",
    "data": {"object": {
        "id": sub, "object": "subscription", "customer": "cus_interop", "status": "active",
        "cancel_at_period_end": False, "metadata": {"tenant_id": tenant_id},
        "items": {"object": "list", "data": [{"id": "si_interop", "object": "subscription_item",
                                              "current_period_end": now + 2592000,
                                              "price": {"id": price, "object": "price"}}]},
    }},
}, indent=2)  # Stripe pretty-prints its payloads; the signature covers the exact bytes.

sign = stripe.WebhookSignature.generate_signature_header
for what, body, header in [
    ("wrong secret", payload, sign(payload, "whsec_not_the_endpoint_secret")),
    ("stale timestamp", payload, sign(payload, secret, timestamp=now - 301)),
    ("modified body", payload.replace(price, "price_other"), sign(payload, secret)),
]:
    r = post(body, header)
    expect(r.status_code == 400, f"{what}: {r.status_code} {r.text}")
    expect(r.headers["content-type"].startswith("application/problem+json"), f"{what}: content type")
    expect(r.json()["code"] == "invalid_signature", f"{what}: {r.text}")
    print(f"ok: {what} refused with 400 invalid_signature")
expect(tier() == "free", "a refused event changed the tier")

header = sign(payload, secret)
# The header is exactly what Stripe's library itself accepts.
stripe.WebhookSignature.verify_header(payload, header, secret, tolerance=300)
r = post(payload, header)
expect(r.status_code == 200, f"signed event: {r.status_code} {r.text}")
expect(tier() == "pro", "the signed event did not apply")
print("ok: event signed by stripe-python accepted and applied (tenant is on pro)")
r = post(payload, sign(payload, secret))
expect(r.status_code == 200 and r.json()["duplicate"] is True, f"redelivery: {r.text}")
print("ok: redelivery acknowledged as a duplicate")
