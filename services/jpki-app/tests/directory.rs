//! The directory's rules on a real journal store, at chosen instants: key format, expiry,
//! revocation, suspension, the configuration bootstrap (the file wins), rotation.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use jpki_app::FieldPermissions;
use jpki_app::directory::{
    AdminRefusal, AuthRefusal, Caller, ConfiguredPrincipal, Directory, PolicyDocument, Principal, Role,
    configured_key_id, key_digest, key_id_of,
};
use jpki_app::tenant::TenantPolicy;

const NOW: i64 = 1_780_272_000;

fn directory() -> (Directory, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(jpki_store::JournalStore::open(dir.path().join("store.journal")).unwrap());
    (Directory::new(store), dir)
}

fn operator() -> Caller {
    Caller {
        principal: Principal::Operator { id: "ops".into() },
        credential: "config.ops".into(),
        expires_at: None,
        client_spki_sha256: None,
        require_client_certificate: false,
    }
}

fn policy() -> PolicyDocument {
    PolicyDocument::of(FieldPermissions { name: true, ..FieldPermissions::default() }, &TenantPolicy::everything())
}

fn configured(key: &str) -> ConfiguredPrincipal {
    ConfiguredPrincipal {
        id: "bank-a".into(),
        role: Role::Tenant,
        policy: Some(policy()),
        auditor_of: Vec::new(),
        key_sha256: Some(key_digest(key)),
        client_spki_sha256: None,
        require_client_certificate: false,
    }
}

fn no_configured_keys() -> HashMap<String, String> {
    HashMap::new()
}

#[test]
fn keys_have_the_documented_format_and_authenticate_until_expiry() {
    let (directory, _dir) = directory();
    directory.create_tenant(&operator(), "insurer-c", policy(), NOW).unwrap().unwrap();
    let issued = directory.issue_key(&operator(), "insurer-c", Some(NOW + 100), "first", NOW).unwrap().unwrap();
    assert_eq!(key_id_of(&issued.key), Some(issued.record.key_id.as_str()));
    assert_ne!(issued.record.sha256, issued.key, "only the digest is stored");
    let caller = directory.authenticate(&issued.key, &no_configured_keys(), NOW + 99).unwrap().unwrap();
    assert_eq!((caller.id(), caller.role()), ("insurer-c", Role::Tenant));
    assert_eq!(
        directory.authenticate(&issued.key, &no_configured_keys(), NOW + 100).unwrap(),
        Err(AuthRefusal::Expired)
    );
    // The right key id with another secret is unknown, as is anything malformed.
    let forged = format!("jpkigw_{}_{}", issued.record.key_id, "0".repeat(64));
    assert_eq!(directory.authenticate(&forged, &no_configured_keys(), NOW).unwrap(), Err(AuthRefusal::UnknownKey));
    for malformed in ["", "jpkigw_", "jpkigw_zz_00", "Bearer x", &issued.key.to_uppercase()] {
        assert_eq!(
            directory.authenticate(malformed, &no_configured_keys(), NOW).unwrap(),
            Err(AuthRefusal::UnknownKey)
        );
    }
    assert!(matches!(
        directory.issue_key(&operator(), "insurer-c", Some(NOW), "", NOW).unwrap(),
        Err(AdminRefusal::Invalid(_))
    ));
    assert_eq!(
        directory.issue_key(&operator(), "nobody", None, "", NOW).unwrap(),
        Err(AdminRefusal::NotFound("nobody".into()))
    );
}

#[test]
fn revocation_and_suspension_refuse_and_a_resume_restores() {
    let (directory, _dir) = directory();
    directory.create_tenant(&operator(), "insurer-c", policy(), NOW).unwrap().unwrap();
    let first = directory.issue_key(&operator(), "insurer-c", None, "", NOW).unwrap().unwrap();
    let second = directory.issue_key(&operator(), "insurer-c", None, "", NOW).unwrap().unwrap();
    directory.revoke_key(&operator(), &first.record.key_id, None, NOW + 1).unwrap().unwrap();
    assert_eq!(directory.authenticate(&first.key, &no_configured_keys(), NOW + 2).unwrap(), Err(AuthRefusal::Revoked));
    assert!(directory.authenticate(&second.key, &no_configured_keys(), NOW + 2).unwrap().is_ok());
    directory.set_suspended(&operator(), "insurer-c", true, NOW + 3).unwrap().unwrap();
    assert_eq!(
        directory.authenticate(&second.key, &no_configured_keys(), NOW + 4).unwrap(),
        Err(AuthRefusal::PrincipalInactive)
    );
    directory.set_suspended(&operator(), "insurer-c", false, NOW + 5).unwrap().unwrap();
    assert!(directory.authenticate(&second.key, &no_configured_keys(), NOW + 6).unwrap().is_ok());
    // Self-service revocation reaches only the caller's own keys.
    directory.create_tenant(&operator(), "broker-d", policy(), NOW).unwrap().unwrap();
    let other = directory.issue_key(&operator(), "broker-d", None, "", NOW).unwrap().unwrap();
    let caller = directory.authenticate(&second.key, &no_configured_keys(), NOW + 7).unwrap().unwrap();
    assert_eq!(
        directory.revoke_key(&caller, &other.record.key_id, Some("insurer-c"), NOW + 7).unwrap(),
        Err(AdminRefusal::NotFound(other.record.key_id.clone()))
    );
}

#[test]
fn a_rotation_overlaps_then_leaves_only_the_new_key() {
    let (directory, _dir) = directory();
    directory.create_tenant(&operator(), "insurer-c", policy(), NOW).unwrap().unwrap();
    let minted = directory.issue_key(&operator(), "insurer-c", None, "", NOW).unwrap().unwrap();
    let caller = directory.authenticate(&minted.key, &no_configured_keys(), NOW).unwrap().unwrap();
    let rotated = directory.rotate_own_key(&caller, 60, None, "rotation", NOW).unwrap().unwrap();
    assert_eq!(rotated.record.created_by, "insurer-c");
    for at in [NOW, NOW + 59] {
        assert!(directory.authenticate(&minted.key, &no_configured_keys(), at).unwrap().is_ok(), "overlap at {at}");
    }
    assert_eq!(
        directory.authenticate(&minted.key, &no_configured_keys(), NOW + 60).unwrap(),
        Err(AuthRefusal::Expired)
    );
    assert!(directory.authenticate(&rotated.key, &no_configured_keys(), NOW + 60).unwrap().is_ok());
}

#[test]
fn the_configuration_file_wins_and_its_revoked_key_stays_revoked() {
    let (directory, _dir) = directory();
    let configured_keys = |key: &str| HashMap::from([(key_digest(key), configured_key_id("bank-a"))]);
    directory.bootstrap(&[configured("file-key")], NOW).unwrap();
    assert!(directory.authenticate("file-key", &configured_keys("file-key"), NOW).unwrap().is_ok());
    // The API cannot change a file tenant's policy, but may revoke its key ...
    assert_eq!(
        directory.update_policy(&operator(), "bank-a", policy(), NOW).unwrap(),
        Err(AdminRefusal::ManagedByConfiguration("bank-a".into()))
    );
    directory.revoke_key(&operator(), "config.bank-a", None, NOW).unwrap().unwrap();
    // ... which stays revoked across a start with the same file, and a new key in the file replaces it.
    directory.bootstrap(&[configured("file-key")], NOW + 1).unwrap();
    assert_eq!(
        directory.authenticate("file-key", &configured_keys("file-key"), NOW + 1).unwrap(),
        Err(AuthRefusal::Revoked)
    );
    directory.bootstrap(&[configured("new-file-key")], NOW + 2).unwrap();
    assert!(directory.authenticate("new-file-key", &configured_keys("new-file-key"), NOW + 2).unwrap().is_ok());
    // A suspension survives a bootstrap; an unchanged file logs nothing new.
    directory.set_suspended(&operator(), "bank-a", true, NOW + 3).unwrap().unwrap();
    let logged = directory.platform_log(0, 100).unwrap().len();
    directory.bootstrap(&[configured("new-file-key")], NOW + 4).unwrap();
    assert_eq!(directory.platform_log(0, 100).unwrap().len(), logged);
    assert_eq!(
        directory.authenticate("new-file-key", &configured_keys("new-file-key"), NOW + 4).unwrap(),
        Err(AuthRefusal::PrincipalInactive)
    );
}
