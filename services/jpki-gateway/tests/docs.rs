//! docs/api.md and deploy/gateway.example.toml stay in step with the API and the code.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::path::PathBuf;

fn repository() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read(relative: &str) -> String {
    std::fs::read_to_string(repository().join(relative)).unwrap()
}

#[test]
fn api_md_names_every_rpc_and_enum_value() {
    let proto = read("proto/jpki/gateway/v1/gateway.proto");
    let api = read("docs/api.md");
    let mut missing = Vec::new();
    for line in proto.lines().map(str::trim) {
        let name = if let Some(rest) = line.strip_prefix("rpc ") {
            rest.split('(').next().unwrap().trim().to_owned()
        } else if line.contains(" = ")
            && line.ends_with(';')
            && line.split(' ').next().unwrap().chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            // An enum value: `NAME = 3;`.
            line.split(' ').next().unwrap().to_owned()
        } else {
            continue;
        };
        if !api.contains(&name) {
            missing.push(name);
        }
    }
    assert!(missing.is_empty(), "docs/api.md does not mention: {missing:?}");
}

#[test]
fn api_md_names_every_gateway_reason_and_violation() {
    let api = read("docs/api.md");
    // The application layer defines every challenge refusal, link refusal and policy refusal.
    let sources = read("services/jpki-app/src/outcome.rs");
    let prefixes = ["CHALLENGE_", "VERIFICATION_", "CERTIFICATE_KIND_NOT_PERMITTED"];
    let mut codes: Vec<&str> =
        sources.split('"').filter(|text| prefixes.iter().any(|prefix| text.starts_with(prefix))).collect();
    codes.sort_unstable();
    codes.dedup();
    assert!(codes.len() >= 8, "found {codes:?}");
    let missing: Vec<_> = codes.into_iter().filter(|code| !api.contains(&format!("`{code}`"))).collect();
    assert!(missing.is_empty(), "docs/api.md does not document: {missing:?}");
}

#[test]
fn the_example_configuration_is_valid() {
    let path = repository().join("deploy/gateway.example.toml");
    let config = jpki_gateway::GatewayConfig::load(Some(&path)).unwrap();
    assert!(!config.plaintext && config.tls.is_some());
    assert_eq!(config.tenants.len(), 2);
    assert_eq!(config.trust.lists.len(), 2);
}

#[test]
fn every_limit_and_quota_key_is_documented_in_the_example_and_api_md() {
    let example = read("deploy/gateway.example.toml");
    let api = read("docs/api.md");
    let limits = serde_json::to_value(jpki_gateway::settings::Limits::default()).unwrap();
    let quota = jpki_gateway::settings::QuotaSettings { requests_per_second: 1, burst: 1, max_concurrent: 1 };
    let quota = serde_json::to_value(quota).unwrap();
    let keys: Vec<String> =
        [limits, quota].iter().flat_map(|value| value.as_object().unwrap().keys().cloned()).collect();
    assert!(keys.len() >= 8, "{keys:?}");
    let missing: Vec<_> = keys
        .iter()
        .filter(|key| !example.contains(&format!("{key} = ")) || !api.contains(&format!("`{key}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "not in deploy/gateway.example.toml (as `key = `) or docs/api.md (as `key`): {missing:?}"
    );
}

/// Every key of a tenant (its policy and quota included) is in the example configuration and in
/// docs/api.md.
#[test]
fn every_tenant_key_is_documented() {
    use jpki_gateway::settings::{QuotaSettings, TenantSettings};
    let tenant = TenantSettings {
        api_key_sha256: Some(String::new()),
        rpcs: Some(Vec::new()),
        certificate_kinds: Some(Vec::new()),
        business_purposes: Some(Vec::new()),
        quota: Some(QuotaSettings { requests_per_second: 1, burst: 1, max_concurrent: 1 }),
        ..TenantSettings::with_key("t", "k")
    };
    let value = serde_json::to_value(&tenant).unwrap();
    let (example, api) = (read("deploy/gateway.example.toml"), read("docs/api.md"));
    let mut undocumented = Vec::new();
    for (key, value) in value.as_object().unwrap() {
        // A table (the quota) is named `[tenants.KEY]`, then each of its keys.
        let (written, keys): (String, Vec<String>) = match value.as_object() {
            Some(table) => (format!("[tenants.{key}]"), table.keys().map(|key| format!("{key} ")).collect()),
            None => (format!("{key} "), Vec::new()),
        };
        for written in keys.iter().chain([&written]) {
            let name = written.trim();
            if !example.contains(written.as_str()) || !api.contains(&format!("`{name}`")) {
                undocumented.push(name.to_owned());
            }
        }
    }
    assert!(undocumented.is_empty(), "not in deploy/gateway.example.toml or docs/api.md: {undocumented:?}");
}

/// Every RPC of the self-service and admin protos is described in docs/tenancy.md, and every
/// top-level configuration key is in the example configuration.
#[test]
fn tenancy_md_names_every_admin_and_credential_rpc_and_the_example_has_every_key() {
    let tenancy = read("docs/tenancy.md");
    let mut missing = Vec::new();
    for file in ["proto/jpki/admin/v1/admin.proto", "proto/jpki/gateway/v1/credentials.proto"] {
        for line in read(file).lines().map(str::trim) {
            if let Some(rest) = line.strip_prefix("rpc ") {
                let name = rest.split('(').next().unwrap().trim().to_owned();
                if !tenancy.contains(&name) {
                    missing.push(name);
                }
            }
        }
    }
    assert!(missing.is_empty(), "docs/tenancy.md does not mention: {missing:?}");
    let example = read("deploy/gateway.example.toml");
    let config = serde_json::to_value(jpki_gateway::GatewayConfig::default()).unwrap();
    let absent: Vec<_> = config
        .as_object()
        .unwrap()
        .keys()
        .filter(|key| {
            !example.contains(&format!("\n{key} = "))
                && !example.contains(&format!("# {key} = "))
                && !example.contains(&format!("[{key}]"))
                && !example.contains(&format!("[[{key}]]"))
        })
        .cloned()
        .collect();
    assert!(absent.is_empty(), "not in deploy/gateway.example.toml: {absent:?}");
}

/// Every AuditService RPC is in docs/api.md and docs/audit.md, and every `jpkictl audit` command
/// in docs/audit.md.
#[test]
fn the_audit_service_and_commands_are_documented() {
    let (api, audit) = (read("docs/api.md"), read("docs/audit.md"));
    let mut missing = Vec::new();
    for line in read("proto/jpki/audit/v1/audit.proto").lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("rpc ") {
            let name = rest.split('(').next().unwrap().trim().to_owned();
            if !api.contains(&format!("`{name}`")) || !audit.contains(&name) {
                missing.push(name);
            }
        }
    }
    for command in ["audit pull", "audit verify", "audit proof", "audit show", "aics-tlog"] {
        if !audit.contains(command) {
            missing.push(command.to_owned());
        }
    }
    assert!(missing.is_empty(), "not documented: {missing:?}");
}
