//! A small DER writer (and a minimal reader for certificates we are handed).
//!
//! Every function returns a complete TLV (tag, length, value) as a `Vec<u8>`, so values compose by
//! concatenation: `sequence(&[&a, &b])`. Only low tag numbers (< 31) are supported, which is all
//! X.509, CRLs and CMS need. Lengths use the DER definite short/long form.

use time::OffsetDateTime;

use crate::error::{Error, Result};

/// Universal tag numbers (with the constructed bit where the type is always constructed).
pub mod tag {
    /// BOOLEAN
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING
    pub const OCTET_STRING: u8 = 0x04;
    /// NULL
    pub const NULL: u8 = 0x05;
    /// OBJECT IDENTIFIER
    pub const OID: u8 = 0x06;
    /// ENUMERATED
    pub const ENUMERATED: u8 = 0x0A;
    /// UTF8String
    pub const UTF8_STRING: u8 = 0x0C;
    /// PrintableString
    pub const PRINTABLE_STRING: u8 = 0x13;
    /// UTCTime
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE / SEQUENCE OF (constructed)
    pub const SEQUENCE: u8 = 0x30;
    /// SET / SET OF (constructed)
    pub const SET: u8 = 0x31;
}

/// Number of bytes the DER length field takes for a value of `len` bytes.
pub fn length_len(len: usize) -> usize {
    if len < 0x80 { 1 } else { 1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8) }
}

/// Total TLV size of a value of `len` content bytes with a one-byte tag.
pub fn tlv_len(len: usize) -> usize {
    1 + length_len(len) + len
}

/// Appends a DER length field to `out`.
pub fn push_length(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
}

/// Appends the tag and length header for `len` content bytes to `out`.
pub fn push_header(out: &mut Vec<u8>, tag: u8, len: usize) {
    out.push(tag);
    push_length(out, len);
}

/// Tag + length + value.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_len(content.len()));
    push_header(&mut out, tag, content.len());
    out.extend_from_slice(content);
    out
}

/// A constructed value with the given tag whose content is the concatenation of `parts`.
pub fn constructed(tag: u8, parts: &[&[u8]]) -> Vec<u8> {
    let len = parts.iter().map(|p| p.len()).sum();
    let mut out = Vec::with_capacity(tlv_len(len));
    push_header(&mut out, tag, len);
    for p in parts {
        out.extend_from_slice(p);
    }
    out
}

/// SEQUENCE of already encoded elements, in the given order.
pub fn sequence(parts: &[&[u8]]) -> Vec<u8> {
    constructed(tag::SEQUENCE, parts)
}

/// SET OF already encoded elements, sorted as DER requires (by their encodings).
pub fn set_of(mut items: Vec<Vec<u8>>) -> Vec<u8> {
    items.sort();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    constructed(tag::SET, &refs)
}

/// `[n] EXPLICIT`: a constructed context tag wrapping one complete TLV (or several).
pub fn explicit(n: u8, parts: &[&[u8]]) -> Vec<u8> {
    constructed(0xA0 | (n & 0x1F), parts)
}

/// `[n] IMPLICIT` for a primitive type: context tag `0x80 | n` around raw content bytes.
pub fn implicit_primitive(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | (n & 0x1F), content)
}

/// `[n] IMPLICIT` for a constructed type: context tag `0xA0 | n` around the inner content.
pub fn implicit_constructed(n: u8, parts: &[&[u8]]) -> Vec<u8> {
    constructed(0xA0 | (n & 0x1F), parts)
}

/// Replaces the tag of a complete TLV (implicit retagging of an encoded value).
pub fn retag(mut encoded: Vec<u8>, new_tag: u8) -> Vec<u8> {
    if let Some(first) = encoded.first_mut() {
        *first = new_tag;
    }
    encoded
}

/// BOOLEAN (DER: TRUE is 0xFF).
pub fn boolean(value: bool) -> Vec<u8> {
    tlv(tag::BOOLEAN, &[if value { 0xFF } else { 0x00 }])
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![tag::NULL, 0x00]
}

/// Content octets of a non-negative INTEGER given as big-endian unsigned bytes: leading zeros
/// stripped, a 0x00 prepended when the high bit is set, zero encoded as a single 0x00.
pub fn unsigned_integer_content(bytes: &[u8]) -> Vec<u8> {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let magnitude = &bytes[skip..];
    let mut out = Vec::with_capacity(magnitude.len() + 1);
    match magnitude.first() {
        None => out.push(0),
        Some(b) if b & 0x80 != 0 => {
            out.push(0);
            out.extend_from_slice(magnitude);
        }
        Some(_) => out.extend_from_slice(magnitude),
    }
    out
}

/// INTEGER from big-endian unsigned bytes (always encoded as a positive number).
pub fn integer_unsigned(bytes: &[u8]) -> Vec<u8> {
    tlv(tag::INTEGER, &unsigned_integer_content(bytes))
}

/// INTEGER from a `u64`.
pub fn integer_u64(value: u64) -> Vec<u8> {
    integer_unsigned(&value.to_be_bytes())
}

/// ENUMERATED from a small non-negative value.
pub fn enumerated(value: u8) -> Vec<u8> {
    tlv(tag::ENUMERATED, &unsigned_integer_content(&[value]))
}

/// Content octets of an OBJECT IDENTIFIER given in dotted form.
pub fn oid_content(dotted: &str) -> Result<Vec<u8>> {
    let bad = || Error::InvalidOid(dotted.to_owned());
    let arcs: Vec<u64> = dotted.split('.').map(|a| a.parse::<u64>().map_err(|_| bad())).collect::<Result<_>>()?;
    if arcs.len() < 2 || arcs[0] > 2 || (arcs[0] < 2 && arcs[1] > 39) {
        return Err(bad());
    }
    let first = arcs[0].checked_mul(40).and_then(|v| v.checked_add(arcs[1])).ok_or_else(bad)?;
    let mut out = Vec::new();
    for arc in std::iter::once(first).chain(arcs[2..].iter().copied()) {
        let mut groups = [0u8; 10];
        let mut n = 0;
        let mut v = arc;
        loop {
            groups[n] = (v & 0x7F) as u8;
            n += 1;
            v >>= 7;
            if v == 0 {
                break;
            }
        }
        for i in (0..n).rev() {
            out.push(groups[i] | if i > 0 { 0x80 } else { 0 });
        }
    }
    Ok(out)
}

/// OBJECT IDENTIFIER from dotted form, e.g. `"1.2.392.200149.8.5.1.1.20"`.
pub fn oid(dotted: &str) -> Result<Vec<u8>> {
    Ok(tlv(tag::OID, &oid_content(dotted)?))
}

/// UTF8String.
pub fn utf8_string(value: &str) -> Vec<u8> {
    tlv(tag::UTF8_STRING, value.as_bytes())
}

/// Whether every character is in the PrintableString repertoire (X.680 41.4).
pub fn is_printable(value: &str) -> bool {
    value.chars().all(|c| {
        c.is_ascii_alphanumeric() || matches!(c, ' ' | '\'' | '(' | ')' | '+' | ',' | '-' | '.' | '/' | ':' | '=' | '?')
    })
}

/// PrintableString; fails on characters outside its repertoire.
pub fn printable_string(value: &str) -> Result<Vec<u8>> {
    if !is_printable(value) {
        return Err(Error::InvalidString { kind: "PrintableString", value: value.to_owned() });
    }
    Ok(tlv(tag::PRINTABLE_STRING, value.as_bytes()))
}

/// OCTET STRING.
pub fn octet_string(value: &[u8]) -> Vec<u8> {
    tlv(tag::OCTET_STRING, value)
}

/// BIT STRING with the given number of unused bits in the last byte.
pub fn bit_string(bytes: &[u8], unused_bits: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(tlv_len(bytes.len() + 1));
    push_header(&mut out, tag::BIT_STRING, bytes.len() + 1);
    out.push(unused_bits & 0x07);
    out.extend_from_slice(bytes);
    out
}

/// BIT STRING for a named bit list (bit 0 is the most significant bit of the first byte), with
/// trailing zero bits removed as DER requires. `bits` lists the bit numbers that are set.
pub fn named_bits(bits: &[u8]) -> Vec<u8> {
    let Some(&max) = bits.iter().max() else {
        return bit_string(&[], 0);
    };
    let nbytes = usize::from(max / 8) + 1;
    let mut bytes = vec![0u8; nbytes];
    for &b in bits {
        bytes[usize::from(b / 8)] |= 0x80 >> (b % 8);
    }
    bit_string(&bytes, 7 - (max % 8))
}

fn check_year(t: OffsetDateTime) -> Result<OffsetDateTime> {
    let utc = t.to_offset(time::UtcOffset::UTC);
    if !(0..=9999).contains(&utc.year()) {
        return Err(Error::Time(format!("year {} out of range", utc.year())));
    }
    Ok(utc)
}

/// UTCTime `YYMMDDHHMMSSZ`; only years 1950..=2049 are representable.
pub fn utc_time(t: OffsetDateTime) -> Result<Vec<u8>> {
    let t = check_year(t)?;
    if !(1950..=2049).contains(&t.year()) {
        return Err(Error::Time(format!("year {} not representable as UTCTime", t.year())));
    }
    let s = format!(
        "{:02}{:02}{:02}{:02}{:02}{:02}Z",
        t.year() % 100,
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Ok(tlv(tag::UTC_TIME, s.as_bytes()))
}

/// GeneralizedTime `YYYYMMDDHHMMSSZ` (no fractional seconds, as RFC 5280 requires).
pub fn generalized_time(t: OffsetDateTime) -> Result<Vec<u8>> {
    let t = check_year(t)?;
    let s = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Ok(tlv(tag::GENERALIZED_TIME, s.as_bytes()))
}

/// X.509 `Time` per RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 on.
pub fn x509_time(t: OffsetDateTime) -> Result<Vec<u8>> {
    let year = t.to_offset(time::UtcOffset::UTC).year();
    if (1950..2050).contains(&year) { utc_time(t) } else { generalized_time(t) }
}

/// AlgorithmIdentifier with NULL parameters (the RSA PKCS#1 convention).
pub fn algorithm_null_params(dotted: &str) -> Result<Vec<u8>> {
    Ok(sequence(&[&oid(dotted)?, &null()]))
}

/// AlgorithmIdentifier with absent parameters (RFC 5754 convention for SHA-2 digests).
pub fn algorithm_no_params(dotted: &str) -> Result<Vec<u8>> {
    Ok(sequence(&[&oid(dotted)?]))
}

/// One decoded TLV: its tag, its content bytes and the whole encoding.
#[derive(Clone, Copy, Debug)]
pub struct Tlv<'a> {
    /// The identifier octet.
    pub tag: u8,
    /// The content octets.
    pub content: &'a [u8],
    /// Tag, length and content together.
    pub raw: &'a [u8],
}

/// A minimal DER reader over a byte slice (definite lengths, one-byte tags).
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    /// Reads from `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Reader { rest: input }
    }

    /// Whether all input has been consumed.
    pub fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// The next TLV without consuming it.
    pub fn peek(&self) -> Result<Tlv<'a>> {
        let mut copy = *self;
        copy.read()
    }

    /// Reads the next TLV.
    pub fn read(&mut self) -> Result<Tlv<'a>> {
        let input = self.rest;
        let (&tag, after_tag) = input.split_first().ok_or(Error::Der("unexpected end"))?;
        if tag & 0x1F == 0x1F {
            return Err(Error::Der("high tag numbers are not supported"));
        }
        let (&first, mut after_len) = after_tag.split_first().ok_or(Error::Der("missing length"))?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 8 || after_len.len() < n {
                return Err(Error::Der("bad length"));
            }
            let mut len = 0usize;
            for &b in &after_len[..n] {
                len = len
                    .checked_mul(256)
                    .and_then(|l| l.checked_add(usize::from(b)))
                    .ok_or(Error::Der("length overflow"))?;
            }
            after_len = &after_len[n..];
            len
        };
        if after_len.len() < len {
            return Err(Error::Der("truncated value"));
        }
        let header = input.len() - after_len.len();
        let raw = &input[..header + len];
        self.rest = &input[header + len..];
        Ok(Tlv { tag, content: &after_len[..len], raw })
    }

    /// Reads the next TLV and checks its tag.
    pub fn expect(&mut self, tag: u8) -> Result<Tlv<'a>> {
        let t = self.read()?;
        if t.tag != tag {
            return Err(Error::Der("unexpected tag"));
        }
        Ok(t)
    }
}

/// Parses a DER UTCTime or GeneralizedTime of the forms this crate writes (`...Z`, no fraction).
pub fn parse_time(t: Tlv<'_>) -> Result<OffsetDateTime> {
    let bad = || Error::Der("bad time");
    let s = std::str::from_utf8(t.content).map_err(|_| bad())?;
    let digits = s.strip_suffix('Z').ok_or_else(bad)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32> {
        digits.get(r).and_then(|d| d.parse::<u32>().ok()).ok_or_else(bad)
    };
    let (year, rest) = match (t.tag, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let yy = num(0..2)?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, 2)
        }
        (tag::GENERALIZED_TIME, 14) => (num(0..4)?, 4),
        _ => return Err(bad()),
    };
    let field = |i: usize| num(rest + 2 * i..rest + 2 * i + 2);
    let month = time::Month::try_from(u8::try_from(field(0)?).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(
        i32::try_from(year).map_err(|_| bad())?,
        month,
        u8::try_from(field(1)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let tod = time::Time::from_hms(
        u8::try_from(field(2)?).map_err(|_| bad())?,
        u8::try_from(field(3)?).map_err(|_| bad())?,
        u8::try_from(field(4)?).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    Ok(time::PrimitiveDateTime::new(date, tod).assume_utc())
}

/// The parts of a certificate that signing and CRL issuing need.
#[derive(Clone, Debug)]
pub struct CertInfo {
    /// The serial number's INTEGER content octets.
    pub serial_content: Vec<u8>,
    /// The issuer Name, DER encoded.
    pub issuer: Vec<u8>,
    /// The subject Name, DER encoded.
    pub subject: Vec<u8>,
    /// notBefore.
    pub not_before: OffsetDateTime,
    /// notAfter.
    pub not_after: OffsetDateTime,
    /// The SubjectPublicKeyInfo, DER encoded.
    pub spki: Vec<u8>,
    /// The subjectKeyIdentifier extension's key identifier, if present.
    pub subject_key_id: Option<Vec<u8>>,
}

/// Extracts serial, issuer, subject, SPKI and SKI from a DER certificate.
pub fn parse_certificate(cert_der: &[u8]) -> Result<CertInfo> {
    let cert = Reader::new(cert_der).expect(tag::SEQUENCE)?;
    let tbs = Reader::new(cert.content).expect(tag::SEQUENCE)?;
    let mut r = Reader::new(tbs.content);
    if r.peek()?.tag == 0xA0 {
        r.read()?;
    }
    let serial = r.expect(tag::INTEGER)?;
    r.expect(tag::SEQUENCE)?; // signature algorithm
    let issuer = r.expect(tag::SEQUENCE)?;
    let validity = r.expect(tag::SEQUENCE)?;
    let mut vr = Reader::new(validity.content);
    let not_before = parse_time(vr.read()?)?;
    let not_after = parse_time(vr.read()?)?;
    let subject = r.expect(tag::SEQUENCE)?;
    let spki = r.expect(tag::SEQUENCE)?;
    let mut subject_key_id = None;
    let ski_oid = oid_content(crate::profile::oid::SUBJECT_KEY_IDENTIFIER)?;
    while !r.is_empty() {
        let t = r.read()?;
        if t.tag != 0xA3 {
            continue;
        }
        let exts = Reader::new(t.content).expect(tag::SEQUENCE)?;
        let mut er = Reader::new(exts.content);
        while !er.is_empty() {
            let ext = er.expect(tag::SEQUENCE)?;
            let mut fr = Reader::new(ext.content);
            let id = fr.expect(tag::OID)?;
            let mut value = fr.read()?;
            if value.tag == tag::BOOLEAN {
                value = fr.read()?;
            }
            if id.content == ski_oid.as_slice() && value.tag == tag::OCTET_STRING {
                let inner = Reader::new(value.content).expect(tag::OCTET_STRING)?;
                subject_key_id = Some(inner.content.to_vec());
            }
        }
    }
    Ok(CertInfo {
        serial_content: serial.content.to_vec(),
        issuer: issuer.raw.to_vec(),
        subject: subject.raw.to_vec(),
        not_before,
        not_after,
        spki: spki.raw.to_vec(),
        subject_key_id,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn lengths() {
        assert_eq!(tlv(0x04, &[0; 3]), vec![4, 3, 0, 0, 0]);
        let long = tlv(0x04, &[0; 200]);
        assert_eq!(&long[..3], &[4, 0x81, 200]);
        let longer = tlv(0x04, &[0; 300]);
        assert_eq!(&longer[..4], &[4, 0x82, 0x01, 0x2C]);
        assert_eq!(length_len(127), 1);
        assert_eq!(length_len(128), 2);
        assert_eq!(length_len(65_536), 4);
        assert_eq!(tlv_len(300), longer.len());
    }

    #[test]
    fn integers() {
        assert_eq!(integer_unsigned(&[0x00, 0x00]), vec![2, 1, 0]);
        assert_eq!(integer_unsigned(&[0x80]), vec![2, 2, 0, 0x80]);
        assert_eq!(integer_unsigned(&[0x00, 0x7F]), vec![2, 1, 0x7F]);
        assert_eq!(integer_u64(65_537), vec![2, 3, 1, 0, 1]);
    }

    #[test]
    fn oids() {
        assert_eq!(oid("1.2.840.113549.1.1.11").unwrap(), vec![6, 9, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x0D, 1, 1, 11]);
        assert_eq!(oid("2.5.29.32").unwrap(), vec![6, 3, 0x55, 0x1D, 0x20]);
        assert!(oid("1").is_err());
        assert!(oid("1.40").is_err());
        assert!(oid("1.2.x").is_err());
    }

    #[test]
    fn bits() {
        assert_eq!(named_bits(&[5, 6]), vec![3, 2, 1, 0x06]);
        assert_eq!(named_bits(&[0, 1]), vec![3, 2, 6, 0xC0]);
        assert_eq!(named_bits(&[0]), vec![3, 2, 7, 0x80]);
    }

    #[test]
    fn times() {
        assert_eq!(x509_time(datetime!(2033-07-15 14:59:59 UTC)).unwrap()[2..], *b"330715145959Z");
        assert_eq!(x509_time(datetime!(2050-01-01 0:00 UTC)).unwrap()[2..], *b"20500101000000Z");
        assert!(utc_time(datetime!(2050-01-01 0:00 UTC)).is_err());
    }

    #[test]
    fn times_roundtrip() {
        for t in
            [datetime!(2033-07-15 14:59:59 UTC), datetime!(1999-12-31 23:59:59 UTC), datetime!(2050-01-01 0:00 UTC)]
        {
            let enc = x509_time(t).unwrap();
            let tlv = Reader::new(&enc).read().unwrap();
            assert_eq!(parse_time(tlv).unwrap(), t);
        }
    }

    #[test]
    fn sets_are_sorted() {
        let s = set_of(vec![vec![4, 1, 2], vec![4, 1, 1]]);
        assert_eq!(s, vec![0x31, 6, 4, 1, 1, 4, 1, 2]);
    }

    #[test]
    fn printable() {
        assert!(printable_string("JP").is_ok());
        assert!(printable_string("a_b").is_err());
        assert!(printable_string("東京").is_err());
    }

    #[test]
    fn reader_roundtrip() {
        let s = sequence(&[&integer_u64(5), &octet_string(&[0; 300])]);
        let outer = Reader::new(&s).expect(tag::SEQUENCE).unwrap();
        let mut r = Reader::new(outer.content);
        assert_eq!(r.expect(tag::INTEGER).unwrap().content, &[5]);
        assert_eq!(r.expect(tag::OCTET_STRING).unwrap().content.len(), 300);
        assert!(r.is_empty());
    }
}
