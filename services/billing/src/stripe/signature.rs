//! Stripe's webhook signature scheme (`Stripe-Signature: t=<unix>,v1=<hex>[,v1=...]`).
//!
//! The signed payload is `<t>.<raw body>`, signed with HMAC-SHA256 under the endpoint's
//! secret (the whole `whsec_...` string). A request is accepted when any `v1` matches
//! (compared in constant time) and `t` is within [`TOLERANCE_SECS`] of now, in either
//! direction. Other schemes (`v0`, test-mode `v1` of another secret) never match. This runs
//! on the raw bytes before anything is parsed.

use aws_lc_rs::hmac;

/// Largest accepted difference between `t` and now.
pub const TOLERANCE_SECS: i64 = 300;

/// Why a signature was refused (each names a different operator mistake or attack).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `Stripe-Signature` header, or one without `t` and `v1`.
    #[error("the Stripe-Signature header is missing or malformed")]
    Malformed,
    /// No `v1` signature matches the body under our secret.
    #[error("no v1 signature matches the payload")]
    Mismatch,
    /// `t` is more than 300 s away from now (a replay, or a badly wrong clock).
    #[error("the signature timestamp is outside the 300 s tolerance")]
    Stale,
}

/// Parses the header into `t` and the `v1` candidates (hex-decoded; undecodable ones drop).
fn parse(header: &str) -> Option<(i64, Vec<Vec<u8>>)> {
    let mut t = None;
    let mut v1 = Vec::new();
    for part in header.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "t" => t = Some(v.parse::<i64>().ok()?),
            "v1" => {
                if let Ok(sig) = hex::decode(v) {
                    v1.push(sig);
                }
            }
            _ => {}
        }
    }
    Some((t?, v1))
}

/// Verifies `header` for `payload` under `secret` at unix time `now`.
pub fn verify(payload: &[u8], header: &str, secret: &str, now: i64) -> Result<(), SignatureError> {
    let (t, candidates) = parse(header).ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = Vec::with_capacity(payload.len() + 12);
    signed.extend_from_slice(t.to_string().as_bytes());
    signed.push(b'.');
    signed.extend_from_slice(payload);
    // Check every candidate, so the time taken does not depend on which one matched.
    let matched = candidates.iter().fold(false, |acc, sig| {
        hmac::verify(&key, &signed, sig).is_ok() | acc
    });
    if !matched {
        return Err(SignatureError::Mismatch);
    }
    if (now - t).abs() > TOLERANCE_SECS {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// The header Stripe would send for `payload` at time `t` (tests, tooling).
pub fn sign(payload: &[u8], secret: &str, t: i64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(payload);
    format!(
        "t={t},v1={}",
        hex::encode(hmac::sign(&key, &signed).as_ref())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_test_0123456789abcdef";
    const BODY: &[u8] = br#"{"id":"evt_1","object":"event"}"#;

    #[test]
    fn accepts_a_matching_signature_among_others() {
        let now = 1_700_000_000;
        let good = sign(BODY, SECRET, now);
        assert_eq!(verify(BODY, &good, SECRET, now), Ok(()));
        let v1 = good.split_once(",v1=").unwrap().1;
        let several = format!("t={now},v0=abc,v1={},v1={v1}", "00".repeat(32));
        assert_eq!(verify(BODY, &several, SECRET, now + 299), Ok(()));
    }

    #[test]
    fn refuses_wrong_secret_tampering_staleness_and_garbage() {
        let now = 1_700_000_000;
        let good = sign(BODY, SECRET, now);
        assert_eq!(
            verify(BODY, &good, "whsec_other_secret_000", now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(br#"{"id":"evt_2","object":"event"}"#, &good, SECRET, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(BODY, &good, SECRET, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(BODY, &good, SECRET, now - 301),
            Err(SignatureError::Stale)
        );
        // The timestamp is signed: moving it breaks the signature.
        let moved = good.replacen(&format!("t={now}"), &format!("t={}", now + 10), 1);
        assert_eq!(
            verify(BODY, &moved, SECRET, now),
            Err(SignatureError::Mismatch)
        );
        for bad in ["", "t=1", "v1=abcd", "t=x,v1=ab", "nonsense"] {
            assert_eq!(
                verify(BODY, bad, SECRET, now),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }
}
