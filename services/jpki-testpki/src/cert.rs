//! X.509 v3 certificate builder and the JPKI extensions.

use rsa::PrivateKey;
use time::OffsetDateTime;

use crate::der;
use crate::error::Result;
use crate::holder::FourFields;
use crate::name::DistinguishedName;
use crate::profile::oid;
use crate::sign::{HashAlg, sign_message};

/// One certificate or CRL extension: OID, criticality and the DER of `extnValue`'s content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Extension {
    /// Extension OID (dotted).
    pub oid: String,
    /// Whether the extension is marked critical.
    pub critical: bool,
    /// The DER value wrapped in the `extnValue` OCTET STRING.
    pub value: Vec<u8>,
}

impl Extension {
    /// A new extension.
    pub fn new(oid: &str, critical: bool, value: Vec<u8>) -> Self {
        Extension { oid: oid.to_owned(), critical, value }
    }

    /// DER `Extension ::= SEQUENCE { extnID, critical BOOLEAN DEFAULT FALSE, extnValue }`.
    pub fn to_der(&self) -> Result<Vec<u8>> {
        let id = der::oid(&self.oid)?;
        let value = der::octet_string(&self.value);
        Ok(if self.critical {
            der::sequence(&[&id, &der::boolean(true), &value])
        } else {
            der::sequence(&[&id, &value])
        })
    }
}

/// DER `Extensions ::= SEQUENCE OF Extension`.
pub fn extensions_der(exts: &[Extension]) -> Result<Vec<u8>> {
    let encoded: Vec<Vec<u8>> = exts.iter().map(Extension::to_der).collect::<Result<_>>()?;
    let refs: Vec<&[u8]> = encoded.iter().map(Vec::as_slice).collect();
    Ok(der::sequence(&refs))
}

/// `GeneralName` directoryName: `[4]` (explicit, since Name is a CHOICE) around the Name.
pub fn general_name_dir(name: &DistinguishedName) -> Result<Vec<u8>> {
    Ok(der::explicit(4, &[&name.to_der()?]))
}

/// `GeneralName` otherName: `[0] IMPLICIT SEQUENCE { type-id OID, value [0] EXPLICIT UTF8String }`.
pub fn general_name_other_utf8(type_id: &str, value: &str) -> Result<Vec<u8>> {
    Ok(der::implicit_constructed(0, &[&der::oid(type_id)?, &der::explicit(0, &[&der::utf8_string(value)])]))
}

/// Builders for the extensions of the JPKI profile.
pub mod ext {
    use super::*;

    /// keyUsage with the given bits (see [`crate::profile::key_usage`]); critical in JPKI.
    pub fn key_usage(bits: &[u8], critical: bool) -> Extension {
        Extension::new(oid::KEY_USAGE, critical, der::named_bits(bits))
    }

    /// basicConstraints `{ cA }` (no pathLenConstraint).
    pub fn basic_constraints(ca: bool, critical: bool) -> Extension {
        let value = if ca { der::sequence(&[&der::boolean(true)]) } else { der::sequence(&[]) };
        Extension::new(oid::BASIC_CONSTRAINTS, critical, value)
    }

    /// subjectKeyIdentifier.
    pub fn subject_key_identifier(key_id: &[u8]) -> Extension {
        Extension::new(oid::SUBJECT_KEY_IDENTIFIER, false, der::octet_string(key_id))
    }

    /// authorityKeyIdentifier with only `keyIdentifier [0]`.
    pub fn authority_key_identifier(key_id: &[u8]) -> Extension {
        Extension::new(oid::AUTHORITY_KEY_IDENTIFIER, false, der::sequence(&[&der::implicit_primitive(0, key_id)]))
    }

    /// certificatePolicies with one PolicyInformation per OID and no qualifiers.
    pub fn certificate_policies(policies: &[&str], critical: bool) -> Result<Extension> {
        let infos: Vec<Vec<u8>> =
            policies.iter().map(|p| Ok(der::sequence(&[&der::oid(p)?]))).collect::<Result<_>>()?;
        let refs: Vec<&[u8]> = infos.iter().map(Vec::as_slice).collect();
        Ok(Extension::new(oid::CERTIFICATE_POLICIES, critical, der::sequence(&refs)))
    }

    /// cRLDistributionPoints with one DistributionPoint whose fullName is a directoryName.
    pub fn crl_distribution_point_dir(name: &DistinguishedName) -> Result<Extension> {
        Ok(Extension::new(
            oid::CRL_DISTRIBUTION_POINTS,
            false,
            der::sequence(&[&der::sequence(&[&distribution_point_name_dir(name)?])]),
        ))
    }

    /// `distributionPoint [0] DistributionPointName` with `fullName [0] GeneralNames` holding
    /// one directoryName. Used by CRL distribution points and issuingDistributionPoint.
    pub fn distribution_point_name_dir(name: &DistinguishedName) -> Result<Vec<u8>> {
        let full_name = der::implicit_constructed(0, &[&general_name_dir(name)?]);
        Ok(der::explicit(0, &[&full_name]))
    }

    /// subjectAltName with one directoryName (the CA's Japanese name).
    pub fn subject_alt_name_dir(name: &DistinguishedName) -> Result<Extension> {
        Ok(Extension::new(oid::SUBJECT_ALT_NAME, false, der::sequence(&[&general_name_dir(name)?])))
    }

    /// issuerAltName with one directoryName.
    pub fn issuer_alt_name_dir(name: &DistinguishedName) -> Result<Extension> {
        Ok(Extension::new(oid::ISSUER_ALT_NAME, false, der::sequence(&[&general_name_dir(name)?])))
    }

    /// subjectAltName carrying the basic four information as otherNames, in the order real
    /// certificates use: `.1` name, `.4` date of birth, `.3` sex, `.5` address,
    /// `.2` name substitutes, `.6` address substitutes.
    pub fn four_fields_san(f: &FourFields) -> Result<Extension> {
        let entries = [
            (oid::FF_NAME, f.name.as_str()),
            (oid::FF_DATE_OF_BIRTH, f.date_of_birth.as_str()),
            (oid::FF_SEX, f.sex.as_str()),
            (oid::FF_ADDRESS, f.address.as_str()),
            (oid::FF_NAME_SUBSTITUTE, f.name_substitute.as_str()),
            (oid::FF_ADDRESS_SUBSTITUTE, f.address_substitute.as_str()),
        ];
        let names: Vec<Vec<u8>> = entries.iter().map(|(o, v)| general_name_other_utf8(o, v)).collect::<Result<_>>()?;
        let refs: Vec<&[u8]> = names.iter().map(Vec::as_slice).collect();
        Ok(Extension::new(oid::SUBJECT_ALT_NAME, false, der::sequence(&refs)))
    }
}

/// Who signs a certificate or CRL: the issuer's encoded subject name, its key and (for the AKI)
/// its subject key identifier.
#[derive(Clone, Copy, Debug)]
pub struct IssuerRef<'a> {
    /// The issuer's subject Name, DER encoded (copied byte for byte into `issuer`).
    pub name_der: &'a [u8],
    /// The issuer's private key.
    pub key: &'a PrivateKey,
    /// The issuer's subject key identifier, used for authorityKeyIdentifier.
    pub key_id: &'a [u8],
}

/// An X.509 v3 certificate under construction.
#[derive(Clone, Debug)]
pub struct CertificateBuilder {
    /// Serial number as big-endian unsigned bytes.
    pub serial: Vec<u8>,
    /// Subject name.
    pub subject: DistinguishedName,
    /// Start of validity.
    pub not_before: OffsetDateTime,
    /// End of validity (inclusive).
    pub not_after: OffsetDateTime,
    /// The subject's DER SubjectPublicKeyInfo.
    pub spki: Vec<u8>,
    /// Extensions, in encoding order.
    pub extensions: Vec<Extension>,
    /// Hash of the `<hash>WithRSAEncryption` signature.
    pub signature_hash: HashAlg,
}

impl CertificateBuilder {
    /// A builder with SHA-256 signature and no extensions.
    pub fn new(
        serial: Vec<u8>,
        subject: DistinguishedName,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
        spki: Vec<u8>,
    ) -> Self {
        CertificateBuilder {
            serial,
            subject,
            not_before,
            not_after,
            spki,
            extensions: Vec::new(),
            signature_hash: HashAlg::Sha256,
        }
    }

    /// Appends an extension.
    #[must_use]
    pub fn extension(mut self, ext: Extension) -> Self {
        self.extensions.push(ext);
        self
    }

    /// Sets the signature hash.
    #[must_use]
    pub fn signature_hash(mut self, alg: HashAlg) -> Self {
        self.signature_hash = alg;
        self
    }

    /// The DER TBSCertificate with the given issuer name.
    pub fn tbs_der(&self, issuer_name_der: &[u8]) -> Result<Vec<u8>> {
        let version = der::explicit(0, &[&der::integer_u64(2)]);
        let serial = der::integer_unsigned(&self.serial);
        let alg = self.signature_hash.signature_algorithm_der()?;
        let validity = der::sequence(&[&der::x509_time(self.not_before)?, &der::x509_time(self.not_after)?]);
        let subject = self.subject.to_der()?;
        let mut parts: Vec<&[u8]> = vec![&version, &serial, &alg, issuer_name_der, &validity, &subject, &self.spki];
        let exts;
        if !self.extensions.is_empty() {
            exts = der::explicit(3, &[&extensions_der(&self.extensions)?]);
            parts.push(&exts);
        }
        Ok(der::sequence(&parts))
    }

    /// Signs with the issuer's key and returns the DER certificate.
    pub fn sign(&self, issuer: IssuerRef<'_>) -> Result<Vec<u8>> {
        let tbs = self.tbs_der(issuer.name_der)?;
        signed_structure(tbs, issuer.key, self.signature_hash)
    }

    /// Self-signs (subject = issuer) with `key`.
    pub fn self_sign(&self, key: &PrivateKey) -> Result<Vec<u8>> {
        let name = self.subject.to_der()?;
        let tbs = self.tbs_der(&name)?;
        signed_structure(tbs, key, self.signature_hash)
    }
}

/// `SEQUENCE { tbs, signatureAlgorithm, signatureValue BIT STRING }` (certificates and CRLs).
pub fn signed_structure(tbs: Vec<u8>, key: &PrivateKey, alg: HashAlg) -> Result<Vec<u8>> {
    let sig = sign_message(key, &tbs, alg)?;
    Ok(der::sequence(&[&tbs, &alg.signature_algorithm_der()?, &der::bit_string(&sig, 0)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::CertKind;

    #[test]
    fn crl_dp_matches_real_root_bytes() {
        // cRLDistributionPoints extnValue of the real 2023 signing root (real-ca/sign_ca_2023.pem).
        let real = "30818F30818CA08189A08186A48183308180310B3009060355040613024A50310D300B060355040A0C044A504B4931233021060355040B0C1A4A504B4920666F72206469676974616C207369676E6174757265313D303B060355040B0C344A6170616E204167656E637920666F72204C6F63616C20417574686F7269747920496E666F726D6174696F6E2053797374656D73";
        let ext = ext::crl_distribution_point_dir(&CertKind::SigningCard.ca_name()).unwrap();
        let hex: String = ext.value.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, real);
    }

    #[test]
    fn ca_san_matches_real_root_bytes() {
        let real = "3081A3A481A030819D310B3009060355040613024A5031273025060355040A0C1EE585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B93130302E060355040B0C27E585ACE79A84E5808BE4BABAE8AA8DE8A8BCE382B5E383BCE38393E382B9E7BDB2E5908DE794A831333031060355040B0C2AE59CB0E696B9E585ACE585B1E59BA3E4BD93E68385E5A0B1E382B7E382B9E38386E383A0E6A99FE6A78B";
        let ext = ext::subject_alt_name_dir(&CertKind::SigningCard.ca_name_ja()).unwrap();
        let hex: String = ext.value.iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(hex, real);
    }

    #[test]
    fn key_usage_and_basic_constraints_bytes() {
        let ku = ext::key_usage(&[5, 6], true);
        assert_eq!(ku.to_der().unwrap()[7..], [1, 1, 0xFF, 4, 4, 3, 2, 1, 6]);
        assert_eq!(ext::basic_constraints(true, true).value, vec![0x30, 3, 1, 1, 0xFF]);
    }
}
