//! The bridge between the test PKI and the verifier: which core kind a test-PKI kind is, which
//! policy OIDs it uses, and a verifier trusting its anchors. The test PKI deliberately does not
//! depend on the core (it is an independent encoding of the profile), so the mapping lives here,
//! once, for every test, benchmark and fuzz target.

use std::sync::Arc;

use jpki_core::{
    AlgorithmPolicy, AnchorError, CertKind, ConfigError, KindConfig, RevocationSource, TrustAnchor, Verifier,
    VerifierConfig,
};
use jpki_testpki::TestPki;

/// The seed the test suites share.
pub const SEED: u64 = 2026;

/// The core's kind for a test-PKI kind.
pub fn core_kind(kind: jpki_testpki::CertKind) -> CertKind {
    match kind {
        jpki_testpki::CertKind::SigningCard => CertKind::SigningCard,
        jpki_testpki::CertKind::AuthCard => CertKind::AuthCard,
        jpki_testpki::CertKind::SigningPhone => CertKind::SigningPhone,
        jpki_testpki::CertKind::AuthPhone => CertKind::AuthPhone,
    }
}

/// The policy OIDs the test PKI issues for a kind (the smartphone ones are test-only inventions).
pub fn policy_oids(kind: CertKind) -> Vec<String> {
    use jpki_testpki::profile::oid;
    let policy = match kind {
        CertKind::SigningCard => oid::POLICY_SIGNING,
        CertKind::AuthCard => oid::POLICY_AUTH,
        CertKind::SigningPhone => oid::POLICY_SIGNING_PHONE_TEST,
        CertKind::AuthPhone => oid::POLICY_AUTH_PHONE_TEST,
    };
    vec![policy.to_owned()]
}

/// Every anchor of the test PKI (both generations of every kind) as trust anchors.
pub fn anchors(pki: &TestPki) -> Result<Vec<TrustAnchor>, AnchorError> {
    pki.cas()
        .iter()
        .filter(|ca| ca.is_anchor())
        .map(|ca| TrustAnchor::from_der(core_kind(ca.kind()), ca.cert_der(), &AlgorithmPolicy::default()))
        .collect()
}

/// One configuration per kind: the test PKI's anchors and policies, and `revocation` for all.
pub fn kind_configs(pki: &TestPki, revocation: Arc<dyn RevocationSource>) -> Vec<KindConfig> {
    CertKind::ALL
        .into_iter()
        .map(|kind| KindConfig {
            kind,
            anchors: pki
                .cas()
                .iter()
                .filter(|ca| ca.is_anchor() && core_kind(ca.kind()) == kind)
                .map(|ca| ca.cert_der().to_vec())
                .collect(),
            policy_oids: policy_oids(kind),
            revocation: revocation.clone(),
        })
        .collect()
}

/// A verifier trusting every anchor of the test PKI.
pub fn verifier(
    pki: &TestPki,
    revocation: Arc<dyn RevocationSource>,
    chain_cache_capacity: u64,
) -> Result<Verifier, ConfigError> {
    Verifier::new(VerifierConfig {
        kinds: kind_configs(pki, revocation),
        algorithms: AlgorithmPolicy::default(),
        chain_cache_capacity,
    })
}

/// Helpers for test code, where a broken fixture should stop the test at once.
#[allow(clippy::expect_used)]
pub mod testing {
    use std::sync::Arc;

    use jpki_core::UnixTime;
    use jpki_testpki::TestPki;

    /// The validation time the test suites pin: 2026-06-01T00:00:00Z.
    pub fn at() -> UnixTime {
        UnixTime(1_780_272_000)
    }

    /// An RFC 3339 time.
    pub fn time(text: &str) -> UnixTime {
        UnixTime::parse_rfc3339(text).expect("an RFC 3339 time")
    }

    /// The same instant as an `OffsetDateTime`, for the PKI builder.
    pub fn offset(moment: UnixTime) -> time::OffsetDateTime {
        time::OffsetDateTime::from_unix_timestamp(moment.0).expect("a representable time")
    }

    /// The shared test PKI (generated once per process).
    pub fn pki() -> Arc<TestPki> {
        TestPki::cached(super::SEED).expect("the test PKI generates")
    }
}
