//! OIDs and profile constants of the JPKI certificates, and the four certificate kinds.
//!
//! The card profiles copy the real J-LIS roots (`shared/jpki/real-ca/`) and the published facts
//! in `PROFILE.md`. The smartphone profiles (スマホ用電子証明書) are NOT confirmed: their CA names,
//! Japanese subjectAltName OUs and policy OIDs below are test-only inventions under the
//! `1.2.392.200149.8.5.1.99` arc, which no real certificate uses. A verifier must take the phone
//! kinds' anchors and policy OIDs from configuration.

use serde::{Deserialize, Serialize};

use crate::name::DistinguishedName;

/// Object identifiers used by this crate, in dotted form.
pub mod oid {
    /// countryName
    pub const AT_COUNTRY: &str = "2.5.4.6";
    /// organizationName
    pub const AT_ORGANIZATION: &str = "2.5.4.10";
    /// organizationalUnitName
    pub const AT_ORG_UNIT: &str = "2.5.4.11";
    /// localityName
    pub const AT_LOCALITY: &str = "2.5.4.7";
    /// commonName
    pub const AT_COMMON_NAME: &str = "2.5.4.3";

    /// rsaEncryption
    pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
    /// sha1WithRSAEncryption
    pub const SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
    /// sha256WithRSAEncryption
    pub const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
    /// sha384WithRSAEncryption
    pub const SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
    /// sha512WithRSAEncryption
    pub const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
    /// id-sha1
    pub const SHA1: &str = "1.3.14.3.2.26";
    /// id-sha256
    pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
    /// id-sha384
    pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
    /// id-sha512
    pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";

    /// subjectKeyIdentifier
    pub const SUBJECT_KEY_IDENTIFIER: &str = "2.5.29.14";
    /// keyUsage
    pub const KEY_USAGE: &str = "2.5.29.15";
    /// subjectAltName
    pub const SUBJECT_ALT_NAME: &str = "2.5.29.17";
    /// issuerAltName
    pub const ISSUER_ALT_NAME: &str = "2.5.29.18";
    /// basicConstraints
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    /// cRLNumber
    pub const CRL_NUMBER: &str = "2.5.29.20";
    /// reasonCode (CRL entry extension)
    pub const CRL_REASON: &str = "2.5.29.21";
    /// deltaCRLIndicator
    pub const DELTA_CRL_INDICATOR: &str = "2.5.29.27";
    /// issuingDistributionPoint
    pub const ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
    /// cRLDistributionPoints
    pub const CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
    /// certificatePolicies
    pub const CERTIFICATE_POLICIES: &str = "2.5.29.32";
    /// authorityKeyIdentifier
    pub const AUTHORITY_KEY_IDENTIFIER: &str = "2.5.29.35";

    /// JPKI signing certificate policy (署名用電子証明書).
    pub const POLICY_SIGNING: &str = "1.2.392.200149.8.5.1.1.20";
    /// JPKI user-authentication certificate policy (利用者証明用電子証明書).
    pub const POLICY_AUTH: &str = "1.2.392.200149.8.5.1.3.30";
    /// TEST-ONLY policy for smartphone signing certificates (the real OID is unconfirmed).
    pub const POLICY_SIGNING_PHONE_TEST: &str = "1.2.392.200149.8.5.1.99.1";
    /// TEST-ONLY policy for smartphone authentication certificates (the real OID is unconfirmed).
    pub const POLICY_AUTH_PHONE_TEST: &str = "1.2.392.200149.8.5.1.99.2";
    /// TEST-ONLY policy in no profile at all, used by the `wrong_policy` bad case.
    pub const POLICY_WRONG_TEST: &str = "1.2.392.200149.8.5.1.99.255";

    /// Base arc of the basic four information otherNames (`.1` to `.6`).
    pub const FOUR_FIELDS_BASE: &str = "1.2.392.200149.8.5.5";
    /// 氏名 name
    pub const FF_NAME: &str = "1.2.392.200149.8.5.5.1";
    /// 氏名代替文字の使用位置 substitute characters in the name
    pub const FF_NAME_SUBSTITUTE: &str = "1.2.392.200149.8.5.5.2";
    /// 性別 sex
    pub const FF_SEX: &str = "1.2.392.200149.8.5.5.3";
    /// 生年月日 date of birth
    pub const FF_DATE_OF_BIRTH: &str = "1.2.392.200149.8.5.5.4";
    /// 住所 address
    pub const FF_ADDRESS: &str = "1.2.392.200149.8.5.5.5";
    /// 住所代替文字の使用位置 substitute characters in the address
    pub const FF_ADDRESS_SUBSTITUTE: &str = "1.2.392.200149.8.5.5.6";

    /// Unknown private extension marked critical by the `unknown_critical_extension` bad case.
    pub const UNKNOWN_CRITICAL_EXTENSION: &str = "1.3.6.1.4.1.55555.1.1";

    /// id-data (CMS)
    pub const ID_DATA: &str = "1.2.840.113549.1.7.1";
    /// id-signedData (CMS)
    pub const ID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
    /// contentType signed attribute
    pub const ATTR_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
    /// messageDigest signed attribute
    pub const ATTR_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
    /// signingTime signed attribute
    pub const ATTR_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";
}

/// keyUsage bit numbers (RFC 5280 4.2.1.3).
pub mod key_usage {
    /// digitalSignature
    pub const DIGITAL_SIGNATURE: u8 = 0;
    /// nonRepudiation (contentCommitment)
    pub const NON_REPUDIATION: u8 = 1;
    /// keyCertSign
    pub const KEY_CERT_SIGN: u8 = 5;
    /// cRLSign
    pub const CRL_SIGN: u8 = 6;
}

/// `O` of the issuerAltName / CA subjectAltName DirName: 公的個人認証サービス.
pub const JA_SERVICE_NAME: &str = "公的個人認証サービス";
/// Last `OU` of the CA subjectAltName DirName: 地方公共団体情報システム機構 (J-LIS).
pub const JA_AGENCY_NAME: &str = "地方公共団体情報システム機構";
/// Last `OU` of every CA DN.
pub const AGENCY_NAME: &str = "Japan Agency for Local Authority Information Systems";
/// `OU` of EE CRL distribution point names (layout unconfirmed).
pub const CRL_DP_OU: &str = "CRL Distribution Points";

/// The four certificate kinds: card and smartphone, signing and user authentication.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CertKind {
    /// 署名用電子証明書 on the card.
    SigningCard,
    /// 利用者証明用電子証明書 on the card.
    AuthCard,
    /// スマホ用署名用電子証明書 (profile unconfirmed; test-only names and policy).
    SigningPhone,
    /// スマホ用利用者証明用電子証明書 (profile unconfirmed; test-only names and policy).
    AuthPhone,
}

impl CertKind {
    /// All kinds, in a fixed order.
    pub const ALL: [CertKind; 4] =
        [CertKind::SigningCard, CertKind::AuthCard, CertKind::SigningPhone, CertKind::AuthPhone];

    /// The kind's name in the gateway's configuration and the verification core (`signing_card`).
    pub fn config_name(self) -> &'static str {
        match self {
            CertKind::SigningCard => "signing_card",
            CertKind::AuthCard => "auth_card",
            CertKind::SigningPhone => "signing_phone",
            CertKind::AuthPhone => "auth_phone",
        }
    }

    /// Whether this is a signing kind (carries the four fields, nonRepudiation).
    pub fn is_signing(self) -> bool {
        matches!(self, CertKind::SigningCard | CertKind::SigningPhone)
    }

    /// Whether this is a smartphone kind.
    pub fn is_phone(self) -> bool {
        matches!(self, CertKind::SigningPhone | CertKind::AuthPhone)
    }

    /// Stable identifier used in file names and the manifest: `signing-card`, `auth-card`, ...
    pub fn slug(self) -> &'static str {
        match self {
            CertKind::SigningCard => "signing-card",
            CertKind::AuthCard => "auth-card",
            CertKind::SigningPhone => "signing-phone",
            CertKind::AuthPhone => "auth-phone",
        }
    }

    /// Parses [`CertKind::slug`].
    pub fn from_slug(s: &str) -> Option<CertKind> {
        CertKind::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// The first `OU` of the CA DN (and of EE CRL distribution point names).
    pub fn ca_org_unit(self) -> &'static str {
        match self {
            CertKind::SigningCard => "JPKI for digital signature",
            CertKind::AuthCard => "JPKI for user authentication",
            CertKind::SigningPhone => "JPKI for digital signature (smartphone)",
            CertKind::AuthPhone => "JPKI for user authentication (smartphone)",
        }
    }

    /// The Japanese `OU` in the CA's subjectAltName DirName.
    pub fn ca_org_unit_ja(self) -> &'static str {
        match self {
            CertKind::SigningCard => "公的個人認証サービス署名用",
            CertKind::AuthCard => "公的個人認証サービス利用者証明用",
            CertKind::SigningPhone => "公的個人認証サービス署名用（スマートフォン）",
            CertKind::AuthPhone => "公的個人認証サービス利用者証明用（スマートフォン）",
        }
    }

    /// The CA subject (and issuer) DN:
    /// `C=JP, O=JPKI, OU=<kind OU>, OU=Japan Agency for Local Authority Information Systems`.
    pub fn ca_name(self) -> DistinguishedName {
        DistinguishedName::new().country("JP").organization("JPKI").org_unit(self.ca_org_unit()).org_unit(AGENCY_NAME)
    }

    /// The CA's subjectAltName DirName in Japanese.
    pub fn ca_name_ja(self) -> DistinguishedName {
        DistinguishedName::new()
            .country("JP")
            .organization(JA_SERVICE_NAME)
            .org_unit(self.ca_org_unit_ja())
            .org_unit(JA_AGENCY_NAME)
    }

    /// The end-entity certificate policy OID.
    pub fn policy_oid(self) -> &'static str {
        match self {
            CertKind::SigningCard => oid::POLICY_SIGNING,
            CertKind::AuthCard => oid::POLICY_AUTH,
            CertKind::SigningPhone => oid::POLICY_SIGNING_PHONE_TEST,
            CertKind::AuthPhone => oid::POLICY_AUTH_PHONE_TEST,
        }
    }

    /// The end-entity keyUsage bits.
    pub fn ee_key_usage(self) -> &'static [u8] {
        if self.is_signing() {
            &[key_usage::DIGITAL_SIGNATURE, key_usage::NON_REPUDIATION]
        } else {
            &[key_usage::DIGITAL_SIGNATURE]
        }
    }
}

/// The issuerAltName DirName of end-entity certificates: `C=JP, O=公的個人認証サービス`.
pub fn issuer_alt_name() -> DistinguishedName {
    DistinguishedName::new().country("JP").organization(JA_SERVICE_NAME)
}

/// An end-entity CRL distribution point name (layout unconfirmed):
/// `C=JP, O=JPKI, OU=<kind OU>, OU=CRL Distribution Points, OU=<prefecture>, CN=<municipality>`.
pub fn ee_crl_dp_name(kind: CertKind, prefecture: &str, municipality: &str) -> DistinguishedName {
    DistinguishedName::new()
        .country("JP")
        .organization("JPKI")
        .org_unit(kind.ca_org_unit())
        .org_unit(CRL_DP_OU)
        .org_unit(prefecture)
        .common_name(municipality)
}
