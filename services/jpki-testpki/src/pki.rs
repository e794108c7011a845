//! The whole test PKI: CAs of both generations, holders, bad cases and a foreign CA.
//!
//! Everything is derived from one `u64` seed with fixed dates, so [`TestPki::generate`] is
//! byte-identical for the same seed. Keys and serials depend only on `(seed, label)`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use rsa::PrivateKey;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::card::{Card, Signer};
use crate::cert::{CertificateBuilder, Extension, IssuerRef, ext};
use crate::crl::{CrlBuilder, CrlEntry};
use crate::der;
use crate::error::{Error, Result};
use crate::holder::{FourFields, HolderProfile, bad_case_fields, default_holders};
use crate::keys::{self, RSA_BITS, derive_bytes, derive_key};
use crate::name::DistinguishedName;
use crate::profile::{self, CertKind, key_usage, oid};
use crate::sign::HashAlg;

/// Generation 1 CAs: notBefore.
pub const G1_NOT_BEFORE: OffsetDateTime = datetime!(2019-01-01 00:00:00 UTC);
/// Generation 1 CAs: notAfter (end of 2029-01-01 in JST).
pub const G1_NOT_AFTER: OffsetDateTime = datetime!(2029-01-01 14:59:59 UTC);
/// Generation 2 CAs: notBefore (the real 2023 roots' date).
pub const G2_NOT_BEFORE: OffsetDateTime = datetime!(2023-07-16 00:00:00 UTC);
/// Generation 2 CAs: notAfter (as the real 2023 roots).
pub const G2_NOT_AFTER: OffsetDateTime = datetime!(2033-07-15 14:59:59 UTC);
/// Holder certificates from g2: notBefore.
pub const EE_NOT_BEFORE: OffsetDateTime = datetime!(2024-04-01 00:00:00 UTC);
/// Holder certificates from g2: notAfter (5 years, end of day JST).
pub const EE_NOT_AFTER: OffsetDateTime = datetime!(2029-03-31 14:59:59 UTC);
/// Holder certificates from g1: notBefore.
pub const EE_G1_NOT_BEFORE: OffsetDateTime = datetime!(2024-01-02 00:00:00 UTC);
/// Holder certificates from g1: notAfter (the g1 CAs' notAfter).
pub const EE_G1_NOT_AFTER: OffsetDateTime = G1_NOT_AFTER;
/// The validation time other tests pin; every good certificate is valid then.
pub const VALIDATION_TIME: OffsetDateTime = datetime!(2026-06-01 00:00:00 UTC);

/// A certification authority: a self-signed root with its key.
#[derive(Clone, Debug)]
pub struct Ca {
    label: String,
    kind: CertKind,
    generation: u8,
    anchor: bool,
    key: PrivateKey,
    cert_der: Vec<u8>,
    name_der: Vec<u8>,
    key_id: Vec<u8>,
    serial: Vec<u8>,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Ca {
    /// Wraps an existing CA certificate and its key (for example loaded from a directory).
    pub fn from_parts(
        label: &str,
        kind: CertKind,
        generation: u8,
        anchor: bool,
        cert_der: Vec<u8>,
        key: PrivateKey,
    ) -> Result<Ca> {
        let info = der::parse_certificate(&cert_der)?;
        let key_id = match info.subject_key_id {
            Some(k) => k,
            None => keys::key_id_from_spki(&info.spki)?.to_vec(),
        };
        Ok(Ca {
            label: label.to_owned(),
            kind,
            generation,
            anchor,
            key,
            name_der: info.subject,
            serial: der_integer_magnitude(&info.serial_content),
            not_before: info.not_before,
            not_after: info.not_after,
            cert_der,
            key_id,
        })
    }

    /// Stable label: `signing-card-g1`, ..., or `foreign-ca`.
    pub fn label(&self) -> &str {
        &self.label
    }
    /// Which kind of certificates this CA issues.
    pub fn kind(&self) -> CertKind {
        self.kind
    }
    /// Generation (1 or 2).
    pub fn generation(&self) -> u8 {
        self.generation
    }
    /// Whether this CA is a trust anchor of the test PKI (the foreign CA is not).
    pub fn is_anchor(&self) -> bool {
        self.anchor
    }
    /// The CA's private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
    /// The self-signed certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }
    /// The subject (= issuer) Name, DER.
    pub fn name_der(&self) -> &[u8] {
        &self.name_der
    }
    /// Subject key identifier (SHA-1 of the public key bits).
    pub fn key_id(&self) -> &[u8] {
        &self.key_id
    }
    /// Serial number, big-endian unsigned.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    /// Start of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }
    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
    /// The certificate in PEM.
    pub fn cert_pem(&self) -> Result<String> {
        keys::pem_encode("CERTIFICATE", &self.cert_der)
    }
    /// The signing identity for certificates and CRLs issued by this CA.
    pub fn issuer(&self) -> IssuerRef<'_> {
        IssuerRef { name_der: &self.name_der, key: &self.key, key_id: &self.key_id }
    }

    /// Issues a CRL (sha256WithRSAEncryption, v2, AKI, cRLNumber) with the given entries.
    pub fn issue_crl(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
        entries: &[CrlEntry],
    ) -> Result<Vec<u8>> {
        CrlBuilder::new(this_update, Some(next_update))
            .number(number)
            .entries(entries.iter().cloned())
            .sign(self.issuer())
    }
}

/// An end-entity certificate with its key.
#[derive(Clone, Debug)]
pub struct IssuedCert {
    label: String,
    kind: CertKind,
    issuer_label: String,
    key: PrivateKey,
    cert_der: Vec<u8>,
    serial: Vec<u8>,
    policy_oid: String,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl IssuedCert {
    /// Stable label, also the key derivation label (`holder/h01/signing`, `bad/expired`, ...).
    pub fn label(&self) -> &str {
        &self.label
    }
    /// The certificate's profile kind (what it claims to be).
    pub fn kind(&self) -> CertKind {
        self.kind
    }
    /// Label of the issuing CA (`signing-card-g2`, `foreign-ca`, ...).
    pub fn issuer_label(&self) -> &str {
        &self.issuer_label
    }
    /// The private key.
    pub fn key(&self) -> &PrivateKey {
        &self.key
    }
    /// The certificate, DER.
    pub fn cert_der(&self) -> &[u8] {
        &self.cert_der
    }
    /// The certificate in PEM.
    pub fn cert_pem(&self) -> Result<String> {
        keys::pem_encode("CERTIFICATE", &self.cert_der)
    }
    /// Serial number, big-endian unsigned (16 bytes; INTEGER encoding adds 0x00 when the high
    /// bit is set).
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }
    /// Serial number as upper-case hex of the unsigned value.
    pub fn serial_hex(&self) -> String {
        hex_upper(&self.serial)
    }
    /// The certificatePolicies OID the certificate carries.
    pub fn policy_oid(&self) -> &str {
        &self.policy_oid
    }
    /// Start of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }
    /// End of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }
    /// A signer over this certificate and key (raw and CMS signatures).
    pub fn signer(&self) -> Signer<'_> {
        Signer::new(&self.key, &self.cert_der)
    }
    /// A CRL entry revoking this certificate.
    pub fn crl_entry(&self, revocation_date: OffsetDateTime) -> CrlEntry {
        CrlEntry::new(self.serial.clone(), revocation_date)
    }
}

/// A holder: profile, four fields, a signing and an authentication certificate.
#[derive(Clone, Debug)]
pub struct Holder {
    profile: HolderProfile,
    signing: IssuedCert,
    auth: IssuedCert,
}

impl Holder {
    /// Holder id (`h01`, ..., `p01`).
    pub fn id(&self) -> &str {
        &self.profile.id
    }
    /// The four fields as encoded in the signing certificate.
    pub fn four_fields(&self) -> &FourFields {
        &self.profile.four_fields
    }
    /// The whole profile (written name and address, municipality, generation, ...).
    pub fn profile(&self) -> &HolderProfile {
        &self.profile
    }
    /// The signing certificate (kind `SigningCard` or `SigningPhone`).
    pub fn signing(&self) -> &IssuedCert {
        &self.signing
    }
    /// The user-authentication certificate (kind `AuthCard` or `AuthPhone`).
    pub fn auth(&self) -> &IssuedCert {
        &self.auth
    }
    /// The holder's card (or phone) simulator.
    pub fn card(&self) -> Card {
        Card::new(
            self.profile.id.clone(),
            Some(self.profile.four_fields.clone()),
            self.signing.key.clone(),
            self.signing.cert_der.clone(),
            self.auth.key.clone(),
            self.auth.cert_der.clone(),
        )
    }
}

/// The bad cases: certificates a verifier must reject, each for one reason.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum BadCaseKind {
    /// Validity 2015-01-01 to 2020-01-01.
    Expired,
    /// Validity 2030-01-01 to 2035-01-01.
    NotYetValid,
    /// Signing profile with keyUsage digitalSignature only.
    SigningWithoutNonRepudiation,
    /// Authentication keyUsage and policy, issued by the signing CA.
    AuthProfileUnderSigningCa,
    /// RSA-1024 end-entity key.
    WeakKey,
    /// Issued by a CA with the signing CA's DN but its own key, which is no anchor.
    ForeignCa,
    /// Signed with sha1WithRSAEncryption by the g2 signing CA.
    Sha1,
    /// Carries an unknown critical extension (1.3.6.1.4.1.55555.1.1).
    UnknownCriticalExtension,
    /// End entity with basicConstraints cA TRUE.
    EeIsCa,
    /// Signing certificate with a policy OID outside the profile.
    WrongPolicy,
}

impl BadCaseKind {
    /// All bad cases in a fixed order.
    pub const ALL: [BadCaseKind; 10] = [
        BadCaseKind::Expired,
        BadCaseKind::NotYetValid,
        BadCaseKind::SigningWithoutNonRepudiation,
        BadCaseKind::AuthProfileUnderSigningCa,
        BadCaseKind::WeakKey,
        BadCaseKind::ForeignCa,
        BadCaseKind::Sha1,
        BadCaseKind::UnknownCriticalExtension,
        BadCaseKind::EeIsCa,
        BadCaseKind::WrongPolicy,
    ];

    /// Stable name, used in file names: `expired`, `not_yet_valid`, ...
    pub fn slug(self) -> &'static str {
        match self {
            BadCaseKind::Expired => "expired",
            BadCaseKind::NotYetValid => "not_yet_valid",
            BadCaseKind::SigningWithoutNonRepudiation => "signing_without_nonrepudiation",
            BadCaseKind::AuthProfileUnderSigningCa => "auth_profile_under_signing_ca",
            BadCaseKind::WeakKey => "weak_key",
            BadCaseKind::ForeignCa => "foreign_ca",
            BadCaseKind::Sha1 => "sha1",
            BadCaseKind::UnknownCriticalExtension => "unknown_critical_extension",
            BadCaseKind::EeIsCa => "ee_is_ca",
            BadCaseKind::WrongPolicy => "wrong_policy",
        }
    }

    /// Parses [`BadCaseKind::slug`].
    pub fn from_slug(s: &str) -> Option<BadCaseKind> {
        BadCaseKind::ALL.into_iter().find(|k| k.slug() == s)
    }

    /// Why a verifier must reject the certificate, in words.
    pub fn expected_failure(self) -> &'static str {
        match self {
            BadCaseKind::Expired => {
                "validity: certificate expired (notAfter 2020-01-01T00:00:00Z is before the validation time)"
            }
            BadCaseKind::NotYetValid => {
                "validity: certificate not yet valid (notBefore 2030-01-01T00:00:00Z is after the validation time)"
            }
            BadCaseKind::SigningWithoutNonRepudiation => {
                "profile: signing certificate keyUsage lacks nonRepudiation (digitalSignature only)"
            }
            BadCaseKind::AuthProfileUnderSigningCa => {
                "profile: authentication keyUsage and policy 1.2.392.200149.8.5.1.3.30 in a certificate issued by the signing CA"
            }
            BadCaseKind::WeakKey => "crypto constraint: RSA-1024 end-entity key (profile requires RSA-2048)",
            BadCaseKind::ForeignCa => {
                "chain: issuer has the JPKI signing CA's name but a different key; no trust anchor matches (AKI and signature)"
            }
            BadCaseKind::Sha1 => "crypto constraint: certificate signed with sha1WithRSAEncryption",
            BadCaseKind::UnknownCriticalExtension => "profile: unknown critical extension 1.3.6.1.4.1.55555.1.1",
            BadCaseKind::EeIsCa => "profile: end-entity certificate has basicConstraints cA TRUE",
            BadCaseKind::WrongPolicy => {
                "policy: certificatePolicies holds 1.2.392.200149.8.5.1.99.255, not the signing policy 1.2.392.200149.8.5.1.1.20"
            }
        }
    }
}

/// One bad case: its certificate and key.
#[derive(Clone, Debug)]
pub struct BadCase {
    kind: BadCaseKind,
    cert: IssuedCert,
}

impl BadCase {
    /// Which bad case.
    pub fn kind(&self) -> BadCaseKind {
        self.kind
    }
    /// The certificate and key.
    pub fn cert(&self) -> &IssuedCert {
        &self.cert
    }
    /// Why a verifier must reject it.
    pub fn expected_failure(&self) -> &'static str {
        self.kind.expected_failure()
    }
}

/// The whole deterministic test PKI.
#[derive(Clone, Debug)]
pub struct TestPki {
    seed: u64,
    cas: Vec<Ca>,
    foreign_ca: Ca,
    holders: Vec<Holder>,
    bad_cases: Vec<BadCase>,
}

/// What distinguishes one end-entity certificate.
struct EeSpec<'a> {
    label: String,
    kind: CertKind,
    subject: DistinguishedName,
    key_bits: usize,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
    key_usage: &'a [u8],
    policy: &'a str,
    four_fields: Option<&'a FourFields>,
    crl_dp: DistinguishedName,
    high_bit_serial: bool,
    signature_hash: HashAlg,
    basic_constraints_ca: bool,
    extra: Vec<Extension>,
}

impl TestPki {
    /// Generates the PKI for `seed`. About 35 RSA keys; a second or two.
    pub fn generate(seed: u64) -> Result<TestPki> {
        let mut cas = Vec::with_capacity(8);
        for kind in CertKind::ALL {
            for generation in [1u8, 2] {
                cas.push(build_ca(seed, kind, generation)?);
            }
        }
        let foreign_ca =
            build_self_signed_ca(seed, "foreign-ca", CertKind::SigningCard, 2, false, G2_NOT_BEFORE, G2_NOT_AFTER)?;
        let find = |kind: CertKind, generation: u8| -> Result<&Ca> {
            cas.iter()
                .find(|c| c.kind == kind && c.generation == generation)
                .ok_or_else(|| Error::Invalid(format!("no CA {} g{generation}", kind.slug())))
        };

        let mut holders = Vec::new();
        for (i, profile) in default_holders()?.into_iter().enumerate() {
            let (sk, ak) = if profile.phone {
                (CertKind::SigningPhone, CertKind::AuthPhone)
            } else {
                (CertKind::SigningCard, CertKind::AuthCard)
            };
            let (nb, na) = if profile.generation == 1 {
                (EE_G1_NOT_BEFORE, EE_G1_NOT_AFTER)
            } else {
                (EE_NOT_BEFORE, EE_NOT_AFTER)
            };
            let mut signing_spec = EeSpec::good(
                seed,
                format!("holder/{}/signing", profile.id),
                sk,
                &profile.four_fields,
                &profile.prefecture,
                &profile.municipality,
            );
            signing_spec.not_before = nb;
            signing_spec.not_after = na;
            signing_spec.high_bit_serial = i % 2 == 0;
            let mut auth_spec = EeSpec::good(
                seed,
                format!("holder/{}/auth", profile.id),
                ak,
                &profile.four_fields,
                &profile.prefecture,
                &profile.municipality,
            );
            auth_spec.not_before = nb;
            auth_spec.not_after = na;
            auth_spec.high_bit_serial = i % 2 == 1;
            let signing = issue(seed, find(sk, profile.generation)?, signing_spec)?;
            let auth = issue(seed, find(ak, profile.generation)?, auth_spec)?;
            holders.push(Holder { profile, signing, auth });
        }

        let fields = bad_case_fields()?;
        let signing_g2 = find(CertKind::SigningCard, 2)?;
        let mut bad_cases = Vec::new();
        for (i, kind) in BadCaseKind::ALL.into_iter().enumerate() {
            let mut spec = EeSpec::good(
                seed,
                format!("bad/{}", kind.slug()),
                CertKind::SigningCard,
                &fields,
                "Tokyo",
                "Chiyoda-ku",
            );
            spec.high_bit_serial = i % 2 == 0;
            let mut issuer = signing_g2;
            match kind {
                BadCaseKind::Expired => {
                    spec.not_before = datetime!(2015-01-01 00:00:00 UTC);
                    spec.not_after = datetime!(2020-01-01 00:00:00 UTC);
                }
                BadCaseKind::NotYetValid => {
                    spec.not_before = datetime!(2030-01-01 00:00:00 UTC);
                    spec.not_after = datetime!(2035-01-01 00:00:00 UTC);
                }
                BadCaseKind::SigningWithoutNonRepudiation => {
                    spec.key_usage = &[key_usage::DIGITAL_SIGNATURE];
                }
                BadCaseKind::AuthProfileUnderSigningCa => {
                    let auth =
                        EeSpec::good(seed, spec.label.clone(), CertKind::AuthCard, &fields, "Tokyo", "Chiyoda-ku");
                    spec.subject = auth.subject;
                    spec.key_usage = auth.key_usage;
                    spec.policy = auth.policy;
                    spec.four_fields = None;
                    spec.crl_dp = auth.crl_dp;
                    spec.kind = CertKind::AuthCard;
                }
                BadCaseKind::WeakKey => spec.key_bits = 1024,
                BadCaseKind::ForeignCa => issuer = &foreign_ca,
                BadCaseKind::Sha1 => spec.signature_hash = HashAlg::Sha1,
                BadCaseKind::UnknownCriticalExtension => spec.extra.push(Extension::new(
                    oid::UNKNOWN_CRITICAL_EXTENSION,
                    true,
                    der::utf8_string("jpki-testpki unknown critical extension"),
                )),
                BadCaseKind::EeIsCa => spec.basic_constraints_ca = true,
                BadCaseKind::WrongPolicy => spec.policy = oid::POLICY_WRONG_TEST,
            }
            bad_cases.push(BadCase { kind, cert: issue(seed, issuer, spec)? });
        }

        Ok(TestPki { seed, cas, foreign_ca, holders, bad_cases })
    }

    /// The PKI for `seed`, generated once per process and shared (for test suites that need the
    /// same PKI in many tests).
    pub fn cached(seed: u64) -> Result<Arc<TestPki>> {
        static CACHE: OnceLock<Mutex<HashMap<u64, Arc<TestPki>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        let mut map = cache.lock().map_err(|_| Error::Invalid("test PKI cache poisoned".into()))?;
        if let Some(p) = map.get(&seed) {
            return Ok(Arc::clone(p));
        }
        let pki = Arc::new(TestPki::generate(seed)?);
        map.insert(seed, Arc::clone(&pki));
        Ok(pki)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }
    /// The eight trust anchors: four kinds times two generations.
    pub fn cas(&self) -> &[Ca] {
        &self.cas
    }
    /// The anchor of `kind` and `generation` (1 or 2).
    pub fn ca(&self, kind: CertKind, generation: u8) -> Option<&Ca> {
        self.cas.iter().find(|c| c.kind == kind && c.generation == generation)
    }
    /// The anchor with the given label (`signing-card-g2`, ...) or the foreign CA (`foreign-ca`).
    pub fn ca_by_label(&self, label: &str) -> Option<&Ca> {
        self.cas.iter().chain(std::iter::once(&self.foreign_ca)).find(|c| c.label == label)
    }
    /// The foreign CA (same DN as the signing CA, own key, not an anchor).
    pub fn foreign_ca(&self) -> &Ca {
        &self.foreign_ca
    }
    /// All holders.
    pub fn holders(&self) -> &[Holder] {
        &self.holders
    }
    /// A holder by id.
    pub fn holder(&self, id: &str) -> Option<&Holder> {
        self.holders.iter().find(|h| h.id() == id)
    }
    /// A holder's card simulator.
    pub fn card(&self, holder_id: &str) -> Result<Card> {
        self.holder(holder_id).map(Holder::card).ok_or_else(|| Error::UnknownHolder(holder_id.to_owned()))
    }
    /// All bad cases.
    pub fn bad_cases(&self) -> &[BadCase] {
        &self.bad_cases
    }
    /// One bad case.
    pub fn bad_case(&self, kind: BadCaseKind) -> Option<&BadCase> {
        self.bad_cases.iter().find(|b| b.kind == kind)
    }

    /// Issues a good end-entity certificate of `kind` from its generation-2 anchor for a public key
    /// the caller brings (DER SubjectPublicKeyInfo, e.g. an external test vector's key), with
    /// `extra` extensions appended after the profile's. The serial and subject derive from `label`;
    /// a signing certificate carries the bad cases' four fields. No private key is kept.
    pub fn issue_for_public_key(
        &self,
        kind: CertKind,
        label: &str,
        spki: Vec<u8>,
        extra: Vec<Extension>,
    ) -> Result<Vec<u8>> {
        let ca = self.ca(kind, 2).ok_or_else(|| Error::Invalid(format!("no CA {} g2", kind.slug())))?;
        let fields = bad_case_fields()?;
        let label = format!("external/{label}");
        let mut spec = EeSpec::good(self.seed, label, kind, &fields, "Tokyo", "Chiyoda-ku");
        spec.extra = extra;
        let serial = derive_serial(self.seed, &spec.label, false);
        ee_certificate(ca, &spec, spki, serial)
    }

    /// Issues a CRL from `ca` (an anchor or the foreign CA) with caller-chosen dates.
    pub fn issue_crl(
        &self,
        ca: &Ca,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
        entries: &[CrlEntry],
    ) -> Result<Vec<u8>> {
        ca.issue_crl(this_update, next_update, number, entries)
    }

    /// One empty CRL per anchor, labelled like the CA (`signing-card-g1`, ...).
    pub fn empty_crls(
        &self,
        this_update: OffsetDateTime,
        next_update: OffsetDateTime,
        number: u64,
    ) -> Result<Vec<(String, Vec<u8>)>> {
        self.cas.iter().map(|ca| Ok((ca.label.clone(), ca.issue_crl(this_update, next_update, number, &[])?))).collect()
    }
}

impl<'a> EeSpec<'a> {
    /// A good certificate of `kind` for a holder in `prefecture`/`municipality`.
    fn good(
        seed: u64,
        label: String,
        kind: CertKind,
        fields: &'a FourFields,
        prefecture: &str,
        municipality: &str,
    ) -> EeSpec<'a> {
        let cn = opaque_id(seed, &label);
        let subject = if kind.is_signing() {
            DistinguishedName::new().country("JP").locality(prefecture).locality(municipality).common_name(cn)
        } else {
            DistinguishedName::new().country("JP").common_name(cn)
        };
        EeSpec {
            label,
            kind,
            subject,
            key_bits: RSA_BITS,
            not_before: EE_NOT_BEFORE,
            not_after: EE_NOT_AFTER,
            key_usage: kind.ee_key_usage(),
            policy: kind.policy_oid(),
            four_fields: kind.is_signing().then_some(fields),
            crl_dp: profile::ee_crl_dp_name(kind, prefecture, municipality),
            high_bit_serial: false,
            signature_hash: HashAlg::Sha256,
            basic_constraints_ca: false,
            extra: Vec::new(),
        }
    }
}

/// Opaque subject CN: 24 upper-case hex digits derived from the seed and label.
fn opaque_id(seed: u64, label: &str) -> String {
    hex_upper(&derive_bytes(seed, "cn", label)[..12])
}

/// A 16-byte positive serial derived from `(seed, label)`; with `high_bit` the top bit is set, so
/// the INTEGER encoding gains a leading 0x00 (17 content octets).
pub fn derive_serial(seed: u64, label: &str, high_bit: bool) -> Vec<u8> {
    let mut s = derive_bytes(seed, "serial", label)[..16].to_vec();
    if high_bit {
        s[0] |= 0x80;
    } else {
        s[0] = (s[0] & 0x7F).max(0x01);
    }
    s
}

fn build_ca(seed: u64, kind: CertKind, generation: u8) -> Result<Ca> {
    let (nb, na) = if generation == 1 { (G1_NOT_BEFORE, G1_NOT_AFTER) } else { (G2_NOT_BEFORE, G2_NOT_AFTER) };
    let label = format!("{}-g{generation}", kind.slug());
    build_self_signed_ca(seed, &label, kind, generation, true, nb, na)
}

fn build_self_signed_ca(
    seed: u64,
    label: &str,
    kind: CertKind,
    generation: u8,
    anchor: bool,
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
) -> Result<Ca> {
    let key = derive_key(seed, &format!("ca/{label}"), RSA_BITS)?;
    let spki = keys::spki_der(&key.to_public_key())?;
    let ski = keys::key_id_from_spki(&spki)?;
    // Real roots have short serials (4 bytes).
    let mut serial = derive_bytes(seed, "serial", &format!("ca/{label}"))[..4].to_vec();
    serial[0] = (serial[0] & 0x7F).max(0x01);
    let name = kind.ca_name();
    let cert = CertificateBuilder::new(serial, name.clone(), not_before, not_after, spki)
        .extension(ext::key_usage(&[key_usage::KEY_CERT_SIGN, key_usage::CRL_SIGN], true))
        .extension(ext::subject_alt_name_dir(&kind.ca_name_ja())?)
        .extension(ext::basic_constraints(true, true))
        .extension(ext::crl_distribution_point_dir(&name)?)
        .extension(ext::subject_key_identifier(&ski))
        .self_sign(&key)?;
    Ca::from_parts(label, kind, generation, anchor, cert, key)
}

fn issue(seed: u64, ca: &Ca, spec: EeSpec<'_>) -> Result<IssuedCert> {
    let key = derive_key(seed, &spec.label, spec.key_bits)?;
    let spki = keys::spki_der(&key.to_public_key())?;
    let serial = derive_serial(seed, &spec.label, spec.high_bit_serial);
    let cert_der = ee_certificate(ca, &spec, spki, serial.clone())?;
    Ok(IssuedCert {
        label: spec.label,
        kind: spec.kind,
        issuer_label: ca.label.clone(),
        key,
        cert_der,
        serial,
        policy_oid: spec.policy.to_owned(),
        not_before: spec.not_before,
        not_after: spec.not_after,
    })
}

/// The end-entity certificate of `spec` for the subject key `spki`, signed by `ca`.
fn ee_certificate(ca: &Ca, spec: &EeSpec<'_>, spki: Vec<u8>, serial: Vec<u8>) -> Result<Vec<u8>> {
    let ski = keys::key_id_from_spki(&spki)?;
    let mut b = CertificateBuilder::new(serial, spec.subject.clone(), spec.not_before, spec.not_after, spki)
        .signature_hash(spec.signature_hash)
        .extension(ext::key_usage(spec.key_usage, true));
    if spec.basic_constraints_ca {
        b = b.extension(ext::basic_constraints(true, true));
    }
    b = b.extension(ext::certificate_policies(&[spec.policy], true)?);
    if let Some(f) = spec.four_fields {
        b = b.extension(ext::four_fields_san(f)?);
    }
    b = b
        .extension(ext::issuer_alt_name_dir(&profile::issuer_alt_name())?)
        .extension(ext::crl_distribution_point_dir(&spec.crl_dp)?)
        .extension(ext::authority_key_identifier(ca.key_id()))
        .extension(ext::subject_key_identifier(&ski));
    for e in &spec.extra {
        b = b.extension(e.clone());
    }
    b.sign(ca.issuer())
}

/// Upper-case hex without separators.
pub fn hex_upper(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

/// The unsigned magnitude of INTEGER content octets (strips one leading 0x00 sign octet).
fn der_integer_magnitude(content: &[u8]) -> Vec<u8> {
    match content {
        [0, rest @ ..] if !rest.is_empty() => rest.to_vec(),
        _ => content.to_vec(),
    }
}
