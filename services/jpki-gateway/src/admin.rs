//! The administration service (`jpki.admin.v1.AdminService`, operators only, on the admin port)
//! and the self-service keys (`jpki.gateway.v1.CredentialService`, any principal, on the shared
//! port): transport over the directory's use cases (`jpki_app::directory`). Every change drops
//! this node's authentication cache at once; other replicas hear of it through Redis.

use std::sync::Arc;

use jpki_api::admin::v1 as admin;
use jpki_api::v1;
use jpki_app::AppError;
use jpki_app::clock::now;
use jpki_app::directory::{
    AdminRefusal, AdminResult, Caller, CredentialRecord, Directory, PolicyDocument, PrincipalRecord, Role,
};
use jpki_app::tenant::Quota;
use tonic::{Request, Response, Status};

use crate::auth::{Access, caller_of};
use crate::decode::bad_request;

/// The longest overlap of a self-service rotation.
const MAX_OVERLAP_SECONDS: u32 = 30 * 86_400;
/// Most platform-log entries per page.
const MAX_LOG_PAGE: u32 = 1000;

/// Both services' shared state: the directory through its access cache.
#[derive(Clone, Debug)]
pub struct AdminApi {
    access: Arc<Access>,
}

impl AdminApi {
    /// The services over `access`.
    pub fn new(access: Arc<Access>) -> Self {
        AdminApi { access }
    }

    /// Runs a directory use case on a blocking thread (the store may block), then drops the
    /// authentication cache when it changed something.
    async fn run<T: Send + 'static>(
        &self,
        changes: bool,
        use_case: impl FnOnce(&Directory) -> AdminResult<T> + Send + 'static,
    ) -> Result<T, Status> {
        let directory = self.access.directory().clone();
        let outcome = tokio::task::spawn_blocking(move || use_case(&directory))
            .await
            .map_err(|_| Status::internal("the call's task failed"))?;
        if changes {
            self.access.invalidate();
        }
        match outcome {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(refusal)) => Err(refusal_status(&refusal)),
            Err(error) => Err(crate::encode::app_error(&error)),
        }
    }

    /// A read, which cannot be refused.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Directory) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, Status> {
        self.run(false, move |directory| read(directory).map(Ok)).await
    }
}

fn refusal_status(refusal: &AdminRefusal) -> Status {
    let message = refusal.to_string();
    match refusal {
        AdminRefusal::NotFound(_) => Status::not_found(message),
        AdminRefusal::AlreadyExists(_) => Status::already_exists(message),
        AdminRefusal::ManagedByConfiguration(_) | AdminRefusal::Offboarded(_) => Status::failed_precondition(message),
        AdminRefusal::Invalid(_) => bad_request("request", &message),
        AdminRefusal::Contended => Status::aborted(message),
    }
}

fn policy_document(policy: Option<admin::TenantPolicy>) -> Result<PolicyDocument, Status> {
    let policy = policy.ok_or_else(|| bad_request("policy", "required"))?;
    let defaults = Quota::default();
    let or_default = |value: u32, default: u32| if value == 0 { default } else { value };
    Ok(PolicyDocument {
        four_fields: policy.four_fields,
        rpcs: policy.rpcs,
        certificate_kinds: policy.certificate_kinds,
        business_purposes: policy.business_purposes,
        requests_per_second: or_default(policy.requests_per_second, defaults.requests_per_second),
        burst: or_default(policy.burst, defaults.burst),
        max_concurrent: or_default(policy.max_concurrent, defaults.max_concurrent),
    })
}

fn principal(record: &PrincipalRecord) -> admin::Principal {
    let state = match record.state {
        jpki_app::directory::PrincipalState::Active => "active",
        jpki_app::directory::PrincipalState::Suspended => "suspended",
        jpki_app::directory::PrincipalState::Offboarded => "offboarded",
    };
    let source = match record.source {
        jpki_app::directory::Source::Configuration => "configuration",
        jpki_app::directory::Source::Api => "api",
    };
    admin::Principal {
        id: record.id.clone(),
        role: record.role.name().to_owned(),
        state: state.to_owned(),
        source: source.to_owned(),
        policy: record.policy.as_ref().map(|policy| admin::TenantPolicy {
            four_fields: policy.four_fields.clone(),
            rpcs: policy.rpcs.clone(),
            certificate_kinds: policy.certificate_kinds.clone(),
            business_purposes: policy.business_purposes.clone(),
            requests_per_second: policy.requests_per_second,
            burst: policy.burst,
            max_concurrent: policy.max_concurrent,
        }),
        auditor_of: record.auditor_of.clone(),
        created_at: record.created_at,
        updated_at: record.updated_at,
        client_spki_sha256: record.client_spki_sha256.clone().unwrap_or_default(),
        require_client_certificate: record.require_client_certificate,
    }
}

/// A key as the API shows it: never the secret or its digest.
pub fn key_info(record: &CredentialRecord, last_used: Option<i64>) -> v1::ApiKeyInfo {
    v1::ApiKeyInfo {
        key_id: record.key_id.clone(),
        principal: record.principal.clone(),
        label: record.label.clone(),
        created_at: record.created_at,
        created_by: record.created_by.clone(),
        expires_at: record.expires_at.unwrap_or(0),
        revoked_at: record.revoked_at.unwrap_or(0),
        last_used_at: last_used.unwrap_or(0),
        usable: record.usable_at(now().0),
    }
}

fn expiry(expires_in_seconds: u32) -> Option<i64> {
    (expires_in_seconds > 0).then(|| now().0.saturating_add(i64::from(expires_in_seconds)))
}

fn keys_of(directory: &Directory, id: &str) -> Result<Vec<v1::ApiKeyInfo>, AppError> {
    Ok(directory.credentials_of(id)?.iter().map(|(record, used)| key_info(record, *used)).collect())
}

#[tonic::async_trait]
impl admin::admin_service_server::AdminService for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<admin::CreateTenantRequest>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let request = request.into_inner();
        let policy = policy_document(request.policy)?;
        let record = self.run(true, move |d| d.create_tenant(&actor, &request.id, policy, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn update_tenant_policy(
        &self,
        request: Request<admin::UpdateTenantPolicyRequest>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let request = request.into_inner();
        let policy = policy_document(request.policy)?;
        let record = self.run(true, move |d| d.update_policy(&actor, &request.id, policy, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn create_principal(
        &self,
        request: Request<admin::CreatePrincipalRequest>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let request = request.into_inner();
        let role = match request.role.as_str() {
            "auditor" => Role::Auditor,
            "operator" => Role::Operator,
            _ => return Err(bad_request("role", "one of auditor, operator (tenants: CreateTenant)")),
        };
        let record =
            self.run(true, move |d| d.create_principal(&actor, &request.id, role, request.auditor_of, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn suspend_principal(
        &self,
        request: Request<admin::PrincipalRef>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let id = request.into_inner().id;
        let record = self.run(true, move |d| d.set_suspended(&actor, &id, true, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn resume_principal(
        &self,
        request: Request<admin::PrincipalRef>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let id = request.into_inner().id;
        let record = self.run(true, move |d| d.set_suspended(&actor, &id, false, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn offboard_principal(
        &self,
        request: Request<admin::PrincipalRef>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let id = request.into_inner().id;
        if id == actor.id() {
            return Err(Status::failed_precondition("an operator cannot offboard itself"));
        }
        let record = self.run(true, move |d| d.offboard(&actor, &id, now().0)).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn set_client_certificate(
        &self,
        request: Request<admin::SetClientCertificateRequest>,
    ) -> Result<Response<admin::Principal>, Status> {
        let actor = caller_of(&request)?;
        let request = request.into_inner();
        let spki = Some(request.spki_sha256).filter(|spki| !spki.is_empty());
        let record = self
            .run(true, move |d| d.set_client_certificate(&actor, &request.id, spki, request.required, now().0))
            .await?;
        Ok(Response::new(principal(&record)))
    }

    async fn get_principal(&self, request: Request<admin::PrincipalRef>) -> Result<Response<admin::Principal>, Status> {
        let id = request.into_inner().id;
        let record = self.run(false, move |d| Ok(d.principal(&id)?.ok_or(AdminRefusal::NotFound(id)))).await?;
        Ok(Response::new(principal(&record)))
    }

    async fn list_principals(
        &self,
        _request: Request<admin::ListPrincipalsRequest>,
    ) -> Result<Response<admin::ListPrincipalsResponse>, Status> {
        let records = self.read(|d| d.principals()).await?;
        Ok(Response::new(admin::ListPrincipalsResponse { principals: records.iter().map(principal).collect() }))
    }

    async fn issue_api_key(
        &self,
        request: Request<admin::IssueApiKeyRequest>,
    ) -> Result<Response<admin::IssueApiKeyResponse>, Status> {
        let actor = caller_of(&request)?;
        let request = request.into_inner();
        let expires_at = expiry(request.expires_in_seconds);
        let issued = self
            .run(true, move |d| d.issue_key(&actor, &request.principal, expires_at, &request.label, now().0))
            .await?;
        Ok(Response::new(admin::IssueApiKeyResponse {
            api_key: issued.key.clone(),
            info: Some(key_info(&issued.record, None)),
        }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<admin::RevokeApiKeyRequest>,
    ) -> Result<Response<v1::ApiKeyInfo>, Status> {
        let actor = caller_of(&request)?;
        let key_id = request.into_inner().key_id;
        let record = self.run(true, move |d| d.revoke_key(&actor, &key_id, None, now().0)).await?;
        Ok(Response::new(key_info(&record, None)))
    }

    async fn list_api_keys(
        &self,
        request: Request<admin::PrincipalRef>,
    ) -> Result<Response<admin::ListApiKeysResponse>, Status> {
        let id = request.into_inner().id;
        let keys = self.read(move |d| keys_of(d, &id)).await?;
        Ok(Response::new(admin::ListApiKeysResponse { keys }))
    }

    async fn list_platform_log(
        &self,
        request: Request<admin::ListPlatformLogRequest>,
    ) -> Result<Response<admin::ListPlatformLogResponse>, Status> {
        let request = request.into_inner();
        let limit = if request.limit == 0 { MAX_LOG_PAGE } else { request.limit.min(MAX_LOG_PAGE) };
        let entries = self.read(move |d| d.platform_log(request.after, limit as usize)).await?;
        let entries = entries
            .into_iter()
            .map(|entry| admin::PlatformLogEntry { sequence: entry.sequence, entry_json: entry.entry })
            .collect();
        Ok(Response::new(admin::ListPlatformLogResponse { entries }))
    }
}

/// The self-service keys of whoever calls.
#[derive(Clone, Debug)]
pub struct CredentialApi {
    api: AdminApi,
}

impl CredentialApi {
    /// The service over `access`.
    pub fn new(access: Arc<Access>) -> Self {
        CredentialApi { api: AdminApi::new(access) }
    }
}

fn own(caller: &Caller) -> String {
    caller.id().to_owned()
}

#[tonic::async_trait]
impl v1::credential_service_server::CredentialService for CredentialApi {
    async fn rotate_api_key(
        &self,
        request: Request<v1::RotateApiKeyRequest>,
    ) -> Result<Response<v1::RotateApiKeyResponse>, Status> {
        let caller = caller_of(&request)?;
        let request = request.into_inner();
        if request.overlap_seconds > MAX_OVERLAP_SECONDS {
            return Err(bad_request("overlap_seconds", &format!("at most {MAX_OVERLAP_SECONDS}")));
        }
        let expires_at = expiry(request.expires_in_seconds);
        let overlap = i64::from(request.overlap_seconds);
        let issued = self
            .api
            .run(true, move |d| d.rotate_own_key(&caller, overlap, expires_at, &request.label, now().0))
            .await?;
        Ok(Response::new(v1::RotateApiKeyResponse {
            api_key: issued.key.clone(),
            info: Some(key_info(&issued.record, None)),
        }))
    }

    async fn list_api_keys(
        &self,
        request: Request<v1::ListApiKeysRequest>,
    ) -> Result<Response<v1::ListApiKeysResponse>, Status> {
        let id = own(&*caller_of(&request)?);
        let keys = self.api.read(move |d| keys_of(d, &id)).await?;
        Ok(Response::new(v1::ListApiKeysResponse { keys }))
    }

    async fn revoke_api_key(
        &self,
        request: Request<v1::RevokeApiKeyRequest>,
    ) -> Result<Response<v1::ApiKeyInfo>, Status> {
        let caller = caller_of(&request)?;
        let key_id = request.into_inner().key_id;
        let owner = own(&caller);
        let record = self.api.run(true, move |d| d.revoke_key(&caller, &key_id, Some(&owner), now().0)).await?;
        Ok(Response::new(key_info(&record, None)))
    }
}
