//! Shared fixture: a simulator over the cached test PKI on 127.0.0.1:0, a real HTTP client, and
//! the production CRL checks (`jpki_revocation`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use jpki_casim::{CaSimulator, SimConfig, SimHandle};
use jpki_core::revocation::{RevocationQuery, RevocationStatus};
use jpki_core::{CertId, RevocationSource, TrustAnchor, UnixTime};
use jpki_revocation::{ListSummary, LoadError, RevocationStore};
use jpki_testpki::TestPki;

/// Seed of the test PKI.
pub const SEED: u64 = 2026;

/// The shared test PKI.
pub fn pki() -> Arc<TestPki> {
    TestPki::cached(SEED).unwrap()
}

/// Every anchor of the test PKI as jpki_core trust anchors.
pub fn anchors() -> Vec<TrustAnchor> {
    jpki_testsupport::anchors(&pki()).unwrap()
}

/// A running simulator with its client.
pub struct Sim {
    pub handle: SimHandle,
    pub client: reqwest::Client,
    pub anchors: Vec<TrustAnchor>,
}

impl Sim {
    /// A fresh simulator with the default configuration.
    pub async fn start() -> Sim {
        Self::start_with(SimConfig::default()).await
    }

    /// A fresh simulator.
    pub async fn start_with(config: SimConfig) -> Sim {
        let sim = CaSimulator::from_test_pki(&pki(), config).unwrap();
        let handle = sim.bind("127.0.0.1:0").await.unwrap();
        Sim { handle, client: client(Duration::from_secs(30)), anchors: anchors() }
    }

    /// A full URL for `path` (starting with '/').
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.handle.base_url())
    }

    /// GET a list.
    pub async fn get_crl(&self, label: &str) -> reqwest::Response {
        self.client.get(self.handle.crl_url(label)).send().await.unwrap()
    }

    /// GET a list, expect 200, return the body.
    pub async fn crl_bytes(&self, label: &str) -> Vec<u8> {
        let response = self.get_crl(label).await;
        assert_eq!(response.status(), 200);
        response.bytes().await.unwrap().to_vec()
    }

    /// POST JSON; returns the status and the parsed JSON answer.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
        self.post_raw(path, body.to_string()).await
    }

    /// POST a raw body.
    pub async fn post_raw(&self, path: &str, body: String) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let bytes = response.bytes().await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    /// GET /stats.
    pub async fn stats(&self) -> serde_json::Value {
        let response = self.client.get(self.url("/stats")).send().await.unwrap();
        assert_eq!(response.status(), 200);
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap()
    }

    /// Checks a downloaded list into a fresh revocation store.
    pub fn check(&self, label: &str, der: &[u8]) -> Result<(RevocationStore, ListSummary), LoadError> {
        load(self.anchors.clone(), label, der)
    }

    /// The anchor of a CA label.
    pub fn anchor(&self, label: &str) -> &TrustAnchor {
        let ca = pki().ca_by_label(label).unwrap().clone();
        self.anchors.iter().find(|a| a.key_id() == ca.key_id()).unwrap()
    }
}

/// A plain-HTTP client without proxies.
pub fn client(timeout: Duration) -> reqwest::Client {
    // In a workspace-wide build, jpki-refresh turns on reqwest's `rustls-no-provider`, and then
    // every client needs a process-wide crypto provider (the first install wins).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().no_proxy().timeout(timeout).build().unwrap()
}

/// Now plus `seconds`, as jpki_core time.
pub fn now_plus(seconds: i64) -> UnixTime {
    UnixTime(time::OffsetDateTime::now_utc().unix_timestamp() + seconds)
}

/// Loads a list into a fresh store over `anchors`, as of the list's own thisUpdate (so that an
/// expired list still loads and its answers can be checked).
pub fn load(anchors: Vec<TrustAnchor>, label: &str, der: &[u8]) -> Result<(RevocationStore, ListSummary), LoadError> {
    let store = RevocationStore::new(anchors, 0);
    let this_update = jpki_revocation::parse_crl(der, |_| Ok(())).map(|parsed| parsed.this_update);
    let summary = store.load(label, der, this_update.unwrap_or(UnixTime(0)))?;
    Ok((store, summary))
}

/// The status of `serial` issued by `issuer` in `set`, a minute from now.
pub fn status(set: &RevocationStore, issuer: &TrustAnchor, serial: &[u8]) -> RevocationStatus {
    let id = CertId::new(issuer.key_id(), serial);
    let query = RevocationQuery { certificate: &id, serial, issuer, distribution_points: &[], at: now_plus(60) };
    set.status(&query).status
}
