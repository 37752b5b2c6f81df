//! Query parameters shared by several handlers.

use platform::{ApiError, ApiResult};

/// A `days` query parameter: 1 to 90, `default` when absent.
pub fn days(value: Option<u32>, default: u32) -> ApiResult<u32> {
    match value.unwrap_or(default) {
        d @ 1..=90 => Ok(d),
        _ => Err(ApiError::invalid_query("days", "must be from 1 to 90")),
    }
}
