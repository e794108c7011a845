//! Decoding requests: every field checked for presence, size and form, into the application's
//! inputs; a malformed request is INVALID_ARGUMENT with a `google.rpc.BadRequest` naming the field.

use jpki_api::v1;
use jpki_app::outcome::Applicant;
use jpki_app::tenant::{BusinessPurpose, Tenant, TenantRpc};
use jpki_core::{CertId, CertIdError, HashAlgorithm, SignatureInput, SignedContent};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::encode;

/// Largest accepted content, CMS or detached content: 10 MiB.
pub const MAX_CONTENT_BYTES: usize = 10 * 1024 * 1024;
/// Largest accepted certificate: 16 KiB.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;
/// Largest accepted raw signature value: 1 KiB.
pub const MAX_SIGNATURE_BYTES: usize = 1024;
/// Largest accepted digest: 64 bytes (SHA-512).
pub const MAX_DIGEST_BYTES: usize = 64;
/// Longest transaction reference, in characters.
pub const MAX_TRANSACTION_REFERENCE: usize = 128;
/// Longest customer id, in characters.
pub const MAX_CUSTOMER_ID: usize = 128;
/// Longest verification id accepted in a Link request, in characters.
pub const MAX_VERIFICATION_ID: usize = 64;
/// Longest CA key id, in hex digits (SHA-512-sized key identifiers at most; [`CertId::from_hex`]).
pub const MAX_KEY_ID_DIGITS: usize = CertId::MAX_DIGITS;
/// Longest serial, in hex digits (RFC 5280: at most 20 octets; some CAs exceed it slightly;
/// [`CertId::from_hex`]).
pub const MAX_SERIAL_DIGITS: usize = CertId::MAX_SERIAL_DIGITS;
/// Most certificates per CheckStatus call.
pub const MAX_STATUS_CERTIFICATES: usize = 1000;

/// INVALID_ARGUMENT with a `google.rpc.BadRequest` field violation.
pub fn bad_request(field: &str, description: &str) -> Status {
    Status::with_error_details(
        Code::InvalidArgument,
        format!("{field}: {description}"),
        ErrorDetails::with_bad_request_violation(field, description),
    )
}

/// INVALID_ARGUMENT unless `bytes` is at most `max` long.
pub fn check_size(field: &str, bytes: &[u8], max: usize) -> Result<(), Status> {
    if bytes.len() > max {
        return Err(bad_request(field, &format!("{} bytes, at most {max} accepted", bytes.len())));
    }
    Ok(())
}

/// INVALID_ARGUMENT unless `bytes` is non-empty and at most `max` long.
pub fn require_bytes(field: &str, bytes: &[u8], max: usize) -> Result<(), Status> {
    if bytes.is_empty() {
        return Err(bad_request(field, "required"));
    }
    check_size(field, bytes, max)
}

/// INVALID_ARGUMENT unless `text` is at most `max` characters without control characters
/// (and non-empty when `required`).
pub fn check_text(field: &str, text: &str, max: usize, required: bool) -> Result<(), Status> {
    if required && text.is_empty() {
        return Err(bad_request(field, "required"));
    }
    let length = text.chars().count();
    if length > max {
        return Err(bad_request(field, &format!("{length} characters, at most {max} accepted")));
    }
    if text.chars().any(char::is_control) {
        return Err(bad_request(field, "control characters are not accepted"));
    }
    Ok(())
}

/// A VerifySignature request's signature, checked and owning its bytes, ready for the core.
pub enum SignatureRequest {
    /// A raw signature over content or a digest.
    Raw {
        /// The signature value.
        signature: Vec<u8>,
        /// The signer's certificate.
        certificate: Vec<u8>,
        /// Whether `signed` is the content or its digest.
        is_digest: bool,
        /// The content or digest.
        signed: Vec<u8>,
        /// The hash algorithm.
        hash: HashAlgorithm,
    },
    /// A CMS SignedData.
    Cms {
        /// The CMS.
        cms: Vec<u8>,
        /// Detached content, if any.
        detached_content: Option<Vec<u8>>,
        /// The signer's certificate when the CMS does not carry it.
        certificate: Option<Vec<u8>>,
    },
}

impl SignatureRequest {
    /// How many bytes the verification reads (and hashes, for the content): what decides whether
    /// it may run on a runtime worker (`AppState::run_sized`).
    pub fn input_bytes(&self) -> usize {
        match self {
            SignatureRequest::Raw { signature, certificate, signed, .. } => {
                signature.len() + certificate.len() + signed.len()
            }
            SignatureRequest::Cms { cms, detached_content, certificate } => {
                cms.len() + detached_content.as_ref().map_or(0, Vec::len) + certificate.as_ref().map_or(0, Vec::len)
            }
        }
    }

    /// The core's view of it.
    pub fn as_input(&self) -> SignatureInput<'_> {
        match self {
            SignatureRequest::Raw { signature, certificate, is_digest, signed, hash } => SignatureInput::Raw {
                signature,
                certificate,
                content: if *is_digest {
                    SignedContent::Digest { digest: signed, hash: *hash }
                } else {
                    SignedContent::Message { data: signed, hash: *hash }
                },
            },
            SignatureRequest::Cms { cms, detached_content, certificate } => SignatureInput::Cms {
                cms,
                detached_content: detached_content.as_deref(),
                certificate: certificate.as_deref(),
            },
        }
    }
}

fn hash_algorithm(hash: i32) -> Result<HashAlgorithm, Status> {
    match v1::HashAlgorithm::try_from(hash) {
        Ok(v1::HashAlgorithm::Unspecified | v1::HashAlgorithm::Sha256) => Ok(HashAlgorithm::Sha256),
        Ok(v1::HashAlgorithm::Sha1) => Ok(HashAlgorithm::Sha1),
        Ok(v1::HashAlgorithm::Sha384) => Ok(HashAlgorithm::Sha384),
        Ok(v1::HashAlgorithm::Sha512) => Ok(HashAlgorithm::Sha512),
        Err(_) => Err(bad_request("raw.hash", "unknown hash algorithm")),
    }
}

/// The signature of a VerifySignature request.
pub fn signature_request(
    signature: Option<v1::verify_signature_request::Signature>,
) -> Result<SignatureRequest, Status> {
    use v1::verify_signature_request::Signature;
    match signature {
        None => Err(bad_request("signature", "one of raw or cms is required")),
        Some(Signature::Raw(raw)) => {
            require_bytes("raw.signature", &raw.signature, MAX_SIGNATURE_BYTES)?;
            require_bytes("raw.certificate", &raw.certificate, MAX_CERTIFICATE_BYTES)?;
            let (is_digest, signed) = match raw.signed {
                None => return Err(bad_request("raw.signed", "one of content or digest is required")),
                Some(v1::raw_signature::Signed::Content(content)) => {
                    check_size("raw.content", &content, MAX_CONTENT_BYTES)?;
                    (false, content)
                }
                Some(v1::raw_signature::Signed::Digest(digest)) => {
                    require_bytes("raw.digest", &digest, MAX_DIGEST_BYTES)?;
                    (true, digest)
                }
            };
            let hash = hash_algorithm(raw.hash)?;
            Ok(SignatureRequest::Raw {
                signature: raw.signature,
                certificate: raw.certificate,
                is_digest,
                signed,
                hash,
            })
        }
        Some(Signature::Cms(cms)) => {
            require_bytes("cms.cms", &cms.cms, MAX_CONTENT_BYTES)?;
            check_size("cms.detached_content", &cms.detached_content, MAX_CONTENT_BYTES)?;
            check_size("cms.certificate", &cms.certificate, MAX_CERTIFICATE_BYTES)?;
            Ok(SignatureRequest::Cms {
                cms: cms.cms,
                detached_content: (!cms.detached_content.is_empty()).then_some(cms.detached_content),
                certificate: (!cms.certificate.is_empty()).then_some(cms.certificate),
            })
        }
    }
}

/// The business purpose of a verification: required and allowed with `rpc` (else
/// INVALID_ARGUMENT, field `business_purpose`), then one the tenant's policy lists (else
/// PERMISSION_DENIED, naming only the caller's own purpose).
pub fn business_purpose(purpose: i32, rpc: TenantRpc, tenant: &Tenant) -> Result<BusinessPurpose, Status> {
    const FIELD: &str = "business_purpose";
    let purpose = match v1::BusinessPurpose::try_from(purpose) {
        Ok(v1::BusinessPurpose::Unspecified) => return Err(bad_request(FIELD, "required")),
        // One mapping, encode's: the API value whose domain purpose encodes to it.
        Ok(api) => BusinessPurpose::ALL.into_iter().find(|purpose| encode::business_purpose(*purpose) == api),
        Err(_) => None,
    }
    .ok_or_else(|| bad_request(FIELD, "unknown business purpose"))?;
    if !purpose.allowed_with(rpc) {
        let allowed: Vec<&str> = BusinessPurpose::ALL
            .into_iter()
            .filter(|other| other.allowed_with(rpc))
            .map(|other| encode::business_purpose(other).as_str_name())
            .collect();
        let description = format!("not allowed with {}; one of {}", rpc.name(), allowed.join(", "));
        return Err(bad_request(FIELD, &description));
    }
    if !tenant.policy.allows_purpose(purpose) {
        let name = encode::business_purpose(purpose).as_str_name();
        return Err(Status::permission_denied(format!("{FIELD}: {name} is not permitted for this tenant")));
    }
    Ok(purpose)
}

/// The applicant's typed data.
pub fn applicant(applicant: v1::ApplicantData) -> Result<Applicant, Status> {
    check_text("applicant.name", &applicant.name, 100, false)?;
    check_text("applicant.date_of_birth", &applicant.date_of_birth, 32, false)?;
    check_text("applicant.address", &applicant.address, 400, false)?;
    check_text("applicant.sex", &applicant.sex, 16, false)?;
    Ok(Applicant {
        name: applicant.name,
        date_of_birth: applicant.date_of_birth,
        address: applicant.address,
        sex: applicant.sex,
    })
}

/// A challenge id as IssueChallenge returns it (32 hex digits), lowercased.
pub fn challenge_id(challenge_id: &str) -> Result<String, Status> {
    if challenge_id.is_empty() {
        return Err(bad_request("challenge_id", "required"));
    }
    if challenge_id.len() != 32 || !challenge_id.bytes().all(|byte| byte.is_ascii_hexdigit()) {
        return Err(bad_request("challenge_id", "32 hex digits, as IssueChallenge returns"));
    }
    Ok(challenge_id.to_ascii_lowercase())
}

/// A certificate id from the API, checked and normalised by [`CertId::from_hex`]; a refusal names
/// the part (`{field}.ca_key_id` or `{field}.serial`).
pub fn certificate_id(field: &str, id: Option<&v1::CertificateId>) -> Result<CertId, Status> {
    let Some(id) = id else { return Err(bad_request(field, "required")) };
    CertId::from_hex(&id.ca_key_id, &id.serial).map_err(|error| {
        let description = match error {
            CertIdError::Empty(_) => "required".to_owned(),
            CertIdError::TooLong { max, .. } => format!("at most {max} hex digits"),
            CertIdError::NotHex(_) => "lowercase hex digits only".to_owned(),
            CertIdError::OddKeyId => "an even number of hex digits".to_owned(),
        };
        bad_request(&format!("{field}.{}", error.part()), &description)
    })
}

/// The certificate ids of a CheckStatus request (1 to [`MAX_STATUS_CERTIFICATES`]).
pub fn certificate_ids(ids: &[v1::CertificateId]) -> Result<Vec<CertId>, Status> {
    if ids.is_empty() {
        return Err(bad_request("certificates", "at least one certificate id is required"));
    }
    if ids.len() > MAX_STATUS_CERTIFICATES {
        return Err(bad_request(
            "certificates",
            &format!("{} ids, at most {MAX_STATUS_CERTIFICATES} per call", ids.len()),
        ));
    }
    ids.iter().enumerate().map(|(index, id)| certificate_id(&format!("certificates[{index}]"), Some(id))).collect()
}

/// A WatchRevocations cursor: empty for "from now on", else a cursor from a previous event or "0".
pub fn cursor(cursor: &str) -> Result<Option<u64>, Status> {
    if cursor.is_empty() {
        return Ok(None);
    }
    cursor
        .parse::<u64>()
        .map(Some)
        .map_err(|_| bad_request("cursor", "a cursor from a previous event, \"0\", or empty"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// The field and description of a refused id.
    fn refusal(ca_key_id: &str, serial: &str) -> (String, String) {
        let id = v1::CertificateId { ca_key_id: ca_key_id.into(), serial: serial.into() };
        let status = certificate_id("certificate", Some(&id)).err().unwrap();
        let violation = status.get_details_bad_request().unwrap().field_violations[0].clone();
        (violation.field, violation.description)
    }

    #[test]
    fn refusals_name_the_part_and_why() {
        let refused = |field: &str, description: &str| (field.to_owned(), description.to_owned());
        assert_eq!(refusal("", "01"), refused("certificate.ca_key_id", "required"));
        assert_eq!(refusal(&"a".repeat(130), "01"), refused("certificate.ca_key_id", "at most 128 hex digits"));
        assert_eq!(refusal("zz", "01"), refused("certificate.ca_key_id", "lowercase hex digits only"));
        assert_eq!(refusal("ab", ""), refused("certificate.serial", "required"));
        assert_eq!(refusal("ab", &"1".repeat(65)), refused("certificate.serial", "at most 64 hex digits"));
        assert_eq!(refusal("ab", "0x1"), refused("certificate.serial", "lowercase hex digits only"));
        assert_eq!(refusal("abc", "01"), refused("certificate.ca_key_id", "an even number of hex digits"));
        let status = certificate_id("certificate", None).err().unwrap();
        assert_eq!(status.message(), "certificate: required");
    }

    /// Every API purpose with each verification RPC: the table of docs/api.md, then the tenant's
    /// policy.
    #[test]
    fn purposes_go_with_their_rpcs_and_the_tenants_policy() {
        use jpki_app::tenant::TenantPolicy;
        use v1::BusinessPurpose as P;
        let everything = Tenant {
            id: jpki_store::TenantId::new("t").unwrap(),
            fields: jpki_app::FieldPermissions::default(),
            policy: TenantPolicy::everything(),
        };
        let table = [
            (P::AccountOpening, true, false),
            (P::Login, false, true),
            (P::Remittance, true, true),
            (P::PeriodicReverification, true, true),
        ];
        for (purpose, signature, proof) in table {
            for (rpc, allowed) in [(TenantRpc::VerifySignature, signature), (TenantRpc::VerifyAuthProof, proof)] {
                let decoded = business_purpose(purpose.into(), rpc, &everything);
                assert_eq!(
                    decoded.as_ref().map(|decoded| encode::business_purpose(*decoded)).ok(),
                    allowed.then_some(purpose)
                );
                if let Err(status) = decoded {
                    let violation = status.get_details_bad_request().unwrap().field_violations[0].clone();
                    assert_eq!(violation.field, "business_purpose");
                    assert!(violation.description.starts_with("not allowed with"), "{violation:?}");
                }
            }
        }
        for value in [P::Unspecified as i32, 99] {
            let status = business_purpose(value, TenantRpc::VerifySignature, &everything).unwrap_err();
            assert_eq!(status.code(), Code::InvalidArgument);
        }
        let login_only = Tenant {
            policy: TenantPolicy { business_purposes: vec![BusinessPurpose::Login], ..TenantPolicy::everything() },
            ..everything
        };
        let denied = business_purpose(P::Remittance.into(), TenantRpc::VerifyAuthProof, &login_only).unwrap_err();
        assert_eq!(denied.code(), Code::PermissionDenied);
        assert!(business_purpose(P::Login.into(), TenantRpc::VerifyAuthProof, &login_only).is_ok());
    }

    #[test]
    fn ids_are_normalised() {
        let id = v1::CertificateId { ca_key_id: "AB01".into(), serial: "000F".into() };
        let expected = CertId { ca_key_id: "ab01".into(), serial: "0f".into() };
        assert_eq!(certificate_id("certificate", Some(&id)).unwrap(), expected);
    }
}
