//! Tenants' lifecycle, as stored in identity's `tenants.status`.

use crate::wire::wire_enum;

wire_enum!(
    /// Whether a tenant's clients may obtain tokens.
    TenantStatus {
        /// In good standing.
        Active => "active",
        /// Barred until reactivated.
        Suspended => "suspended",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_forms_match_the_stored_text() {
        assert_eq!("active".parse::<TenantStatus>(), Ok(TenantStatus::Active));
        assert_eq!(TenantStatus::Suspended.to_string(), "suspended");
        assert_eq!(
            serde_json::to_string(&TenantStatus::Suspended).unwrap(),
            "\"suspended\""
        );
        assert_eq!(
            "deleted".parse::<TenantStatus>(),
            Err("must be one of: active, suspended".to_owned())
        );
    }
}
