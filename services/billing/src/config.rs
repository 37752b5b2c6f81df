//! The billing service's settings: the common ones plus Stripe's (see docs/ENVIRONMENT.md).

use domain::Tier;
use platform::Secret;
use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};
use reqwest::Url;

/// Stripe settings. Without a secret key checkouts answer 503; without a webhook secret
/// webhooks answer 503 (nothing unverified is ever accepted).
#[derive(Debug, Clone)]
pub struct StripeConfig {
    /// `STRIPE_SECRET_KEY`: the API key (`sk_live_...` / `sk_test_...`).
    pub secret_key: Option<Secret<String>>,
    /// `STRIPE_WEBHOOK_SECRET`: the endpoint's signing secret (`whsec_...`).
    pub webhook_secret: Option<Secret<String>>,
    /// `STRIPE_PRICE_PRO`: the price id of the pro tier.
    pub price_pro: Option<String>,
    /// `STRIPE_PRICE_ENTERPRISE`: the price id of the enterprise tier.
    pub price_enterprise: Option<String>,
    /// `STRIPE_API_BASE` (`https://api.stripe.com`): tests point it at a local fake.
    pub api_base: Url,
    /// `STRIPE_TIMEOUT_MS` (10000): per-request timeout of Stripe API calls.
    pub timeout: std::time::Duration,
    /// `CHECKOUT_SUCCESS_URL` (`<PUBLIC_URL>/portal/billing?checkout=success`).
    pub success_url: String,
    /// `CHECKOUT_CANCEL_URL` (`<PUBLIC_URL>/portal/billing?checkout=cancelled`).
    pub cancel_url: String,
}

impl StripeConfig {
    /// The price id of a paid tier.
    pub fn price_of(&self, tier: Tier) -> Option<&str> {
        match tier {
            Tier::Free => None,
            Tier::Pro => self.price_pro.as_deref(),
            Tier::Enterprise => self.price_enterprise.as_deref(),
        }
    }

    /// The tier a price id buys.
    pub fn tier_of(&self, price: &str) -> Option<Tier> {
        [Tier::Pro, Tier::Enterprise]
            .into_iter()
            .find(|t| self.price_of(*t) == Some(price))
    }
}

/// Everything the billing service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings shared by every service (`BILLING_ENABLED` is `common.billing.enabled`).
    pub common: CommonConfig,
    /// Stripe.
    pub stripe: StripeConfig,
}

fn price(r: &mut Reader<'_>, var: &str) -> Option<String> {
    let v = r.opt_string(var)?;
    if !v.starts_with("price_") || v.len() > 255 {
        r.error(var, "expected a Stripe price id (price_...)");
    }
    Some(v)
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Billing);
        let secret_key = r.opt_secret("STRIPE_SECRET_KEY");
        if let Some(k) = &secret_key
            && !(k.expose().starts_with("sk_") || k.expose().starts_with("rk_"))
        {
            r.error("STRIPE_SECRET_KEY", "expected a Stripe secret key (sk_...)");
        }
        let webhook_secret = r.opt_secret("STRIPE_WEBHOOK_SECRET");
        if let Some(s) = &webhook_secret
            && s.expose().len() < 16
        {
            r.error(
                "STRIPE_WEBHOOK_SECRET",
                "must be at least 16 characters (whsec_...)",
            );
        }
        let price_pro = price(&mut r, "STRIPE_PRICE_PRO");
        let price_enterprise = price(&mut r, "STRIPE_PRICE_ENTERPRISE");
        if price_pro.is_some() && price_pro == price_enterprise {
            r.error(
                "STRIPE_PRICE_ENTERPRISE",
                "must differ from STRIPE_PRICE_PRO (the price decides the tier)",
            );
        }
        let api_base = r.url("STRIPE_API_BASE", "https://api.stripe.com");
        let timeout = r.millis("STRIPE_TIMEOUT_MS", 10_000, 100, 120_000);
        let base = common.public_base();
        let success_url = r.string(
            "CHECKOUT_SUCCESS_URL",
            &format!("{base}/portal/billing?checkout=success"),
        );
        let cancel_url = r.string(
            "CHECKOUT_CANCEL_URL",
            &format!("{base}/portal/billing?checkout=cancelled"),
        );
        for (var, v) in [
            ("CHECKOUT_SUCCESS_URL", &success_url),
            ("CHECKOUT_CANCEL_URL", &cancel_url),
        ] {
            if Url::parse(v).map_or(true, |u| !matches!(u.scheme(), "http" | "https")) {
                r.error(var, "expected an http(s) URL");
            }
        }
        r.finish()?;
        Ok(Self {
            common,
            stripe: StripeConfig {
                secret_key,
                webhook_secret,
                price_pro,
                price_enterprise,
                api_base,
                timeout,
                success_url,
                cancel_url,
            },
        })
    }

    /// `BILLING_ENABLED`.
    pub fn enabled(&self) -> bool {
        self.common.billing.enabled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_map_to_tiers_and_bad_values_are_named() {
        let env = Env::from_pairs([
            ("STRIPE_PRICE_PRO", "price_pro1"),
            ("STRIPE_PRICE_ENTERPRISE", "price_ent1"),
        ]);
        let c = Config::from_env(&env).unwrap();
        assert_eq!(c.stripe.tier_of("price_pro1"), Some(Tier::Pro));
        assert_eq!(c.stripe.tier_of("price_ent1"), Some(Tier::Enterprise));
        assert_eq!(c.stripe.tier_of("price_other"), None);
        let env = Env::from_pairs([
            ("STRIPE_SECRET_KEY", "pk_live_x"),
            ("STRIPE_WEBHOOK_SECRET", "short"),
            ("STRIPE_PRICE_PRO", "prod_1"),
            ("STRIPE_API_BASE", "ftp://x"),
        ]);
        let errs = Config::from_env(&env).unwrap_err();
        let vars: Vec<&str> = errs.0.iter().map(|e| e.var.as_str()).collect();
        for v in [
            "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET",
            "STRIPE_PRICE_PRO",
            "STRIPE_API_BASE",
        ] {
            assert!(vars.contains(&v), "{v} missing from {vars:?}");
        }
    }
}
