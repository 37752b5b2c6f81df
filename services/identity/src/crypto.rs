//! Cryptographic building blocks, all on aws-lc-rs.
//!
//! - [`Kek`]: AES-256-GCM under `KEY_ENCRYPTION_KEY` for private keys at rest; the record's
//!   id is bound as associated data, so a ciphertext cannot be moved to another row.
//! - [`Pepper`]: client secrets are stored as HMAC-SHA-256 under `CREDENTIAL_PEPPER`. Secrets
//!   are 256 random bits, so a slow password hash would add latency and no security.
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

/// Encrypts and decrypts private keys.
pub struct Kek(LessSafeKey);

impl std::fmt::Debug for Kek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Kek([redacted])")
    }
}

impl Kek {
    /// A key from 32 bytes.
    pub fn new(key: &[u8; 32]) -> anyhow::Result<Self> {
        let unbound = UnboundKey::new(&AES_256_GCM, key)
            .map_err(|_| anyhow::anyhow!("invalid key-encryption key"))?;
        Ok(Self(LessSafeKey::new(unbound)))
    }

    /// `nonce || ciphertext || tag`, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> anyhow::Result<Vec<u8>> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let mut buf = plaintext.to_vec();
        self.0
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

    /// Opens what [`Kek::seal`] produced; fails on a wrong key, wrong `aad` or tampering.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> anyhow::Result<Vec<u8>> {
        anyhow::ensure!(sealed.len() > NONCE_LEN, "ciphertext too short");
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let mut buf = ct.to_vec();
        let plain = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| {
                anyhow::anyhow!(
                    "cannot decrypt a private key: wrong KEY_ENCRYPTION_KEY or tampered data"
                )
            })?;
        Ok(plain.to_vec())
    }
}

/// Hashes client secrets.
pub struct Pepper(hmac::Key);

impl std::fmt::Debug for Pepper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pepper([redacted])")
    }
}

impl Pepper {
    /// A pepper from its bytes.
    pub fn new(pepper: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, pepper))
    }

    /// HMAC-SHA-256 of a secret.
    pub fn hash(&self, secret: &str) -> Vec<u8> {
        hmac::sign(&self.0, secret.as_bytes()).as_ref().to_vec()
    }

    /// Whether `secret` hashes to `stored`, in constant time.
    pub fn verify(&self, secret: &str, stored: &[u8]) -> bool {
        let tag = hmac::sign(&self.0, secret.as_bytes());
        constant_time::verify_slices_are_equal(tag.as_ref(), stored).is_ok()
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
