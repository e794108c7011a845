//! Deterministic JPKI-profile test PKI and card simulator.
//!
//! `jpki_testpki` builds, from one `u64` seed and fixed dates, a PKI shaped like 公的個人認証サービス
//! (JPKI): self-signed signing and user-authentication roots in two generations with identical
//! subject DNs (and test-only smartphone roots), card holders with the basic four information in
//! their signing certificates, bad-case certificates, CRLs (including streamed multi-million-entry
//! lists), raw PKCS#1 v1.5 and CMS SignedData signatures as a card would make them. It is test
//! material: never trust these CAs.
//!
//! ```no_run
//! use jpki_testpki::{CmsOptions, TestPki};
//! # fn main() -> Result<(), jpki_testpki::Error> {
//! let pki = TestPki::generate(42)?;
//! let card = pki.card("h01")?;
//! let cms = card.sign_document_cms(b"application form", CmsOptions::default())?;
//! let proof = card.prove(b"challenge-from-the-bank")?;
//! # let _ = (cms, proof);
//! # Ok(()) }
//! ```
//!
//! Modules: [`der`] (DER writer), [`name`] (DNs), [`profile`] (OIDs, kinds), [`keys`]
//! (deterministic RSA keys), [`cert`] (certificate builder), [`holder`] (four fields), [`pki`]
//! (the whole PKI), [`sign`] (raw signatures), [`cms`] (SignedData), [`crl`] (CRLs), [`card`]
//! (card simulator), [`write`](mod@write) (directory output and loading).

pub mod card;
pub mod cert;
pub mod cms;
pub mod crl;
pub mod der;
pub mod error;
pub mod holder;
pub mod keys;
pub mod name;
pub mod pki;
pub mod profile;
pub mod sign;
pub mod write;

pub use card::{Card, Signer};
pub use cert::{CertificateBuilder, Extension, IssuerRef};
pub use cms::{CmsOptions, SignerIdKind, sign_cms};
pub use crl::{
    CrlBuilder, CrlEntry, IssuingDistributionPoint, LargeCrlInfo, LargeCrlOptions, ReasonCode, write_large_crl,
    write_large_crl_with,
};
pub use error::{Error, Result};
pub use holder::{FourFields, HolderProfile};
pub use name::DistinguishedName;
pub use pki::{BadCase, BadCaseKind, Ca, Holder, IssuedCert, TestPki};
pub use profile::CertKind;
pub use rsa::PrivateKey;
pub use sign::{HashAlg, sign_digest, sign_message};
pub use write::{Manifest, WriteOptions};
