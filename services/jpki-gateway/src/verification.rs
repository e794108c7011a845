//! `jpki.gateway.v1.VerificationService`: document signatures (本人確認) and authentication
//! proofs over single-use challenges (資格確認). Decode, call the use case, encode.

use jpki_api::v1;
use jpki_app::tenant::{BusinessPurpose, TenantRpc};
use tonic::{Request, Response, Status};

use crate::auth::{call_of, tenant_of};
use crate::decode::{self, MAX_CERTIFICATE_BYTES, MAX_SIGNATURE_BYTES, MAX_TRANSACTION_REFERENCE};
use crate::encode;
use crate::state::AppState;

/// `jpki.gateway.v1.VerificationService`.
#[derive(Clone)]
pub struct VerificationApi {
    state: AppState,
}

impl VerificationApi {
    /// The service over shared state.
    pub fn new(state: AppState) -> Self {
        VerificationApi { state }
    }
}

fn log_outcome(
    rpc: &str,
    tenant: &str,
    verification_id: &str,
    purpose: BusinessPurpose,
    result: &v1::VerificationResult,
) {
    // Outcome only: never the four fields, the document, the challenge or a key.
    tracing::info!(
        rpc,
        tenant,
        verification_id,
        purpose = purpose.name(),
        indication = result.indication().as_str_name(),
        sub_indication = result.sub_indication().as_str_name(),
        reason = result.reason.as_ref().map_or("", |reason| reason.code.as_str()),
        "verification"
    );
}

#[tonic::async_trait]
impl v1::verification_service_server::VerificationService for VerificationApi {
    async fn verify_signature(
        &self,
        request: Request<v1::VerifySignatureRequest>,
    ) -> Result<Response<v1::VerifySignatureResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let request = request.into_inner();
        let applicant = request.applicant.map(decode::applicant).transpose()?;
        let signature = decode::signature_request(request.signature)?;
        let purpose = decode::business_purpose(request.business_purpose, TenantRpc::VerifySignature, &tenant)?;
        let caller = tenant.clone();
        let outcome = self
            .state
            .run_sized(signature.input_bytes(), move |app| {
                app.verify_signature(&caller, &call, purpose, &signature.as_input(), applicant.as_ref())
            })
            .await?;
        let result = encode::verification(&outcome.verification);
        log_outcome("VerifySignature", tenant.id.as_str(), &outcome.verification.id, purpose, &result);
        let four_fields = outcome.four_fields.as_ref().map(encode::four_fields);
        Ok(Response::new(v1::VerifySignatureResponse { result: Some(result), four_fields }))
    }

    async fn issue_challenge(
        &self,
        request: Request<v1::IssueChallengeRequest>,
    ) -> Result<Response<v1::IssueChallengeResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let request = request.into_inner();
        decode::check_text("transaction_reference", &request.transaction_reference, MAX_TRANSACTION_REFERENCE, false)?;
        let caller = tenant.clone();
        let issued =
            self.state.run(move |app| app.issue_challenge(&caller, &call, request.transaction_reference)).await?;
        tracing::info!(tenant = tenant.id.as_str(), challenge_id = %issued.id, "challenge issued");
        Ok(Response::new(v1::IssueChallengeResponse {
            challenge_id: issued.id,
            challenge: issued.challenge,
            expires_at: Some(encode::timestamp(issued.expires_at)),
        }))
    }

    async fn verify_auth_proof(
        &self,
        request: Request<v1::VerifyAuthProofRequest>,
    ) -> Result<Response<v1::VerifyAuthProofResponse>, Status> {
        let (tenant, call) = (tenant_of(&request)?, call_of(&request)?);
        let request = request.into_inner();
        let challenge_id = decode::challenge_id(&request.challenge_id)?;
        decode::require_bytes("certificate", &request.certificate, MAX_CERTIFICATE_BYTES)?;
        decode::require_bytes("signature", &request.signature, MAX_SIGNATURE_BYTES)?;
        let purpose = decode::business_purpose(request.business_purpose, TenantRpc::VerifyAuthProof, &tenant)?;
        let caller = tenant.clone();
        let outcome = self
            .state
            .run(move |app| {
                app.verify_auth_proof(&caller, &call, purpose, &challenge_id, &request.certificate, &request.signature)
            })
            .await?;
        let result = encode::verification(&outcome.verification);
        log_outcome("VerifyAuthProof", tenant.id.as_str(), &outcome.verification.id, purpose, &result);
        Ok(Response::new(v1::VerifyAuthProofResponse {
            result: Some(result),
            customer_id: outcome.customer_id.unwrap_or_default(),
            transaction_reference: outcome.transaction_reference,
        }))
    }
}
