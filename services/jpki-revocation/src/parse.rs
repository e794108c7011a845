//! A streaming parser for DER CRLs (RFC 5280 CertificateList) that builds no tree.
//!
//! [`parse_crl`] walks `tbsCertList` once, front to back, and hands each revoked entry to a
//! callback as it is read, so memory use does not depend on the list's size. While it walks, it
//! feeds the TBS bytes it has passed to a SHA-256/384/512 context (the hash is chosen from the
//! `signature` field, the second element of the TBS, before anything else is hashed), so the
//! digest is ready when the walk ends.
//!
//! **Signature check (design choice).** The signature is then verified over that streamed digest
//! with the rsa crate's pre-hash PKCS#1 v1.5 verification ([`RsaKey::verify_digest`]), not with
//! ring over the TBS slice. ring would hash the (contiguous) TBS slice a second time; for a
//! 490 MB list that is a second full pass over the input, and it would also tie the parser to
//! having the whole list in memory. With the streamed digest, the same walk serves a future
//! streaming-from-network path, and several candidate anchors (every JPKI root generation has
//! the same DN) are tried against one digest.
//!
//! [`RsaKey::verify_digest`]: jpki_core::signed_data::RsaKey::verify_digest

use std::cmp::Ordering;
use std::fmt;

use jpki_core::UnixTime;
use jpki_core::algorithm::HashAlgorithm;
use jpki_core::der::{self, DerError, Element, Reader, tag};

use crate::error::LoadError;

/// Bytes of TBS accumulated before they are fed to the hash context.
const HASH_CHUNK: usize = 1 << 16;

/// Raw OID contents the parser recognises.
mod oid_bytes {
    /// reasonCode, 2.5.29.21.
    pub const REASON_CODE: &[u8] = &[0x55, 0x1d, 0x15];
    /// invalidityDate, 2.5.29.24.
    pub const INVALIDITY_DATE: &[u8] = &[0x55, 0x1d, 0x18];
    /// issuerAltName, 2.5.29.18.
    pub const ISSUER_ALT_NAME: &[u8] = &[0x55, 0x1d, 0x12];
    /// cRLNumber, 2.5.29.20.
    pub const CRL_NUMBER: &[u8] = &[0x55, 0x1d, 0x14];
    /// deltaCRLIndicator, 2.5.29.27.
    pub const DELTA_CRL_INDICATOR: &[u8] = &[0x55, 0x1d, 0x1b];
    /// issuingDistributionPoint, 2.5.29.28.
    pub const ISSUING_DISTRIBUTION_POINT: &[u8] = &[0x55, 0x1d, 0x1c];
    /// authorityKeyIdentifier, 2.5.29.35.
    pub const AUTHORITY_KEY_IDENTIFIER: &[u8] = &[0x55, 0x1d, 0x23];
}

/// A cRLNumber or BaseCRLNumber: a non-negative INTEGER of up to 20 octets, kept as its
/// big-endian bytes without leading zeros. Ordered numerically.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CrlNumber(Vec<u8>);

impl CrlNumber {
    /// From big-endian unsigned bytes (leading zeros are dropped).
    pub fn from_be_bytes(bytes: &[u8]) -> Self {
        let start = bytes.iter().position(|byte| *byte != 0).unwrap_or(bytes.len());
        CrlNumber(bytes[start..].to_vec())
    }

    /// From a `u64`.
    pub fn from_u64(value: u64) -> Self {
        Self::from_be_bytes(&value.to_be_bytes())
    }

    /// Big-endian bytes without leading zeros (empty for zero).
    pub fn as_be_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Ord for CrlNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.len().cmp(&other.0.len()).then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for CrlNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for CrlNumber {
    /// Decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = Vec::new();
        let mut value = self.0.clone();
        while !value.is_empty() {
            let mut remainder = 0u32;
            for byte in &mut value {
                let current = (remainder << 8) | u32::from(*byte);
                *byte = (current / 10) as u8;
                remainder = current % 10;
            }
            digits.push(b'0' + remainder as u8);
            let start = value.iter().position(|byte| *byte != 0).unwrap_or(value.len());
            value.drain(..start);
        }
        if digits.is_empty() {
            digits.push(b'0');
        }
        digits.reverse();
        f.write_str(&String::from_utf8_lossy(&digits))
    }
}

/// Which certificates a list covers (issuingDistributionPoint, RFC 5280 5.2.5).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Scope {
    /// The distribution point's directoryName, raw DER of the Name; `None`: every distribution point.
    pub distribution_point: Option<Vec<u8>>,
    /// onlyContainsUserCerts.
    pub only_user_certs: bool,
    /// onlyContainsCACerts (an ARL): never covers end-entity certificates.
    pub only_ca_certs: bool,
}

/// One revoked certificate as read from the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawEntry<'a> {
    /// userCertificate, big-endian without leading zero bytes.
    pub serial: &'a [u8],
    /// revocationDate.
    pub revoked_at: UnixTime,
    /// The reasonCode ENUMERATED value, if the entry has one.
    pub reason: Option<u8>,
}

/// Everything in a CRL but its entries, borrowed from the input.
#[derive(Clone, Debug)]
pub struct ParsedCrl<'a> {
    /// The issuer Name, raw DER.
    pub issuer_raw: &'a [u8],
    /// The signature's hash (never SHA-1).
    pub hash: HashAlgorithm,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: Option<UnixTime>,
    /// authorityKeyIdentifier keyIdentifier.
    pub authority_key_id: Option<&'a [u8]>,
    /// cRLNumber.
    pub crl_number: CrlNumber,
    /// issuingDistributionPoint, or the default scope (everything) without one.
    pub scope: Scope,
    /// deltaCRLIndicator's BaseCRLNumber, for a delta CRL.
    pub delta_base: Option<CrlNumber>,
    /// Number of entries handed to the callback.
    pub entry_count: u64,
    /// The DER tbsCertList (contiguous in the input).
    pub tbs: &'a [u8],
    /// The digest of `tbs`, computed while walking it.
    pub tbs_digest: Vec<u8>,
    /// The signature value.
    pub signature: &'a [u8],
}

fn offset_of(error: &DerError) -> usize {
    match *error {
        DerError::Truncated { offset }
        | DerError::InvalidEncoding { offset }
        | DerError::UnexpectedTag { offset, .. }
        | DerError::TrailingData { offset }
        | DerError::TooDeep { offset } => offset,
        _ => 0,
    }
}

fn malformed(what: &'static str) -> impl Fn(DerError) -> LoadError {
    move |error| LoadError::Malformed { at_byte: offset_of(&error), what }
}

/// Feeds the TBS to the hash context in order, from `hashed` up to an absolute offset.
struct TbsHasher<'a> {
    input: &'a [u8],
    hashed: usize,
    context: ring::digest::Context,
}

impl TbsHasher<'_> {
    fn hash_to(&mut self, offset: usize) {
        if offset > self.hashed
            && let Some(bytes) = self.input.get(self.hashed..offset)
        {
            self.context.update(bytes);
            self.hashed = offset;
        }
    }

    fn hash_if_due(&mut self, offset: usize) {
        if offset.saturating_sub(self.hashed) >= HASH_CHUNK {
            self.hash_to(offset);
        }
    }
}

/// Parses a DER CRL, calling `on_entry` for every revoked entry in list order. Checks syntax,
/// algorithms, extensions and the presence of a cRLNumber, but not the signature (see
/// [`crate::verify`]). An error returned by `on_entry` stops the walk and is returned.
pub fn parse_crl<'a, F>(input: &'a [u8], mut on_entry: F) -> Result<ParsedCrl<'a>, LoadError>
where
    F: FnMut(RawEntry<'_>) -> Result<(), LoadError>,
{
    let mut top = Reader::der(input);
    let outer = top.read(tag::SEQUENCE).map_err(|error| match error {
        DerError::Truncated { offset: 0 } => {
            LoadError::Malformed { at_byte: input.len(), what: "input ends inside the CertificateList" }
        }
        other => malformed("CertificateList SEQUENCE")(other),
    })?;
    top.finish().map_err(|error| LoadError::TrailingData { at_byte: offset_of(&error) })?;
    let mut certificate_list = outer.reader(false);
    let tbs = certificate_list.read(tag::SEQUENCE).map_err(malformed("tbsCertList SEQUENCE"))?;
    let mut fields = tbs.reader(false);

    if let Some(version) = fields.read_optional(tag::INTEGER).map_err(malformed("version"))?
        && version.contents != [0x01]
    {
        return Err(LoadError::UnsupportedVersion { at_byte: version.offset });
    }
    let inner_algorithm = fields.read(tag::SEQUENCE).map_err(malformed("signature AlgorithmIdentifier"))?;
    let hash = signature_hash(&inner_algorithm)?;
    let mut hasher = TbsHasher { input, hashed: tbs.offset, context: ring::digest::Context::new(ring_algorithm(hash)) };
    hasher.hash_to(fields.offset());

    let issuer = fields.read(tag::SEQUENCE).map_err(malformed("issuer Name"))?;
    let this_update = read_time(&mut fields, "thisUpdate")?;
    let next_update = match fields.peek_tag() {
        Some(tag::UTC_TIME | tag::GENERALIZED_TIME) => Some(read_time(&mut fields, "nextUpdate")?),
        _ => None,
    };

    let mut entry_count = 0u64;
    if fields.peek_tag() == Some(tag::SEQUENCE) {
        let revoked = fields.read(tag::SEQUENCE).map_err(malformed("revokedCertificates"))?;
        let base = revoked.offset + (revoked.raw.len() - revoked.contents.len());
        hasher.hash_to(base);
        let end = walk_entries(revoked.contents, base, |entry, end| {
            on_entry(entry)?;
            entry_count += 1;
            hasher.hash_if_due(end);
            Ok(())
        })?;
        hasher.hash_to(end);
    }

    let mut extensions = CrlExtensions::default();
    if let Some(wrapper) = fields.read_optional(tag::CONTEXT_0).map_err(malformed("crlExtensions"))? {
        let mut wrapper_reader = wrapper.reader(false);
        let list = wrapper_reader.read(tag::SEQUENCE).map_err(malformed("crlExtensions SEQUENCE"))?;
        wrapper_reader.finish().map_err(malformed("end of crlExtensions"))?;
        let mut list_reader = list.reader(false);
        while !list_reader.is_empty() {
            let extension = read_extension(&mut list_reader)?;
            extensions.absorb(&extension)?;
        }
    }
    fields.finish().map_err(malformed("end of tbsCertList"))?;
    hasher.hash_to(tbs.offset + tbs.raw.len());
    let tbs_digest = hasher.context.finish().as_ref().to_vec();

    let outer_algorithm = certificate_list.read(tag::SEQUENCE).map_err(malformed("signatureAlgorithm"))?;
    if outer_algorithm.raw != inner_algorithm.raw {
        return Err(LoadError::AlgorithmMismatch { at_byte: outer_algorithm.offset });
    }
    let signature_bits = certificate_list.read(tag::BIT_STRING).map_err(malformed("signatureValue"))?;
    certificate_list.finish().map_err(malformed("end of CertificateList"))?;
    let signature = match signature_bits.contents.split_first() {
        Some((0, signature)) if !signature.is_empty() => signature,
        _ => return Err(LoadError::Malformed { at_byte: signature_bits.offset, what: "signatureValue bits" }),
    };

    if let Some(next_update) = next_update
        && next_update < this_update
    {
        return Err(LoadError::InvertedDates { this_update, next_update });
    }
    let crl_number = extensions.crl_number.ok_or(LoadError::MissingCrlNumber)?;
    Ok(ParsedCrl {
        issuer_raw: issuer.raw,
        hash,
        this_update,
        next_update,
        authority_key_id: extensions.authority_key_id,
        crl_number,
        scope: extensions.scope.unwrap_or_default(),
        delta_base: extensions.delta_base,
        entry_count,
        tbs: tbs.raw,
        tbs_digest,
        signature,
    })
}

/// Walks the contents of revokedCertificates (`contents`, at offset `base` of the input), calling
/// `on_entry` with each entry and the offset just past it; returns the offset past the last one.
/// The entries are walked over their bytes: an entry in the usual encoding is recognised in place
/// (see [`read_usual_entry`]), anything else is read by the general reader from the same position,
/// which gives the same element, the same answer and the same error.
fn walk_entries<'a, F>(contents: &'a [u8], base: usize, mut on_entry: F) -> Result<usize, LoadError>
where
    F: FnMut(RawEntry<'a>, usize) -> Result<(), LoadError>,
{
    let mut position = 0usize;
    while let Some(rest) = contents.get(position..).filter(|rest| !rest.is_empty()) {
        let (entry, consumed) = match read_usual_entry(rest) {
            Some(usual) => usual,
            None => {
                let start = base + position;
                let mut reader =
                    Element { tag: tag::SEQUENCE, contents: rest, raw: rest, indefinite: false, offset: start }
                        .reader(false);
                let entry = reader.read(tag::SEQUENCE).map_err(malformed("revokedCertificates entry"))?;
                (read_entry(&entry)?, reader.offset() - start)
            }
        };
        position += consumed;
        on_entry(entry, base + position)?;
    }
    Ok(base + position)
}

fn ring_algorithm(hash: HashAlgorithm) -> &'static ring::digest::Algorithm {
    match hash {
        HashAlgorithm::Sha1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        HashAlgorithm::Sha256 => &ring::digest::SHA256,
        HashAlgorithm::Sha384 => &ring::digest::SHA384,
        HashAlgorithm::Sha512 => &ring::digest::SHA512,
    }
}

/// The hash of an RSA PKCS#1 v1.5 AlgorithmIdentifier; SHA-1 and anything else are refused.
fn signature_hash(algorithm: &Element<'_>) -> Result<HashAlgorithm, LoadError> {
    let mut reader = algorithm.reader(false);
    let oid = reader.read(tag::OID).map_err(malformed("signature algorithm OID"))?;
    // Parameters: NULL or absent.
    if let Some(parameters) = reader.read_optional(0x05).map_err(malformed("signature algorithm parameters"))?
        && !parameters.contents.is_empty()
    {
        return Err(LoadError::Malformed { at_byte: parameters.offset, what: "signature algorithm parameters" });
    }
    reader.finish().map_err(malformed("signature algorithm parameters"))?;
    let dotted = dotted(oid.contents);
    match HashAlgorithm::from_rsa_signature_oid(&dotted) {
        Some(hash @ (HashAlgorithm::Sha256 | HashAlgorithm::Sha384 | HashAlgorithm::Sha512)) => Ok(hash),
        _ => Err(LoadError::AlgorithmRejected { oid: dotted }),
    }
}

fn dotted(oid_contents: &[u8]) -> String {
    der::oid_to_string(oid_contents).unwrap_or_else(|| format!("invalid OID {}", hex::encode(oid_contents)))
}

fn read_time(reader: &mut Reader<'_>, what: &'static str) -> Result<UnixTime, LoadError> {
    let element = reader.read_any().map_err(malformed(what))?;
    parse_time(&element).ok_or(LoadError::Malformed { at_byte: element.offset, what })
}

/// UTCTime `YYMMDDHHMMSSZ` (RFC 5280: 1950-2049) or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(element: &Element<'_>) -> Option<UnixTime> {
    let text = element.contents;
    let (year, rest) = match (element.tag, text.len()) {
        (tag::UTC_TIME, 13) => {
            let short = i64::from(two_digits(&text[0..2])?);
            (if short >= 50 { 1900 + short } else { 2000 + short }, &text[2..])
        }
        (tag::GENERALIZED_TIME, 15) => {
            (i64::from(two_digits(&text[0..2])?) * 100 + i64::from(two_digits(&text[2..4])?), &text[4..])
        }
        _ => return None,
    };
    if rest[10] != b'Z' {
        return None;
    }
    let month = two_digits(&rest[0..2])?;
    let day = two_digits(&rest[2..4])?;
    let hour = two_digits(&rest[4..6])?;
    let minute = two_digits(&rest[6..8])?;
    let second = two_digits(&rest[8..10])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let month_days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > month_days || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let days = days_before_year(year)
        + i64::from(DAYS_BEFORE_MONTH[usize::from(month - 1)])
        + i64::from(leap && month > 2)
        + i64::from(day)
        - 1;
    Some(UnixTime(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)))
}

/// A UTCTime's 13 contents octets, `YYMMDDHHMMSSZ`, for the usual-entry path: the same answer as
/// [`parse_time`] (a test compares the two on every day of the range and on altered texts), with
/// the twelve digits checked and paired eight and four at a time in one integer, and the year's
/// days and leap from the UTCTime range alone.
#[inline]
fn parse_utc_time(text: &[u8; 13]) -> Option<UnixTime> {
    let (head, rest) = text.split_first_chunk::<8>()?;
    let (tail, zone) = rest.split_first_chunk::<4>()?;
    if *zone != [b'Z'] {
        return None;
    }
    // Little-endian, so the first character is the lowest byte: YYMMDDHH and MMSS.
    let head = u64::from_le_bytes(*head);
    let tail = u64::from(u32::from_le_bytes(*tail));
    const NIBBLES: u64 = 0xf0f0_f0f0_f0f0_f0f0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    // Every byte 0x30..=0x39: high nibble 3, and still 3 after adding 6 (no carry can cross a
    // byte once every high nibble is 3). The tail's four unused high bytes are made zeros.
    let tail_ascii = tail | (ZEROS & !0xffff_ffff);
    let all_digits = |word: u64| word & NIBBLES == ZEROS && word.wrapping_add(SIXES) & NIBBLES == ZEROS;
    if !all_digits(head) || !all_digits(tail_ascii) {
        return None;
    }
    // Byte 2k of `pairs` = digit 2k * 10 + digit 2k + 1 (each digit is at most 9, so no byte
    // carries into the next).
    let pairs = |word: u64| {
        let digits = word - ZEROS;
        digits * 10 + (digits >> 8)
    };
    let (head, tail) = (pairs(head), pairs(tail_ascii));
    let byte = |word: u64, index: u32| (word >> (16 * index)) as u8;
    let (short, month, day, hour) = (byte(head, 0), byte(head, 1), byte(head, 2), byte(head, 3));
    let (minute, second) = (byte(tail, 0), byte(tail, 1));
    // 1950..=2049: 1950 + (short + 50) % 100. Every fourth year is a leap year in that range
    // (2000 is one), and 1900 and 2000 are both multiples of 4, so the two digits decide.
    let year_days = UTC_TIME_YEAR_DAYS[usize::from((short + 50) % 100)];
    let leap = short % 4 == 0;
    if !(1..=12).contains(&month) || hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let month_index = usize::from(month - 1);
    let month_days = MONTH_DAYS[month_index] + u8::from(leap && month == 2);
    if day == 0 || day > month_days {
        return None;
    }
    let days = i64::from(year_days)
        + i64::from(DAYS_BEFORE_MONTH[month_index])
        + i64::from(leap && month > 2)
        + i64::from(day)
        - 1;
    Some(UnixTime(days * 86_400 + i64::from(hour) * 3600 + i64::from(minute) * 60 + i64::from(second)))
}

/// Days of each month in a common year.
const MONTH_DAYS: [u8; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/// Days before the first of each month in a common year.
const DAYS_BEFORE_MONTH: [u16; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];

/// Days from 1970-01-01 to 1 January of each UTCTime year (1950-2049): a table, because the date
/// arithmetic was 8% of a 10M-entry load.
const UTC_TIME_YEAR_DAYS: [i32; 100] = {
    let mut table = [0i32; 100];
    let mut index = 0;
    while index < 100 {
        table[index] = days_from_civil(1950 + index as i64, 1, 1) as i32;
        index += 1;
    }
    table
};

/// Days from 1970-01-01 to 1 January of `year`.
fn days_before_year(year: i64) -> i64 {
    match usize::try_from(year - 1950).ok().and_then(|index| UTC_TIME_YEAR_DAYS.get(index)) {
        Some(days) => i64::from(*days),
        None => days_from_civil(year, 1, 1),
    }
}

fn two_digits(text: &[u8]) -> Option<u8> {
    match text {
        [tens @ b'0'..=b'9', ones @ b'0'..=b'9'] => Some((tens - b'0') * 10 + (ones - b'0')),
        _ => None,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
const fn days_from_civil(year: i64, month: u8, day: u8) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let shifted_month = ((month + 9) % 12) as i64;
    let day_of_year = (153 * shifted_month + 2) / 5 + day as i64 - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// One Extension: OID contents, criticality, extnValue contents.
struct RawExtension<'a> {
    oid: &'a [u8],
    critical: bool,
    value: &'a [u8],
    offset: usize,
}

fn read_extension<'a>(reader: &mut Reader<'a>) -> Result<RawExtension<'a>, LoadError> {
    let extension = reader.read(tag::SEQUENCE).map_err(malformed("Extension"))?;
    let mut fields = extension.reader(false);
    let oid = fields.read(tag::OID).map_err(malformed("extnID"))?;
    let critical = match fields.read_optional(tag::BOOLEAN).map_err(malformed("critical"))? {
        None => false,
        Some(flag) => match flag.contents {
            [0xff] => true,
            [0x00] => false,
            _ => return Err(LoadError::Malformed { at_byte: flag.offset, what: "critical BOOLEAN" }),
        },
    };
    let value = fields.read(tag::OCTET_STRING).map_err(malformed("extnValue"))?;
    fields.finish().map_err(malformed("end of Extension"))?;
    Ok(RawExtension { oid: oid.contents, critical, value: value.contents, offset: extension.offset })
}

fn read_entry<'a>(entry: &Element<'a>) -> Result<RawEntry<'a>, LoadError> {
    match read_usual_contents(entry.contents) {
        Some(usual) => Ok(usual),
        None => read_general_entry(entry),
    }
}

/// [`read_entry`] for any encoding, element by element.
fn read_general_entry<'a>(entry: &Element<'a>) -> Result<RawEntry<'a>, LoadError> {
    let mut fields = entry.reader(false);
    let serial = fields.read(tag::INTEGER).map_err(malformed("userCertificate serial"))?;
    if serial.contents.is_empty() {
        return Err(LoadError::Malformed { at_byte: serial.offset, what: "userCertificate serial" });
    }
    let serial_bytes = der::unsigned_integer_bytes(serial.contents);
    let revoked_at = read_time(&mut fields, "revocationDate")?;
    let mut reason = None;
    if !fields.is_empty() {
        let list = fields.read(tag::SEQUENCE).map_err(malformed("crlEntryExtensions"))?;
        fields.finish().map_err(malformed("end of revokedCertificates entry"))?;
        let mut extensions = list.reader(false);
        let mut seen: Vec<&[u8]> = Vec::new();
        while !extensions.is_empty() {
            let extension = read_extension(&mut extensions)?;
            // Which of two reasonCodes would count is ambiguous (x509-parser takes the first).
            if seen.contains(&extension.oid) {
                return Err(LoadError::Malformed { at_byte: extension.offset, what: "duplicate crlEntryExtension" });
            }
            seen.push(extension.oid);
            match extension.oid {
                oid_bytes::REASON_CODE => {
                    let code = der::parse_single(extension.value, false)
                        .ok()
                        .filter(|value| value.tag == 0x0a)
                        .and_then(|value| match value.contents {
                            // CRLReason is a non-negative ENUMERATED: 0x80..=0xff are negative.
                            [code] if *code < 0x80 => Some(*code),
                            _ => None,
                        })
                        .ok_or(LoadError::Malformed { at_byte: extension.offset, what: "reasonCode" })?;
                    reason = Some(code);
                }
                oid_bytes::INVALIDITY_DATE => {}
                other if extension.critical => {
                    return Err(LoadError::UnknownCriticalEntryExtension {
                        oid: dotted(other),
                        serial: hex::encode(serial_bytes),
                    });
                }
                _ => {}
            }
        }
    }
    Ok(RawEntry { serial: serial_bytes, revoked_at, reason })
}

/// One revokedCertificates entry in the encoding nearly every entry of a large list has, at the
/// start of `input`: a SEQUENCE with a short-form length around the contents that
/// [`read_usual_contents`] accepts. Returns the entry and the bytes it takes. Half of a 10M-entry
/// load went into the general element walk; this skips it. Anything else, or anything this does
/// not accept exactly, takes the general path (the caller's reader and [`read_entry`]), which
/// gives the same answer.
#[inline]
fn read_usual_entry(input: &[u8]) -> Option<(RawEntry<'_>, usize)> {
    let [tag::SEQUENCE, length, rest @ ..] = input else {
        return None;
    };
    let length = usize::from(*length);
    // A long-form length, or one running past the input, is the general path's to judge.
    if length >= 0x80 {
        return None;
    }
    read_usual_contents(rest.get(..length)?).map(|entry| (entry, 2 + length))
}

/// The contents of an entry in the usual encoding, recognised byte for byte: a serial INTEGER, a
/// UTCTime, and either no extensions or one non-critical reasonCode.
#[inline]
fn read_usual_contents(contents: &[u8]) -> Option<RawEntry<'_>> {
    const REASON_CODE_EXTENSION: [u8; 13] =
        [0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01];
    let [tag::INTEGER, serial_length, rest @ ..] = contents else {
        return None;
    };
    let serial_length = usize::from(*serial_length);
    if serial_length == 0 || serial_length >= 0x80 || rest.len() < serial_length {
        return None;
    }
    let (serial, rest) = rest.split_at(serial_length);
    let [tag::UTC_TIME, 13, rest @ ..] = rest else {
        return None;
    };
    let (time, extensions) = rest.split_first_chunk::<13>()?;
    let revoked_at = parse_utc_time(time)?;
    let reason = match extensions {
        [] => None,
        // A negative ENUMERATED (0x80..) takes the general path, which refuses it.
        [prefix @ .., code] if *prefix == REASON_CODE_EXTENSION && *code < 0x80 => Some(*code),
        _ => return None,
    };
    Some(RawEntry { serial: unsigned_bytes(serial), revoked_at, reason })
}

/// [`der::unsigned_integer_bytes`], here so that it is inlined into the per-entry paths (it is
/// small, but in another crate).
#[inline]
pub(crate) fn unsigned_bytes(contents: &[u8]) -> &[u8] {
    let mut bytes = contents;
    while let [0, rest @ ..] = bytes
        && !rest.is_empty()
    {
        bytes = rest;
    }
    bytes
}

#[derive(Default)]
struct CrlExtensions<'a> {
    seen: Vec<&'a [u8]>,
    authority_key_id: Option<&'a [u8]>,
    crl_number: Option<CrlNumber>,
    scope: Option<Scope>,
    delta_base: Option<CrlNumber>,
}

impl<'a> CrlExtensions<'a> {
    fn absorb(&mut self, extension: &RawExtension<'a>) -> Result<(), LoadError> {
        if self.seen.contains(&extension.oid) {
            return Err(LoadError::DuplicateExtension { oid: dotted(extension.oid) });
        }
        self.seen.push(extension.oid);
        let at_byte = extension.offset;
        match extension.oid {
            oid_bytes::AUTHORITY_KEY_IDENTIFIER => {
                let sequence = der::parse_single(extension.value, false)
                    .ok()
                    .filter(|element| element.tag == tag::SEQUENCE)
                    .ok_or(LoadError::Malformed { at_byte, what: "authorityKeyIdentifier" })?;
                let mut reader = sequence.reader(false);
                self.authority_key_id = reader
                    .read_optional(tag::CONTEXT_0_PRIMITIVE)
                    .map_err(|_| LoadError::Malformed { at_byte, what: "authorityKeyIdentifier" })?
                    .map(|key_id| key_id.contents);
            }
            oid_bytes::CRL_NUMBER => self.crl_number = Some(read_number(extension.value, at_byte, "cRLNumber")?),
            oid_bytes::DELTA_CRL_INDICATOR => {
                self.delta_base = Some(read_number(extension.value, at_byte, "deltaCRLIndicator")?);
            }
            oid_bytes::ISSUING_DISTRIBUTION_POINT => self.scope = Some(read_scope(extension.value, at_byte)?),
            oid_bytes::ISSUER_ALT_NAME => {}
            other if extension.critical => return Err(LoadError::UnknownCriticalExtension { oid: dotted(other) }),
            _ => {}
        }
        Ok(())
    }
}

fn read_number(value: &[u8], at_byte: usize, what: &'static str) -> Result<CrlNumber, LoadError> {
    let integer = der::parse_single(value, false)
        .ok()
        .filter(|element| element.tag == tag::INTEGER)
        .ok_or(LoadError::Malformed { at_byte, what })?;
    // Non-negative, at most 20 octets (RFC 5280 5.2.3), plus a possible sign byte.
    match integer.contents {
        [] => Err(LoadError::Malformed { at_byte, what }),
        [first, ..] if first & 0x80 != 0 => Err(LoadError::Malformed { at_byte, what }),
        contents if der::unsigned_integer_bytes(contents).len() > 20 => Err(LoadError::Malformed { at_byte, what }),
        contents => Ok(CrlNumber::from_be_bytes(contents)),
    }
}

fn read_scope(value: &[u8], at_byte: usize) -> Result<Scope, LoadError> {
    let bad = LoadError::Malformed { at_byte, what: "issuingDistributionPoint" };
    let sequence =
        der::parse_single(value, false).ok().filter(|element| element.tag == tag::SEQUENCE).ok_or(bad.clone())?;
    let mut reader = sequence.reader(false);
    let mut scope = Scope::default();
    let flag = |element: &Element<'_>| match element.contents {
        [0xff] => Ok(true),
        [0x00] => Ok(false),
        _ => Err(bad.clone()),
    };
    while !reader.is_empty() {
        let field = reader.read_any().map_err(|_| bad.clone())?;
        match field.tag {
            // distributionPoint [0] DistributionPointName (a CHOICE, so explicitly tagged).
            0xa0 => {
                let name = der::parse_single(field.contents, false).map_err(|_| bad.clone())?;
                match name.tag {
                    // fullName [0] IMPLICIT GeneralNames: take the directoryName [4].
                    0xa0 => {
                        let mut names = name.reader(false);
                        let mut directory = None;
                        while !names.is_empty() {
                            let general_name = names.read_any().map_err(|_| bad.clone())?;
                            if general_name.tag == 0xa4 && directory.is_none() {
                                let inner = der::parse_single(general_name.contents, false)
                                    .ok()
                                    .filter(|element| element.tag == tag::SEQUENCE)
                                    .ok_or(bad.clone())?;
                                directory = Some(inner.raw.to_vec());
                            }
                        }
                        scope.distribution_point = Some(
                            directory.ok_or(LoadError::UnsupportedScope { what: "non-DirName distribution point" })?,
                        );
                    }
                    0xa1 => return Err(LoadError::UnsupportedScope { what: "nameRelativeToCRLIssuer" }),
                    _ => return Err(bad),
                }
            }
            0x81 => scope.only_user_certs = flag(&field)?,
            0x82 => scope.only_ca_certs = flag(&field)?,
            0x83 => return Err(LoadError::UnsupportedScope { what: "onlySomeReasons" }),
            0x84 => {
                if flag(&field)? {
                    return Err(LoadError::UnsupportedScope { what: "indirectCRL" });
                }
            }
            0x85 => {
                if flag(&field)? {
                    return Err(LoadError::UnsupportedScope { what: "onlyContainsAttributeCerts" });
                }
            }
            _ => return Err(bad),
        }
    }
    if scope.only_user_certs && scope.only_ca_certs {
        return Err(bad);
    }
    Ok(scope)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_convert_by_table_as_by_the_civil_algorithm() {
        // Every day of the UTCTime range, against Hinnant's algorithm, and the first second after.
        for year in 1950..=2049i64 {
            for month in 1..=12u8 {
                for day in 1..=31u8 {
                    let text = format!("{:02}{month:02}{day:02}235959Z", year % 100);
                    let element = Element {
                        tag: tag::UTC_TIME,
                        contents: text.as_bytes(),
                        raw: text.as_bytes(),
                        indefinite: false,
                        offset: 0,
                    };
                    let converted = parse_time(&element);
                    let fast = text.as_bytes().try_into().ok().and_then(parse_utc_time);
                    assert_eq!(fast, converted, "{text}");
                    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
                    let valid = day
                        <= [31, if leap { 29 } else { 28 }, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
                            [usize::from(month - 1)];
                    let expected = valid.then(|| UnixTime(days_from_civil(year, month, day) * 86_400 + 86_399));
                    assert_eq!(converted, expected, "{text}");
                }
            }
        }
    }

    /// The usual-entry path's UTCTime reader against the general one, on texts with one octet
    /// replaced by every value, around month ends, leap days and the century.
    #[test]
    fn the_fast_utc_time_agrees_with_the_general_one_on_altered_texts() {
        for base in [b"260401000000Z", b"000229235959Z", b"491231235959Z", b"500101000000Z", b"990228125959Z"] {
            for position in 0..13 {
                for value in 0..=255u8 {
                    let mut text = *base;
                    text[position] = value;
                    let element =
                        Element { tag: tag::UTC_TIME, contents: &text, raw: &text, indefinite: false, offset: 0 };
                    assert_eq!(parse_utc_time(&text), parse_time(&element), "{text:02x?}");
                }
            }
        }
    }

    #[test]
    fn unsigned_bytes_strips_like_the_der_module() {
        let cases: [&[u8]; 8] = [&[], &[0], &[0, 0], &[0, 0, 0], &[0, 1], &[0, 0x80, 0], &[5, 0], &[0, 0, 7, 0, 0]];
        for case in cases {
            assert_eq!(unsigned_bytes(case), der::unsigned_integer_bytes(case), "{case:02x?}");
        }
    }

    #[test]
    fn crl_numbers_order_numerically_and_print_in_decimal() {
        assert!(CrlNumber::from_u64(256) > CrlNumber::from_u64(255));
        assert!(CrlNumber::from_be_bytes(&[0, 0, 5]) == CrlNumber::from_u64(5));
        assert_eq!(CrlNumber::from_u64(0).to_string(), "0");
        assert_eq!(CrlNumber::from_u64(1_234_567_890_123).to_string(), "1234567890123");
        assert_eq!(
            CrlNumber::from_be_bytes(&[0xff; 20]).to_string(),
            "1461501637330902918203684832716283019655932542975"
        );
    }

    /// A revokedCertificates entry: serial 03, UTCTime 2026-04-01, then `extensions` (raw).
    fn entry_with(extensions: &[u8]) -> Vec<u8> {
        let mut contents = vec![0x02, 0x01, 0x03, 0x17, 0x0d];
        contents.extend_from_slice(b"260401000000Z");
        contents.extend_from_slice(extensions);
        let mut entry = vec![tag::SEQUENCE, contents.len() as u8];
        entry.extend(contents);
        entry
    }

    fn read(entry: &[u8]) -> Result<Option<u8>, LoadError> {
        let element = der::parse_single(entry, false).unwrap();
        read_entry(&element).map(|entry| entry.reason)
    }

    /// CRLReason is an ENUMERATED; 0xff is -1, not reason 255 (found by the `crl_parse` target's
    /// differential oracle: x509-parser reads no reason there).
    #[test]
    fn a_negative_reason_code_is_malformed_on_both_paths() {
        let reason = |code: u8| [0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, code];
        assert_eq!(read(&entry_with(&reason(0x01))), Ok(Some(1)));
        assert_eq!(read(&entry_with(&reason(0x7f))), Ok(Some(0x7f)));
        assert!(matches!(read(&entry_with(&reason(0xff))), Err(LoadError::Malformed { what: "reasonCode", .. })));
        assert!(matches!(read(&entry_with(&reason(0x80))), Err(LoadError::Malformed { what: "reasonCode", .. })));
    }

    /// Two reasonCode extensions on one entry: which one counts is ambiguous (x509-parser takes the
    /// first, the general path took the last), so the list is refused, as for list extensions.
    #[test]
    fn a_duplicate_entry_extension_is_malformed() {
        let two = [
            0x30, 0x18, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, 0x01, 0x30, 0x0a, 0x06, 0x03,
            0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, 0x04,
        ];
        assert!(matches!(
            read(&entry_with(&two)),
            Err(LoadError::Malformed { what: "duplicate crlEntryExtension", .. })
        ));
    }

    /// Every way of walking one entry list, as (serial, date, reason, offset past the entry).
    type Walked = Result<Vec<(Vec<u8>, UnixTime, Option<u8>, usize)>, LoadError>;

    fn walk_fast(contents: &[u8], base: usize) -> Walked {
        let mut seen = Vec::new();
        let end = walk_entries(contents, base, |entry, end| {
            seen.push((entry.serial.to_vec(), entry.revoked_at, entry.reason, end));
            Ok(())
        })?;
        assert_eq!(end, base + contents.len());
        Ok(seen)
    }

    /// The walk as it was before the byte-level one: the general reader and the general entry path.
    fn walk_general(contents: &[u8], base: usize) -> Walked {
        let list = Element { tag: tag::SEQUENCE, contents, raw: contents, indefinite: false, offset: base };
        let mut entries = list.reader(false);
        let mut seen = Vec::new();
        while !entries.is_empty() {
            let entry = entries.read(tag::SEQUENCE).map_err(malformed("revokedCertificates entry"))?;
            let entry = read_general_entry(&entry)?;
            seen.push((entry.serial.to_vec(), entry.revoked_at, entry.reason, entries.offset()));
        }
        Ok(seen)
    }

    /// The byte-level walk with its usual-entry path against the general walk: the same entries,
    /// offsets and errors on a mix of usual and unusual entries, on every truncation of it and with
    /// any one octet replaced by several values.
    #[test]
    fn the_entry_walk_agrees_with_the_general_reader() {
        let reason =
            |code: u8| vec![0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, code];
        let mut long_extension =
            vec![0x30, 0x81, 0x8b, 0x30, 0x81, 0x88, 0x06, 0x03, 0x55, 0x1d, 0x63, 0x04, 0x81, 0x80];
        long_extension.extend([0x5a; 0x80]);
        let invalidity = [
            0x30, 0x1a, 0x30, 0x18, 0x06, 0x03, 0x55, 0x1d, 0x18, 0x04, 0x11, 0x18, 0x0f, b'2', b'0', b'2', b'6', b'0',
            b'4', b'0', b'1', b'0', b'0', b'0', b'0', b'0', b'0', b'Z',
        ];
        let with_serial = |serial: &[u8], extensions: &[u8]| {
            let mut contents = vec![0x02, serial.len() as u8];
            contents.extend_from_slice(serial);
            contents.extend([0x17, 0x0d]);
            contents.extend_from_slice(b"260401000000Z");
            contents.extend_from_slice(extensions);
            let mut entry = vec![tag::SEQUENCE];
            match contents.len() {
                short @ 0..0x80 => entry.push(short as u8),
                long => entry.extend([0x81, long as u8]),
            }
            entry.extend(contents);
            entry
        };
        let mut generalized = vec![0x30, 0x14, 0x02, 0x01, 0x09, 0x18, 0x0f];
        generalized.extend_from_slice(b"20260401000000Z");
        let entries = [
            entry_with(&reason(1)),
            entry_with(&[]),
            with_serial(&[0x00, 0x80, 0x01], &reason(4)),
            with_serial(&[0x7f; 20], &[]),
            with_serial(&[0x01; 16], &long_extension),
            entry_with(&invalidity),
            generalized,
            entry_with(&reason(0x80)),
            with_serial(&[0x00], &reason(8)),
        ];
        let all: Vec<u8> = entries.concat();
        let mut inputs = vec![all.clone()];
        inputs.extend((0..all.len()).map(|length| all[..length].to_vec()));
        for position in 0..all.len() {
            for value in [0x00, 0x01, 0x0d, 0x17, 0x30, 0x7f, 0x80, 0x81, 0xff, all[position].wrapping_add(1)] {
                let mut altered = all.clone();
                altered[position] = value;
                inputs.push(altered);
            }
        }
        let mut accepted = 0;
        for input in &inputs {
            let general = walk_general(input, 1000);
            accepted += usize::from(general.is_ok());
            assert_eq!(walk_fast(input, 1000), general, "{input:02x?}");
        }
        assert!(walk_general(&all, 0).is_err(), "the negative reasonCode is refused");
        let valid: Vec<u8> = [&entries[..7], &entries[8..]].concat().concat();
        assert_eq!(walk_fast(&valid, 7).map(|seen| seen.len()), Ok(8));
        assert!(accepted > 0);
    }

    #[test]
    fn times_parse_like_rfc_5280_says() {
        fn element(tag: u8, text: &[u8]) -> Element<'_> {
            Element { tag, contents: text, raw: text, indefinite: false, offset: 0 }
        }
        let utc = |text: &'static [u8]| parse_time(&element(tag::UTC_TIME, text));
        let general = |text: &'static [u8]| parse_time(&element(tag::GENERALIZED_TIME, text));
        assert_eq!(utc(b"260601000000Z"), Some(UnixTime(1_780_272_000)));
        assert_eq!(utc(b"700101000000Z"), Some(UnixTime(0)));
        assert_eq!(utc(b"491231235959Z"), Some(UnixTime(2_524_607_999)));
        assert_eq!(general(b"20260601000000Z"), Some(UnixTime(1_780_272_000)));
        assert_eq!(general(b"20240229120000Z"), Some(UnixTime(1_709_208_000)));
        assert_eq!(general(b"20230229120000Z"), None);
        assert_eq!(utc(b"260601000000+"), None);
        assert_eq!(utc(b"2606010000Z"), None);
        assert_eq!(utc(b"261301000000Z"), None);
    }
}
