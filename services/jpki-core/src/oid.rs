//! Object identifiers the core recognises, in dotted form.

/// `sha1WithRSAEncryption`.
pub const SHA1_WITH_RSA: &str = "1.2.840.113549.1.1.5";
/// `sha256WithRSAEncryption`.
pub const SHA256_WITH_RSA: &str = "1.2.840.113549.1.1.11";
/// `sha384WithRSAEncryption`.
pub const SHA384_WITH_RSA: &str = "1.2.840.113549.1.1.12";
/// `sha512WithRSAEncryption`.
pub const SHA512_WITH_RSA: &str = "1.2.840.113549.1.1.13";
/// `rsaEncryption` (also used as a CMS signatureAlgorithm).
pub const RSA_ENCRYPTION: &str = "1.2.840.113549.1.1.1";
/// `id-sha1`.
pub const SHA1: &str = "1.3.14.3.2.26";
/// `id-sha256`.
pub const SHA256: &str = "2.16.840.1.101.3.4.2.1";
/// `id-sha384`.
pub const SHA384: &str = "2.16.840.1.101.3.4.2.2";
/// `id-sha512`.
pub const SHA512: &str = "2.16.840.1.101.3.4.2.3";

/// CMS `id-data`.
pub const CMS_DATA: &str = "1.2.840.113549.1.7.1";
/// CMS `id-signedData`.
pub const CMS_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
/// CMS signed attribute `contentType`.
pub const CMS_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
/// CMS signed attribute `messageDigest`.
pub const CMS_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
/// CMS signed attribute `signingTime`.
pub const CMS_SIGNING_TIME: &str = "1.2.840.113549.1.9.5";

/// Extensions the core processes; any other critical extension is refused.
pub mod ext {
    /// subjectKeyIdentifier.
    pub const SUBJECT_KEY_IDENTIFIER: &str = "2.5.29.14";
    /// keyUsage.
    pub const KEY_USAGE: &str = "2.5.29.15";
    /// subjectAltName.
    pub const SUBJECT_ALT_NAME: &str = "2.5.29.17";
    /// issuerAltName.
    pub const ISSUER_ALT_NAME: &str = "2.5.29.18";
    /// basicConstraints.
    pub const BASIC_CONSTRAINTS: &str = "2.5.29.19";
    /// cRLNumber.
    pub const CRL_NUMBER: &str = "2.5.29.20";
    /// reasonCode (CRL entry).
    pub const REASON_CODE: &str = "2.5.29.21";
    /// invalidityDate (CRL entry).
    pub const INVALIDITY_DATE: &str = "2.5.29.24";
    /// deltaCRLIndicator.
    pub const DELTA_CRL_INDICATOR: &str = "2.5.29.27";
    /// issuingDistributionPoint.
    pub const ISSUING_DISTRIBUTION_POINT: &str = "2.5.29.28";
    /// cRLDistributionPoints.
    pub const CRL_DISTRIBUTION_POINTS: &str = "2.5.29.31";
    /// certificatePolicies.
    pub const CERTIFICATE_POLICIES: &str = "2.5.29.32";
    /// authorityKeyIdentifier.
    pub const AUTHORITY_KEY_IDENTIFIER: &str = "2.5.29.35";
    /// extKeyUsage.
    pub const EXT_KEY_USAGE: &str = "2.5.29.37";
}

/// JPKI policy and four-field identifiers.
pub mod jpki {
    /// certificatePolicies of the card signing certificate.
    pub const POLICY_SIGNING_CARD: &str = "1.2.392.200149.8.5.1.1.20";
    /// certificatePolicies of the card user-authentication certificate.
    pub const POLICY_AUTH_CARD: &str = "1.2.392.200149.8.5.1.3.30";
    /// Policy seen on test cards (unconfirmed for authentication).
    pub const POLICY_TEST_CARD: &str = "1.2.392.200149.8.5.1.0.20";
    /// otherName: name (氏名).
    pub const NAME: &str = "1.2.392.200149.8.5.5.1";
    /// otherName: substitute-character positions in the name.
    pub const NAME_SUBSTITUTES: &str = "1.2.392.200149.8.5.5.2";
    /// otherName: sex (性別).
    pub const SEX: &str = "1.2.392.200149.8.5.5.3";
    /// otherName: date of birth (生年月日).
    pub const DATE_OF_BIRTH: &str = "1.2.392.200149.8.5.5.4";
    /// otherName: address (住所).
    pub const ADDRESS: &str = "1.2.392.200149.8.5.5.5";
    /// otherName: substitute-character positions in the address.
    pub const ADDRESS_SUBSTITUTES: &str = "1.2.392.200149.8.5.5.6";
}
