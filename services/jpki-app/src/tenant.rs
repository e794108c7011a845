//! Who a call runs as: an authenticated tenant, what it may receive, and what it may do.

use jpki_core::CertKind;
use jpki_store::TenantId;

/// The four fields, as named in tenant permissions.
pub const FOUR_FIELDS: [&str; 4] = ["name", "date_of_birth", "address", "sex"];

/// Which of the four fields a tenant may receive (none by default: deny by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldPermissions {
    /// 氏名.
    pub name: bool,
    /// 生年月日.
    pub date_of_birth: bool,
    /// 住所.
    pub address: bool,
    /// 性別.
    pub sex: bool,
}

impl FieldPermissions {
    /// All four fields.
    pub const ALL: FieldPermissions = FieldPermissions { name: true, date_of_birth: true, address: true, sex: true };

    /// The permissions named by [`FOUR_FIELDS`] entries; the first unknown name otherwise.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut fields = FieldPermissions::default();
        for name in names {
            match name.as_ref() {
                "name" => fields.name = true,
                "date_of_birth" => fields.date_of_birth = true,
                "address" => fields.address = true,
                "sex" => fields.sex = true,
                other => return Err(other.to_owned()),
            }
        }
        Ok(fields)
    }

    /// The names of the permitted fields, in [`FOUR_FIELDS`] order.
    pub fn names(&self) -> Vec<&'static str> {
        let flags = [self.name, self.date_of_birth, self.address, self.sex];
        FOUR_FIELDS.iter().zip(flags).filter(|(_, on)| *on).map(|(name, _)| *name).collect()
    }
}

/// The RPCs of the tenant role (a tenant's policy names the ones it may call).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TenantRpc {
    /// VerificationService/VerifySignature.
    VerifySignature,
    /// VerificationService/IssueChallenge.
    IssueChallenge,
    /// VerificationService/VerifyAuthProof.
    VerifyAuthProof,
    /// LinkService/Link.
    Link,
    /// LinkService/Unlink.
    Unlink,
    /// LinkService/LookupLink.
    LookupLink,
    /// StatusService/CheckStatus.
    CheckStatus,
    /// StatusService/WatchRevocations.
    WatchRevocations,
}

impl TenantRpc {
    /// Every tenant RPC, in a stable order.
    pub const ALL: [TenantRpc; 8] = [
        TenantRpc::VerifySignature,
        TenantRpc::IssueChallenge,
        TenantRpc::VerifyAuthProof,
        TenantRpc::Link,
        TenantRpc::Unlink,
        TenantRpc::LookupLink,
        TenantRpc::CheckStatus,
        TenantRpc::WatchRevocations,
    ];

    /// The RPC's method name, as in configuration and in the gRPC path.
    pub fn name(self) -> &'static str {
        match self {
            TenantRpc::VerifySignature => "VerifySignature",
            TenantRpc::IssueChallenge => "IssueChallenge",
            TenantRpc::VerifyAuthProof => "VerifyAuthProof",
            TenantRpc::Link => "Link",
            TenantRpc::Unlink => "Unlink",
            TenantRpc::LookupLink => "LookupLink",
            TenantRpc::CheckStatus => "CheckStatus",
            TenantRpc::WatchRevocations => "WatchRevocations",
        }
    }

    /// The RPC of a method name.
    pub fn from_name(name: &str) -> Option<TenantRpc> {
        TenantRpc::ALL.into_iter().find(|rpc| rpc.name() == name)
    }

    /// The RPC of a gRPC path (`/jpki.gateway.v1.<Service>/<Method>`), if it is a tenant RPC.
    pub fn from_path(path: &str) -> Option<TenantRpc> {
        let method = path.strip_prefix("/jpki.gateway.v1.")?;
        let (service, method) = method.split_once('/')?;
        let rpc = TenantRpc::from_name(method)?;
        let expected = match rpc {
            TenantRpc::VerifySignature | TenantRpc::IssueChallenge | TenantRpc::VerifyAuthProof => {
                "VerificationService"
            }
            TenantRpc::Link | TenantRpc::Unlink | TenantRpc::LookupLink => "LinkService",
            TenantRpc::CheckStatus | TenantRpc::WatchRevocations => "StatusService",
        };
        (service == expected).then_some(rpc)
    }
}

/// Why a tenant verifies: recorded with every verification, and checked against the RPC.
///
/// (The core's `Purpose` is what a certificate is for, signing or authentication; this is what
/// the business is doing.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BusinessPurpose {
    /// 本人確認: account opening, by a signed application (VerifySignature).
    AccountOpening,
    /// 資格確認: login, by an authentication proof (VerifyAuthProof).
    Login,
    /// A remittance: authorised by a proof (VerifyAuthProof) or a signed instruction
    /// (VerifySignature).
    Remittance,
    /// Periodic re-verification of a customer: a new proof or signature.
    PeriodicReverification,
}

impl BusinessPurpose {
    /// Every purpose, in a stable order.
    pub const ALL: [BusinessPurpose; 4] = [
        BusinessPurpose::AccountOpening,
        BusinessPurpose::Login,
        BusinessPurpose::Remittance,
        BusinessPurpose::PeriodicReverification,
    ];

    /// The name used in configuration, records and logs.
    pub fn name(self) -> &'static str {
        match self {
            BusinessPurpose::AccountOpening => "account_opening",
            BusinessPurpose::Login => "login",
            BusinessPurpose::Remittance => "remittance",
            BusinessPurpose::PeriodicReverification => "periodic_reverification",
        }
    }

    /// The purpose of a name.
    pub fn from_name(name: &str) -> Option<BusinessPurpose> {
        BusinessPurpose::ALL.into_iter().find(|purpose| purpose.name() == name)
    }

    /// Whether the purpose may be given with this RPC (the table in docs/api.md and in
    /// gateway.proto's `BusinessPurpose`): only the two verifications take a purpose.
    pub fn allowed_with(self, rpc: TenantRpc) -> bool {
        match self {
            BusinessPurpose::AccountOpening => rpc == TenantRpc::VerifySignature,
            BusinessPurpose::Login => rpc == TenantRpc::VerifyAuthProof,
            BusinessPurpose::Remittance | BusinessPurpose::PeriodicReverification => {
                matches!(rpc, TenantRpc::VerifySignature | TenantRpc::VerifyAuthProof)
            }
        }
    }
}

/// A tenant's rate and concurrency quota, per replica (docs/tenancy.md: the share per replica).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quota {
    /// Sustained calls per second (every RPC of the tenant role counts one).
    pub requests_per_second: u32,
    /// Calls allowed at once above the sustained rate (the bucket's size).
    pub burst: u32,
    /// Calls of the tenant in progress at once (streams included, while open).
    pub max_concurrent: u32,
}

impl Default for Quota {
    fn default() -> Self {
        Quota { requests_per_second: 500, burst: 1000, max_concurrent: 128 }
    }
}

/// What a tenant may do: its RPCs, certificate kinds, business purposes and quota.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantPolicy {
    /// The RPCs it may call; any other tenant RPC answers PERMISSION_DENIED.
    pub rpcs: Vec<TenantRpc>,
    /// The certificate kinds it may verify; another kind is a result (the kind is known only
    /// after parsing), not an RPC error.
    pub certificate_kinds: Vec<CertKind>,
    /// The business purposes it may give.
    pub business_purposes: Vec<BusinessPurpose>,
    /// Its quota.
    pub quota: Quota,
}

impl TenantPolicy {
    /// Everything a tenant can be allowed, at the default quota (the configuration file's
    /// default for a tenant that names no policy).
    pub fn everything() -> Self {
        TenantPolicy {
            rpcs: TenantRpc::ALL.to_vec(),
            certificate_kinds: CertKind::ALL.to_vec(),
            business_purposes: BusinessPurpose::ALL.to_vec(),
            quota: Quota::default(),
        }
    }

    /// Whether the tenant may call `rpc`.
    pub fn allows_rpc(&self, rpc: TenantRpc) -> bool {
        self.rpcs.contains(&rpc)
    }

    /// Whether the tenant may verify certificates of `kind`.
    pub fn allows_kind(&self, kind: CertKind) -> bool {
        self.certificate_kinds.contains(&kind)
    }

    /// Whether the tenant may give `purpose`.
    pub fn allows_purpose(&self, purpose: BusinessPurpose) -> bool {
        self.business_purposes.contains(&purpose)
    }
}

/// An authenticated tenant: every use case runs as one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant id: the first part of every stored key.
    pub id: TenantId,
    /// Its four-field permissions.
    pub fields: FieldPermissions,
    /// What it may do.
    pub policy: TenantPolicy,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every purpose against every RPC: the table of docs/api.md, and nothing else allowed.
    #[test]
    fn each_purpose_is_allowed_with_its_verifications_only() {
        use BusinessPurpose as P;
        use TenantRpc as R;
        let allowed = [
            (P::AccountOpening, R::VerifySignature),
            (P::Login, R::VerifyAuthProof),
            (P::Remittance, R::VerifySignature),
            (P::Remittance, R::VerifyAuthProof),
            (P::PeriodicReverification, R::VerifySignature),
            (P::PeriodicReverification, R::VerifyAuthProof),
        ];
        for purpose in P::ALL {
            for rpc in R::ALL {
                let expected = allowed.contains(&(purpose, rpc));
                assert_eq!(purpose.allowed_with(rpc), expected, "{} with {}", purpose.name(), rpc.name());
            }
        }
    }

    #[test]
    fn purposes_are_named_both_ways() {
        for purpose in BusinessPurpose::ALL {
            assert_eq!(BusinessPurpose::from_name(purpose.name()), Some(purpose));
        }
        assert_eq!(BusinessPurpose::from_name("LOGIN"), None);
    }
}
