//! `GatewayConfig::load`: a TOML file covering every section, `JPKI_GATEWAY_*` overrides, and
//! the refusals (unknown keys, bad tenants), each naming the key. Environment variables are
//! process-global: every case runs inside a `figment::Jail` (which serialises them and restores
//! the environment).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]
// figment::Jail closures return figment's large error type.
#![allow(clippy::result_large_err)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Jail;
use jpki_gateway::GatewayConfig;
use jpki_gateway::settings::{AnchorSettings, ListSettings, PolicySettings, TenantSettings, TlsFiles};

const FULL: &str = r#"
listen = "0.0.0.0:6443"
plaintext = false
data_dir = "/var/lib/jpki-gateway"

[tls]
certificate = "/etc/jpki-gateway/tls/tls.crt"
private_key = "/etc/jpki-gateway/tls/tls.key"

[limits]
request_timeout_ms = 2500
max_concurrent_requests = 64
drain_timeout_seconds = 7

[challenges]
ttl_seconds = 90

[links]
auth_verification_max_age_seconds = 120
signature_verification_max_age_seconds = 3600
verification_retention_seconds = 172800

[trust]
crl_files = ["/etc/jpki-gateway/crl", "/etc/jpki-gateway/extra.crl"]
refresh_interval_seconds = 300
crl_grace_seconds = 3600

[[trust.anchors]]
kind = "signing_card"
path = "/etc/jpki-gateway/anchors/signing-card.pem"

[[trust.anchors]]
kind = "auth_phone"
path = "/etc/jpki-gateway/anchors/auth-phone.pem"

[[trust.policies]]
kind = "auth_phone"
oid = "1.2.392.200149.8.5.1.99.2"

[[trust.lists]]
name = "signing-card"
source = "http://crl.example.invalid/signing-card.crl"

[[trust.lists]]
name = "auth-card"
source = "/var/lib/jpki-gateway/lists/auth-card.crl"

[redis]
url = "redis://redis-primary:6379/0"
prefix = "bank-gw:"
require_durable = false

[audit]
platform = "gateway.bank.example"
signing_key_file = "/etc/jpki-gateway/audit/signing.key"
previous_verifier_keys = []

[audit.postgres]
url = "postgres://gateway:pg-secret@archive-primary:5432/audit"

[[tenants]]
id = "example-bank"
api_key_sha256 = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
four_fields = ["name", "date_of_birth", "address", "sex"]

[[tenants]]
id = "example.insurer_2"
api_key_sha256 = "ee70e69213a1ea2c40f51293f88f36c961eb3020106ab30531751c732236e5e8"
"#;

const TENANT: &str = r#"
listen = "127.0.0.1:0"
plaintext = true

[[tenants]]
id = "bank-a"
api_key = "key-a"
"#;

fn file(jail: &mut Jail, name: &str, contents: &str) -> PathBuf {
    jail.create_file(name, contents).unwrap();
    jail.directory().join(name)
}

fn refused(path: Option<&Path>) -> String {
    match GatewayConfig::load(path) {
        Ok(config) => panic!("accepted: {config:?}"),
        Err(error) => format!("{error:#}"),
    }
}

#[test]
fn a_file_with_every_section_is_read_and_the_environment_overrides_it() {
    Jail::expect_with(|jail| {
        let path = file(jail, "gateway.toml", FULL);
        let config = GatewayConfig::load(Some(&path)).unwrap();
        assert_eq!(config.listen, "0.0.0.0:6443".parse::<SocketAddr>().unwrap());
        assert!(!config.plaintext);
        assert_eq!(config.data_dir, PathBuf::from("/var/lib/jpki-gateway"));
        assert_eq!(
            config.tls,
            Some(TlsFiles {
                certificate: "/etc/jpki-gateway/tls/tls.crt".into(),
                private_key: "/etc/jpki-gateway/tls/tls.key".into(),
                client_ca: None,
            })
        );
        assert_eq!(
            (
                config.limits.request_timeout_ms,
                config.limits.max_concurrent_requests,
                config.limits.drain_timeout_seconds
            ),
            (2500, 64, 7)
        );
        assert_eq!(config.audit.platform, "gateway.bank.example");
        assert_eq!(config.audit.signing_key_file, Some(PathBuf::from("/etc/jpki-gateway/audit/signing.key")));
        assert_eq!(config.challenges.ttl_seconds, 90);
        assert_eq!(config.links.auth_verification_max_age_seconds, 120);
        assert_eq!(config.links.signature_verification_max_age_seconds, 3600);
        assert_eq!(config.links.verification_retention_seconds, 172_800);
        assert_eq!(
            config.trust.crl_files,
            [PathBuf::from("/etc/jpki-gateway/crl"), PathBuf::from("/etc/jpki-gateway/extra.crl")]
        );
        assert_eq!((config.trust.refresh_interval_seconds, config.trust.crl_grace_seconds), (300, 3600));
        assert_eq!(
            config.trust.anchors,
            [
                AnchorSettings {
                    kind: "signing_card".into(),
                    path: "/etc/jpki-gateway/anchors/signing-card.pem".into()
                },
                AnchorSettings { kind: "auth_phone".into(), path: "/etc/jpki-gateway/anchors/auth-phone.pem".into() },
            ]
        );
        assert_eq!(
            config.trust.policies,
            [PolicySettings { kind: "auth_phone".into(), oid: "1.2.392.200149.8.5.1.99.2".into() }]
        );
        assert_eq!(
            config.trust.lists,
            [
                ListSettings {
                    name: "signing-card".into(),
                    source: "http://crl.example.invalid/signing-card.crl".into()
                },
                ListSettings { name: "auth-card".into(), source: "/var/lib/jpki-gateway/lists/auth-card.crl".into() },
            ]
        );
        assert_eq!(
            config.tenants,
            [
                TenantSettings {
                    id: "example-bank".into(),
                    api_key_sha256: Some("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08".into()),
                    api_key: None,
                    four_fields: ["name", "date_of_birth", "address", "sex"].map(String::from).to_vec(),
                    ..TenantSettings::default()
                },
                TenantSettings {
                    id: "example.insurer_2".into(),
                    api_key_sha256: Some("ee70e69213a1ea2c40f51293f88f36c961eb3020106ab30531751c732236e5e8".into()),
                    api_key: None,
                    four_fields: Vec::new(),
                    ..TenantSettings::default()
                },
            ]
        );

        let redis = config.redis.clone().unwrap();
        assert_eq!(
            (redis.url.as_str(), redis.prefix.as_str(), redis.require_durable),
            ("redis://redis-primary:6379/0", "bank-gw:", false)
        );
        assert!(!format!("{redis:?}").contains("redis-primary"), "the URL (it may hold a password) is not logged");
        let postgres = config.audit.postgres.clone().unwrap();
        assert_eq!(postgres.url, "postgres://gateway:pg-secret@archive-primary:5432/audit");
        assert!(!format!("{config:?}").contains("pg-secret"), "the archive's URL is not logged either");

        // The environment overrides single keys, nested ones with `__`; the rest stays.
        jail.set_env("JPKI_GATEWAY_LISTEN", "127.0.0.1:7000");
        jail.set_env("JPKI_GATEWAY_LIMITS__MAX_CONCURRENT_REQUESTS", "8");
        jail.set_env("JPKI_GATEWAY_TLS__CERTIFICATE", "/run/secrets/tls.crt");
        jail.set_env("JPKI_GATEWAY_TRUST__CRL_GRACE_SECONDS", "0");
        jail.set_env("JPKI_GATEWAY_REDIS__URL", "redis://:secret@redis-primary:6379/1");
        let overridden = GatewayConfig::load(Some(&path)).unwrap();
        assert_eq!(overridden.listen, "127.0.0.1:7000".parse::<SocketAddr>().unwrap());
        assert_eq!(overridden.limits.max_concurrent_requests, 8);
        assert_eq!(overridden.limits.request_timeout_ms, 2500);
        let tls = overridden.tls.clone().unwrap();
        assert_eq!(tls.certificate, PathBuf::from("/run/secrets/tls.crt"));
        assert_eq!(tls.private_key, PathBuf::from("/etc/jpki-gateway/tls/tls.key"));
        assert_eq!(overridden.trust.crl_grace_seconds, 0);
        let overridden_redis = overridden.redis.clone().unwrap();
        assert_eq!(overridden_redis.url, "redis://:secret@redis-primary:6379/1");
        assert_eq!(overridden_redis.prefix, "bank-gw:");
        let expected = GatewayConfig {
            listen: overridden.listen,
            limits: overridden.limits.clone(),
            tls: overridden.tls.clone(),
            redis: overridden.redis.clone(),
            trust: jpki_gateway::settings::TrustSettings { crl_grace_seconds: 0, ..config.trust.clone() },
            ..config
        };
        assert_eq!(overridden, expected, "only the overridden keys change");

        // An override the checks refuse is refused as if it were in the file.
        jail.set_env("JPKI_GATEWAY_LIMITS__MAX_CONCURRENT_REQUESTS", "0");
        let error = refused(Some(&path));
        assert!(error.contains("limits.max_concurrent_requests"), "{error}");
        Ok(())
    });
}

#[test]
fn the_environment_alone_is_a_configuration_and_defaults_are_not_served() {
    Jail::expect_with(|jail| {
        // Nothing at all: the default is neither TLS nor plaintext, and has no tenant.
        let error = refused(None);
        assert!(error.contains("tls"), "{error}");
        jail.set_env("JPKI_GATEWAY_PLAINTEXT", "true");
        let error = refused(None);
        assert!(error.starts_with("tenants:"), "{error}");
        jail.set_env("JPKI_GATEWAY_TENANTS", r#"[{id = "bank-a", api_key = "key-a", four_fields = ["name"]}]"#);
        let config = GatewayConfig::load(None).unwrap();
        assert!(config.plaintext);
        assert_eq!(config.tenants.len(), 1);
        assert_eq!(config.tenants[0].four_fields, ["name"]);
        // A missing file is named, not silently replaced by the defaults.
        let missing = jail.directory().join("missing.toml");
        let error = refused(Some(&missing));
        assert!(error.contains("missing.toml"), "{error}");
        Ok(())
    });
}

#[test]
fn unknown_keys_are_refused_with_the_key_named() {
    Jail::expect_with(|jail| {
        for (name, toml, key) in [
            ("top.toml", format!("colour = \"blue\"\n{TENANT}"), "colour"),
            ("limits.toml", format!("{TENANT}\n[limits]\nmax_requests = 3\n"), "max_requests"),
            (
                "tls.toml",
                format!("{TENANT}\n[tls]\ncertificate = \"a\"\nprivate_key = \"b\"\npassword = \"c\"\n"),
                "password",
            ),
            (
                "anchor.toml",
                format!("{TENANT}\n[[trust.anchors]]\nkind = \"signing_card\"\nfile = \"x.pem\"\n"),
                "file",
            ),
            ("tenant.toml", format!("{TENANT}four_field = [\"name\"]\n"), "four_field"),
            ("redis.toml", format!("{TENANT}\n[redis]\nurl = \"redis://r:6379\"\npassword = \"p\"\n"), "password"),
        ] {
            let path = file(jail, name, &toml);
            let error = refused(Some(&path));
            assert!(error.contains(key), "{name}: {error}");
        }
        // Through the environment too.
        let path = file(jail, "good.toml", TENANT);
        GatewayConfig::load(Some(&path)).unwrap();
        jail.set_env("JPKI_GATEWAY_LIMITS__MAX_CONCURENT_REQUESTS", "8");
        let error = refused(Some(&path));
        assert!(error.contains("max_concurent_requests"), "{error}");
        Ok(())
    });
}

#[test]
fn bad_tenants_are_refused() {
    Jail::expect_with(|jail| {
        let key_a_sha256 = hex::encode(ring::digest::digest(&ring::digest::SHA256, b"key-a"));
        let tenant = |id: &str, keys: &str, fields: &str| {
            format!("[[tenants]]\nid = \"{id}\"\n{keys}\nfour_fields = [{fields}]\n")
        };
        let cases = [
            (
                "duplicate key",
                tenant("bank-a", "api_key = \"key-a\"", "") + &tenant("bank-b", "api_key = \"key-a\"", ""),
                "tenants.bank-b: its API key is also another principal's",
            ),
            (
                "duplicate key, once as a digest",
                tenant("bank-a", "api_key = \"key-a\"", "")
                    + &tenant("bank-b", &format!("api_key_sha256 = \"{key_a_sha256}\""), ""),
                "tenants.bank-b: its API key is also another principal's",
            ),
            ("bad id", tenant("bank a!", "api_key = \"key-a\"", ""), "tenants: invalid id \"bank a!\""),
            ("empty id", tenant("", "api_key = \"key-a\"", ""), "tenants: invalid id \"\""),
            ("long id", tenant(&"b".repeat(65), "api_key = \"key-a\"", ""), "tenants: invalid id"),
            (
                "unknown field name",
                tenant("bank-a", "api_key = \"key-a\"", "\"name\", \"nickname\""),
                "tenants.bank-a: unknown field \"nickname\"",
            ),
            (
                "both key forms",
                tenant("bank-a", &format!("api_key = \"key-a\"\napi_key_sha256 = \"{key_a_sha256}\""), ""),
                "tenants.bank-a: set at most one of api_key or api_key_sha256",
            ),
            ("empty key", tenant("bank-a", "api_key = \"\"", ""), "tenants.bank-a: api_key is empty"),
            (
                "digest not hex",
                tenant("bank-a", "api_key_sha256 = \"not-a-digest\"", ""),
                "tenants.bank-a: api_key_sha256 must be 64 hex digits",
            ),
            ("no tenant", String::new(), "tenants: none configured"),
        ];
        for (index, (name, tenants, expected)) in cases.into_iter().enumerate() {
            let toml = format!("listen = \"127.0.0.1:0\"\nplaintext = true\n{tenants}");
            let path = file(jail, &format!("tenants-{index}.toml"), &toml);
            let error = refused(Some(&path));
            assert!(error.contains(expected), "{name}: {error}");
        }
        Ok(())
    });
}

#[test]
fn other_checks_name_their_key() {
    Jail::expect_with(|jail| {
        for (name, section, expected) in [
            ("timeout", "[limits]\nrequest_timeout_ms = 0\n", "limits.request_timeout_ms"),
            ("ttl", "[challenges]\nttl_seconds = 0\n", "challenges.ttl_seconds"),
            ("refresh", "[trust]\nrefresh_interval_seconds = 0\n", "trust.refresh_interval_seconds"),
            ("kind", "[[trust.anchors]]\nkind = \"signing_kard\"\npath = \"a.pem\"\n", "trust.anchors"),
            ("policy", "[[trust.policies]]\nkind = \"phone\"\noid = \"1.2\"\n", "trust.policies"),
            (
                "list",
                "[[trust.lists]]\nname = \"ftp-list\"\nsource = \"ftp://crl.example.invalid/a.crl\"\n",
                "trust.lists ftp-list",
            ),
            ("listen", "", "listen"),
            // Replicas must share the audit log's signing key: no per-pod key made on the fly.
            ("audit-key", "[redis]\nurl = \"redis://r:6379\"\n", "audit.signing_key_file"),
            // Nor the log and its evidence in Redis memory or in one pod: PostgreSQL is required.
            (
                "audit-archive",
                "[redis]\nurl = \"redis://r:6379\"\n[audit]\nsigning_key_file = \"/k\"\n",
                "audit.postgres",
            ),
            ("integrate", "[audit]\nintegrate_interval_seconds = 0\n", "audit.integrate_interval_seconds"),
            ("retention", "[audit]\nretention_days = 0\n", "audit.retention_days"),
        ] {
            let toml = if name == "listen" {
                TENANT.replace("127.0.0.1:0", "not an address")
            } else {
                format!("{TENANT}\n{section}")
            };
            let path = file(jail, &format!("{name}.toml"), &toml);
            let error = refused(Some(&path));
            assert!(error.contains(expected), "{name}: {error}");
        }
        Ok(())
    });
}
