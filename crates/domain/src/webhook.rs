//! Webhook deliveries' lifecycle, as stored in identity's `webhook_deliveries.status`.

use crate::wire::wire_enum;

wire_enum!(
    /// Where a delivery stands.
    DeliveryStatus {
        /// Waiting for its next attempt.
        Pending => "pending",
        /// The receiver accepted it.
        Delivered => "delivered",
        /// Given up after its last attempt (may be redelivered by hand).
        Dead => "dead",
    }
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::Outcome;
    use crate::revocation::RevocationKind;

    #[test]
    fn wire_forms_match_the_stored_text() {
        assert_eq!(DeliveryStatus::ALL.len(), 3);
        assert_eq!("dead".parse::<DeliveryStatus>(), Ok(DeliveryStatus::Dead));
        assert_eq!(
            "sent".parse::<DeliveryStatus>(),
            Err("must be one of: pending, delivered, dead".to_owned())
        );
        assert_eq!(Outcome::Failure.as_str(), "failure");
        assert_eq!(
            serde_json::to_string(&Outcome::Success).unwrap(),
            "\"success\""
        );
        assert_eq!(RevocationKind::Agent.as_str(), "sub");
        assert_eq!("jti".parse::<RevocationKind>(), Ok(RevocationKind::Token));
    }
}
