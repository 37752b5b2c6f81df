//! Redis keys of the revocation store (shared by identity, which writes them).

use crate::redis::Redis;

/// `revoked:jti:<jti>`.
pub fn jti(redis: &Redis, jti: &str) -> String {
    redis.key("revoked", &format!("jti:{jti}"))
}

/// `revoked:sub:<sub>`.
pub fn sub(redis: &Redis, sub: &str) -> String {
    redis.key("revoked", &format!("sub:{sub}"))
}

/// `revoked:client:<client_id>`.
pub fn client(redis: &Redis, client_id: &str) -> String {
    redis.key("revoked", &format!("client:{client_id}"))
}

/// `revoked:_loaded`.
pub fn loaded(redis: &Redis) -> String {
    redis.key("revoked", "_loaded")
}
