//! A typed client for identity's public API, shared by every service's tests.

use serde_json::{Value, json};

use crate::{Client, TestResponse};

/// A tenant created through signup, with its admin client.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Tenant id.
    pub id: String,
    /// Admin client id.
    pub client_id: String,
    /// Admin client secret.
    pub client_secret: String,
}

/// A credential with its secret.
#[derive(Debug, Clone)]
pub struct Credential {
    /// Credential id.
    pub id: String,
    /// Client id.
    pub client_id: String,
    /// Secret.
    pub client_secret: String,
}

/// A minimal valid agent body, with `overrides` merged in.
pub fn agent_body(name: &str, overrides: Value) -> Value {
    let mut body = json!({
        "name": name,
        "description": "An agent under test",
        "agent_type": "classifier",
        "version": "1.0.0",
        "capabilities": ["agents:read", "documents:read"],
        "owner": "team-test@example.com",
        "deployment_env": "staging",
        "tags": ["test"],
    });
    if let (Some(b), Value::Object(o)) = (body.as_object_mut(), overrides) {
        b.extend(o);
    }
    body
}

/// identity's API through a [`Client`].
#[derive(Debug, Clone)]
pub struct IdentityClient {
    /// The underlying client.
    pub http: Client,
}

impl IdentityClient {
    /// Aims at `base`.
    pub fn new(base: &str) -> Self {
        Self {
            http: Client::new(base),
        }
    }

    /// Signs a tenant up; panics unless 201.
    pub async fn signup(&self, name: &str) -> anyhow::Result<Tenant> {
        let res = self
            .http
            .post_json(
                "/api/v1/tenants",
                None,
                &json!({"name": name, "email": format!("{}@example.com", name.replace(' ', "."))}),
            )
            .await?;
        anyhow::ensure!(
            res.status == 201,
            "signup answered {}: {}",
            res.status,
            res.body
        );
        let b = res.json();
        Ok(Tenant {
            id: b["tenant"]["id"].as_str().unwrap_or_default().to_owned(),
            client_id: b["client_id"].as_str().unwrap_or_default().to_owned(),
            client_secret: b["client_secret"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// `POST /oauth2/token` with client_secret_basic.
    pub async fn token_response(
        &self,
        client_id: &str,
        secret: &str,
        extra: &[(&str, &str)],
    ) -> anyhow::Result<TestResponse> {
        let mut form = vec![("grant_type", "client_credentials")];
        form.extend_from_slice(extra);
        self.http
            .send(
                self.http
                    .request(reqwest::Method::POST, "/oauth2/token")
                    .basic_auth(client_id, Some(secret))
                    .form(&form),
            )
            .await
    }

    /// An access token, or an error with the response.
    pub async fn token(&self, client_id: &str, secret: &str) -> anyhow::Result<String> {
        let res = self.token_response(client_id, secret, &[]).await?;
        anyhow::ensure!(
            res.status == 200,
            "token answered {}: {}",
            res.status,
            res.body
        );
        Ok(res.json()["access_token"]
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// The tenant-admin token of `t`.
    pub async fn admin_token(&self, t: &Tenant) -> anyhow::Result<String> {
        self.token(&t.client_id, &t.client_secret).await
    }

    /// Registers an agent; returns its JSON.
    pub async fn create_agent(&self, token: &str, body: &Value) -> anyhow::Result<Value> {
        let res = self
            .http
            .post_json("/api/v1/agents", Some(token), body)
            .await?;
        anyhow::ensure!(
            res.status == 201,
            "create agent answered {}: {}",
            res.status,
            res.body
        );
        Ok(res.json())
    }

    /// Creates a credential for an agent.
    pub async fn create_credential(
        &self,
        token: &str,
        agent_id: &str,
        body: &Value,
    ) -> anyhow::Result<Credential> {
        let res = self
            .http
            .post_json(
                &format!("/api/v1/agents/{agent_id}/credentials"),
                Some(token),
                body,
            )
            .await?;
        anyhow::ensure!(
            res.status == 201,
            "create credential answered {}: {}",
            res.status,
            res.body
        );
        let b = res.json();
        Ok(Credential {
            id: b["id"].as_str().unwrap_or_default().to_owned(),
            client_id: b["client_id"].as_str().unwrap_or_default().to_owned(),
            client_secret: b["client_secret"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// `POST path` with a bearer token and no body.
    pub async fn post_empty(&self, path: &str, token: &str) -> anyhow::Result<TestResponse> {
        self.http
            .send(
                self.http
                    .request(reqwest::Method::POST, path)
                    .bearer_auth(token),
            )
            .await
    }

    /// `DELETE path` with a bearer token.
    pub async fn delete(&self, path: &str, token: &str) -> anyhow::Result<TestResponse> {
        self.http
            .send(
                self.http
                    .request(reqwest::Method::DELETE, path)
                    .bearer_auth(token),
            )
            .await
    }

    /// `PATCH path` with a bearer token and JSON body.
    pub async fn patch(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> anyhow::Result<TestResponse> {
        self.http
            .send(
                self.http
                    .request(reqwest::Method::PATCH, path)
                    .bearer_auth(token)
                    .json(body),
            )
            .await
    }

    /// Introspects `token` authenticated as a client.
    pub async fn introspect(
        &self,
        client_id: &str,
        secret: &str,
        token: &str,
    ) -> anyhow::Result<Value> {
        let res = self
            .http
            .send(
                self.http
                    .request(reqwest::Method::POST, "/oauth2/introspect")
                    .basic_auth(client_id, Some(secret))
                    .form(&[("token", token)]),
            )
            .await?;
        anyhow::ensure!(
            res.status == 200,
            "introspect answered {}: {}",
            res.status,
            res.body
        );
        Ok(res.json())
    }
}
