//! CMS SignedData (RFC 5652) as produced by `openssl cms -sign` (DER, or BER with indefinite
//! lengths under `-stream`) and by JPKI card software. Only the structure is read here; the
//! verifier decides what it means.

use std::borrow::Cow;

use crate::der::{self, Element, Reader, tag};
use crate::oid;
use crate::report::{FailureReason, InputPart};
use crate::time::UnixTime;

/// How the SignerInfo names its certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerId<'a> {
    /// issuerAndSerialNumber: issuer DN (raw DER) and serial (without leading zeros).
    IssuerAndSerial {
        /// Issuer Name, raw DER.
        issuer: &'a [u8],
        /// Serial number bytes.
        serial: &'a [u8],
    },
    /// subjectKeyIdentifier.
    SubjectKeyId(&'a [u8]),
}

/// The signed attributes that matter, plus the exact bytes the signature covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedAttributes<'a> {
    /// DER of the attributes with the SET OF tag, as signed (RFC 5652 5.4).
    pub signed_bytes: Vec<u8>,
    /// contentType, dotted.
    pub content_type: Option<String>,
    /// messageDigest value.
    pub message_digest: Option<&'a [u8]>,
    /// signingTime, as claimed.
    pub signing_time: Option<UnixTime>,
}

/// One parsed SignedData with exactly one signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData<'a> {
    /// eContentType, dotted.
    pub content_type: String,
    /// eContent, when attached.
    pub content: Option<Cow<'a, [u8]>>,
    /// Certificates carried (raw DER), in order.
    pub certificates: Vec<&'a [u8]>,
    /// The signer's identifier.
    pub signer_id: SignerId<'a>,
    /// digestAlgorithm, dotted.
    pub digest_algorithm: String,
    /// Signed attributes, when present.
    pub signed_attributes: Option<SignedAttributes<'a>>,
    /// signatureAlgorithm, dotted.
    pub signature_algorithm: String,
    /// The signature value.
    pub signature: Cow<'a, [u8]>,
}

fn malformed(input: InputPart) -> impl Fn(der::DerError) -> FailureReason {
    move |error| {
        let at_byte = match error {
            der::DerError::Truncated { offset }
            | der::DerError::InvalidEncoding { offset }
            | der::DerError::UnexpectedTag { offset, .. }
            | der::DerError::TrailingData { offset }
            | der::DerError::TooDeep { offset } => Some(offset),
        };
        FailureReason::Malformed { input, at_byte }
    }
}

fn read_oid(reader: &mut Reader<'_>, input: InputPart) -> Result<String, FailureReason> {
    let offset = reader.offset();
    let element = reader.read(tag::OID).map_err(malformed(input))?;
    der::oid_to_string(element.contents).ok_or(FailureReason::Malformed { input, at_byte: Some(offset) })
}

/// Reads an AlgorithmIdentifier and returns its OID (parameters are ignored: NULL or absent).
fn read_algorithm(reader: &mut Reader<'_>) -> Result<String, FailureReason> {
    let sequence = reader.read(tag::SEQUENCE).map_err(malformed(InputPart::Cms))?;
    let mut inner = sequence.reader(true);
    read_oid(&mut inner, InputPart::Cms)
}

/// Parses a ContentInfo holding SignedData.
pub fn parse(input: &[u8]) -> Result<SignedData<'_>, FailureReason> {
    let cms = malformed(InputPart::Cms);
    let content_info = der::parse_single(input, true).map_err(&cms)?;
    if content_info.tag != tag::SEQUENCE {
        return Err(FailureReason::Malformed { input: InputPart::Cms, at_byte: Some(0) });
    }
    let mut reader = content_info.reader(true);
    let content_type = read_oid(&mut reader, InputPart::Cms)?;
    if content_type != oid::CMS_SIGNED_DATA {
        return Err(FailureReason::UnsupportedCmsContent { content_type });
    }
    let explicit = reader.read(tag::CONTEXT_0).map_err(&cms)?;
    reader.finish().map_err(&cms)?;
    let mut explicit_reader = explicit.reader(true);
    let signed_data = explicit_reader.read(tag::SEQUENCE).map_err(&cms)?;
    explicit_reader.finish().map_err(&cms)?;

    let mut reader = signed_data.reader(true);
    reader.read(tag::INTEGER).map_err(&cms)?; // version: informative only
    reader.read(tag::SET).map_err(&cms)?; // digestAlgorithms: the SignerInfo's one is used
    let encapsulated = reader.read(tag::SEQUENCE).map_err(&cms)?;
    let (content_type, content) = parse_encapsulated(&encapsulated)?;
    let mut certificates = Vec::new();
    if let Some(set) = reader.read_optional(tag::CONTEXT_0).map_err(&cms)? {
        let mut set_reader = set.reader(true);
        while !set_reader.is_empty() {
            let choice = set_reader.read_any().map_err(&cms)?;
            // Only plain certificates are used; other CertificateChoices are skipped.
            if choice.tag == tag::SEQUENCE && !choice.indefinite {
                certificates.push(choice.raw);
            }
        }
    }
    reader.read_optional(tag::CONTEXT_1).map_err(&cms)?; // crls: not used for revocation
    let signer_infos = reader.read(tag::SET).map_err(&cms)?;
    reader.finish().map_err(&cms)?;

    let mut signers = signer_infos.reader(true);
    let mut parsed = Vec::new();
    while !signers.is_empty() {
        let signer = signers.read(tag::SEQUENCE).map_err(&cms)?;
        parsed.push(signer);
    }
    if parsed.len() != 1 {
        return Err(FailureReason::UnsupportedSignerCount { count: parsed.len() });
    }
    let signer = parse_signer_info(&parsed[0])?;
    Ok(SignedData {
        content_type,
        content,
        certificates,
        signer_id: signer.0,
        digest_algorithm: signer.1,
        signed_attributes: signer.2,
        signature_algorithm: signer.3,
        signature: signer.4,
    })
}

type Encapsulated<'a> = (String, Option<Cow<'a, [u8]>>);

fn parse_encapsulated<'a>(encapsulated: &Element<'a>) -> Result<Encapsulated<'a>, FailureReason> {
    let cms = malformed(InputPart::Cms);
    let mut reader = encapsulated.reader(true);
    let content_type = read_oid(&mut reader, InputPart::Cms)?;
    let content = match reader.read_optional(tag::CONTEXT_0).map_err(&cms)? {
        None => None,
        Some(explicit) => {
            let mut inner = explicit.reader(true);
            let octets = inner.read_any().map_err(&cms)?;
            inner.finish().map_err(&cms)?;
            Some(der::octet_string_contents(&octets, true).map_err(&cms)?)
        }
    };
    reader.finish().map_err(&cms)?;
    Ok((content_type, content))
}

type ParsedSigner<'a> = (SignerId<'a>, String, Option<SignedAttributes<'a>>, String, Cow<'a, [u8]>);

fn parse_signer_info<'a>(signer: &Element<'a>) -> Result<ParsedSigner<'a>, FailureReason> {
    let cms = malformed(InputPart::Cms);
    let mut reader = signer.reader(true);
    reader.read(tag::INTEGER).map_err(&cms)?;
    let signer_id = match reader.peek_tag() {
        Some(tag::SEQUENCE) => {
            let issuer_and_serial = reader.read(tag::SEQUENCE).map_err(&cms)?;
            let mut inner = issuer_and_serial.reader(true);
            let issuer = inner.read(tag::SEQUENCE).map_err(&cms)?;
            let serial = inner.read(tag::INTEGER).map_err(&cms)?;
            inner.finish().map_err(&cms)?;
            SignerId::IssuerAndSerial { issuer: issuer.raw, serial: der::unsigned_integer_bytes(serial.contents) }
        }
        Some(tag::CONTEXT_0_PRIMITIVE) => {
            SignerId::SubjectKeyId(reader.read(tag::CONTEXT_0_PRIMITIVE).map_err(&cms)?.contents)
        }
        _ => return Err(FailureReason::Malformed { input: InputPart::Cms, at_byte: Some(reader.offset()) }),
    };
    let digest_algorithm = read_algorithm(&mut reader)?;
    let signed_attributes = match reader.read_optional(tag::CONTEXT_0).map_err(&cms)? {
        None => None,
        Some(attributes) => Some(parse_signed_attributes(&attributes)?),
    };
    let signature_algorithm = read_algorithm(&mut reader)?;
    let signature_element = reader.read_any().map_err(&cms)?;
    let signature = der::octet_string_contents(&signature_element, true).map_err(&cms)?;
    reader.read_optional(tag::CONTEXT_1).map_err(&cms)?; // unsignedAttrs
    reader.finish().map_err(&cms)?;
    Ok((signer_id, digest_algorithm, signed_attributes, signature_algorithm, signature))
}

/// Signed attributes must be DER even inside a BER message: the signature covers their DER.
fn parse_signed_attributes<'a>(attributes: &Element<'a>) -> Result<SignedAttributes<'a>, FailureReason> {
    let strict = malformed(InputPart::SignedAttributes);
    if attributes.indefinite {
        return Err(FailureReason::Malformed { input: InputPart::SignedAttributes, at_byte: Some(attributes.offset) });
    }
    let checked = der::parse_single(attributes.raw, false).map_err(&strict)?;
    let mut signed_bytes = checked.raw.to_vec();
    signed_bytes[0] = tag::SET; // RFC 5652 5.4: the signature covers the EXPLICIT SET OF encoding
    let mut parsed = SignedAttributes { signed_bytes, content_type: None, message_digest: None, signing_time: None };
    let mut seen: Vec<String> = Vec::new();
    let mut reader = checked.reader(false);
    while !reader.is_empty() {
        let attribute = reader.read(tag::SEQUENCE).map_err(&strict)?;
        let mut inner = attribute.reader(false);
        let attribute_type = read_oid(&mut inner, InputPart::SignedAttributes)?;
        let values = inner.read(tag::SET).map_err(&strict)?;
        inner.finish().map_err(&strict)?;
        let known = [oid::CMS_CONTENT_TYPE, oid::CMS_MESSAGE_DIGEST, oid::CMS_SIGNING_TIME];
        if !known.contains(&attribute_type.as_str()) {
            continue;
        }
        let invalid = || FailureReason::SignedAttributeInvalid { attribute: attribute_type.clone() };
        if seen.contains(&attribute_type) {
            return Err(invalid());
        }
        seen.push(attribute_type.clone());
        let mut value_reader = values.reader(false);
        let value = value_reader.read_any().map_err(|_| invalid())?;
        if !value_reader.is_empty() {
            return Err(invalid()); // exactly one value (RFC 5652 11.1-11.3)
        }
        match attribute_type.as_str() {
            oid::CMS_CONTENT_TYPE if value.tag == tag::OID => {
                parsed.content_type = Some(der::oid_to_string(value.contents).ok_or_else(invalid)?);
            }
            oid::CMS_MESSAGE_DIGEST if value.tag == tag::OCTET_STRING => parsed.message_digest = Some(value.contents),
            oid::CMS_SIGNING_TIME => parsed.signing_time = Some(parse_time(&value).ok_or_else(invalid)?),
            _ => return Err(invalid()),
        }
    }
    Ok(parsed)
}

/// UTCTime `YYMMDDHHMMSSZ` or GeneralizedTime `YYYYMMDDHHMMSSZ`.
fn parse_time(element: &Element<'_>) -> Option<UnixTime> {
    let text = std::str::from_utf8(element.contents).ok()?;
    let digits = text.strip_suffix('Z')?;
    if !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    let (year, rest) = match (element.tag, digits.len()) {
        (tag::UTC_TIME, 12) => {
            let short: i32 = digits.get(..2)?.parse().ok()?;
            (if short >= 50 { 1900 + short } else { 2000 + short }, digits.get(2..)?)
        }
        (tag::GENERALIZED_TIME, 14) => (digits.get(..4)?.parse().ok()?, digits.get(4..)?),
        _ => return None,
    };
    let part = |range: std::ops::Range<usize>| rest.get(range).and_then(|value| value.parse::<u8>().ok());
    let month = time::Month::try_from(part(0..2)?).ok()?;
    let date = time::Date::from_calendar_date(year, month, part(2..4)?).ok()?;
    let clock = time::Time::from_hms(part(4..6)?, part(6..8)?, part(8..10)?).ok()?;
    Some(UnixTime(time::PrimitiveDateTime::new(date, clock).assume_utc().unix_timestamp()))
}
