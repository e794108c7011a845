//! A bounded BER/DER reader for the structures x509-parser does not cover
//! (CMS SignedData, the four-field otherNames).
//!
//! Every read returns a value or a [`DerError`]; nothing here can panic on
//! untrusted input. BER indefinite lengths are accepted only where the caller
//! asks for BER (CMS produced by `openssl cms -sign -stream`); signed
//! attributes and certificates are always read as DER.

use std::borrow::Cow;

/// Why a BER/DER structure could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DerError {
    /// The input ended inside an element.
    #[error("input truncated at byte {offset}")]
    Truncated {
        /// Offset of the element that is cut short.
        offset: usize,
    },
    /// A tag or length is not valid DER (or BER, where BER is allowed).
    #[error("invalid encoding at byte {offset}")]
    InvalidEncoding {
        /// Offset of the offending element.
        offset: usize,
    },
    /// A different tag was found than the structure requires.
    #[error("unexpected tag 0x{found:02x} at byte {offset}, expected 0x{expected:02x}")]
    UnexpectedTag {
        /// Tag byte that was required.
        expected: u8,
        /// Tag byte that was found.
        found: u8,
        /// Offset of the element.
        offset: usize,
    },
    /// Bytes were left over after a complete structure.
    #[error("trailing data at byte {offset}")]
    TrailingData {
        /// Offset of the first unread byte.
        offset: usize,
    },
    /// Nesting exceeded the reader's depth limit.
    #[error("nesting too deep at byte {offset}")]
    TooDeep {
        /// Offset of the element that went too deep.
        offset: usize,
    },
}

/// Universal and context tags used by the structures we read.
pub mod tag {
    /// BOOLEAN.
    pub const BOOLEAN: u8 = 0x01;
    /// INTEGER.
    pub const INTEGER: u8 = 0x02;
    /// BIT STRING (primitive).
    pub const BIT_STRING: u8 = 0x03;
    /// OCTET STRING (primitive).
    pub const OCTET_STRING: u8 = 0x04;
    /// OCTET STRING (constructed, BER only).
    pub const OCTET_STRING_CONSTRUCTED: u8 = 0x24;
    /// OBJECT IDENTIFIER.
    pub const OID: u8 = 0x06;
    /// UTF8String.
    pub const UTF8_STRING: u8 = 0x0c;
    /// UTCTime.
    pub const UTC_TIME: u8 = 0x17;
    /// GeneralizedTime.
    pub const GENERALIZED_TIME: u8 = 0x18;
    /// SEQUENCE.
    pub const SEQUENCE: u8 = 0x30;
    /// SET.
    pub const SET: u8 = 0x31;
    /// `[0]` constructed.
    pub const CONTEXT_0: u8 = 0xa0;
    /// `[1]` constructed.
    pub const CONTEXT_1: u8 = 0xa1;
    /// `[0]` primitive.
    pub const CONTEXT_0_PRIMITIVE: u8 = 0x80;
}

/// Maximum nesting depth accepted, far above anything CMS needs.
const MAX_DEPTH: usize = 32;

/// One element read from the input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Element<'a> {
    /// The identifier octet (multi-byte tags are rejected).
    pub tag: u8,
    /// The contents: for indefinite-length elements, everything up to the end-of-contents octets.
    pub contents: &'a [u8],
    /// The whole element, tag and length included.
    pub raw: &'a [u8],
    /// Whether the length was indefinite (BER only).
    pub indefinite: bool,
    /// Offset of the element in the outermost input, for error messages.
    pub offset: usize,
}

impl<'a> Element<'a> {
    /// A reader over this element's contents.
    pub fn reader(&self, ber: bool) -> Reader<'a> {
        Reader {
            input: self.contents,
            position: 0,
            base: self.offset + (self.raw.len() - self.contents.len() - if self.indefinite { 2 } else { 0 }),
            ber,
        }
    }

    /// Whether the constructed bit is set.
    pub fn is_constructed(&self) -> bool {
        self.tag & 0x20 != 0
    }
}

/// A cursor over untrusted bytes.
#[derive(Clone, Debug)]
pub struct Reader<'a> {
    input: &'a [u8],
    position: usize,
    base: usize,
    ber: bool,
}

impl<'a> Reader<'a> {
    /// A strict DER reader.
    pub fn der(input: &'a [u8]) -> Self {
        Reader { input, position: 0, base: 0, ber: false }
    }

    /// A reader that also accepts BER indefinite lengths and non-minimal lengths.
    pub fn ber(input: &'a [u8]) -> Self {
        Reader { input, position: 0, base: 0, ber: true }
    }

    /// Whether all input has been read.
    pub fn is_empty(&self) -> bool {
        self.position >= self.input.len()
    }

    /// Offset of the cursor in the outermost input.
    pub fn offset(&self) -> usize {
        self.base + self.position
    }

    /// Fails unless all input has been read.
    pub fn finish(&self) -> Result<(), DerError> {
        if self.is_empty() { Ok(()) } else { Err(DerError::TrailingData { offset: self.offset() }) }
    }

    /// The tag of the next element, without consuming it.
    pub fn peek_tag(&self) -> Option<u8> {
        self.input.get(self.position).copied()
    }

    /// Reads the next element, whatever its tag.
    pub fn read_any(&mut self) -> Result<Element<'a>, DerError> {
        let (element, consumed) = parse_element(&self.input[self.position..], self.base + self.position, self.ber, 0)?;
        self.position += consumed;
        Ok(element)
    }

    /// Reads the next element and requires `expected` as its tag.
    pub fn read(&mut self, expected: u8) -> Result<Element<'a>, DerError> {
        let offset = self.offset();
        match self.peek_tag() {
            None => Err(DerError::Truncated { offset }),
            Some(found) if found != expected => Err(DerError::UnexpectedTag { expected, found, offset }),
            Some(_) => self.read_any(),
        }
    }

    /// Reads the next element if it carries `tag`.
    pub fn read_optional(&mut self, tag: u8) -> Result<Option<Element<'a>>, DerError> {
        if self.peek_tag() == Some(tag) { self.read(tag).map(Some) } else { Ok(None) }
    }
}

/// Parses one element at the start of `input`; returns it and the bytes consumed.
fn parse_element(input: &[u8], offset: usize, ber: bool, depth: usize) -> Result<(Element<'_>, usize), DerError> {
    if depth > MAX_DEPTH {
        return Err(DerError::TooDeep { offset });
    }
    let truncated = DerError::Truncated { offset };
    let invalid = DerError::InvalidEncoding { offset };
    let tag = *input.first().ok_or(truncated)?;
    if tag & 0x1f == 0x1f {
        // High tag numbers appear nowhere in the structures we read.
        return Err(invalid);
    }
    let first_length = *input.get(1).ok_or(truncated)?;
    let (header_len, length) = match first_length {
        0x80 => {
            if !ber || tag & 0x20 == 0 {
                return Err(invalid);
            }
            // Indefinite length: walk the children until the end-of-contents octets.
            let mut position = 2;
            loop {
                let rest = input.get(position..).ok_or(truncated)?;
                if rest.len() < 2 {
                    return Err(truncated);
                }
                if rest[0] == 0 && rest[1] == 0 {
                    let element = Element {
                        tag,
                        contents: &input[2..position],
                        raw: &input[..position + 2],
                        indefinite: true,
                        offset,
                    };
                    return Ok((element, position + 2));
                }
                let (_, consumed) = parse_element(rest, offset + position, ber, depth + 1)?;
                position += consumed;
            }
        }
        length if length < 0x80 => (2, length as usize),
        0xff => return Err(invalid),
        long_form => {
            let count = (long_form & 0x7f) as usize;
            if count > 4 {
                return Err(invalid);
            }
            let bytes = input.get(2..2 + count).ok_or(truncated)?;
            let mut length = 0usize;
            for byte in bytes {
                length = (length << 8) | *byte as usize;
            }
            // DER: minimal length encoding only.
            if !ber && (length < 0x80 || bytes[0] == 0) {
                return Err(invalid);
            }
            (2 + count, length)
        }
    };
    let end = header_len.checked_add(length).ok_or(invalid)?;
    if end > input.len() {
        return Err(truncated);
    }
    let element = Element { tag, contents: &input[header_len..end], raw: &input[..end], indefinite: false, offset };
    Ok((element, end))
}

/// Reads a whole input as exactly one element.
pub fn parse_single(input: &[u8], ber: bool) -> Result<Element<'_>, DerError> {
    let mut reader = Reader { input, position: 0, base: 0, ber };
    let element = reader.read_any()?;
    reader.finish()?;
    Ok(element)
}

/// The contents of an OCTET STRING, joining the segments of a BER constructed one.
pub fn octet_string_contents<'a>(element: &Element<'a>, ber: bool) -> Result<Cow<'a, [u8]>, DerError> {
    match element.tag {
        tag::OCTET_STRING => Ok(Cow::Borrowed(element.contents)),
        tag::OCTET_STRING_CONSTRUCTED if ber => {
            let mut joined = Vec::new();
            collect_segments(element, &mut joined, 0)?;
            Ok(Cow::Owned(joined))
        }
        found => Err(DerError::UnexpectedTag { expected: tag::OCTET_STRING, found, offset: element.offset }),
    }
}

fn collect_segments(element: &Element<'_>, out: &mut Vec<u8>, depth: usize) -> Result<(), DerError> {
    if depth > MAX_DEPTH {
        return Err(DerError::TooDeep { offset: element.offset });
    }
    let mut reader = element.reader(true);
    while !reader.is_empty() {
        let segment = reader.read_any()?;
        match segment.tag {
            tag::OCTET_STRING => out.extend_from_slice(segment.contents),
            tag::OCTET_STRING_CONSTRUCTED => collect_segments(&segment, out, depth + 1)?,
            found => {
                return Err(DerError::UnexpectedTag { expected: tag::OCTET_STRING, found, offset: segment.offset });
            }
        }
    }
    Ok(())
}

/// Decodes an OBJECT IDENTIFIER's contents into dotted form.
pub fn oid_to_string(contents: &[u8]) -> Option<String> {
    if contents.is_empty() || contents.last().is_some_and(|last| last & 0x80 != 0) {
        return None;
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    let mut started = false;
    for byte in contents {
        if !started && *byte == 0x80 {
            return None; // non-minimal encoding
        }
        started = true;
        value = value.checked_mul(128)?.checked_add(u64::from(byte & 0x7f))?;
        if byte & 0x80 == 0 {
            arcs.push(value);
            value = 0;
            started = false;
        }
    }
    let first = arcs.first().copied()?;
    let (a, b) = match first {
        0..=39 => (0, first),
        40..=79 => (1, first - 40),
        _ => (2, first - 80),
    };
    let mut dotted = format!("{a}.{b}");
    for arc in &arcs[1..] {
        dotted.push('.');
        dotted.push_str(&arc.to_string());
    }
    Some(dotted)
}

/// Strips the sign byte of a DER INTEGER holding an unsigned value (serials).
pub fn unsigned_integer_bytes(contents: &[u8]) -> &[u8] {
    let mut bytes = contents;
    while bytes.len() > 1 && bytes[0] == 0 {
        bytes = &bytes[1..];
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_definite_and_rejects_non_minimal_der_lengths() {
        let element = parse_single(&[0x04, 0x02, 0xaa, 0xbb], false).unwrap();
        assert_eq!(element.contents, &[0xaa, 0xbb]);
        assert_eq!(parse_single(&[0x04, 0x81, 0x01, 0xaa], false), Err(DerError::InvalidEncoding { offset: 0 }));
        assert!(parse_single(&[0x04, 0x81, 0x01, 0xaa], true).is_ok());
    }

    #[test]
    fn reads_indefinite_constructed_octet_string_in_ber_only() {
        let input = [0x24, 0x80, 0x04, 0x01, 0x61, 0x04, 0x02, 0x62, 0x63, 0x00, 0x00];
        assert!(parse_single(&input, false).is_err());
        let element = parse_single(&input, true).unwrap();
        assert!(element.indefinite);
        assert_eq!(octet_string_contents(&element, true).unwrap().as_ref(), b"abc");
    }

    #[test]
    fn truncation_and_trailing_data_are_errors() {
        assert_eq!(parse_single(&[0x30, 0x05, 0x01], false), Err(DerError::Truncated { offset: 0 }));
        assert_eq!(parse_single(&[0x05, 0x00, 0x00], false), Err(DerError::TrailingData { offset: 2 }));
        assert!(parse_single(&[0x30, 0x80, 0x00], true).is_err());
    }

    #[test]
    fn deep_nesting_is_bounded() {
        let mut input = Vec::new();
        for _ in 0..100 {
            input.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..100 {
            input.extend_from_slice(&[0x00, 0x00]);
        }
        assert!(matches!(parse_single(&input, true), Err(DerError::TooDeep { .. })));
    }

    #[test]
    fn oids_decode() {
        assert_eq!(
            oid_to_string(&[0x2a, 0x83, 0x08, 0x8c, 0x9b, 0x55, 0x08, 0x05, 0x05, 0x01]).as_deref(),
            Some("1.2.392.200149.8.5.5.1")
        );
        assert_eq!(oid_to_string(&[0x2a, 0x80, 0x01]), None);
        assert_eq!(oid_to_string(&[]), None);
    }
}
