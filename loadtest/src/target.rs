//! What the calls go to and are made with: the connections, the tenants' keys, the test-PKI cards
//! with their signatures made once, and the round-robin over them.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::{Context, bail};
use jpki_api::v1::CertificateId;
use jpki_core::CertId;
use jpki_core::cert::ParsedCertificate;
use jpki_testpki::{CmsOptions, TestPki};
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};

/// The form the signature kinds sign: 1 KiB, the size of the verification benchmark's form.
pub const FORM_BYTES: usize = 1024;

/// A test-PKI card and what is sent for it.
pub struct CardMaterial {
    /// The card (keys and certificates).
    pub card: jpki_testpki::Card,
    /// The card's authentication key for `ring`, which makes the same PKCS#1 v1.5 proof several
    /// times faster than the card simulator: the proof is the client's CPU, on the same cores as
    /// the gateway.
    prover: RsaKeyPair,
    /// A CMS over the form, made once (detached, signed attributes, certificate embedded, SHA-256).
    pub cms: Vec<u8>,
    /// A raw SHA-256 PKCS#1 v1.5 signature over the form.
    pub raw_signature: Vec<u8>,
    /// The signing certificate's identity, for CheckStatus.
    pub signing_id: CertificateId,
}

impl CardMaterial {
    /// 電子利用者証明: the authentication key's SHA-256 PKCS#1 v1.5 signature over a challenge.
    pub fn prove(&self, challenge: &[u8]) -> anyhow::Result<Vec<u8>> {
        ring_proof(&self.prover, challenge)
    }
}

/// Which connection, tenant and card one call uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pick {
    connection: usize,
    tenant: usize,
    card: usize,
}

/// Everything the calls share.
pub struct Target {
    channels: Vec<Channel>,
    keys: Vec<MetadataValue<Ascii>>,
    cards: Vec<CardMaterial>,
    /// The form signed by the signature kinds.
    pub form: Vec<u8>,
    next: AtomicU64,
}

impl Target {
    /// Loads the cards of `holders` (every holder in the manifest when empty) from the test PKI in
    /// `pki` and signs the form with each.
    pub fn load(pki: &Path, holders: &[String], api_keys: &[String], channels: Vec<Channel>) -> anyhow::Result<Target> {
        let manifest = TestPki::load_manifest(pki)
            .map_err(|error| anyhow::anyhow!("{}: not a test-PKI directory ({error})", pki.display()))?;
        let holders: Vec<String> = if holders.is_empty() {
            manifest.holders.iter().map(|holder| holder.id.clone()).collect()
        } else {
            holders.to_vec()
        };
        if holders.is_empty() {
            bail!("{}: the manifest has no holders", pki.display());
        }
        let form = form();
        let mut cards = Vec::new();
        for holder in &holders {
            let card = TestPki::load_card(pki, holder)
                .map_err(|error| anyhow::anyhow!("{}: holder {holder}: {error}", pki.display()))?;
            let entry =
                manifest.holders.iter().find(|entry| entry.id == *holder).context("holder not in the manifest")?;
            let prover = prover(&pki.join(&entry.auth.key_pem), &card).with_context(|| format!("holder {holder}"))?;
            let options = CmsOptions { signing_time: time::OffsetDateTime::now_utc(), ..CmsOptions::default() };
            let cms =
                card.sign_document_cms(&form, options).map_err(|error| anyhow::anyhow!("{holder}: CMS: {error}"))?;
            let raw_signature =
                card.sign_document(&form).map_err(|error| anyhow::anyhow!("{holder}: signing: {error}"))?;
            let signing_id = certificate_id(card.signing_cert_der()).with_context(|| format!("holder {holder}"))?;
            cards.push(CardMaterial { card, prover, cms, raw_signature, signing_id });
        }
        let keys = api_keys
            .iter()
            .map(|key| {
                format!("Bearer {key}").parse().map_err(|_| anyhow::anyhow!("--api-key: not a valid header value"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Target { channels, keys, cards, form, next: AtomicU64::new(0) })
    }

    /// The next call's connection, tenant and card: tenants turn fastest, then cards, so that
    /// every tenant meets every card whatever the counts.
    pub fn pick(&self) -> Pick {
        let call = self.next.fetch_add(1, Ordering::Relaxed);
        self.pick_nth(call)
    }

    /// The pick of call number `call`.
    pub fn pick_nth(&self, call: u64) -> Pick {
        spread(call, self.channels.len(), self.keys.len(), self.cards.len())
    }

    /// Every (tenant, card) pair once.
    pub fn every_pair(&self) -> Vec<Pick> {
        let pairs = (self.keys.len() * self.cards.len()) as u64;
        (0..pairs).map(|call| self.pick_nth(call)).collect()
    }

    /// The connection of a pick.
    pub fn channel(&self, pick: Pick) -> &Channel {
        &self.channels[pick.connection]
    }

    /// The `authorization` value of a pick's tenant.
    pub fn key(&self, pick: Pick) -> &MetadataValue<Ascii> {
        &self.keys[pick.tenant]
    }

    /// The card of a pick.
    pub fn card(&self, pick: Pick) -> &CardMaterial {
        &self.cards[pick.card]
    }

    /// The holder ids, in round-robin order.
    pub fn holders(&self) -> Vec<String> {
        self.cards.iter().map(|material| material.card.holder_id().to_owned()).collect()
    }

    /// Which tenant (by --api-key position) and holder a pick names, for messages.
    pub fn describe(&self, pick: Pick) -> String {
        format!(
            "tenant #{} (--api-key {}), holder {}",
            pick.tenant + 1,
            pick.tenant + 1,
            self.card(pick).card.holder_id()
        )
    }

    /// The number of tenants.
    pub fn tenants(&self) -> usize {
        self.keys.len()
    }
}

/// Opens `count` HTTP/2 connections to the gateway.
pub async fn connect(url: &str, count: usize) -> anyhow::Result<Vec<Channel>> {
    let endpoint = Endpoint::from_shared(url.to_owned())
        .with_context(|| format!("--gateway {url}: not a URL"))?
        .tcp_nodelay(true)
        .connect_timeout(Duration::from_secs(5))
        // Far above any latency worth measuring; a call stuck longer is counted as DEADLINE_EXCEEDED.
        .timeout(Duration::from_secs(30));
    let mut channels = Vec::new();
    for _ in 0..count {
        channels.push(endpoint.connect().await.with_context(|| format!("cannot connect to {url}"))?);
    }
    Ok(channels)
}

/// The authentication key from its PKCS#8 PEM file, checked to prove exactly as the card does.
fn prover(path: &Path, card: &jpki_testpki::Card) -> anyhow::Result<RsaKeyPair> {
    let pem = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let pkcs8 = jpki_core::cert::pem_blocks(&pem, "PRIVATE KEY")
        .ok()
        .and_then(|blocks| blocks.into_iter().next())
        .with_context(|| format!("{}: no PRIVATE KEY block", path.display()))?;
    let prover = RsaKeyPair::from_pkcs8(&pkcs8).map_err(|error| anyhow::anyhow!("{}: {error}", path.display()))?;
    let challenge = [0x5a; 32];
    let expected = card.prove(&challenge).map_err(|error| anyhow::anyhow!("card proof: {error}"))?;
    if ring_proof(&prover, &challenge)? != expected {
        bail!("{}: not the key of the card's authentication certificate", path.display());
    }
    Ok(prover)
}

fn ring_proof(key: &RsaKeyPair, challenge: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut signature = vec![0; key.public().modulus_len()];
    key.sign(&RSA_PKCS1_SHA256, &SystemRandom::new(), challenge, &mut signature)
        .map_err(|_| anyhow::anyhow!("ring could not sign"))?;
    Ok(signature)
}

/// Call number `call` of the round-robin over connections, tenants and cards (each count ≥ 1).
fn spread(call: u64, channels: usize, tenants: usize, cards: usize) -> Pick {
    let (channels, tenants, cards) = (channels as u64, tenants as u64, cards as u64);
    Pick {
        connection: (call % channels) as usize,
        tenant: (call % tenants) as usize,
        card: (call / tenants % cards) as usize,
    }
}

/// The API's identity of a certificate: its authorityKeyIdentifier and serial.
fn certificate_id(der: &[u8]) -> anyhow::Result<CertificateId> {
    let parsed =
        ParsedCertificate::parse(der).map_err(|reason| anyhow::anyhow!("not a certificate ({})", reason.code()))?;
    let key_id = parsed.authority_key_id.as_deref().context("the certificate has no authorityKeyIdentifier")?;
    let CertId { ca_key_id, serial } = CertId::new(key_id, &parsed.serial);
    Ok(CertificateId { ca_key_id, serial })
}

/// An application form of [`FORM_BYTES`] bytes (UTF-8 text, padded with spaces).
fn form() -> Vec<u8> {
    let mut form = "口座開設申込書\n申込者: 署名用電子証明書に記録された基本4情報のとおり\n".as_bytes().to_vec();
    form.resize(FORM_BYTES, b' ');
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tenant_meets_every_card() {
        // Two tenants and four cards: a plain modulo on both would pair tenant 0 with even cards only.
        let pairs: std::collections::HashSet<(usize, usize)> =
            (0..8).map(|call| spread(call, 1, 2, 4)).map(|pick| (pick.tenant, pick.card)).collect();
        assert_eq!(pairs.len(), 8);
        assert_eq!(spread(5, 2, 2, 4), Pick { connection: 1, tenant: 1, card: 2 });
    }
}
