//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong while building, signing or writing the test PKI.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The RSA implementation failed (key generation, signing, key import).
    #[error("RSA operation failed: {0}")]
    Rsa(#[from] rsa::Error),
    /// A dotted object identifier could not be encoded.
    #[error("invalid object identifier {0:?}")]
    InvalidOid(String),
    /// A string is not valid for the ASN.1 string type it is to be encoded as.
    #[error("string {value:?} is not a valid {kind}")]
    InvalidString {
        /// The ASN.1 string type (for example `PrintableString`).
        kind: &'static str,
        /// The rejected value.
        value: String,
    },
    /// A time cannot be represented (year outside 0..=9999, or a calendar error).
    #[error("time cannot be encoded: {0}")]
    Time(String),
    /// DER input (a certificate handed to us) is malformed.
    #[error("malformed DER: {0}")]
    Der(&'static str),
    /// PEM, PKCS#8 or public-key encoding failed.
    #[error("key or PEM encoding failed: {0}")]
    Encoding(String),
    /// Reading or writing a file failed.
    #[error("I/O error on {path}: {source}")]
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a stream (for example a large CRL) failed.
    #[error("write failed: {0}")]
    Write(#[source] std::io::Error),
    /// `manifest.json` could not be produced or parsed.
    #[error("manifest error: {0}")]
    Manifest(#[from] serde_json::Error),
    /// A holder id that the PKI or directory does not contain.
    #[error("unknown holder {0:?}")]
    UnknownHolder(String),
    /// An argument is outside what this crate can produce.
    #[error("invalid input: {0}")]
    Invalid(String),
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }
}
