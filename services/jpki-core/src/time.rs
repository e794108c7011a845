//! Validation time.

use serde::{Serialize, Serializer};

/// Seconds since the Unix epoch, UTC. The core never reads the clock: callers pass the time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(pub i64);

impl UnixTime {
    /// Parses an RFC 3339 timestamp such as `2026-06-01T00:00:00Z`.
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
            .ok()
            .map(|moment| UnixTime(moment.unix_timestamp()))
    }

    /// Formats as RFC 3339 in UTC; out-of-range values fall back to the raw seconds.
    pub fn to_rfc3339(self) -> String {
        time::OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|moment| moment.format(&time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| format!("@{}", self.0))
    }

    pub(crate) fn from_asn1(time: &x509_parser::time::ASN1Time) -> Self {
        UnixTime(time.timestamp())
    }
}

impl std::fmt::Display for UnixTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

impl Serialize for UnixTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_rfc3339() {
        let moment = UnixTime::parse_rfc3339("2026-06-01T00:00:00Z").unwrap();
        assert_eq!(moment.0, 1_780_272_000);
        assert_eq!(moment.to_rfc3339(), "2026-06-01T00:00:00Z");
        assert!(UnixTime::parse_rfc3339("yesterday").is_none());
    }
}
