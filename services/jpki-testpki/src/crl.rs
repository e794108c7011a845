//! X.509 v2 CRL writer, including a streaming writer for very large lists.
//!
//! [`CrlBuilder`] builds a CRL in memory. [`write_large_crl`] streams a CRL with millions of
//! entries: every generated entry has the same encoded size (49 bytes), so all lengths are known
//! before the first byte is written; the TBSCertList is hashed while it is written and signed at
//! the end, so memory use stays constant.

use std::io::Write;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::cert::{Extension, IssuerRef, ext, extensions_der};
use crate::der::{self, tag};
use crate::error::{Error, Result};
use crate::name::DistinguishedName;
use crate::pki::Ca;
use crate::profile::oid;
use crate::sign::{HashAlg, sign_digest};

/// CRLReason (RFC 5280 5.3.1). Value 7 is unused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub enum ReasonCode {
    /// unspecified (0)
    Unspecified,
    /// keyCompromise (1): card lost or stolen
    KeyCompromise,
    /// cACompromise (2)
    CaCompromise,
    /// affiliationChanged (3): one of the four fields changed (moved, renamed)
    AffiliationChanged,
    /// superseded (4): certificate renewed
    Superseded,
    /// cessationOfOperation (5): death, emigration, removal from the register
    CessationOfOperation,
    /// certificateHold (6)
    CertificateHold,
    /// removeFromCRL (8), delta CRLs only
    RemoveFromCrl,
    /// privilegeWithdrawn (9)
    PrivilegeWithdrawn,
    /// aACompromise (10)
    AaCompromise,
}

impl ReasonCode {
    /// Every reason, in code order.
    pub const ALL: [ReasonCode; 10] = [
        ReasonCode::Unspecified,
        ReasonCode::KeyCompromise,
        ReasonCode::CaCompromise,
        ReasonCode::AffiliationChanged,
        ReasonCode::Superseded,
        ReasonCode::CessationOfOperation,
        ReasonCode::CertificateHold,
        ReasonCode::RemoveFromCrl,
        ReasonCode::PrivilegeWithdrawn,
        ReasonCode::AaCompromise,
    ];

    /// The ENUMERATED value.
    pub fn code(self) -> u8 {
        match self {
            ReasonCode::Unspecified => 0,
            ReasonCode::KeyCompromise => 1,
            ReasonCode::CaCompromise => 2,
            ReasonCode::AffiliationChanged => 3,
            ReasonCode::Superseded => 4,
            ReasonCode::CessationOfOperation => 5,
            ReasonCode::CertificateHold => 6,
            ReasonCode::RemoveFromCrl => 8,
            ReasonCode::PrivilegeWithdrawn => 9,
            ReasonCode::AaCompromise => 10,
        }
    }

    /// The reasonCode CRL entry extension (non-critical).
    pub fn extension(self) -> Extension {
        Extension::new(oid::CRL_REASON, false, der::enumerated(self.code()))
    }
}

/// One revoked certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// Serial number, big-endian unsigned bytes.
    pub serial: Vec<u8>,
    /// Revocation date.
    pub revocation_date: OffsetDateTime,
    /// Optional reasonCode entry extension.
    pub reason: Option<ReasonCode>,
    /// Further entry extensions (after reasonCode), e.g. an unknown critical one for negative tests.
    pub extensions: Vec<Extension>,
}

impl CrlEntry {
    /// An entry without reason or extensions.
    pub fn new(serial: impl Into<Vec<u8>>, revocation_date: OffsetDateTime) -> Self {
        CrlEntry { serial: serial.into(), revocation_date, reason: None, extensions: Vec::new() }
    }

    /// Sets the reason code.
    #[must_use]
    pub fn reason(mut self, reason: ReasonCode) -> Self {
        self.reason = Some(reason);
        self
    }

    /// Adds an entry extension.
    #[must_use]
    pub fn extension(mut self, ext: Extension) -> Self {
        self.extensions.push(ext);
        self
    }

    /// DER of the `revokedCertificates` element.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let serial = der::integer_unsigned(&self.serial);
        let date = der::x509_time(self.revocation_date)?;
        let mut exts: Vec<Extension> = Vec::new();
        if let Some(r) = self.reason {
            exts.push(r.extension());
        }
        exts.extend(self.extensions.iter().cloned());
        if exts.is_empty() {
            Ok(der::sequence(&[&serial, &date]))
        } else {
            Ok(der::sequence(&[&serial, &date, &extensions_der(&exts)?]))
        }
    }
}

/// The issuingDistributionPoint CRL extension (always critical).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuingDistributionPoint {
    /// `distributionPoint` as a directoryName fullName.
    pub full_name: Option<DistinguishedName>,
    /// `onlyContainsUserCerts`.
    pub only_contains_user_certs: bool,
    /// `onlyContainsCACerts` (an ARL).
    pub only_contains_ca_certs: bool,
}

impl IssuingDistributionPoint {
    /// The extension.
    pub fn extension(&self) -> Result<Extension> {
        let mut parts: Vec<Vec<u8>> = Vec::new();
        if let Some(name) = &self.full_name {
            parts.push(ext::distribution_point_name_dir(name)?);
        }
        if self.only_contains_user_certs {
            parts.push(der::implicit_primitive(1, &[0xFF]));
        }
        if self.only_contains_ca_certs {
            parts.push(der::implicit_primitive(2, &[0xFF]));
        }
        let refs: Vec<&[u8]> = parts.iter().map(Vec::as_slice).collect();
        Ok(Extension::new(oid::ISSUING_DISTRIBUTION_POINT, true, der::sequence(&refs)))
    }
}

impl<'a> From<&'a Ca> for IssuerRef<'a> {
    fn from(ca: &'a Ca) -> Self {
        ca.issuer()
    }
}

/// An X.509 v2 CRL under construction.
#[derive(Clone, Debug)]
pub struct CrlBuilder {
    this_update: OffsetDateTime,
    next_update: Option<OffsetDateTime>,
    number: Option<u64>,
    entries: Vec<CrlEntry>,
    idp: Option<IssuingDistributionPoint>,
    delta_base: Option<u64>,
    hash: HashAlg,
    authority_key_id: bool,
    extensions: Vec<Extension>,
}

impl CrlBuilder {
    /// A CRL with the given dates, SHA-256 signature, AKI and no cRLNumber yet.
    pub fn new(this_update: OffsetDateTime, next_update: Option<OffsetDateTime>) -> Self {
        CrlBuilder {
            this_update,
            next_update,
            number: None,
            entries: Vec::new(),
            idp: None,
            delta_base: None,
            hash: HashAlg::Sha256,
            authority_key_id: true,
            extensions: Vec::new(),
        }
    }

    /// Sets the cRLNumber extension.
    #[must_use]
    pub fn number(mut self, number: u64) -> Self {
        self.number = Some(number);
        self
    }

    /// Adds one entry.
    #[must_use]
    pub fn entry(mut self, entry: CrlEntry) -> Self {
        self.entries.push(entry);
        self
    }

    /// Adds entries.
    #[must_use]
    pub fn entries(mut self, entries: impl IntoIterator<Item = CrlEntry>) -> Self {
        self.entries.extend(entries);
        self
    }

    /// Sets the issuingDistributionPoint extension.
    #[must_use]
    pub fn issuing_distribution_point(mut self, idp: IssuingDistributionPoint) -> Self {
        self.idp = Some(idp);
        self
    }

    /// Makes this a delta CRL with the given base CRL number (deltaCRLIndicator, critical).
    #[must_use]
    pub fn delta_crl_indicator(mut self, base_crl_number: u64) -> Self {
        self.delta_base = Some(base_crl_number);
        self
    }

    /// Sets the signature hash (default SHA-256).
    #[must_use]
    pub fn hash(mut self, alg: HashAlg) -> Self {
        self.hash = alg;
        self
    }

    /// Omits the authorityKeyIdentifier extension (for negative tests).
    #[must_use]
    pub fn without_authority_key_id(mut self) -> Self {
        self.authority_key_id = false;
        self
    }

    /// Adds a CRL extension after the standard ones (e.g. an unknown critical one).
    #[must_use]
    pub fn extension(mut self, ext: Extension) -> Self {
        self.extensions.push(ext);
        self
    }

    /// version, signature, issuer, thisUpdate, nextUpdate: the TBS fields before the entries.
    fn leading_fields(&self, issuer: &IssuerRef<'_>) -> Result<Vec<u8>> {
        let mut out = der::integer_u64(1);
        out.extend(self.hash.signature_algorithm_der()?);
        out.extend_from_slice(issuer.name_der);
        out.extend(der::x509_time(self.this_update)?);
        if let Some(n) = self.next_update {
            out.extend(der::x509_time(n)?);
        }
        Ok(out)
    }

    /// `[0] EXPLICIT Extensions`, or nothing when there are none.
    fn extensions_field(&self, issuer: &IssuerRef<'_>) -> Result<Vec<u8>> {
        let mut exts = Vec::new();
        if self.authority_key_id {
            exts.push(ext::authority_key_identifier(issuer.key_id));
        }
        if let Some(n) = self.number {
            exts.push(Extension::new(oid::CRL_NUMBER, false, der::integer_u64(n)));
        }
        if let Some(idp) = &self.idp {
            exts.push(idp.extension()?);
        }
        if let Some(base) = self.delta_base {
            exts.push(Extension::new(oid::DELTA_CRL_INDICATOR, true, der::integer_u64(base)));
        }
        exts.extend(self.extensions.iter().cloned());
        if exts.is_empty() {
            return Ok(Vec::new());
        }
        Ok(der::explicit(0, &[&extensions_der(&exts)?]))
    }

    fn encoded_entries(&self) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        for e in &self.entries {
            out.extend(e.to_der()?);
        }
        Ok(out)
    }

    /// The DER TBSCertList.
    pub fn tbs_der<'a>(&self, issuer: impl Into<IssuerRef<'a>>) -> Result<Vec<u8>> {
        let issuer = issuer.into();
        let entries = self.encoded_entries()?;
        let revoked = if entries.is_empty() { Vec::new() } else { der::tlv(tag::SEQUENCE, &entries) };
        Ok(der::sequence(&[&self.leading_fields(&issuer)?, &revoked, &self.extensions_field(&issuer)?]))
    }

    /// Signs and returns the DER CRL. `issuer` is a [`Ca`] or any [`IssuerRef`].
    pub fn sign<'a>(&self, issuer: impl Into<IssuerRef<'a>>) -> Result<Vec<u8>> {
        let issuer = issuer.into();
        let tbs = self.tbs_der(issuer)?;
        crate::cert::signed_structure(tbs, issuer.key, self.hash)
    }
}

/// Options of [`write_large_crl_with`].
#[derive(Clone, Debug)]
pub struct LargeCrlOptions {
    /// thisUpdate (default 2026-05-31T15:00:00Z).
    pub this_update: OffsetDateTime,
    /// nextUpdate (default one day later).
    pub next_update: OffsetDateTime,
    /// cRLNumber (default 1).
    pub number: u64,
    /// Signature hash (default SHA-256).
    pub hash: HashAlg,
    /// Seed of the generated serials, dates and reasons (default 0).
    pub seed: u64,
    /// Entries written before the generated ones (e.g. a real holder's serial to revoke).
    pub extra_entries: Vec<CrlEntry>,
}

impl Default for LargeCrlOptions {
    fn default() -> Self {
        LargeCrlOptions {
            this_update: datetime!(2026-05-31 15:00:00 UTC),
            next_update: datetime!(2026-06-01 15:00:00 UTC),
            number: 1,
            hash: HashAlg::Sha256,
            seed: 0,
            extra_entries: Vec::new(),
        }
    }
}

/// What [`write_large_crl`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LargeCrlInfo {
    /// Number of entries (generated plus extra).
    pub entry_count: u64,
    /// Total bytes written.
    pub total_len: u64,
}

/// Encoded size of every generated large-CRL entry.
pub const LARGE_CRL_ENTRY_LEN: usize = 49;

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The serial of generated entry `index` (16 bytes, first byte 0x01..=0x7F, unique per index:
/// the low 8 bytes are a bijective mix of the index).
pub fn large_crl_serial(seed: u64, index: u64) -> [u8; 16] {
    let hi = splitmix64(seed ^ splitmix64(index ^ 0x5EED_0000_0000_0001));
    // splitmix64 is a bijection of u64, so `lo` is unique for each index.
    let lo = splitmix64(index ^ seed.rotate_left(17));
    let mut s = [0u8; 16];
    s[..8].copy_from_slice(&hi.to_be_bytes());
    s[8..].copy_from_slice(&lo.to_be_bytes());
    s[0] = (s[0] & 0x7F).max(0x01);
    s
}

/// The generated entry `index` of a large CRL, as [`write_large_crl_with`] writes it.
pub fn large_crl_entry(seed: u64, index: u64, this_update: OffsetDateTime) -> CrlEntry {
    let h = splitmix64(seed.rotate_left(29) ^ index.wrapping_mul(0xA24B_AED4_963E_E407));
    let back = (h >> 8) % (5 * 365 * 86_400);
    let reason = match h & 0x0F {
        0..=5 => ReasonCode::AffiliationChanged,
        6..=10 => ReasonCode::Superseded,
        11..=13 => ReasonCode::KeyCompromise,
        14 => ReasonCode::CessationOfOperation,
        _ => ReasonCode::CertificateHold,
    };
    CrlEntry::new(large_crl_serial(seed, index).to_vec(), this_update - time::Duration::seconds(back as i64))
        .reason(reason)
}

/// Writes the fixed-size encoding of generated entry `index` into `out` (49 bytes).
fn write_generated_entry(out: &mut [u8; LARGE_CRL_ENTRY_LEN], seed: u64, index: u64, this_update: OffsetDateTime) {
    let e = large_crl_entry(seed, index, this_update);
    let t = e.revocation_date;
    out[0] = tag::SEQUENCE;
    out[1] = (LARGE_CRL_ENTRY_LEN - 2) as u8;
    out[2] = tag::INTEGER;
    out[3] = 16;
    out[4..20].copy_from_slice(&e.serial);
    out[20] = tag::UTC_TIME;
    out[21] = 13;
    let two = |v: u8| [b'0' + v / 10, b'0' + v % 10];
    out[22..24].copy_from_slice(&two((t.year() % 100) as u8));
    out[24..26].copy_from_slice(&two(u8::from(t.month())));
    out[26..28].copy_from_slice(&two(t.day()));
    out[28..30].copy_from_slice(&two(t.hour()));
    out[30..32].copy_from_slice(&two(t.minute()));
    out[32..34].copy_from_slice(&two(t.second()));
    out[34] = b'Z';
    // Extensions { Extension { reasonCode, OCTET STRING { ENUMERATED } } }
    out[35..48].copy_from_slice(&[0x30, 0x0C, 0x30, 0x0A, 0x06, 0x03, 0x55, 0x1D, 0x15, 0x04, 0x03, 0x0A, 0x01]);
    out[48] = e.reason.map_or(0, ReasonCode::code);
}

struct HashingWriter<W: Write> {
    inner: W,
    hasher: crate::sign::Hasher,
    written: u64,
}

impl<W: Write> HashingWriter<W> {
    fn put(&mut self, bytes: &[u8], hash: bool) -> Result<()> {
        if hash {
            self.hasher.update(bytes);
        }
        self.inner.write_all(bytes).map_err(Error::Write)?;
        self.written += bytes.len() as u64;
        Ok(())
    }
}

/// Streams a CRL with `entry_count` generated entries (default options) to `writer`.
/// 1M entries are about 49 MB; 10M about 490 MB.
pub fn write_large_crl<'a, W: Write>(
    issuer: impl Into<IssuerRef<'a>>,
    entry_count: u64,
    writer: W,
) -> Result<LargeCrlInfo> {
    write_large_crl_with(issuer, entry_count, &LargeCrlOptions::default(), writer)
}

/// Streams a CRL with `opts.extra_entries` followed by `entry_count` generated entries.
/// Nothing but a 1 MiB buffer is held in memory. Wrap a file in a `BufWriter` or not: writes
/// are already chunked.
pub fn write_large_crl_with<'a, W: Write>(
    issuer: impl Into<IssuerRef<'a>>,
    entry_count: u64,
    opts: &LargeCrlOptions,
    writer: W,
) -> Result<LargeCrlInfo> {
    let issuer = issuer.into();
    if !(1955..2050).contains(&opts.this_update.year()) {
        return Err(Error::Invalid("large CRLs need thisUpdate in 1955..2049 (fixed-size UTCTime entries)".into()));
    }
    let builder = CrlBuilder::new(opts.this_update, Some(opts.next_update)).number(opts.number).hash(opts.hash);
    let leading = builder.leading_fields(&issuer)?;
    let exts = builder.extensions_field(&issuer)?;
    let mut extra = Vec::new();
    for e in &opts.extra_entries {
        extra.extend(e.to_der()?);
    }
    let too_big = || Error::Invalid("CRL too large for this platform".into());
    let generated_len =
        usize::try_from(entry_count).ok().and_then(|n| n.checked_mul(LARGE_CRL_ENTRY_LEN)).ok_or_else(too_big)?;
    let revoked_len = generated_len.checked_add(extra.len()).ok_or_else(too_big)?;
    let revoked_tlv_len = if revoked_len == 0 { 0 } else { der::tlv_len(revoked_len) };
    let tbs_len = leading.len() + revoked_tlv_len + exts.len();
    let alg = opts.hash.signature_algorithm_der()?;
    let sig_len = rsa::traits::PublicKeyParts::size(issuer.key);
    let outer_len = der::tlv_len(tbs_len) + alg.len() + der::tlv_len(sig_len + 1);

    let mut w = HashingWriter { inner: writer, hasher: opts.hash.hasher(), written: 0 };
    let mut header = Vec::with_capacity(16);
    der::push_header(&mut header, tag::SEQUENCE, outer_len);
    w.put(&header, false)?;
    header.clear();
    der::push_header(&mut header, tag::SEQUENCE, tbs_len);
    w.put(&header, true)?;
    w.put(&leading, true)?;
    if revoked_len > 0 {
        header.clear();
        der::push_header(&mut header, tag::SEQUENCE, revoked_len);
        w.put(&header, true)?;
        w.put(&extra, true)?;
        const CHUNK_ENTRIES: usize = 1 << 14;
        let mut chunk = vec![0u8; CHUNK_ENTRIES * LARGE_CRL_ENTRY_LEN];
        let mut entry = [0u8; LARGE_CRL_ENTRY_LEN];
        let mut index = 0u64;
        while index < entry_count {
            let n = usize::try_from((entry_count - index).min(CHUNK_ENTRIES as u64)).map_err(|_| too_big())?;
            for slot in chunk.chunks_exact_mut(LARGE_CRL_ENTRY_LEN).take(n) {
                write_generated_entry(&mut entry, opts.seed, index, opts.this_update);
                slot.copy_from_slice(&entry);
                index += 1;
            }
            w.put(&chunk[..n * LARGE_CRL_ENTRY_LEN], true)?;
        }
    }
    w.put(&exts, true)?;
    let HashingWriter { mut inner, hasher, written } = w;
    let digest = hasher.finalize();
    let sig = sign_digest(issuer.key, &digest, opts.hash)?;
    let tail = [alg, der::bit_string(&sig, 0)].concat();
    inner.write_all(&tail).map_err(Error::Write)?;
    inner.flush().map_err(Error::Write)?;
    let total_len = written + tail.len() as u64;
    debug_assert_eq!(total_len as usize, der::tlv_len(outer_len));
    Ok(LargeCrlInfo { entry_count: entry_count + opts.extra_entries.len() as u64, total_len })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_reasons_in_code_order() {
        // RFC 5280 5.3.1: 0 to 10, 7 unused.
        assert_eq!(ReasonCode::ALL.map(ReasonCode::code), [0, 1, 2, 3, 4, 5, 6, 8, 9, 10]);
    }

    #[test]
    fn generated_entry_matches_generic_encoding() {
        let t = datetime!(2026-05-31 15:00:00 UTC);
        for i in [0u64, 1, 2, 1000, 999_999] {
            let mut buf = [0u8; LARGE_CRL_ENTRY_LEN];
            write_generated_entry(&mut buf, 9, i, t);
            assert_eq!(buf.to_vec(), large_crl_entry(9, i, t).to_der().unwrap());
        }
    }

    #[test]
    fn serials_are_unique_in_a_sample() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..100_000u64 {
            assert!(seen.insert(large_crl_serial(1, i)));
        }
    }
}
