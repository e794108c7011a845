//! The simulator's state: one current CRL per anchor CA, revocations, publication and the
//! misbehaviour that the next downloads get.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use bytes::Bytes;
use jpki_core::revocation::RevocationReason;
use jpki_testpki::{Ca, CrlBuilder, CrlEntry, IssuerRef, ReasonCode, TestPki};
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};

/// Largest `huge` response the simulator streams (8 GiB, above a 1 GiB client default).
pub const MAX_HUGE_SIZE: u64 = 1 << 33;
/// Smallest `huge` response (1 KiB).
pub const MIN_HUGE_SIZE: u64 = 1 << 10;
/// Default size of a `huge` response (16 MiB).
pub const DEFAULT_HUGE_SIZE: u64 = 16 << 20;
/// Default delay of a `slow` response (10 s).
pub const DEFAULT_SLOW_DELAY_MS: u64 = 10_000;
/// Longest delay of a `slow` response (10 min).
pub const MAX_SLOW_DELAY_MS: u64 = 600_000;
/// Default status of an `error` response.
pub const DEFAULT_ERROR_STATUS: u16 = 503;

/// Settings of a [`CaSimulator`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimConfig {
    /// nextUpdate = thisUpdate + `validity` for every issued list (default 24 h, JPKI publishes
    /// daily). Must be positive.
    pub validity: time::Duration,
    /// Seed of the `garbage` bytes (default 0), so a test run is reproducible.
    pub garbage_seed: u64,
    /// How long [`SimHandle::shutdown`](crate::SimHandle::shutdown) waits for open responses
    /// (slow or huge ones) before dropping them (default 2 s).
    pub shutdown_grace: std::time::Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            validity: time::Duration::hours(24),
            garbage_seed: 0,
            shutdown_grace: std::time::Duration::from_secs(2),
        }
    }
}

/// How the CRL endpoint misbehaves.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Misbehaviour {
    /// Serve the current list.
    Normal,
    /// Send the headers at once and the body (or a 304) after `delay_ms`.
    Slow {
        /// Delay in milliseconds.
        delay_ms: u64,
    },
    /// Answer with this status and a JSON body.
    Error {
        /// HTTP status (400..=599).
        status: u16,
    },
    /// The current DER cut in half.
    Truncated,
    /// Random bytes as long as the current list (never starting with a SEQUENCE tag).
    Garbage,
    /// A validly signed list whose nextUpdate is in the past (thisUpdate = now − 2 × validity,
    /// nextUpdate = now − validity), with the current number and entries.
    Expired,
    /// A validly signed list with the current entries and dates and cRLNumber one lower than the
    /// current one (0 when the current one is 1).
    RolledBack,
    /// A list with the CA's DN, number, entries and dates, signed by the test PKI's foreign CA
    /// (own key, so its authorityKeyIdentifier names the foreign key).
    WrongSigner,
    /// Advertises `size` bytes in Content-Length and streams them (a DER SEQUENCE header and
    /// zeros), to trip client size limits.
    Huge {
        /// Total bytes.
        size: u64,
    },
}

impl Misbehaviour {
    /// The mode name used in JSON (`normal`, `slow`, ...).
    pub fn mode(&self) -> &'static str {
        match self {
            Misbehaviour::Normal => "normal",
            Misbehaviour::Slow { .. } => "slow",
            Misbehaviour::Error { .. } => "error",
            Misbehaviour::Truncated => "truncated",
            Misbehaviour::Garbage => "garbage",
            Misbehaviour::Expired => "expired",
            Misbehaviour::RolledBack => "rolled_back",
            Misbehaviour::WrongSigner => "wrong_signer",
            Misbehaviour::Huge { .. } => "huge",
        }
    }
}

/// A misbehaviour with its limits.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MisbehaviourSetting {
    /// What the CRL endpoint does.
    #[serde(flatten)]
    pub misbehaviour: Misbehaviour,
    /// How many more CRL responses misbehave before the simulator is back to normal; `None`
    /// means until changed.
    pub times: Option<u64>,
    /// Only this list misbehaves (a CA label); `None` means every list.
    pub ca: Option<String>,
}

impl MisbehaviourSetting {
    /// Normal behaviour.
    pub fn normal() -> Self {
        MisbehaviourSetting { misbehaviour: Misbehaviour::Normal, times: None, ca: None }
    }

    /// `misbehaviour` for every list until changed.
    pub fn always(misbehaviour: Misbehaviour) -> Self {
        MisbehaviourSetting { misbehaviour, times: None, ca: None }
    }

    /// `misbehaviour` for the next `times` CRL responses.
    pub fn times(misbehaviour: Misbehaviour, times: u64) -> Self {
        MisbehaviourSetting { misbehaviour, times: Some(times), ca: None }
    }
}

/// What to revoke.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RevokeTarget {
    /// A serial number, big-endian unsigned bytes.
    Serial(Vec<u8>),
    /// The certificate of this holder (`h01`, ..., or a bad case as `bad/<slug>`) that the CA
    /// issued.
    Holder(String),
}

/// A revocation request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Revocation {
    /// The CA label (`auth-card-g2`, ...).
    pub ca: String,
    /// The certificate.
    pub target: RevokeTarget,
    /// The reasonCode entry extension; `None` leaves it out.
    pub reason: Option<ReasonCode>,
    /// revocationDate; `None` means now.
    pub revoked_at: Option<OffsetDateTime>,
}

/// The result of a revocation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Revoked {
    /// The CA label.
    pub ca: String,
    /// The serial, upper-case hex.
    pub serial: String,
    /// The new cRLNumber.
    pub number: u64,
    /// Entries on the new list.
    pub entries: usize,
}

/// The current list of one CA.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CurrentCrl {
    /// The DER CRL.
    pub der: Bytes,
    /// cRLNumber.
    pub number: u64,
    /// thisUpdate.
    pub this_update: OffsetDateTime,
    /// nextUpdate.
    pub next_update: OffsetDateTime,
    /// The quoted strong ETag (SHA-256 prefix of the DER).
    pub etag: String,
}

/// Download counters of one list.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Downloads {
    /// 200 responses (including misbehaving 200s).
    pub full: u64,
    /// 304 responses.
    pub not_modified: u64,
    /// Responses shaped by a misbehaviour (any status).
    pub misbehaved: u64,
}

/// One revoked certificate in [`ListStats`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EntryStats {
    /// Serial, upper-case hex.
    pub serial: String,
    /// revocationDate, RFC 3339.
    pub revoked_at: String,
    /// Reason (`key_compromise`, ...), if any.
    pub reason: Option<&'static str>,
}

/// The state of one list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ListStats {
    /// Current cRLNumber.
    pub number: u64,
    /// thisUpdate, RFC 3339.
    pub this_update: String,
    /// nextUpdate, RFC 3339.
    pub next_update: String,
    /// ETag of the current list.
    pub etag: String,
    /// Number of entries.
    pub entry_count: usize,
    /// The entries, by serial.
    pub entries: Vec<EntryStats>,
    /// Download counters.
    pub downloads: Downloads,
}

/// What `GET /stats` answers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Per list, by CA label.
    pub lists: BTreeMap<String, ListStats>,
    /// The misbehaviour in force.
    pub misbehaviour: MisbehaviourSetting,
}

/// Conditional request headers, already read from the request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Conditions {
    /// `If-None-Match`, raw.
    pub(crate) if_none_match: Option<String>,
    /// `If-Modified-Since`, raw.
    pub(crate) if_modified_since: Option<String>,
}

/// What the CRL endpoint is to send; decided under the state lock, sent outside it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Planned {
    /// 200 with these bytes.
    Full { der: Bytes, etag: String, last_modified: SystemTime, delay_ms: u64 },
    /// 304.
    NotModified { etag: String, last_modified: SystemTime, delay_ms: u64 },
    /// A simulated error status.
    Error { status: u16 },
    /// A streamed oversized body.
    Huge { size: u64 },
}

#[derive(Debug)]
struct List {
    ca: Ca,
    entries: BTreeMap<Vec<u8>, CrlEntry>,
    number: u64,
    this_update: OffsetDateTime,
    next_update: OffsetDateTime,
    der: Bytes,
    etag: String,
    downloads: Downloads,
}

impl List {
    fn last_modified(&self) -> SystemTime {
        SystemTime::from(self.this_update)
    }

    fn sign(&self, issuer: IssuerRef<'_>, this: OffsetDateTime, next: OffsetDateTime, number: u64) -> Result<Bytes> {
        let der =
            CrlBuilder::new(this, Some(next)).number(number).entries(self.entries.values().cloned()).sign(issuer)?;
        Ok(Bytes::from(der))
    }

    /// Issues the list again with `number`, thisUpdate `now`.
    fn reissue(&mut self, now: OffsetDateTime, validity: time::Duration, number: u64) -> Result<()> {
        let next = now + validity;
        let der = self.sign(self.ca.issuer(), now, next, number)?;
        self.etag = etag(&der);
        self.der = der;
        self.number = number;
        self.this_update = now;
        self.next_update = next;
        Ok(())
    }
}

#[derive(Debug)]
struct State {
    lists: BTreeMap<String, List>,
    foreign: Ca,
    /// Holder id → (issuer label, serial) of each of its certificates.
    holders: HashMap<String, Vec<(String, Vec<u8>)>>,
    misbehaviour: MisbehaviourSetting,
    garbage_counter: u64,
}

#[derive(Debug)]
struct Inner {
    config: SimConfig,
    state: Mutex<State>,
    /// Bumped when a server stops: slow and huge bodies in flight end at once.
    cancel: tokio::sync::watch::Sender<u64>,
}

/// The CA simulator: shared state behind an `Arc`, so clones are cheap and see the same lists.
/// Serve it with [`CaSimulator::spawn`], [`CaSimulator::bind`] or [`crate::serve`], or mount
/// [`CaSimulator::router`] in your own axum server.
#[derive(Clone, Debug)]
pub struct CaSimulator {
    inner: Arc<Inner>,
}

/// The current time in whole seconds (CRL times have second resolution).
fn now() -> OffsetDateTime {
    let t = OffsetDateTime::now_utc();
    t - time::Duration::nanoseconds(i64::from(t.nanosecond()))
}

/// The quoted strong ETag of some bytes.
pub(crate) fn etag(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    format!("\"{}\"", hex::encode(&digest[..16]))
}

/// Upper-case hex.
fn hex_upper(bytes: &[u8]) -> String {
    hex::encode_upper(bytes)
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// The snake_case name of a reason, from the core's table ([`RevocationReason::name`]).
pub fn reason_name(reason: ReasonCode) -> &'static str {
    // Every ReasonCode has a defined code, so the fallback is never reached.
    RevocationReason::from_code(reason.code()).map_or("unknown", RevocationReason::name)
}

/// Parses a reason name: snake_case (`key_compromise`) or the RFC 5280 spelling
/// (`keyCompromise`), case-insensitive.
pub fn parse_reason(name: &str) -> Option<ReasonCode> {
    // Both spellings differ only in separators and case.
    fn loose(name: &str) -> String {
        name.chars().filter(|c| *c != '_' && *c != '-').collect::<String>().to_ascii_lowercase()
    }
    let key = loose(name);
    ReasonCode::ALL.into_iter().find(|reason| loose(reason_name(*reason)) == key)
}

/// Parses a hex serial (optional `:` or space separators, optional `0x`); returns the unsigned
/// big-endian magnitude without leading zero octets (at least one octet, at most 20).
pub fn parse_serial(text: &str) -> Option<Vec<u8>> {
    let trimmed = text.trim();
    let trimmed = trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")).unwrap_or(trimmed);
    let mut digits: String = trimmed.chars().filter(|c| *c != ':' && *c != ' ').collect();
    if digits.is_empty() {
        return None;
    }
    if digits.len() % 2 == 1 {
        digits.insert(0, '0');
    }
    let bytes = hex::decode(&digits).ok()?;
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len().saturating_sub(1));
    let magnitude = bytes.get(first..)?.to_vec();
    (!magnitude.is_empty() && magnitude.len() <= 20).then_some(magnitude)
}

/// Whether an `If-None-Match` value matches `etag` (weak comparison, `*` matches).
fn none_match_hits(header: &str, etag: &str) -> bool {
    let bare = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    header.split(',').any(|tag| {
        let tag = tag.trim();
        tag == "*" || bare(tag) == bare(etag)
    })
}

impl CaSimulator {
    /// A simulator over the anchors of an in-memory test PKI (tests). Every list starts at
    /// cRLNumber 1, empty, thisUpdate now.
    pub fn from_test_pki(pki: &TestPki, config: SimConfig) -> Result<Self> {
        let mut holders: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
        for h in pki.holders() {
            let certs = [h.signing(), h.auth()];
            holders.insert(
                h.id().to_owned(),
                certs.iter().map(|c| (c.issuer_label().to_owned(), c.serial().to_vec())).collect(),
            );
        }
        for b in pki.bad_cases() {
            let c = b.cert();
            holders
                .insert(format!("bad/{}", b.kind().slug()), vec![(c.issuer_label().to_owned(), c.serial().to_vec())]);
        }
        let cas = pki.cas().iter().filter(|c| c.is_anchor()).cloned().collect();
        Self::build(cas, pki.foreign_ca().clone(), holders, config)
    }

    /// A simulator over the anchors of a directory written by `jpkictl testpki generate --out DIR`
    /// (or `TestPki::write_to`): CAs and keys from `anchors/`, the foreign CA from `bad/`, holder
    /// serials from `manifest.json`.
    pub fn from_dir(dir: impl AsRef<Path>, config: SimConfig) -> Result<Self> {
        let dir = dir.as_ref();
        let manifest = TestPki::load_manifest(dir)?;
        let mut cas = Vec::new();
        for entry in manifest.anchors.iter().filter(|a| a.anchor) {
            cas.push(TestPki::load_ca(dir, &entry.label)?);
        }
        let foreign = TestPki::load_ca(dir, &manifest.foreign_ca.label)?;
        let decode = |field: &'static str, hex: &str| {
            parse_serial(hex).ok_or_else(|| Error::invalid(field, format!("manifest serial {hex:?} is not hex")))
        };
        let mut holders: HashMap<String, Vec<(String, Vec<u8>)>> = HashMap::new();
        for h in &manifest.holders {
            let mut certs = Vec::new();
            for c in [&h.signing, &h.auth] {
                certs.push((c.issuer.clone(), decode("holder", &c.serial)?));
            }
            holders.insert(h.id.clone(), certs);
        }
        for b in &manifest.bad_cases {
            holders.insert(
                format!("bad/{}", b.name.slug()),
                vec![(b.cert.issuer.clone(), decode("holder", &b.cert.serial)?)],
            );
        }
        Self::build(cas, foreign, holders, config)
    }

    fn build(
        cas: Vec<Ca>,
        foreign: Ca,
        holders: HashMap<String, Vec<(String, Vec<u8>)>>,
        config: SimConfig,
    ) -> Result<Self> {
        if cas.is_empty() {
            return Err(Error::NoCa);
        }
        if config.validity <= time::Duration::ZERO {
            return Err(Error::invalid("validity", "must be positive"));
        }
        let now = now();
        let mut lists = BTreeMap::new();
        for ca in cas {
            let mut list = List {
                ca,
                entries: BTreeMap::new(),
                number: 1,
                this_update: now,
                next_update: now,
                der: Bytes::new(),
                etag: String::new(),
                downloads: Downloads::default(),
            };
            list.reissue(now, config.validity, 1)?;
            lists.insert(list.ca.label().to_owned(), list);
        }
        let state = State { lists, foreign, holders, misbehaviour: MisbehaviourSetting::normal(), garbage_counter: 0 };
        let (cancel, _) = tokio::sync::watch::channel(0);
        Ok(CaSimulator { inner: Arc::new(Inner { config, state: Mutex::new(state), cancel }) })
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Ends the slow and huge responses in flight (servers call this when they shut down).
    pub fn cancel_streams(&self) {
        self.inner.cancel.send_modify(|epoch| *epoch = epoch.wrapping_add(1));
    }

    /// A receiver that changes when [`CaSimulator::cancel_streams`] is called.
    pub(crate) fn cancel_receiver(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.cancel.subscribe()
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.inner.config
    }

    /// The labels of the served lists (`auth-card-g1`, ..., `signing-phone-g2`), sorted.
    pub fn labels(&self) -> Vec<String> {
        self.state().lists.keys().cloned().collect()
    }

    /// The current list of a CA (what a normal download returns), without counting a download.
    pub fn current_crl(&self, label: &str) -> Result<CurrentCrl> {
        let state = self.state();
        let list = state.lists.get(label).ok_or_else(|| Error::UnknownCa(label.to_owned()))?;
        Ok(CurrentCrl {
            der: list.der.clone(),
            number: list.number,
            this_update: list.this_update,
            next_update: list.next_update,
            etag: list.etag.clone(),
        })
    }

    /// The serial a target names on the list of `ca`.
    fn resolve(state: &State, ca: &str, target: &RevokeTarget) -> Result<Vec<u8>> {
        match target {
            RevokeTarget::Serial(s) => Ok(s.clone()),
            RevokeTarget::Holder(id) => state
                .holders
                .get(id)
                .and_then(|certs| certs.iter().find(|(issuer, _)| issuer == ca))
                .map(|(_, serial)| serial.clone())
                .ok_or_else(|| Error::UnknownHolder { holder: id.clone(), ca: ca.to_owned() }),
        }
    }

    /// Adds (or replaces) an entry and issues a new list with cRLNumber + 1 and thisUpdate now.
    pub fn revoke(&self, revocation: &Revocation) -> Result<Revoked> {
        let validity = self.inner.config.validity;
        let mut state = self.state();
        let serial = Self::resolve(&state, &revocation.ca, &revocation.target)?;
        let list = state.lists.get_mut(&revocation.ca).ok_or_else(|| Error::UnknownCa(revocation.ca.clone()))?;
        let now = now();
        let at = revocation.revoked_at.unwrap_or(now);
        if !(1950..=9999).contains(&at.year()) {
            return Err(Error::invalid("revoked_at", "year must be within 1950..=9999"));
        }
        let mut entry = CrlEntry::new(serial.clone(), at);
        entry.reason = revocation.reason;
        let previous = list.entries.insert(serial.clone(), entry);
        let number = list.number.saturating_add(1);
        if let Err(e) = list.reissue(now, validity, number) {
            // Leave the state as it was.
            match previous {
                Some(p) => list.entries.insert(serial.clone(), p),
                None => list.entries.remove(&serial),
            };
            return Err(e);
        }
        Ok(Revoked { ca: revocation.ca.clone(), serial: hex_upper(&serial), number, entries: list.entries.len() })
    }

    /// Removes an entry (e.g. a released certificateHold) and issues a new list with
    /// cRLNumber + 1. A serial that is not on the list is an error.
    pub fn unrevoke(&self, ca: &str, target: &RevokeTarget) -> Result<Revoked> {
        let validity = self.inner.config.validity;
        let mut state = self.state();
        let serial = Self::resolve(&state, ca, target)?;
        let list = state.lists.get_mut(ca).ok_or_else(|| Error::UnknownCa(ca.to_owned()))?;
        let field = if matches!(target, RevokeTarget::Holder(_)) { "holder" } else { "serial" };
        let removed = list
            .entries
            .remove(&serial)
            .ok_or_else(|| Error::invalid(field, format!("{} is not on the list of {ca}", hex_upper(&serial))))?;
        let number = list.number.saturating_add(1);
        if let Err(e) = list.reissue(now(), validity, number) {
            list.entries.insert(serial, removed);
            return Err(e);
        }
        Ok(Revoked { ca: ca.to_owned(), serial: hex_upper(&serial), number, entries: list.entries.len() })
    }

    /// Re-issues every list now (the daily publication): new thisUpdate, cRLNumber + 1.
    /// Returns the new number per label.
    pub fn publish(&self) -> Result<BTreeMap<String, u64>> {
        let validity = self.inner.config.validity;
        let now = now();
        let mut state = self.state();
        let mut numbers = BTreeMap::new();
        for (label, list) in &mut state.lists {
            list.reissue(now, validity, list.number.saturating_add(1))?;
            numbers.insert(label.clone(), list.number);
        }
        Ok(numbers)
    }

    /// Sets the misbehaviour of the CRL endpoint. Checks the values (as `POST /misbehave` does).
    pub fn set_misbehaviour(&self, setting: MisbehaviourSetting) -> Result<()> {
        match setting.misbehaviour {
            Misbehaviour::Slow { delay_ms } if delay_ms > MAX_SLOW_DELAY_MS => {
                return Err(Error::invalid("delay_ms", format!("at most {MAX_SLOW_DELAY_MS}")));
            }
            Misbehaviour::Error { status } if !(400..=599).contains(&status) => {
                return Err(Error::invalid("status", "must be within 400..=599"));
            }
            Misbehaviour::Huge { size } if !(MIN_HUGE_SIZE..=MAX_HUGE_SIZE).contains(&size) => {
                return Err(Error::invalid("size", format!("must be within {MIN_HUGE_SIZE}..={MAX_HUGE_SIZE}")));
            }
            _ => {}
        }
        if setting.times == Some(0) {
            return Err(Error::invalid("times", "must be at least 1"));
        }
        let mut state = self.state();
        if let Some(ca) = &setting.ca
            && !state.lists.contains_key(ca)
        {
            return Err(Error::invalid("ca", format!("unknown CA {ca:?}")));
        }
        state.misbehaviour =
            if setting.misbehaviour == Misbehaviour::Normal { MisbehaviourSetting::normal() } else { setting };
        Ok(())
    }

    /// The misbehaviour in force.
    pub fn misbehaviour(&self) -> MisbehaviourSetting {
        self.state().misbehaviour.clone()
    }

    /// Counters and state of every list.
    pub fn stats(&self) -> Stats {
        let state = self.state();
        let lists = state
            .lists
            .iter()
            .map(|(label, l)| {
                let entries = l
                    .entries
                    .values()
                    .map(|e| EntryStats {
                        serial: hex_upper(&e.serial),
                        revoked_at: rfc3339(e.revocation_date),
                        reason: e.reason.map(reason_name),
                    })
                    .collect();
                let stats = ListStats {
                    number: l.number,
                    this_update: rfc3339(l.this_update),
                    next_update: rfc3339(l.next_update),
                    etag: l.etag.clone(),
                    entry_count: l.entries.len(),
                    entries,
                    downloads: l.downloads,
                };
                (label.clone(), stats)
            })
            .collect();
        Stats { lists, misbehaviour: state.misbehaviour.clone() }
    }

    /// Decides the answer to `GET /crl/{label}.crl`, counts it, and consumes one of the
    /// misbehaviour's `times`.
    pub(crate) fn plan_download(&self, label: &str, conditions: &Conditions) -> Result<Planned> {
        let validity = self.inner.config.validity;
        let seed = self.inner.config.garbage_seed;
        let mut guard = self.state();
        let state = &mut *guard;
        let list = state.lists.get_mut(label).ok_or_else(|| Error::UnknownCa(label.to_owned()))?;
        let setting = &mut state.misbehaviour;
        let applies = setting.misbehaviour != Misbehaviour::Normal && setting.ca.as_deref().is_none_or(|c| c == label);
        let mode = if applies { setting.misbehaviour.clone() } else { Misbehaviour::Normal };
        if applies {
            list.downloads.misbehaved += 1;
            if let Some(times) = &mut setting.times {
                *times = times.saturating_sub(1);
                if *times == 0 {
                    *setting = MisbehaviourSetting::normal();
                }
            }
        }
        let full = |list: &mut List, der: Bytes, last_modified: SystemTime, delay_ms: u64| {
            list.downloads.full += 1;
            Planned::Full { etag: etag(&der), der, last_modified, delay_ms }
        };
        let now = now();
        Ok(match mode {
            Misbehaviour::Normal | Misbehaviour::Slow { .. } => {
                let delay_ms = if let Misbehaviour::Slow { delay_ms } = mode { delay_ms } else { 0 };
                if is_not_modified(conditions, &list.etag, list.last_modified()) {
                    list.downloads.not_modified += 1;
                    Planned::NotModified { etag: list.etag.clone(), last_modified: list.last_modified(), delay_ms }
                } else {
                    let (der, lm) = (list.der.clone(), list.last_modified());
                    full(list, der, lm, delay_ms)
                }
            }
            Misbehaviour::Error { status } => Planned::Error { status },
            Misbehaviour::Huge { size } => {
                list.downloads.full += 1;
                Planned::Huge { size }
            }
            Misbehaviour::Truncated => {
                let der = list.der.slice(..list.der.len() / 2);
                let lm = list.last_modified();
                full(list, der, lm, 0)
            }
            Misbehaviour::Garbage => {
                state.garbage_counter += 1;
                let der = garbage(seed ^ state.garbage_counter.rotate_left(32), list.der.len());
                let lm = list.last_modified();
                full(list, der, lm, 0)
            }
            Misbehaviour::Expired => {
                let (this, next) = (now - validity - validity, now - validity);
                let der = list.sign(list.ca.issuer(), this, next, list.number)?;
                full(list, der, SystemTime::from(this), 0)
            }
            Misbehaviour::RolledBack => {
                let der =
                    list.sign(list.ca.issuer(), list.this_update, list.next_update, list.number.saturating_sub(1))?;
                let lm = list.last_modified();
                full(list, der, lm, 0)
            }
            Misbehaviour::WrongSigner => {
                let issuer = IssuerRef {
                    name_der: list.ca.name_der(),
                    key: state.foreign.key(),
                    key_id: state.foreign.key_id(),
                };
                let der = list.sign(issuer, list.this_update, list.next_update, list.number)?;
                let lm = list.last_modified();
                full(list, der, lm, 0)
            }
        })
    }
}

/// RFC 9110 13.2.2: If-None-Match wins; If-Modified-Since is read only without it.
fn is_not_modified(conditions: &Conditions, etag: &str, last_modified: SystemTime) -> bool {
    if let Some(inm) = &conditions.if_none_match {
        return none_match_hits(inm, etag);
    }
    match conditions.if_modified_since.as_deref().map(httpdate::parse_http_date) {
        Some(Ok(since)) => last_modified <= since,
        _ => false,
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` pseudo-random bytes whose first byte is not a SEQUENCE tag.
fn garbage(seed: u64, len: usize) -> Bytes {
    let mut out = Vec::with_capacity(len + 8);
    let mut i = 0u64;
    while out.len() < len.max(1) {
        out.extend_from_slice(&splitmix64(seed ^ i.wrapping_mul(0xA24B_AED4_963E_E407)).to_le_bytes());
        i += 1;
    }
    out.truncate(len.max(1));
    if let Some(first) = out.first_mut()
        && *first == 0x30
    {
        *first = 0x31;
    }
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn serials_parse() {
        assert_eq!(parse_serial("00:8A:01"), Some(vec![0x8A, 0x01]));
        assert_eq!(parse_serial("0x1"), Some(vec![1]));
        assert_eq!(parse_serial("0000"), Some(vec![0]));
        assert_eq!(parse_serial(""), None);
        assert_eq!(parse_serial("zz"), None);
        assert_eq!(parse_serial(&"11".repeat(21)), None);
    }

    #[test]
    fn reasons_parse_both_spellings() {
        assert_eq!(parse_reason("key_compromise"), Some(ReasonCode::KeyCompromise));
        assert_eq!(parse_reason("cessationOfOperation"), Some(ReasonCode::CessationOfOperation));
        assert_eq!(parse_reason("nope"), None);
        for code in ReasonCode::ALL {
            assert_ne!(reason_name(code), "unknown");
            assert_eq!(parse_reason(reason_name(code)), Some(code));
        }
    }

    #[test]
    fn if_none_match_wins_and_matches_lists() {
        let lm = SystemTime::UNIX_EPOCH;
        let c = Conditions { if_none_match: Some("\"a\", W/\"b\"".into()), if_modified_since: None };
        assert!(is_not_modified(&c, "\"b\"", lm));
        assert!(!is_not_modified(&c, "\"c\"", lm));
        let c = Conditions { if_none_match: None, if_modified_since: Some(httpdate::fmt_http_date(lm)) };
        assert!(is_not_modified(&c, "\"c\"", lm));
        let c = Conditions { if_none_match: None, if_modified_since: Some("not a date".into()) };
        assert!(!is_not_modified(&c, "\"c\"", lm));
    }

    #[test]
    fn garbage_never_starts_with_sequence() {
        for seed in 0..200 {
            let g = garbage(seed, 33);
            assert_eq!(g.len(), 33);
            assert_ne!(g[0], 0x30);
        }
    }
}
