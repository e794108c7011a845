//! Certificate kinds and what each one is for.

use serde::Serialize;

/// What a certificate kind is used for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// 署名用電子証明書: signs documents, carries the four fields; needs nonRepudiation.
    Signing,
    /// 利用者証明用電子証明書: proves "it is me"; the serial number is the identity.
    Authentication,
}

/// A JPKI certificate kind. Each has its own anchors, policy OIDs and revocation source,
/// all configured (see [`crate::KindConfig`]), never hard-coded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CertKind {
    /// Signing certificate on the My Number card.
    SigningCard,
    /// User-authentication certificate on the My Number card.
    AuthCard,
    /// Signing certificate on a smartphone (スマホ用電子証明書).
    SigningPhone,
    /// User-authentication certificate on a smartphone.
    AuthPhone,
}

impl CertKind {
    /// Every kind, in a stable order.
    pub const ALL: [CertKind; 4] =
        [CertKind::SigningCard, CertKind::AuthCard, CertKind::SigningPhone, CertKind::AuthPhone];

    /// What the kind is for.
    pub fn purpose(self) -> Purpose {
        match self {
            CertKind::SigningCard | CertKind::SigningPhone => Purpose::Signing,
            CertKind::AuthCard | CertKind::AuthPhone => Purpose::Authentication,
        }
    }

    /// Stable identifier used in configuration, JSON and file names.
    pub fn as_str(self) -> &'static str {
        match self {
            CertKind::SigningCard => "signing_card",
            CertKind::AuthCard => "auth_card",
            CertKind::SigningPhone => "signing_phone",
            CertKind::AuthPhone => "auth_phone",
        }
    }

    /// Parses [`CertKind::as_str`], also accepting `-` for `_`.
    pub fn parse(text: &str) -> Option<Self> {
        let normalised = text.replace('-', "_");
        CertKind::ALL.into_iter().find(|kind| kind.as_str() == normalised)
    }
}

impl std::fmt::Display for CertKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
