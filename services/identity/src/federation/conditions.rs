//! Trust-policy conditions: what a policy may require of an external token's claims, and
//! whether a token meets them.
//!
//! - `github_actions`: `repository` or `repository_id` (at least one), and optionally
//!   `repository_owner`, `repository_owner_id`, `ref`, `environment`, `workflow_ref`,
//!   `job_workflow_ref`, `event_name`. The token's `sub` must name the same repository as
//!   its claims, in either of GitHub's formats (`repo:owner/name:…` or
//!   `repo:owner@owner_id/name@repository_id:…`); repository and owner names compare
//!   without regard to case, as GitHub's do.
//! - `oidc`: exact matches of any claims (at least one).

use domain::FederationProvider;
use platform::errors::FieldError;
use serde_json::{Map, Value};

/// GitHub Actions' OIDC issuer.
pub const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

/// The claims a `github_actions` policy may name.
pub const GITHUB_CLAIMS: [&str; 9] = [
    "repository",
    "repository_id",
    "repository_owner",
    "repository_owner_id",
    "ref",
    "environment",
    "workflow_ref",
    "job_workflow_ref",
    "event_name",
];

/// Most conditions of one policy.
pub const MAX_CONDITIONS: usize = 16;
/// Longest condition value, in bytes.
const MAX_VALUE: usize = 512;

/// The conditions of a policy, checked and normalized (every value a string); every
/// problem goes to `errors`.
pub fn check(
    provider: FederationProvider,
    input: &Map<String, Value>,
    errors: &mut Vec<FieldError>,
) -> Map<String, Value> {
    let mut out = Map::new();
    if input.len() > MAX_CONDITIONS {
        errors.push(FieldError::new("conditions", "at most 16 conditions"));
        return out;
    }
    for (k, v) in input {
        let field = format!("conditions.{k}");
        let name_ok = !k.is_empty()
            && k.len() <= 64
            && k.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
        if !name_ok {
            errors.push(FieldError::new(
                "conditions",
                "claim names are 1 to 64 letters, digits and _-.:",
            ));
            continue;
        }
        if provider == FederationProvider::GithubActions && !GITHUB_CLAIMS.contains(&k.as_str()) {
            errors.push(FieldError::new(
                field,
                format!(
                    "is not a GitHub Actions condition (one of: {})",
                    GITHUB_CLAIMS.join(", ")
                ),
            ));
            continue;
        }
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => {
                errors.push(FieldError::new(
                    field,
                    "must be a string, number or boolean",
                ));
                continue;
            }
        };
        if text.is_empty() || text.len() > MAX_VALUE || text.chars().any(char::is_control) {
            errors.push(FieldError::new(
                field,
                "must be 1 to 512 bytes without control characters",
            ));
            continue;
        }
        out.insert(k.clone(), Value::String(text));
    }
    match provider {
        FederationProvider::GithubActions
            if !out.contains_key("repository") && !out.contains_key("repository_id") =>
        {
            errors.push(FieldError::new(
                "conditions",
                "a github_actions policy needs repository or repository_id",
            ));
        }
        FederationProvider::Oidc if input.is_empty() => errors.push(FieldError::new(
            "conditions",
            "an oidc policy needs at least one claim (sub, or another claim)",
        )),
        _ => {}
    }
    out
}

/// A claim's value as text (strings as they are, numbers and booleans written out).
fn claim_text(claims: &Map<String, Value>, name: &str) -> Option<String> {
    match claims.get(name)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// The repository a GitHub subject names: owner and name, with their ids in the newer
/// format (`repo:owner@1/name@2:…`).
#[derive(Debug, PartialEq, Eq)]
pub struct Subject<'a> {
    owner: &'a str,
    owner_id: Option<&'a str>,
    name: &'a str,
    id: Option<&'a str>,
}

/// Reads a GitHub Actions `sub`.
pub fn github_subject(sub: &str) -> Option<Subject<'_>> {
    let rest = sub.strip_prefix("repo:")?;
    let (repo, context) = rest.split_once(':')?;
    if context.is_empty() {
        return None;
    }
    let (owner, name) = repo.split_once('/')?;
    fn split(s: &str) -> (&str, Option<&str>) {
        match s.split_once('@') {
            Some((n, id)) => (n, Some(id)),
            None => (s, None),
        }
    }
    let (owner, owner_id) = split(owner);
    let (name, id) = split(name);
    if owner.is_empty() || name.is_empty() {
        return None;
    }
    Some(Subject {
        owner,
        owner_id,
        name,
        id,
    })
}

/// Whether a GitHub token's claims agree with its subject: the repository and owner (and
/// their ids, when the subject carries them).
fn github_consistent(claims: &Map<String, Value>) -> bool {
    let Some(sub) = claim_text(claims, "sub") else {
        return false;
    };
    let Some(s) = github_subject(&sub) else {
        return false;
    };
    let same = |claim: &str, v: Option<&str>, fold: bool| match (claim_text(claims, claim), v) {
        (Some(c), Some(v)) if fold => c.eq_ignore_ascii_case(v),
        (Some(c), Some(v)) => c == v,
        _ => true,
    };
    let repository = format!("{}/{}", s.owner, s.name);
    same("repository", Some(&repository), true)
        && same("repository_owner", Some(s.owner), true)
        && same("repository_id", s.id, false)
        && same("repository_owner_id", s.owner_id, false)
}

/// Whether the token's claims meet every condition.
pub fn matches(
    provider: FederationProvider,
    conditions: &Map<String, Value>,
    claims: &Map<String, Value>,
) -> bool {
    if provider == FederationProvider::GithubActions && !github_consistent(claims) {
        return false;
    }
    conditions.iter().all(|(name, want)| {
        let Some(want) = want.as_str() else {
            return false;
        };
        let have = match (provider, name.as_str()) {
            (FederationProvider::GithubActions, "repository") => {
                claim_text(claims, name).or_else(|| {
                    let sub = claim_text(claims, "sub")?;
                    github_subject(&sub).map(|s| format!("{}/{}", s.owner, s.name))
                })
            }
            _ => claim_text(claims, name),
        };
        match (provider, name.as_str(), have) {
            (_, _, None) => false,
            (FederationProvider::GithubActions, "repository" | "repository_owner", Some(h)) => {
                h.eq_ignore_ascii_case(want)
            }
            (_, _, Some(h)) => h == want,
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    fn gh(sub: &str) -> Map<String, Value> {
        map(json!({
            "sub": sub, "repository": "Octo-Org/octo-repo", "repository_id": "42",
            "repository_owner": "octo-org", "repository_owner_id": "7",
            "ref": "refs/heads/main", "environment": "prod", "event_name": "push",
        }))
    }

    #[test]
    fn both_github_subject_formats_match_and_claims_must_agree() {
        let c = map(json!({"repository": "octo-org/octo-repo", "ref": "refs/heads/main"}));
        let p = FederationProvider::GithubActions;
        assert!(matches(
            p,
            &c,
            &gh("repo:octo-org/octo-repo:ref:refs/heads/main")
        ));
        assert!(matches(
            p,
            &c,
            &gh("repo:octo-org@7/octo-repo@42:environment:prod")
        ));
        // A subject naming another repository, or other ids, than the claims.
        assert!(!matches(
            p,
            &c,
            &gh("repo:evil/octo-repo:ref:refs/heads/main")
        ));
        assert!(!matches(p, &c, &gh("repo:octo-org@7/octo-repo@43:ref:x")));
        assert!(!matches(p, &c, &gh("octo-org/octo-repo")));
        let other_ref = map(json!({"repository": "octo-org/octo-repo", "ref": "refs/heads/dev"}));
        assert!(!matches(
            p,
            &other_ref,
            &gh("repo:octo-org/octo-repo:ref:refs/heads/main")
        ));
        let by_id = map(json!({"repository_id": "42", "environment": "prod"}));
        assert!(matches(
            p,
            &by_id,
            &gh("repo:octo-org/octo-repo:environment:prod")
        ));
        let wrong_id = map(json!({"repository_id": 41}));
        let mut errors = Vec::new();
        let wrong_id = check(p, &wrong_id, &mut errors);
        assert!(errors.is_empty());
        assert!(!matches(p, &wrong_id, &gh("repo:octo-org/octo-repo:ref:x")));
    }

    #[test]
    fn policies_need_their_provider_s_conditions() {
        let mut errors = Vec::new();
        check(
            FederationProvider::GithubActions,
            &map(json!({"ref": "x"})),
            &mut errors,
        );
        assert_eq!(errors.len(), 1);
        errors.clear();
        check(
            FederationProvider::GithubActions,
            &map(json!({"repository": "a/b", "sub": "x"})),
            &mut errors,
        );
        assert_eq!(errors[0].field, "conditions.sub");
        errors.clear();
        check(FederationProvider::Oidc, &Map::new(), &mut errors);
        assert_eq!(errors.len(), 1);
        errors.clear();
        let c = check(
            FederationProvider::Oidc,
            &map(json!({"sub": "svc", "n": 3})),
            &mut errors,
        );
        assert!(errors.is_empty());
        assert!(matches(
            FederationProvider::Oidc,
            &c,
            &map(json!({"sub": "svc", "n": 3}))
        ));
        assert!(!matches(
            FederationProvider::Oidc,
            &c,
            &map(json!({"sub": "svc"}))
        ));
        assert!(!matches(
            FederationProvider::Oidc,
            &c,
            &map(json!({"sub": "SVC", "n": 3}))
        ));
    }
}
