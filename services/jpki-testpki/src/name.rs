//! Distinguished names that keep attribute order and allow repeated attributes (several OUs).
//!
//! rcgen keeps attributes in a map, so a second OU overwrites the first; the JPKI DNs need two OUs
//! in a fixed order, hence this builder. Each RDN holds exactly one attribute, as in the real roots.

use std::fmt;

use crate::der;
use crate::error::Result;
use crate::profile::oid;

/// The ASN.1 string type an attribute value is encoded as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringKind {
    /// PrintableString (the real JPKI roots use it for `C` only).
    Printable,
    /// UTF8String (the real JPKI roots use it for `O` and `OU`).
    Utf8,
}

/// One attribute of a distinguished name: type, string kind and value.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Attribute {
    /// The attribute type as a dotted OID.
    pub oid: String,
    /// Short name used when displaying (`C`, `O`, `OU`, `L`, `CN`, or the OID).
    pub short_name: String,
    /// How the value is encoded.
    pub kind: StringKind,
    /// The value.
    pub value: String,
}

/// A distinguished name as an ordered list of single-attribute RDNs.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct DistinguishedName {
    attributes: Vec<Attribute>,
}

impl DistinguishedName {
    /// An empty name.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends an arbitrary attribute.
    #[must_use]
    pub fn attribute(mut self, oid: &str, short_name: &str, kind: StringKind, value: impl Into<String>) -> Self {
        self.attributes.push(Attribute {
            oid: oid.to_owned(),
            short_name: short_name.to_owned(),
            kind,
            value: value.into(),
        });
        self
    }

    /// Appends `C` (countryName, PrintableString as in the real roots).
    #[must_use]
    pub fn country(self, value: impl Into<String>) -> Self {
        self.attribute(oid::AT_COUNTRY, "C", StringKind::Printable, value)
    }

    /// Appends `O` (organizationName, UTF8String).
    #[must_use]
    pub fn organization(self, value: impl Into<String>) -> Self {
        self.attribute(oid::AT_ORGANIZATION, "O", StringKind::Utf8, value)
    }

    /// Appends `OU` (organizationalUnitName, UTF8String); may be called several times.
    #[must_use]
    pub fn org_unit(self, value: impl Into<String>) -> Self {
        self.attribute(oid::AT_ORG_UNIT, "OU", StringKind::Utf8, value)
    }

    /// Appends `L` (localityName, UTF8String); may be called several times.
    #[must_use]
    pub fn locality(self, value: impl Into<String>) -> Self {
        self.attribute(oid::AT_LOCALITY, "L", StringKind::Utf8, value)
    }

    /// Appends `CN` (commonName, UTF8String).
    #[must_use]
    pub fn common_name(self, value: impl Into<String>) -> Self {
        self.attribute(oid::AT_COMMON_NAME, "CN", StringKind::Utf8, value)
    }

    /// The attributes in order.
    pub fn attributes(&self) -> &[Attribute] {
        &self.attributes
    }

    /// DER encoding: `SEQUENCE OF SET OF AttributeTypeAndValue`, one attribute per RDN.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let mut rdns = Vec::with_capacity(self.attributes.len());
        for a in &self.attributes {
            let value = match a.kind {
                StringKind::Printable => der::printable_string(&a.value)?,
                StringKind::Utf8 => der::utf8_string(&a.value),
            };
            let atv = der::sequence(&[&der::oid(&a.oid)?, &value]);
            rdns.push(der::set_of(vec![atv]));
        }
        let refs: Vec<&[u8]> = rdns.iter().map(Vec::as_slice).collect();
        Ok(der::sequence(&refs))
    }
}

impl fmt::Display for DistinguishedName {
    /// OpenSSL-style one-line form in encoding order: `C=JP, O=JPKI, OU=...`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, a) in self.attributes.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={}", a.short_name, a.value)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_ous_kept_in_order() {
        let dn = DistinguishedName::new().country("JP").organization("JPKI").org_unit("A").org_unit("B");
        assert_eq!(dn.to_string(), "C=JP, O=JPKI, OU=A, OU=B");
        let der = dn.to_der().unwrap();
        let a = der.windows(1).position(|w| w == b"A").unwrap();
        let b = der.windows(1).position(|w| w == b"B").unwrap();
        assert!(a < b);
    }

    #[test]
    fn printable_country_is_checked() {
        assert!(DistinguishedName::new().country("日本").to_der().is_err());
    }
}
