//! Cryptographic building blocks, all on aws-lc-rs.
//!
//! - [`Kek`]: AES-256-GCM under `KEY_ENCRYPTION_KEY` for private keys at rest; the record's
//!   id is bound as associated data, so a ciphertext cannot be moved to another row. A
//!   secondary key (`KEY_ENCRYPTION_KEY_SECONDARY`) also opens, never seals: rotation.
//! - [`Pepper`]: client secrets are stored as HMAC-SHA-256 under `CREDENTIAL_PEPPER`. Secrets
//!   are 256 random bits, so a slow password hash would add latency and no security. A
//!   secondary pepper (`CREDENTIAL_PEPPER_SECONDARY`) is also checked, never hashed with.
//! - Random secrets and identifiers, base64url helpers.

use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use aws_lc_rs::{constant_time, digest, hmac, rand};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// base64url without padding.
pub fn b64url(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes base64url without padding.
pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

/// `n` random bytes from the system's CSPRNG.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    rand::fill(&mut b).map_err(|_| anyhow::anyhow!("the system random source failed"))?;
    Ok(b)
}

/// A client secret: 256 random bits, base64url, with a prefix secret scanners can match.
pub fn new_client_secret() -> anyhow::Result<String> {
    Ok(format!("aidp_sk_{}", b64url(random_bytes::<32>()?)))
}

/// A public client identifier (128 random bits).
pub fn new_client_id() -> anyhow::Result<String> {
    Ok(format!("aidp_{}", b64url(random_bytes::<16>()?)))
}

/// SHA-256.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest::digest(&digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Encrypts and decrypts private keys: seals with the primary key, opens with the primary
/// or, during a rotation, the secondary one.
pub struct Kek {
    primary: LessSafeKey,
    secondary: Option<LessSafeKey>,
}

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl Kek {
    /// A key from 32 bytes.
    pub fn new(key: &[u8; 32]) -> anyhow::Result<Self> {
        Ok(Self {
            primary: aead_key(key)?,
            secondary: None,
        })
    }

    /// This key, also opening what `secondary` sealed.
    pub fn with_secondary(mut self, secondary: &[u8; 32]) -> anyhow::Result<Self> {
        self.secondary = Some(aead_key(secondary)?);
        Ok(self)
    }

    /// Whether `sealed` opens under the primary key alone (so it needs no re-sealing).
    pub fn opens_with_primary(&self, aad: &[u8], sealed: &[u8]) -> bool {
        open_with(&self.primary, aad, sealed).is_some()
    }

    /// `nonce || ciphertext || tag`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut buf = plaintext.to_vec();
        self.primary
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(aad),
                &mut buf,
            )
            .map_err(|_| anyhow::anyhow!("encryption failed"))?;
        let mut out = Vec::with_capacity(NONCE_LEN + buf.len());
        out.extend_from_slice(&nonce_bytes);
        out.extend_from_slice(&buf);
        Ok(out)
    }

    /// Opens what [`Kek::seal`] produced (under either key); fails on a wrong key, wrong
    /// `aad` or tampering.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "ciphertext too short");
        open_with(&self.primary, aad, sealed)
            .or_else(|| {
                self.secondary
                    .as_ref()
                    .and_then(|k| open_with(k, aad, sealed))
            })
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "cannot decrypt a private key: wrong KEY_ENCRYPTION_KEY or tampered data"
                )
            })
    }
}

fn aead_key(key: &[u8; 32]) -> anyhow::Result<LessSafeKey> {
    let unbound = UnboundKey::new(&AES_256_GCM, key)
        .map_err(|_| anyhow::anyhow!("invalid key-encryption key"))?;
    Ok(LessSafeKey::new(unbound))
}

fn open_with(key: &LessSafeKey, aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    if sealed.len() <= NONCE_LEN {
        return None;
    }
    let (nonce, ct) = sealed.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let mut buf = ct.to_vec();
    let plain = key.open_in_place(nonce, Aad::from(aad), &mut buf).ok()?;
    Some(plain.to_vec())
}

/// Hashes client secrets with the primary pepper; checks them against the primary or,
/// during a rotation, the secondary one.
pub struct Pepper {
    primary: hmac::Key,
    secondary: Option<hmac::Key>,
}

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper([redacted])")
    }
}

impl Pepper {
    /// A pepper from its bytes.
    pub fn new(pepper: &[u8]) -> Self {
        Self {
            primary: hmac::Key::new(hmac::HMAC_SHA256, pepper),
            secondary: None,
        }
    }

    /// This pepper, also accepting secrets hashed under `secondary`.
    pub fn with_secondary(mut self, secondary: &[u8]) -> Self {
        self.secondary = Some(hmac::Key::new(hmac::HMAC_SHA256, secondary));
        self
    }

    /// HMAC-SHA-256 of a secret.
    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.primary, secret.as_bytes())
            .as_ref()
            .to_vec()
    }

    /// Whether `secret` hashes to `stored` under either pepper, in constant time. The
    /// secondary pepper costs a second HMAC only when the primary does not match.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        let matches = |key: &hmac::Key| {
            let tag = hmac::sign(key, secret.as_bytes());
            constant_time::verify_slices_are_equal(tag.as_ref(), stored).is_ok()
        };
        matches(&self.primary) || self.secondary.as_ref().is_some_and(matches)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_round_trip_and_binding() {
        let k = Kek::new(&[7u8; 32]).unwrap();
        let sealed = k.seal(b"kid-1", b"private").unwrap();
        assert_eq!(k.open(b"kid-1", &sealed).unwrap(), b"private");
        assert!(k.open(b"kid-2", &sealed).is_err());
        let other = Kek::new(&[8u8; 32]).unwrap();
        assert!(other.open(b"kid-1", &sealed).is_err());
    }

    #[test]
    fn a_secondary_kek_opens_but_never_seals() {
        let old = Kek::new(&[7u8; 32]).unwrap();
        let sealed_old = old.seal(b"kid-1", b"private").unwrap();
        let rotating = Kek::new(&[8u8; 32])
            .unwrap()
            .with_secondary(&[7u8; 32])
            .unwrap();
        assert_eq!(rotating.open(b"kid-1", &sealed_old).unwrap(), b"private");
        assert!(!rotating.opens_with_primary(b"kid-1", &sealed_old));
        let resealed = rotating.seal(b"kid-1", b"private").unwrap();
        assert!(rotating.opens_with_primary(b"kid-1", &resealed));
        assert!(old.open(b"kid-1", &resealed).is_err());
        assert!(
            Kek::new(&[8u8; 32])
                .unwrap()
                .open(b"kid-1", &sealed_old)
                .is_err()
        );
    }

    #[test]
    fn a_secondary_pepper_verifies_but_never_hashes() {
        let old = Pepper::new(b"old-pepper-old-pepper");
        let s = new_client_secret().unwrap();
        let h_old = old.hash(&s);
        let rotating =
            Pepper::new(b"new-pepper-new-pepper").with_secondary(b"old-pepper-old-pepper");
        assert!(rotating.verify(&s, &h_old));
        assert!(!rotating.verify("other", &h_old));
        assert_ne!(rotating.hash(&s), h_old);
        assert!(!Pepper::new(b"new-pepper-new-pepper").verify(&s, &h_old));
    }

    #[test]
    fn pepper_verifies_only_the_secret() {
        let p = Pepper::new(b"pepper-pepper-pepper");
        let s = new_client_secret().unwrap();
        assert!(s.len() >= 8 + 43);
        let h = p.hash(&s);
        assert!(p.verify(&s, &h));
        assert!(!p.verify("other", &h));
        assert!(!Pepper::new(b"another-pepper-value").verify(&s, &h));
    }
}
