//! [`CertId`], a certificate's identity as hex text: what revocation queries, the store and the API
//! name a certificate by.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A certificate's identity: serials are unique only per CA key, and every JPKI root
/// generation shares one DN, so the issuing key's identifier is part of the identity.
///
/// [`CertId::new`] and [`CertId::from_hex`] make the normal form; an id deserialised or built from
/// its fields is only as good as its source, so check it with [`CertId::validate`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CertId {
    /// Issuing CA key identifier, lowercase hex.
    pub ca_key_id: String,
    /// Serial number, lowercase hex without leading zero bytes.
    pub serial: String,
}

/// One of the two parts of a [`CertId`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum CertIdPart {
    /// The issuing CA key identifier.
    CaKeyId,
    /// The serial number.
    Serial,
}

impl CertIdPart {
    /// The part's field name: `ca_key_id` or `serial`.
    pub fn name(self) -> &'static str {
        match self {
            CertIdPart::CaKeyId => "ca_key_id",
            CertIdPart::Serial => "serial",
        }
    }
}

impl fmt::Display for CertIdPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why hex text is not a certificate id, naming the part that is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertIdError {
    /// The part is empty.
    #[error("{0} is empty")]
    Empty(CertIdPart),
    /// The part has more than `max` digits.
    #[error("{part} has more than {max} digits")]
    TooLong {
        /// Which part.
        part: CertIdPart,
        /// The most digits accepted.
        max: usize,
    },
    /// The part has a character that is not a (lowercase) hex digit.
    #[error("{0} is not lowercase hex digits")]
    NotHex(CertIdPart),
    /// The CA key id has an odd number of digits, so it is not whole bytes.
    #[error("ca_key_id has an odd number of digits")]
    OddKeyId,
}

impl CertIdError {
    /// The part that is wrong.
    pub fn part(self) -> CertIdPart {
        match self {
            CertIdError::Empty(part) | CertIdError::TooLong { part, .. } | CertIdError::NotHex(part) => part,
            CertIdError::OddKeyId => CertIdPart::CaKeyId,
        }
    }
}

impl CertId {
    /// The most digits of a CA key id ([`CertId::from_hex`]), and of either part
    /// ([`CertId::validate`]): SHA-512-sized key identifiers at most.
    pub const MAX_DIGITS: usize = 128;
    /// The most digits of a serial [`CertId::from_hex`] accepts (RFC 5280: at most 20 octets; some
    /// CAs exceed it slightly).
    pub const MAX_SERIAL_DIGITS: usize = 64;

    /// Builds an identity from raw bytes.
    pub fn new(ca_key_id: &[u8], serial: &[u8]) -> Self {
        CertId { ca_key_id: hex::encode(ca_key_id), serial: hex::encode(crate::der::unsigned_integer_bytes(serial)) }
    }

    /// An identity from hex text such as a request carries, in the normal form [`CertId::new`]
    /// makes: either case is accepted and lowercased; the CA key id must be whole bytes; a serial
    /// of an odd number of digits gets a leading zero, and leading zero bytes are dropped (one is
    /// kept). The key id is checked before the serial, each for emptiness, length, then digits;
    /// the key id's parity last.
    pub fn from_hex(ca_key_id: &str, serial: &str) -> Result<Self, CertIdError> {
        let ca_key_id = ca_key_id.to_ascii_lowercase();
        let mut serial = serial.to_ascii_lowercase();
        check_digits(CertIdPart::CaKeyId, &ca_key_id, Self::MAX_DIGITS)?;
        check_digits(CertIdPart::Serial, &serial, Self::MAX_SERIAL_DIGITS)?;
        if ca_key_id.len() % 2 == 1 {
            return Err(CertIdError::OddKeyId);
        }
        if serial.len() % 2 == 1 {
            serial.insert(0, '0');
        }
        // Through the bytes, so that the serial's normal form is the one `new` makes.
        let key_bytes = hex::decode(&ca_key_id).map_err(|_| CertIdError::NotHex(CertIdPart::CaKeyId))?;
        let serial_bytes = hex::decode(&serial).map_err(|_| CertIdError::NotHex(CertIdPart::Serial))?;
        Ok(Self::new(&key_bytes, &serial_bytes))
    }

    /// Checks that both parts are 1 to [`CertId::MAX_DIGITS`] lowercase hex digits. Looser than
    /// [`CertId::from_hex`] (neither whole bytes nor the normal form is required), so that ids
    /// recorded under this rule stay valid.
    pub fn validate(&self) -> Result<(), CertIdError> {
        check_digits(CertIdPart::CaKeyId, &self.ca_key_id, Self::MAX_DIGITS)?;
        check_digits(CertIdPart::Serial, &self.serial, Self::MAX_DIGITS)
    }

    /// The CA key id and serial as bytes, as revocation lists are searched by; `None` when a part
    /// is not whole bytes of hex (never for an id made by [`CertId::new`] or [`CertId::from_hex`]).
    pub fn bytes(&self) -> Option<(Vec<u8>, Vec<u8>)> {
        Some((hex::decode(&self.ca_key_id).ok()?, hex::decode(&self.serial).ok()?))
    }
}

impl fmt::Display for CertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.ca_key_id, self.serial)
    }
}

/// Checks one part: non-empty, at most `max` digits, lowercase hex digits only (in that order).
fn check_digits(part: CertIdPart, text: &str, max: usize) -> Result<(), CertIdError> {
    if text.is_empty() {
        return Err(CertIdError::Empty(part));
    }
    if text.len() > max {
        return Err(CertIdError::TooLong { part, max });
    }
    if !text.bytes().all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f')) {
        return Err(CertIdError::NotHex(part));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The gateway's certificate id decoder as it was before `from_hex` replaced it, returning
    /// its refusals as the errors `from_hex` names them by: the oracle for `from_hex`.
    fn former_gateway_decoder(ca_key_id: &str, serial: &str) -> Result<CertId, CertIdError> {
        fn check_hex(part: CertIdPart, text: &str, max_digits: usize) -> Result<(), CertIdError> {
            if text.is_empty() {
                return Err(CertIdError::Empty(part));
            }
            if text.len() > max_digits {
                return Err(CertIdError::TooLong { part, max: max_digits });
            }
            if !text.bytes().all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte)) {
                return Err(CertIdError::NotHex(part));
            }
            Ok(())
        }
        let ca_key_id = ca_key_id.to_ascii_lowercase();
        let mut serial = serial.to_ascii_lowercase();
        check_hex(CertIdPart::CaKeyId, &ca_key_id, 128)?;
        check_hex(CertIdPart::Serial, &serial, 64)?;
        if ca_key_id.len() % 2 == 1 {
            return Err(CertIdError::OddKeyId);
        }
        if serial.len() % 2 == 1 {
            serial.insert(0, '0');
        }
        while serial.len() > 2 && serial.starts_with("00") {
            serial.drain(..2);
        }
        Ok(CertId { ca_key_id, serial })
    }

    /// Hex-ish text around the limits: mostly hex digits of either case, zero runs, and now and
    /// then a character that is not (one multi-byte, since limits count bytes).
    fn hexish(max: usize) -> impl Strategy<Value = String> {
        prop_oneof![
            proptest::string::string_regex(&format!("[0-9a-fA-F]{{0,{max}}}")).unwrap(),
            proptest::string::string_regex(&format!("0{{0,{max}}}[0-9a-f]{{0,4}}")).unwrap(),
            proptest::string::string_regex(&format!("[0-9a-fA-F]{{0,{max}}}[g-zG-Z :é\u{0}]?[0-9a-f]{{0,3}}")).unwrap(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn from_hex_accepts_and_normalises_as_the_former_gateway_decoder(
            ca_key_id in hexish(132),
            serial in hexish(68),
        ) {
            let id = CertId::from_hex(&ca_key_id, &serial);
            prop_assert_eq!(&id, &former_gateway_decoder(&ca_key_id, &serial));
            if let Ok(id) = id {
                // The normal form: valid, whole bytes, and what `new` makes of those bytes.
                prop_assert_eq!(id.validate(), Ok(()));
                let (key, serial) = id.bytes().unwrap();
                prop_assert_eq!(CertId::new(&key, &serial), id);
            }
        }

        #[test]
        fn json_round_trips(ca_key_id in ".{0,40}", serial in ".{0,40}") {
            let id = CertId { ca_key_id, serial };
            let json = serde_json::to_string(&id).unwrap();
            prop_assert_eq!(serde_json::from_str::<CertId>(&json).unwrap(), id);
        }
    }

    #[test]
    fn json_is_the_stored_form() {
        // Stores keep ids in this form: a change here breaks stored records.
        let id = CertId::from_hex("AB01", "f").unwrap();
        assert_eq!(serde_json::to_string(&id).unwrap(), r#"{"ca_key_id":"ab01","serial":"0f"}"#);
    }

    #[test]
    fn from_hex_names_the_first_wrong_part() {
        let key = "ab".repeat(64);
        let cases = [
            (("", "01"), CertIdError::Empty(CertIdPart::CaKeyId)),
            ((&*format!("{key}a"), "01"), CertIdError::TooLong { part: CertIdPart::CaKeyId, max: 128 }),
            (("ag", "01"), CertIdError::NotHex(CertIdPart::CaKeyId)),
            (("abc", ""), CertIdError::Empty(CertIdPart::Serial)),
            (("abc", &*"1".repeat(65)), CertIdError::TooLong { part: CertIdPart::Serial, max: 64 }),
            (("abc", "0x1"), CertIdError::NotHex(CertIdPart::Serial)),
            (("abc", "01"), CertIdError::OddKeyId),
        ];
        for ((ca_key_id, serial), error) in cases {
            assert_eq!(CertId::from_hex(ca_key_id, serial), Err(error), "{ca_key_id:?} {serial:?}");
        }
        assert_eq!(CertIdError::OddKeyId.part(), CertIdPart::CaKeyId);
    }

    #[test]
    fn from_hex_normalises_the_serial() {
        for (serial, normal) in [("0", "00"), ("000", "00"), ("00ff", "ff"), ("0001", "01"), ("1", "01"), ("F0", "f0")]
        {
            assert_eq!(CertId::from_hex(&"ab".repeat(64), serial).unwrap().serial, normal, "{serial:?}");
        }
        let longest = "f".repeat(64);
        assert_eq!(CertId::from_hex("AB", &longest).unwrap(), CertId { ca_key_id: "ab".into(), serial: longest });
    }

    #[test]
    fn validate_takes_any_lowercase_hex_up_to_128_digits() {
        let valid =
            |ca_key_id: &str, serial: &str| CertId { ca_key_id: ca_key_id.into(), serial: serial.into() }.validate();
        assert_eq!(valid("ab0", "1"), Ok(()));
        assert_eq!(valid(&"a".repeat(128), &"0".repeat(128)), Ok(()));
        assert_eq!(valid("", "1"), Err(CertIdError::Empty(CertIdPart::CaKeyId)));
        assert_eq!(valid("AB", "1"), Err(CertIdError::NotHex(CertIdPart::CaKeyId)));
        assert_eq!(valid("ab", &"1".repeat(129)), Err(CertIdError::TooLong { part: CertIdPart::Serial, max: 128 }));
    }

    #[test]
    fn bytes_need_whole_bytes_of_hex() {
        let id = |ca_key_id: &str, serial: &str| CertId { ca_key_id: ca_key_id.into(), serial: serial.into() };
        assert_eq!(id("ab01", "00ff").bytes(), Some((vec![0xab, 0x01], vec![0x00, 0xff])));
        assert_eq!(id("ab0", "01").bytes(), None);
        assert_eq!(id("ab", "1").bytes(), None);
    }
}
