//! The identity service's settings: the common ones plus its own (see docs/ENVIRONMENT.md).

use std::time::Duration;

use base64::Engine as _;
use platform::Secret;
use platform::config::{CommonConfig, ConfigErrors, Env, Reader, ServiceKind};

use crate::keys::signer::Alg;

/// Signing-key lifecycle settings.
#[derive(Debug, Clone)]
pub struct KeyConfig {
    /// `SIGNING_ALG` (`ES256`): algorithm of newly generated keys (`ES256`, `RS256`, `EdDSA`).
    pub alg: Alg,
    /// `SIGNING_KEY_ROTATION_INTERVAL_SECS` (2592000 = 30 days): how long a key signs.
    pub rotation_interval: Duration,
    /// `SIGNING_KEY_PUBLISH_LEAD_SECS` (3600): how long a new key is in the JWKS before it
    /// signs; longer than any verifier's JWKS cache.
    pub publish_lead: Duration,
    /// `KEY_REFRESH_INTERVAL_MS` (5000): how often each instance reloads keys from PostgreSQL.
    pub refresh_interval: Duration,
    /// `JWT_PRIVATE_KEY` / `JWT_PUBLIC_KEY`: an RS256 PEM pair of the original product to
    /// import (both or neither).
    pub import: Option<(Secret<String>, String)>,
}

/// Everything the identity service reads from the environment.
#[derive(Debug, Clone)]
pub struct Config {
    /// Settings shared by every service.
    pub common: CommonConfig,
    /// `KEY_ENCRYPTION_KEY`: 32 bytes, base64 or hex; encrypts private keys at rest.
    pub key_encryption_key: Secret<[u8; 32]>,
    /// `KEY_ENCRYPTION_KEY_SECONDARY`: a second key that opens what it sealed, never seals
    /// (rotation, docs/SECURITY.md).
    pub key_encryption_key_secondary: Option<Secret<[u8; 32]>>,
    /// `CREDENTIAL_PEPPER`: at least 16 bytes; keys the HMAC of stored client secrets.
    pub credential_pepper: Secret<String>,
    /// `CREDENTIAL_PEPPER_SECONDARY`: a second pepper secrets are also checked against, never
    /// hashed with (rotation, docs/SECURITY.md).
    pub credential_pepper_secondary: Option<Secret<String>>,
    /// `TOKEN_TTL_SECS` (3600): lifetime of access tokens.
    pub token_ttl: Duration,
    /// Signing keys.
    pub keys: KeyConfig,
    /// `CREDENTIAL_CACHE_TTL_MS` (500, at most 900): how long an instance trusts a looked-up
    /// credential; bounds how late another instance sees a revocation (under 1 s).
    pub credential_cache_ttl: Duration,
    /// `AUDIT_TOKEN_EVENTS` (true): write an audit event for every token issued or refused
    /// and answer only after it is committed. `false` is for measurements only.
    pub audit_token_events: bool,
    /// `AUDIT_BATCH_MAX` (2000): most events one group commit writes.
    pub audit_batch_max: usize,
    /// Audit retention, verification and checkpoints.
    pub audit: AuditConfig,
    /// `FEED_POLL_INTERVAL_MS` (100): how often a long-polling change-feed request looks for
    /// events written by other instances (this instance's writes wake it at once).
    pub feed_poll_interval: Duration,
    /// `FEDERATION_ALLOWED_NETWORKS` (empty): CIDRs that external OIDC issuers (discovery
    /// and JWKS) may resolve to although they are private, loopback or link-local (and which
    /// may then use plain http).
    pub federation_allowed_networks: Vec<platform::net::Cidr>,
    /// Webhook delivery.
    pub webhooks: WebhookConfig,
    /// `SIGNUP_INVITATION_CODES` (empty): comma-separated codes, at least 8 characters each;
    /// when set, a signup must carry one of them (`invitation_code`).
    pub signup_invitation_codes: Vec<Secret<String>>,
}

/// Audit log upkeep.
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// `AUDIT_RETENTION_DAYS` (90): events older than this are removed, behind a signed
    /// checkpoint that keeps the rest of the chain verifiable.
    pub retention: Duration,
    /// `AUDIT_RETENTION_INTERVAL_SECS` (3600): how often the retention job runs.
    pub retention_interval: Duration,
    /// `AUDIT_VERIFY_INTERVAL_SECS` (3600): how often every chain is verified in the
    /// background (the `agentidp_audit_chain_integrity` gauge).
    pub verify_interval: Duration,
    /// `AUDIT_VERIFY_CONCURRENCY` (2): chain walks on request one instance runs at once, on
    /// as many database connections of their own (one tenant walks one at a time, a full
    /// walk one per instance).
    pub verify_concurrency: usize,
}

/// Webhook delivery settings.
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    /// `WEBHOOK_ALLOWED_NETWORKS` (empty): CIDRs that webhook targets may resolve to although
    /// they are private, loopback or link-local (and which may then use plain http).
    pub allowed_networks: Vec<platform::net::Cidr>,
    /// `WEBHOOK_MAX_ATTEMPTS` (10): attempts before a delivery is dead-lettered.
    pub max_attempts: u32,
    /// `WEBHOOK_RETRY_BASE_MS` (10000): the wait after the first failure; it doubles after
    /// each further failure.
    pub retry_base: Duration,
    /// `WEBHOOK_RETRY_MAX_MS` (3600000): the longest wait between attempts.
    pub retry_max: Duration,
    /// `WEBHOOK_TIMEOUT_MS` (10000): how long one attempt may take.
    pub timeout: Duration,
    /// `WEBHOOK_POLL_INTERVAL_MS` (500): how often an instance looks for due deliveries.
    pub poll_interval: Duration,
    /// `WEBHOOK_CONCURRENCY` (16): deliveries one instance attempts at once.
    pub concurrency: usize,
    /// `WEBHOOK_TENANT_CONCURRENCY` (4, or `WEBHOOK_CONCURRENCY` when that is lower; at most
    /// `WEBHOOK_CONCURRENCY`): deliveries of one tenant one instance attempts at once, so a
    /// tenant whose receivers are slow cannot take every slot.
    pub tenant_concurrency: usize,
    /// `WEBHOOK_RESPONSE_MAX_BYTES` (4096): most bytes of a receiver's answer read; the rest
    /// is never read.
    pub response_max_bytes: usize,
}

fn parse_kek(r: &mut Reader<'_>) -> Secret<[u8; 32]> {
    let var = "KEY_ENCRYPTION_KEY";
    let Some(raw) = r.raw(var) else {
        r.error(var, "is required (32 random bytes, base64 or hex)");
        return Secret::new([0; 32]);
    };
    decode_kek(r, var, raw)
}

/// A 32-byte key of `var`: 64 hex digits, or base64 (standard or URL-safe).
fn decode_kek(r: &mut Reader<'_>, var: &str, raw: &str) -> Secret<[u8; 32]> {
    let raw = raw.trim();
    let bytes = if raw.len() == 64 && raw.bytes().all(|b| b.is_ascii_hexdigit()) {
        hex::decode(raw).ok()
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(raw)
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(raw))
            .ok()
    };
    match bytes.and_then(|b| <[u8; 32]>::try_from(b).ok()) {
        Some(k) => Secret::new(k),
        None => {
            r.error(var, "must be exactly 32 bytes, base64 or hex encoded");
            Secret::new([0; 32])
        }
    }
}

/// `SIGNUP_INVITATION_CODES`: comma-separated, surrounding spaces ignored.
fn invitation_codes(r: &mut Reader<'_>) -> Vec<Secret<String>> {
    let var = "SIGNUP_INVITATION_CODES";
    let codes: Vec<Secret<String>> = r
        .raw(var)
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| Secret::new(c.to_owned()))
        .collect();
    if codes.iter().any(|c| c.expose().chars().count() < 8) {
        r.error(var, "every code must be at least 8 characters");
    }
    codes
}

/// `KEY_ENCRYPTION_KEY_SECONDARY`, or its alias `KEY_ENCRYPTION_KEY_PREVIOUS` (not both).
fn secondary_kek(r: &mut Reader<'_>) -> Option<Secret<[u8; 32]>> {
    const SECONDARY: &str = "KEY_ENCRYPTION_KEY_SECONDARY";
    const PREVIOUS: &str = "KEY_ENCRYPTION_KEY_PREVIOUS";
    let (var, raw) = match (r.raw(SECONDARY), r.raw(PREVIOUS)) {
        (Some(_), Some(_)) => {
            r.error(
                PREVIOUS,
                format!("{PREVIOUS} is another name of {SECONDARY}: set one of them"),
            );
            return None;
        }
        (Some(raw), None) => (SECONDARY, raw),
        (None, Some(raw)) => (PREVIOUS, raw),
        (None, None) => return None,
    };
    Some(decode_kek(r, var, raw))
}

impl Config {
    /// Reads and validates every variable, reporting all problems at once.
    pub fn from_env(env: &Env) -> Result<Self, ConfigErrors> {
        let mut r = Reader::new(env);
        let common = CommonConfig::read(&mut r, ServiceKind::Identity);
        let key_encryption_key = parse_kek(&mut r);
        let key_encryption_key_secondary = secondary_kek(&mut r);
        let credential_pepper = r.required_secret("CREDENTIAL_PEPPER");
        if !credential_pepper.expose().is_empty() && credential_pepper.expose().len() < 16 {
            r.error("CREDENTIAL_PEPPER", "must be at least 16 bytes");
        }
        let credential_pepper_secondary = r
            .raw("CREDENTIAL_PEPPER_SECONDARY")
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(v.to_owned()));
        if credential_pepper_secondary
            .as_ref()
            .is_some_and(|p| p.expose().len() < 16)
        {
            r.error("CREDENTIAL_PEPPER_SECONDARY", "must be at least 16 bytes");
        }
        let token_ttl = Duration::from_secs(r.u64_in("TOKEN_TTL_SECS", 3600, 60, 86_400));
        let alg = r.parse("SIGNING_ALG", Alg::Es256, "ES256, RS256 or EdDSA");
        let rotation_interval = Duration::from_secs(r.u64_in(
            "SIGNING_KEY_ROTATION_INTERVAL_SECS",
            30 * 86_400,
            1,
            10 * 365 * 86_400,
        ));
        let publish_lead =
            Duration::from_secs(r.u64_in("SIGNING_KEY_PUBLISH_LEAD_SECS", 3600, 1, 30 * 86_400));
        let refresh_interval = r.millis("KEY_REFRESH_INTERVAL_MS", 5_000, 10, 600_000);
        if refresh_interval * 2 > publish_lead {
            r.error(
                "KEY_REFRESH_INTERVAL_MS",
                "must be at most half of SIGNING_KEY_PUBLISH_LEAD_SECS, so every instance loads a new key before it signs",
            );
        }
        if publish_lead >= rotation_interval {
            r.error(
                "SIGNING_KEY_PUBLISH_LEAD_SECS",
                "must be shorter than SIGNING_KEY_ROTATION_INTERVAL_SECS",
            );
        }
        let import = match (
            r.opt_secret("JWT_PRIVATE_KEY"),
            r.opt_string("JWT_PUBLIC_KEY"),
        ) {
            (Some(private), Some(public)) => Some((private, public)),
            (None, None) => None,
            _ => {
                r.error(
                    "JWT_PUBLIC_KEY",
                    "JWT_PRIVATE_KEY and JWT_PUBLIC_KEY must be set together",
                );
                None
            }
        };
        let credential_cache_ttl = r.millis("CREDENTIAL_CACHE_TTL_MS", 500, 0, 900);
        let audit_token_events = r.bool("AUDIT_TOKEN_EVENTS", true);
        let audit_batch_max = r.u64_in("AUDIT_BATCH_MAX", 2000, 1, 100_000) as usize;
        let audit = AuditConfig {
            retention: Duration::from_secs(
                86_400 * r.u64_in("AUDIT_RETENTION_DAYS", 90, 1, 36_500),
            ),
            retention_interval: Duration::from_secs(r.u64_in(
                "AUDIT_RETENTION_INTERVAL_SECS",
                3600,
                1,
                86_400 * 7,
            )),
            verify_interval: Duration::from_secs(r.u64_in(
                "AUDIT_VERIFY_INTERVAL_SECS",
                3600,
                1,
                86_400 * 7,
            )),
            verify_concurrency: r.u64_in("AUDIT_VERIFY_CONCURRENCY", 2, 1, 32) as usize,
        };
        let feed_poll_interval = r.millis("FEED_POLL_INTERVAL_MS", 100, 5, 10_000);
        let retry_base = r.millis("WEBHOOK_RETRY_BASE_MS", 10_000, 1, 86_400_000);
        let retry_max = r.millis("WEBHOOK_RETRY_MAX_MS", 3_600_000, 1, 86_400_000);
        if retry_max < retry_base {
            r.error(
                "WEBHOOK_RETRY_MAX_MS",
                "must not be shorter than WEBHOOK_RETRY_BASE_MS",
            );
        }
        let concurrency = r.u64_in("WEBHOOK_CONCURRENCY", 16, 1, 1024) as usize;
        let webhooks = WebhookConfig {
            allowed_networks: r.cidrs("WEBHOOK_ALLOWED_NETWORKS", ""),
            max_attempts: r.u64_in("WEBHOOK_MAX_ATTEMPTS", 10, 1, 100) as u32,
            retry_base,
            retry_max,
            timeout: r.millis("WEBHOOK_TIMEOUT_MS", 10_000, 100, 120_000),
            poll_interval: r.millis("WEBHOOK_POLL_INTERVAL_MS", 500, 5, 60_000),
            concurrency,
            tenant_concurrency: r.u64_in(
                "WEBHOOK_TENANT_CONCURRENCY",
                concurrency.min(4) as u64,
                1,
                1024,
            ) as usize,
            response_max_bytes: r.u64_in("WEBHOOK_RESPONSE_MAX_BYTES", 4096, 256, 65_536) as usize,
        };
        if webhooks.tenant_concurrency > webhooks.concurrency {
            r.error(
                "WEBHOOK_TENANT_CONCURRENCY",
                "must not exceed WEBHOOK_CONCURRENCY",
            );
        }
        let signup_invitation_codes = invitation_codes(&mut r);
        let federation_allowed_networks = r.cidrs("FEDERATION_ALLOWED_NETWORKS", "");
        r.finish()?;
        Ok(Self {
            common,
            key_encryption_key,
            key_encryption_key_secondary,
            credential_pepper,
            credential_pepper_secondary,
            token_ttl,
            keys: KeyConfig {
                alg,
                rotation_interval,
                publish_lead,
                refresh_interval,
                import,
            },
            credential_cache_ttl,
            audit_token_events,
            audit_batch_max,
            audit,
            feed_poll_interval,
            webhooks,
            federation_allowed_networks,
            signup_invitation_codes,
        })
    }

    /// The token issuer: `PUBLIC_URL` without a trailing slash.
    pub fn issuer(&self) -> String {
        self.common.public_base()
    }
}
