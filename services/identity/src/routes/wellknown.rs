//! Discovery documents: JWKS and authorization-server metadata (RFC 8414, also served as
//! OpenID provider configuration for clients that look there).

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use domain::Scope;
use serde_json::json;

use crate::keys::directory::KeyDirectory;
use crate::tokens::request::{TOKEN_EXCHANGE, token_types};

/// `GET /.well-known/jwks.json`: pending, active and still-relevant retired keys.
pub async fn jwks(keys: web::Data<KeyDirectory>) -> HttpResponse {
    let doc = keys.jwks();
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .content_type("application/jwk-set+json")
        .body(doc.to_string())
}

/// `GET /.well-known/oauth-authorization-server` and `/.well-known/openid-configuration`.
pub async fn metadata(keys: web::Data<KeyDirectory>) -> HttpResponse {
    let iss = keys.issuer();
    let algs = keys.algs();
    let scopes: Vec<&str> = Scope::TENANT_ADMIN.iter().map(|s| s.as_str()).collect();
    let auth_methods = [
        "client_secret_basic",
        "client_secret_post",
        "private_key_jwt",
    ];
    let client_algs = ["ES256", "RS256", "EdDSA"];
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=300"))
        .json(json!({
            "issuer": iss,
            "jwks_uri": format!("{iss}/.well-known/jwks.json"),
            "token_endpoint": format!("{iss}/oauth2/token"),
            "introspection_endpoint": format!("{iss}/oauth2/introspect"),
            "revocation_endpoint": format!("{iss}/oauth2/revoke"),
            "grant_types_supported": ["client_credentials", TOKEN_EXCHANGE],
            "token_exchange_subject_token_types_supported": [
                token_types::ID_TOKEN,
                token_types::JWT,
                token_types::ACCESS_TOKEN,
            ],
            "token_exchange_issued_token_types_supported": [token_types::ACCESS_TOKEN],
            "response_types_supported": ["token"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": auth_methods,
            "introspection_endpoint_auth_methods_supported": auth_methods,
            "revocation_endpoint_auth_methods_supported": auth_methods,
            "id_token_signing_alg_values_supported": algs,
            "token_endpoint_auth_signing_alg_values_supported": client_algs,
            "introspection_endpoint_auth_signing_alg_values_supported": client_algs,
            "revocation_endpoint_auth_signing_alg_values_supported": client_algs,
            "dpop_signing_alg_values_supported": client_algs,
            "scopes_supported": scopes,
            "service_documentation": format!("{iss}/docs"),
        }))
}
