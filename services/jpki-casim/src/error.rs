//! The crate's error type.

/// What can go wrong while building or running the simulator.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The test PKI could not be loaded, or a CRL could not be issued.
    #[error("test PKI: {0}")]
    TestPki(#[from] jpki_testpki::Error),
    /// A CA label that the simulator does not serve.
    #[error("unknown CA {0:?}")]
    UnknownCa(String),
    /// A holder id that the test PKI does not contain, or whose certificates the CA did not issue.
    #[error("holder {holder:?} has no certificate issued by {ca:?}")]
    UnknownHolder {
        /// The holder id.
        holder: String,
        /// The CA label.
        ca: String,
    },
    /// A request value is invalid; `field` names the JSON field.
    #[error("invalid {field}: {message}")]
    Invalid {
        /// The offending field.
        field: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// The test PKI has no anchor CA to serve.
    #[error("the test PKI has no anchor CA")]
    NoCa,
    /// The listener or the server failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The server task ended abnormally (panicked or was aborted).
    #[error("server task failed: {0}")]
    Task(String),
}

impl Error {
    pub(crate) fn invalid(field: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid { field, message: message.into() }
    }
}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
