//! `GET /internal/v1/events`: the change feed for the other services (service tokens only).

use std::time::Duration;

use actix_web::{HttpResponse, web};
use domain::FeedCursor;
use platform::auth::RequireScope;
use platform::auth::scopes::Internal;
use platform::extract::Query;
use platform::{ApiError, ApiResult};
use serde::Deserialize;

use crate::audit::feed::{Feed, FeedQuery};

/// Most events per page.
const MAX_LIMIT: u32 = 1000;
/// Longest wait of a long poll, in seconds.
const MAX_WAIT_SECS: u32 = 30;

/// Query of the feed.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeedParams {
    after: Option<String>,
    limit: Option<u32>,
    wait: Option<u32>,
    actions: Option<String>,
}

/// `GET /internal/v1/events?after=<cursor>&limit=1..1000&wait=0..30&actions=a,b`.
pub async fn events(
    feed: web::Data<Feed>,
    _auth: RequireScope<Internal>,
    Query(q): Query<FeedParams>,
) -> ApiResult<HttpResponse> {
    let after = match q.after.as_deref() {
        None | Some("") => FeedCursor::START,
        Some(raw) => raw
            .parse::<FeedCursor>()
            .map_err(|e| ApiError::invalid_query("after", e))?,
    };
    let limit = q.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid_query(
            "limit",
            format!("must be from 1 to {MAX_LIMIT}"),
        ));
    }
    let wait = q.wait.unwrap_or(0);
    if wait > MAX_WAIT_SECS {
        return Err(ApiError::invalid_query(
            "wait",
            format!("must be from 0 to {MAX_WAIT_SECS} seconds"),
        ));
    }
    let actions = match q.actions.as_deref() {
        None => None,
        Some(raw) => {
            let list: Vec<String> = raw.split(',').map(|a| a.trim().to_owned()).collect();
            let valid = |a: &String| {
                !a.is_empty()
                    && a.len() <= 64
                    && a.bytes()
                        .all(|b| b.is_ascii_lowercase() || b == b'.' || b == b'_')
            };
            if list.len() > 32 || !list.iter().all(valid) {
                return Err(ApiError::invalid_query(
                    "actions",
                    "must be up to 32 comma-separated action names such as agent.created",
                ));
            }
            Some(list)
        }
    };
    let page = feed
        .long_poll(&FeedQuery {
            after,
            actions,
            limit: i64::from(limit),
            wait: Duration::from_secs(u64::from(wait)),
        })
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(page))
}
