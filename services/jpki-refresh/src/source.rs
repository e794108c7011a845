//! Where a list comes from.

use std::path::PathBuf;

/// A configured source of one or more CRLs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CrlSource {
    /// An `http://` or `https://` URL.
    Http(String),
    /// A local file (DER or PEM, possibly several PEM lists).
    File(PathBuf),
    /// Every regular file in a local directory.
    Directory(PathBuf),
}

/// Why a source string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// A URL scheme other than http, https and file.
    #[error("unsupported source scheme in {text:?}: use http://, https://, file: or a path")]
    UnsupportedScheme {
        /// The source as configured.
        text: String,
    },
    /// An empty source.
    #[error("empty source")]
    Empty,
}

impl CrlSource {
    /// Parses `http://…`, `https://…`, `file:/path` or a plain path (a directory if it is one).
    pub fn parse(text: &str) -> Result<Self, SourceError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(SourceError::Empty);
        }
        if text.starts_with("http://") || text.starts_with("https://") {
            return Ok(CrlSource::Http(text.to_owned()));
        }
        let path = match text.strip_prefix("file://").or_else(|| text.strip_prefix("file:")) {
            Some(path) => path,
            None if text.contains("://") => return Err(SourceError::UnsupportedScheme { text: text.to_owned() }),
            None => text,
        };
        let path = PathBuf::from(path);
        Ok(if path.is_dir() { CrlSource::Directory(path) } else { CrlSource::File(path) })
    }

    /// A short name for logs and provenance.
    pub fn describe(&self) -> String {
        match self {
            CrlSource::Http(url) => url.clone(),
            CrlSource::File(path) | CrlSource::Directory(path) => path.display().to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(CrlSource::parse("http://ca/x.crl"), Ok(CrlSource::Http("http://ca/x.crl".into())));
        assert_eq!(CrlSource::parse("file:/no/such.crl"), Ok(CrlSource::File("/no/such.crl".into())));
        assert_eq!(CrlSource::parse("/tmp"), Ok(CrlSource::Directory("/tmp".into())));
        assert!(matches!(CrlSource::parse("ldap://ca/x"), Err(SourceError::UnsupportedScheme { .. })));
        assert_eq!(CrlSource::parse("  "), Err(SourceError::Empty));
    }
}
