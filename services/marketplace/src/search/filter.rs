//! What a search looks for, in normal form, and positions in its result order.

use domain::{AgentType, Capability, Tag};
use time::OffsetDateTime;
use uuid::Uuid;

/// The filters of a search in normal form: text lowercased with whitespace collapsed, tag
/// and publisher lowercased. Two requests with equal filters get equal results.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct SearchFilter {
    /// Full-text query (`websearch` syntax, `index::query`), if any.
    pub text: Option<String>,
    /// Agent type.
    pub agent_type: Option<AgentType>,
    /// A capability the agent must have.
    pub capability: Option<Capability>,
    /// A tag the agent must have.
    pub tag: Option<Tag>,
    /// The publisher (tenant name), compared case-insensitively.
    pub publisher: Option<String>,
}

/// Where a page starts: strictly after this position of the result order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    /// A text search's sort key.
    Ranked {
        /// Its score (`index::collect`).
        score: f32,
        /// Its id.
        id: Uuid,
    },
    /// A listing's sort key.
    Recent {
        /// Its registration time.
        created_at: OffsetDateTime,
        /// Its id.
        id: Uuid,
    },
}

impl SearchFilter {
    /// A canonical string of the filters.
    pub fn key(&self) -> String {
        format!(
            "q={}\u{1f}type={}\u{1f}cap={}\u{1f}tag={}\u{1f}pub={}",
            self.text.as_deref().unwrap_or(""),
            self.agent_type.map_or("", AgentType::as_str),
            self.capability.as_ref().map_or("", Capability::as_str),
            self.tag.as_ref().map_or("", Tag::as_str),
            self.publisher.as_deref().unwrap_or(""),
        )
    }

    /// A short digest of [`SearchFilter::key`], carried in cursors.
    pub(crate) fn fingerprint(&self) -> String {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.key().as_bytes());
        hex::encode(&digest.as_ref()[..6])
    }
}
