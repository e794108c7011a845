//! Downloading and reading lists: conditional GET, timeouts, size limit, retries with jitter.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::source::CrlSource;

/// Limits and retry policy for fetching.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpPolicy {
    /// Time allowed to establish a connection.
    pub connect_timeout: Duration,
    /// Time allowed for one whole attempt, body included.
    pub total_timeout: Duration,
    /// Largest body accepted, in bytes (a 10-million-entry JPKI list is about 500 MB).
    pub max_bytes: u64,
    /// Attempts per fetch, the first included.
    pub attempts: u32,
    /// Delay before the first retry; doubled each time, with full jitter, up to `backoff_max`.
    pub backoff_base: Duration,
    /// Longest delay between attempts.
    pub backoff_max: Duration,
}

impl Default for HttpPolicy {
    fn default() -> Self {
        HttpPolicy {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(300),
            max_bytes: 1 << 30,
            attempts: 4,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
        }
    }
}

/// What identifies the version of a list already held, for conditional requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Validators {
    /// `ETag` of the last response (HTTP), or size and modification time (files).
    pub etag: Option<String>,
    /// `Last-Modified` of the last response.
    pub last_modified: Option<String>,
}

/// A successful download or read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// The lists, DER (PEM input is decoded; a directory or PEM file may hold several).
    pub lists: Vec<Vec<u8>>,
    /// Validators to send next time.
    pub validators: Validators,
    /// Bytes received.
    pub bytes: u64,
    /// Attempts used.
    pub attempts: u32,
}

/// The result of a fetch that did not fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchOutcome {
    /// The source has nothing newer than `Validators` describe.
    NotModified {
        /// Attempts used.
        attempts: u32,
    },
    /// New content.
    Fetched(Fetched),
}

/// Why a fetch failed. The last good list stays in use whatever the error.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// No answer within the connect or total timeout.
    #[error("{origin}: timed out after {attempts} attempt(s)")]
    Timeout {
        /// The source.
        origin: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The connection failed or broke off.
    #[error("{origin}: connection failed after {attempts} attempt(s): {detail}")]
    Connection {
        /// The source.
        origin: String,
        /// What the client said.
        detail: String,
        /// Attempts made.
        attempts: u32,
    },
    /// The server answered with an error status.
    #[error("{origin}: HTTP status {status} after {attempts} attempt(s)")]
    Status {
        /// The source.
        origin: String,
        /// The status code.
        status: u16,
        /// Attempts made.
        attempts: u32,
    },
    /// The body is larger than the configured limit.
    #[error("{origin}: larger than the limit of {limit} bytes")]
    TooLarge {
        /// The source.
        origin: String,
        /// The limit.
        limit: u64,
    },
    /// A local file or directory could not be read.
    #[error("{path}: {detail}")]
    Io {
        /// The path.
        path: PathBuf,
        /// What went wrong.
        detail: String,
    },
    /// PEM armour without a CRL, or an empty body.
    #[error("{origin}: not a CRL in DER or PEM")]
    NotACrl {
        /// The source.
        origin: String,
    },
    /// The HTTP client could not be built.
    #[error("HTTP client: {detail}")]
    Client {
        /// What went wrong.
        detail: String,
    },
}

impl FetchError {
    fn retryable(&self) -> bool {
        match self {
            FetchError::Timeout { .. } | FetchError::Connection { .. } => true,
            FetchError::Status { status, .. } => *status >= 500 || *status == 429,
            FetchError::TooLarge { .. }
            | FetchError::Io { .. }
            | FetchError::NotACrl { .. }
            | FetchError::Client { .. } => false,
        }
    }

    fn with_attempts(self, attempts: u32) -> Self {
        match self {
            FetchError::Timeout { origin, .. } => FetchError::Timeout { origin, attempts },
            FetchError::Connection { origin, detail, .. } => FetchError::Connection { origin, detail, attempts },
            FetchError::Status { origin, status, .. } => FetchError::Status { origin, status, attempts },
            other => other,
        }
    }
}

/// Fetches lists. Cheap to clone; share one per process.
#[derive(Clone, Debug)]
pub struct Fetcher {
    client: reqwest::Client,
    policy: HttpPolicy,
}

impl Fetcher {
    /// A fetcher with its own HTTP client (rustls with ring; the platform's roots for HTTPS).
    pub fn new(policy: HttpPolicy) -> Result<Self, FetchError> {
        // Several components may install the process-wide provider; the first one wins.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(policy.connect_timeout)
            .timeout(policy.total_timeout)
            .user_agent(concat!("jpki-gateway/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| FetchError::Client { detail: error.to_string() })?;
        Ok(Fetcher { client, policy })
    }

    /// The policy in force.
    pub fn policy(&self) -> &HttpPolicy {
        &self.policy
    }

    /// Fetches from a source, retrying transient failures with jittered exponential backoff.
    pub async fn fetch(&self, source: &CrlSource, validators: &Validators) -> Result<FetchOutcome, FetchError> {
        let mut attempt = 1;
        loop {
            let result = match source {
                CrlSource::Http(url) => self.fetch_http(url, validators, attempt).await,
                CrlSource::File(path) => {
                    read_files(std::slice::from_ref(path), path, validators, self.policy.max_bytes).await
                }
                CrlSource::Directory(path) => {
                    let files = list_directory(path).await?;
                    read_files(&files, path, validators, self.policy.max_bytes).await
                }
            };
            match result {
                Err(error) if error.retryable() && attempt < self.policy.attempts => {
                    tracing::warn!(source = %source.describe(), attempt, %error, "CRL fetch failed, retrying");
                    tokio::time::sleep(self.backoff(attempt)).await;
                    attempt += 1;
                }
                Err(error) => return Err(error.with_attempts(attempt)),
                Ok(outcome) => return Ok(outcome),
            }
        }
    }

    /// Full jitter: a random delay up to `base * 2^(attempt - 1)`, capped.
    fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self
            .policy
            .backoff_base
            .saturating_mul(1u32.checked_shl(attempt.saturating_sub(1)).unwrap_or(u32::MAX))
            .min(self.policy.backoff_max);
        ceiling.mul_f64(fastrand::f64())
    }

    async fn fetch_http(&self, url: &str, validators: &Validators, attempt: u32) -> Result<FetchOutcome, FetchError> {
        let source = || url.to_owned();
        let mut request = self.client.get(url);
        if let Some(etag) = &validators.etag {
            request = request.header(reqwest::header::IF_NONE_MATCH, etag);
        }
        if let Some(modified) = &validators.last_modified {
            request = request.header(reqwest::header::IF_MODIFIED_SINCE, modified);
        }
        let mut response = request.send().await.map_err(|error| transport_error(url, &error))?;
        let status = response.status();
        if status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(FetchOutcome::NotModified { attempts: attempt });
        }
        if !status.is_success() {
            return Err(FetchError::Status { origin: source(), status: status.as_u16(), attempts: attempt });
        }
        let limit = self.policy.max_bytes;
        if response.content_length().is_some_and(|length| length > limit) {
            return Err(FetchError::TooLarge { origin: source(), limit });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|value: &reqwest::header::HeaderValue| value.to_str().ok())
                .map(str::to_owned)
        };
        let new_validators =
            Validators { etag: header(reqwest::header::ETAG), last_modified: header(reqwest::header::LAST_MODIFIED) };
        let mut body = Vec::with_capacity(response.content_length().unwrap_or(0).min(limit) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|error| transport_error(url, &error))? {
            if body.len() as u64 + chunk.len() as u64 > limit {
                return Err(FetchError::TooLarge { origin: source(), limit });
            }
            body.extend_from_slice(&chunk);
        }
        let bytes = body.len() as u64;
        let lists = decode(body).ok_or_else(|| FetchError::NotACrl { origin: source() })?;
        Ok(FetchOutcome::Fetched(Fetched { lists, validators: new_validators, bytes, attempts: attempt }))
    }
}

fn transport_error(url: &str, error: &reqwest::Error) -> FetchError {
    if error.is_timeout() {
        FetchError::Timeout { origin: url.to_owned(), attempts: 0 }
    } else {
        FetchError::Connection { origin: url.to_owned(), detail: error.to_string(), attempts: 0 }
    }
}

/// DER as is, or the `X509 CRL` blocks of PEM.
fn decode(body: Vec<u8>) -> Option<Vec<Vec<u8>>> {
    if body.is_empty() {
        return None;
    }
    if body.starts_with(b"-----BEGIN ") || body.windows(16).any(|window| window == b"-----BEGIN X509 ") {
        return jpki_core::cert::pem_blocks(&body, "X509 CRL").ok().filter(|blocks| !blocks.is_empty());
    }
    Some(vec![body])
}

async fn list_directory(directory: &Path) -> Result<Vec<PathBuf>, FetchError> {
    let io = |error: std::io::Error| FetchError::Io { path: directory.to_owned(), detail: error.to_string() };
    let mut entries = tokio::fs::read_dir(directory).await.map_err(io)?;
    let mut files = Vec::new();
    while let Some(entry) = entries.next_entry().await.map_err(io)? {
        if entry.file_type().await.map_err(io)?.is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Reads files; the validator is each file's size and modification time, so an unchanged
/// source is `NotModified` without reading it.
async fn read_files(
    files: &[PathBuf],
    origin: &Path,
    validators: &Validators,
    limit: u64,
) -> Result<FetchOutcome, FetchError> {
    let mut signature = String::new();
    for file in files {
        let metadata = tokio::fs::metadata(file)
            .await
            .map_err(|error| FetchError::Io { path: file.clone(), detail: error.to_string() })?;
        if metadata.len() > limit {
            return Err(FetchError::TooLarge { origin: file.display().to_string(), limit });
        }
        let modified = metadata.modified().ok().and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok());
        signature.push_str(&format!("{}:{}:{:?};", file.display(), metadata.len(), modified));
    }
    let validators_now = Validators { etag: Some(signature), last_modified: None };
    if validators.etag.is_some() && *validators == validators_now {
        return Ok(FetchOutcome::NotModified { attempts: 1 });
    }
    let mut lists = Vec::new();
    let mut bytes = 0;
    for file in files {
        let body = tokio::fs::read(file)
            .await
            .map_err(|error| FetchError::Io { path: file.clone(), detail: error.to_string() })?;
        bytes += body.len() as u64;
        lists.extend(decode(body).ok_or_else(|| FetchError::NotACrl { origin: file.display().to_string() })?);
    }
    if lists.is_empty() {
        return Err(FetchError::NotACrl { origin: origin.display().to_string() });
    }
    Ok(FetchOutcome::Fetched(Fetched { lists, validators: validators_now, bytes, attempts: 1 }))
}
