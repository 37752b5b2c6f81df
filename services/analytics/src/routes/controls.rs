//! `GET /api/v1/compliance/controls`: the public catalogue of the SOC 2 controls the report
//! evaluates.

use actix_web::HttpResponse;
use actix_web::http::header;
use serde_json::json;

use crate::compliance::controls::CONTROLS;
use crate::compliance::report::REPORT_SCHEMA_VERSION;

/// The handler (no authentication: the catalogue holds no tenant data).
pub async fn get() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .json(json!({
            "schema_version": REPORT_SCHEMA_VERSION,
            "framework": "SOC 2 — AICPA Trust Services Criteria (2017, revised points of focus 2022)",
            "outcomes": ["pass", "fail", "unknown"],
            "controls": CONTROLS,
        }))
}
