//! Signed checkpoints: C2SP tlog-checkpoint bodies in C2SP signed notes, Ed25519.

use std::collections::BTreeMap;

use ed25519_dalek::{Signer as _, SigningKey};
use signed_note::{NoteError, StandardVerifier, Verifier, VerifierList};
use tlog_tiles::{Checkpoint, Hash};

use crate::AuditError;

/// Longest tenant id in an origin.
pub const MAX_TENANT_LEN: usize = 64;

/// The origin line of a tenant's log: `{platform}/tenant/{tenant}`.
///
/// # Errors
/// [`AuditError::InvalidName`] when `platform` is empty or holds whitespace, control characters or
/// `+` (it also names keys, and signed-note key names refuse those), or `tenant` is not 1 to 64 of
/// `[A-Za-z0-9_.-]` (the gateway's tenant ids).
pub fn origin(platform: &str, tenant: &str) -> Result<String, AuditError> {
    if platform.is_empty() || platform.chars().any(|c| c.is_whitespace() || c.is_control() || c == '+') {
        return Err(AuditError::InvalidName(format!("platform {platform:?}")));
    }
    let tenant_ok = (1..=MAX_TENANT_LEN).contains(&tenant.len())
        && tenant.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if !tenant_ok {
        return Err(AuditError::InvalidName(format!("tenant {tenant:?} (1 to {MAX_TENANT_LEN} of [A-Za-z0-9_.-])")));
    }
    Ok(format!("{platform}/tenant/{tenant}"))
}

/// The signed-note signature type byte of Ed25519.
const ALG_ED25519: u8 = 1;

/// A log's Ed25519 signing key, named as signed-note requires.
pub struct LogSigner {
    name: String,
    id: u32,
    key: SigningKey,
}

impl std::fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the seed.
        f.debug_struct("LogSigner").field("name", &self.name).field("id", &format_args!("{:08x}", self.id)).finish()
    }
}

impl signed_note::Signer for LogSigner {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.key.sign(msg).to_vec())
    }
}

impl LogSigner {
    /// The signer of the Ed25519 key with this 32-byte seed. `key_name` is usually the origin.
    ///
    /// # Errors
    /// [`AuditError::InvalidName`] when the name is empty or holds whitespace or `+`.
    pub fn from_seed(key_name: &str, seed: &[u8; 32]) -> Result<Self, AuditError> {
        if !signed_note::is_key_name_valid(key_name) {
            return Err(AuditError::InvalidName(format!("key name {key_name:?}")));
        }
        let key = SigningKey::from_bytes(seed);
        let public = [&[ALG_ED25519][..], key.verifying_key().as_bytes()].concat();
        Ok(Self { name: key_name.to_owned(), id: signed_note::key_id(key_name, &public), key })
    }

    /// The published verifier key: `<name>+<hex key id>+<base64(0x01 || public key)>`.
    pub fn vkey(&self) -> String {
        signed_note::new_ed25519_verifier_key(&self.name, &self.key.verifying_key())
    }

    /// The key id (first four bytes of SHA-256(name, `\n`, 0x01, public key)).
    pub fn key_id(&self) -> u32 {
        self.id
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A signed checkpoint: the tlog-checkpoint body (origin, size, base64 root, no extension
    /// lines), a blank line and this key's signature line.
    ///
    /// There is no timestamp: Ed25519 note signatures carry none (only cosignatures do), and the
    /// body takes no extension lines; the events themselves carry their times.
    ///
    /// # Errors
    /// [`AuditError::Checkpoint`] when the origin is not a valid first line.
    pub fn sign(&self, origin: &str, size: u64, root: Hash) -> Result<String, AuditError> {
        if origin.chars().any(char::is_control) {
            return Err(AuditError::Checkpoint(format!("origin {origin:?}")));
        }
        let body = Checkpoint::new(origin, size, root, "").map_err(|e| AuditError::Checkpoint(e.to_string()))?;
        let mut note =
            signed_note::Note::new(&body.to_bytes(), &[]).map_err(|e| AuditError::Checkpoint(e.to_string()))?;
        note.add_sigs(&[self]).map_err(|e| AuditError::Checkpoint(e.to_string()))?;
        String::from_utf8(note.to_bytes()).map_err(|e| AuditError::Checkpoint(e.to_string()))
    }
}

/// A checkpoint whose signature and origin were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedCheckpoint {
    /// The origin line.
    pub origin: String,
    /// The tree size.
    pub size: u64,
    /// The tree's root.
    pub root: Hash,
    /// Names of the known keys whose signatures verified.
    pub signed_by: Vec<String>,
}

/// Verifies checkpoints against the published keys of a log (several during a rotation).
pub struct CheckpointVerifier {
    keys: VerifierList,
    vkeys: Vec<String>,
}

impl std::fmt::Debug for CheckpointVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointVerifier").field("vkeys", &self.vkeys).finish()
    }
}

impl CheckpointVerifier {
    /// A verifier trusting these verifier keys (`name+id+base64`); repeats are dropped.
    ///
    /// # Errors
    /// [`AuditError::InvalidKey`] for a key that does not parse, or two different keys with one name
    /// and id (signed-note could not tell their signatures apart).
    pub fn new(vkeys: &[String]) -> Result<Self, AuditError> {
        let mut by_id: BTreeMap<(String, u32), String> = BTreeMap::new();
        let mut list: Vec<Box<dyn Verifier>> = Vec::new();
        for vkey in vkeys {
            let vkey = vkey.trim();
            let verifier = StandardVerifier::new(vkey)
                .map_err(|e| AuditError::InvalidKey { vkey: vkey.to_owned(), reason: e.to_string() })?;
            let id = (verifier.name().to_owned(), verifier.key_id());
            match by_id.get(&id) {
                Some(known) if known == vkey => continue,
                Some(_) => {
                    return Err(AuditError::InvalidKey {
                        vkey: vkey.to_owned(),
                        reason: "another key has the same name and id".into(),
                    });
                }
                None => {}
            }
            by_id.insert(id, vkey.to_owned());
            list.push(Box::new(verifier));
        }
        if list.is_empty() {
            return Err(AuditError::InvalidKey { vkey: String::new(), reason: "no verifier keys".into() });
        }
        Ok(Self { keys: VerifierList::new(list), vkeys: by_id.into_values().collect() })
    }

    /// The trusted verifier keys.
    pub fn vkeys(&self) -> &[String] {
        &self.vkeys
    }

    /// Verifies a signed checkpoint: at least one signature by a known key, every signature by a
    /// known key valid (signatures by unknown keys are ignored), a well-formed body, and the
    /// expected origin.
    ///
    /// # Errors
    /// [`AuditError::Checkpoint`] saying which rule failed.
    pub fn verify(&self, note: &[u8], expected_origin: &str) -> Result<VerifiedCheckpoint, AuditError> {
        let fail = |why: String| AuditError::Checkpoint(why);
        let note = signed_note::Note::from_bytes(note).map_err(|e| fail(format!("malformed note: {e}")))?;
        let (verified, _unknown) = note.verify(&self.keys).map_err(|e| match e {
            NoteError::UnverifiedNote => fail("no signature by a known key".into()),
            NoteError::InvalidSignature { name, id } => fail(format!("invalid signature by known key {name}+{id:08x}")),
            other => fail(other.to_string()),
        })?;
        let body = Checkpoint::from_bytes(note.text()).map_err(|e| fail(format!("malformed body: {e}")))?;
        if body.origin() != expected_origin {
            return Err(fail(format!("origin {:?}, expected {expected_origin:?}", body.origin())));
        }
        let mut signed_by: Vec<String> = verified.iter().map(|s| s.name().to_owned()).collect();
        signed_by.dedup();
        Ok(VerifiedCheckpoint { origin: body.origin().to_owned(), size: body.size(), root: *body.hash(), signed_by })
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use tlog_tiles::record_hash;

    const PLATFORM: &str = "jpki-gateway.example";

    fn signer(seed: u8) -> LogSigner {
        LogSigner::from_seed(&origin(PLATFORM, "acme").unwrap(), &[seed; 32]).unwrap()
    }

    #[test]
    fn origins_are_validated() {
        assert_eq!(origin(PLATFORM, "acme-01").unwrap(), "jpki-gateway.example/tenant/acme-01");
        for (platform, tenant) in [
            ("", "a"),
            ("a b", "a"),
            ("a\nb", "a"),
            ("a+b", "a"),
            (PLATFORM, ""),
            (PLATFORM, "a/b"),
            (PLATFORM, "a+b"),
            (PLATFORM, "a b"),
        ] {
            assert!(origin(platform, tenant).is_err(), "{platform:?} {tenant:?}");
        }
        assert!(origin(PLATFORM, &"a".repeat(64)).is_ok());
        assert!(origin(PLATFORM, "Bank_A.jp-1").is_ok(), "every tenant id the gateway allows");
        assert!(origin(PLATFORM, &"a".repeat(65)).is_err());
        assert!(LogSigner::from_seed("a b", &[1; 32]).is_err());
        assert!(LogSigner::from_seed("a+b", &[1; 32]).is_err());
    }

    #[test]
    fn round_trip() {
        let s = signer(1);
        let origin = origin(PLATFORM, "acme").unwrap();
        let root = record_hash(b"x");
        let note = s.sign(&origin, 42, root).unwrap();
        let (body, sig) = note.split_once("\n\n").unwrap();
        assert_eq!(body, format!("{origin}\n42\n{root}"));
        assert!(sig.starts_with(&format!("— {origin} ")));
        let vkey = s.vkey();
        assert!(vkey.starts_with(&format!("{origin}+{:08x}+", s.key_id())));
        let verified = CheckpointVerifier::new(&[vkey]).unwrap().verify(note.as_bytes(), &origin).unwrap();
        assert_eq!(verified, VerifiedCheckpoint { origin, size: 42, root, signed_by: vec![s.name().to_owned()] });
    }

    #[test]
    fn wrong_key_is_refused() {
        let origin = origin(PLATFORM, "acme").unwrap();
        let note = signer(1).sign(&origin, 1, record_hash(b"x")).unwrap();
        let err = CheckpointVerifier::new(&[signer(2).vkey()]).unwrap().verify(note.as_bytes(), &origin).unwrap_err();
        assert!(err.to_string().contains("no signature by a known key"), "{err}");
    }

    #[test]
    fn wrong_origin_is_refused() {
        let other = origin(PLATFORM, "other").unwrap();
        let s = signer(1);
        let note = s.sign(&other, 1, record_hash(b"x")).unwrap();
        let err = CheckpointVerifier::new(&[s.vkey()])
            .unwrap()
            .verify(note.as_bytes(), &origin(PLATFORM, "acme").unwrap())
            .unwrap_err();
        assert!(err.to_string().contains("origin"), "{err}");
    }

    #[test]
    fn altered_body_or_signature_is_refused() {
        let s = signer(1);
        let origin = origin(PLATFORM, "acme").unwrap();
        let note = s.sign(&origin, 42, record_hash(b"x")).unwrap();
        let verifier = CheckpointVerifier::new(&[s.vkey()]).unwrap();
        let altered = note.replacen("\n42\n", "\n43\n", 1);
        let err = verifier.verify(altered.as_bytes(), &origin).unwrap_err();
        assert!(err.to_string().contains("invalid signature by known key"), "{err}");
        let root_altered = note.replacen(&record_hash(b"x").to_string(), &record_hash(b"y").to_string(), 1);
        assert!(verifier.verify(root_altered.as_bytes(), &origin).is_err());
        assert!(verifier.verify(b"not a note", &origin).is_err());
    }

    #[test]
    fn two_keys_during_rotation() {
        let origin = origin(PLATFORM, "acme").unwrap();
        let (old, new) = (signer(1), LogSigner::from_seed(&format!("{origin}/2027"), &[2; 32]).unwrap());
        let verifier = CheckpointVerifier::new(&[old.vkey(), new.vkey(), old.vkey()]).unwrap();
        assert_eq!(verifier.vkeys().len(), 2);
        let by_old = old.sign(&origin, 1, record_hash(b"x")).unwrap();
        let by_new = new.sign(&origin, 2, record_hash(b"y")).unwrap();
        assert_eq!(verifier.verify(by_old.as_bytes(), &origin).unwrap().signed_by, vec![old.name().to_owned()]);
        assert_eq!(verifier.verify(by_new.as_bytes(), &origin).unwrap().signed_by, vec![new.name().to_owned()]);
        // Both signatures on one note (the overlap): both are reported.
        let (_, new_sig) = new
            .sign(&origin, 1, record_hash(b"x"))
            .unwrap()
            .split_once("\n\n")
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .unwrap();
        let both = format!("{by_old}{new_sig}");
        let signed_by = verifier.verify(both.as_bytes(), &origin).unwrap().signed_by;
        assert_eq!(signed_by, vec![old.name().to_owned(), new.name().to_owned()]);
        // After the rotation only the new key is trusted; a note also signed by an unknown key
        // still verifies by the known one.
        let after = CheckpointVerifier::new(&[new.vkey()]).unwrap();
        assert!(after.verify(by_old.as_bytes(), &origin).is_err());
        assert_eq!(after.verify(both.as_bytes(), &origin).unwrap().signed_by, vec![new.name().to_owned()]);
        // A bad signature by a known key is an error even next to a good one.
        let mut forged = new_sig.clone().into_bytes();
        let pos = forged.len() - 5;
        forged[pos] = if forged[pos] == b'A' { b'B' } else { b'A' };
        let bad = format!("{by_old}{}", String::from_utf8(forged).unwrap());
        assert!(verifier.verify(bad.as_bytes(), &origin).is_err());
    }

    #[test]
    fn conflicting_keys_are_refused() {
        assert!(CheckpointVerifier::new(&[]).is_err());
        assert!(CheckpointVerifier::new(&["nonsense".to_owned()]).is_err());
    }
}
