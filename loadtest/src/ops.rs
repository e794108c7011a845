//! The operations: one call of each kind against the gateway, with the time of every RPC.

use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::bail;
use jpki_api::v1::raw_signature::Signed;
use jpki_api::v1::status_service_client::StatusServiceClient;
use jpki_api::v1::verification_service_client::VerificationServiceClient;
use jpki_api::v1::verify_signature_request::Signature;
use jpki_api::v1::{
    BusinessPurpose, CheckStatusRequest, CmsSignature, HashAlgorithm, Indication, IssueChallengeRequest, RawSignature,
    RevocationStatus, VerificationResult, VerifyAuthProofRequest, VerifySignatureRequest,
};
use tonic::metadata::{Ascii, MetadataValue};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use crate::target::{Pick, Target};

/// What one operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// VerifySignature of a CMS (detached content, signed attributes, certificate embedded) over
    /// the form.
    VerifySignature,
    /// VerifySignature of a raw PKCS#1 v1.5 signature over the form.
    VerifySignatureRaw,
    /// IssueChallenge, the card's proof, VerifyAuthProof: timed as one operation.
    Login,
    /// VerifyAuthProof alone: the challenge was issued and proved before, outside the timing.
    VerifyAuth,
    /// IssueChallenge alone (the challenge is never proved; it expires unused).
    IssueChallenge,
    /// CheckStatus of the card's signing certificate.
    CheckStatus,
    /// grpc.health.v1.Health/Check of the whole server (empty service name): no API key, store or
    /// crypto, so its CPU is the floor that every RPC pays.
    Health,
}

impl Kind {
    /// Every kind, in report order.
    pub const ALL: [Kind; 7] = [
        Kind::VerifySignature,
        Kind::VerifySignatureRaw,
        Kind::Login,
        Kind::VerifyAuth,
        Kind::IssueChallenge,
        Kind::CheckStatus,
        Kind::Health,
    ];

    /// The name on the command line and in the reports.
    pub fn name(self) -> &'static str {
        match self {
            Kind::VerifySignature => "verify-signature",
            Kind::VerifySignatureRaw => "verify-signature-raw",
            Kind::Login => "login",
            Kind::VerifyAuth => "verify-auth",
            Kind::IssueChallenge => "issue-challenge",
            Kind::CheckStatus => "check-status",
            Kind::Health => "health",
        }
    }
}

impl FromStr for Kind {
    type Err = anyhow::Error;

    fn from_str(name: &str) -> anyhow::Result<Kind> {
        match Kind::ALL.into_iter().find(|kind| kind.name() == name) {
            Some(kind) => Ok(kind),
            None => {
                let known: Vec<&str> = Kind::ALL.iter().map(|kind| kind.name()).collect();
                bail!("{name}: not an operation (known: {})", known.join(", "))
            }
        }
    }
}

/// One gRPC method.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rpc {
    /// VerificationService.VerifySignature.
    VerifySignature,
    /// VerificationService.IssueChallenge.
    IssueChallenge,
    /// VerificationService.VerifyAuthProof.
    VerifyAuthProof,
    /// StatusService.CheckStatus.
    CheckStatus,
    /// grpc.health.v1.Health.Check.
    Health,
}

impl Rpc {
    /// The method's name.
    pub fn name(self) -> &'static str {
        match self {
            Rpc::VerifySignature => "VerifySignature",
            Rpc::IssueChallenge => "IssueChallenge",
            Rpc::VerifyAuthProof => "VerifyAuthProof",
            Rpc::CheckStatus => "CheckStatus",
            Rpc::Health => "HealthCheck",
        }
    }
}

/// How an answered operation ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// TOTAL_PASSED (CheckStatus: GOOD; health: SERVING).
    Passed,
    /// Anything else, named (`TOTAL_FAILED/REVOKED_NO_POE (certificate_revoked)`): a setup problem.
    NotPassed(String),
}

/// A call that ended with a gRPC status instead of an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The method that failed.
    pub rpc: Rpc,
    /// Its status code.
    pub code: tonic::Code,
}

/// One RPC of an operation.
#[derive(Clone, Copy, Debug)]
pub struct RpcTime {
    /// Which method.
    pub rpc: Rpc,
    /// From its own send to its answer.
    pub took: Duration,
    /// Whether it was answered (not a gRPC error).
    pub ok: bool,
}

/// What one operation did.
#[derive(Debug)]
pub struct Outcome {
    /// Every RPC sent, in order.
    pub rpcs: Vec<RpcTime>,
    /// Login: the card's proof over the challenge, in this process.
    pub card_signing: Option<Duration>,
    /// Time spent inside the operation that is not part of it (verify-auth issuing its challenge
    /// when the prepared pool ran out); the caller subtracts it.
    pub untimed: Duration,
    /// Whether a verify-auth had to issue its own challenge.
    pub pool_miss: bool,
    /// The answer, or the gRPC status that ended it.
    pub result: Result<Verdict, Failure>,
}

impl Outcome {
    fn new() -> Outcome {
        Outcome {
            rpcs: Vec::new(),
            card_signing: None,
            untimed: Duration::ZERO,
            pool_miss: false,
            result: Ok(Verdict::Passed),
        }
    }

    /// Runs one RPC, recording its time; the error becomes this outcome's failure.
    async fn call<T, F>(&mut self, rpc: Rpc, future: F) -> Option<T>
    where
        F: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
    {
        let sent = Instant::now();
        let answer = future.await;
        self.rpcs.push(RpcTime { rpc, took: sent.elapsed(), ok: answer.is_ok() });
        match answer {
            Ok(response) => Some(response.into_inner()),
            Err(status) => {
                self.result = Err(Failure { rpc, code: status.code() });
                None
            }
        }
    }

    fn finish(mut self, verdict: Verdict) -> Outcome {
        self.result = Ok(verdict);
        self
    }
}

/// A request carrying the tenant's API key.
fn authed<T>(message: T, key: &MetadataValue<Ascii>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", key.clone());
    request
}

/// TOTAL_PASSED, or what the result says instead.
fn verdict(result: Option<&VerificationResult>) -> Verdict {
    let Some(result) = result else {
        return Verdict::NotPassed("no result".to_owned());
    };
    if result.indication() == Indication::TotalPassed {
        return Verdict::Passed;
    }
    let reason = result.reason.as_ref().map_or("", |reason| reason.code.as_str());
    Verdict::NotPassed(format!(
        "{}/{} ({reason})",
        result.indication().as_str_name(),
        result.sub_indication().as_str_name()
    ))
}

/// A challenge issued and proved ahead of a verify-auth, for the tenant and card it names.
#[derive(Debug)]
pub struct Prepared {
    /// Who the challenge belongs to.
    pub pick: Pick,
    /// From IssueChallenge.
    pub challenge_id: String,
    /// The card's proof over the challenge.
    pub signature: Vec<u8>,
}

/// IssueChallenge and the card's proof; the RPC is recorded in `outcome`.
async fn issue_and_prove(target: &Arc<Target>, pick: Pick, outcome: &mut Outcome) -> Option<Prepared> {
    let mut client = VerificationServiceClient::new(target.channel(pick).clone());
    let request = authed(IssueChallengeRequest::default(), target.key(pick));
    let issued = outcome.call(Rpc::IssueChallenge, client.issue_challenge(request)).await?;
    let signing = Instant::now();
    // An RSA signature takes hundreds of µs: on a blocking thread, so that it does not hold up the
    // answers of other calls waiting for this runtime worker.
    let card_target = Arc::clone(target);
    let proved = tokio::task::spawn_blocking(move || card_target.card(pick).prove(&issued.challenge)).await;
    outcome.card_signing = Some(signing.elapsed());
    match proved {
        Ok(Ok(signature)) => Some(Prepared { pick, challenge_id: issued.challenge_id, signature }),
        // Signing with a key checked at load does not fail; if it did, it is counted as INTERNAL.
        _ => {
            outcome.result = Err(Failure { rpc: Rpc::IssueChallenge, code: tonic::Code::Internal });
            None
        }
    }
}

/// Prepares one verify-auth call ahead of time (not measured): IssueChallenge and the proof.
pub async fn prepare_auth(target: &Arc<Target>, pick: Pick) -> Result<Prepared, Failure> {
    let mut outcome = Outcome::new();
    match issue_and_prove(target, pick, &mut outcome).await {
        Some(prepared) => Ok(prepared),
        None => Err(outcome.result.err().unwrap_or(Failure { rpc: Rpc::IssueChallenge, code: tonic::Code::Internal })),
    }
}

/// VerifyAuthProof of a prepared challenge.
async fn verify_proof(target: &Target, prepared: Prepared, outcome: &mut Outcome) -> Option<Verdict> {
    let mut client = VerificationServiceClient::new(target.channel(prepared.pick).clone());
    let proof = VerifyAuthProofRequest {
        challenge_id: prepared.challenge_id,
        certificate: target.card(prepared.pick).card.auth_cert_der().to_vec(),
        signature: prepared.signature,
        business_purpose: BusinessPurpose::Login.into(),
    };
    let request = authed(proof, target.key(prepared.pick));
    let answer = outcome.call(Rpc::VerifyAuthProof, client.verify_auth_proof(request)).await?;
    Some(verdict(answer.result.as_ref()))
}

/// Runs one operation of `kind` for `pick` (verify-auth: a prepared challenge when one is given).
pub async fn run(kind: Kind, target: &Arc<Target>, pick: Pick, prepared: Option<Prepared>) -> Outcome {
    let mut outcome = Outcome::new();
    let verdict = match kind {
        Kind::VerifySignature | Kind::VerifySignatureRaw => {
            let material = target.card(pick);
            let signature = if kind == Kind::VerifySignature {
                Signature::Cms(CmsSignature {
                    cms: material.cms.clone(),
                    detached_content: target.form.clone(),
                    certificate: Vec::new(),
                })
            } else {
                Signature::Raw(RawSignature {
                    signature: material.raw_signature.clone(),
                    certificate: material.card.signing_cert_der().to_vec(),
                    signed: Some(Signed::Content(target.form.clone())),
                    hash: HashAlgorithm::Sha256 as i32,
                })
            };
            let request = VerifySignatureRequest {
                signature: Some(signature),
                applicant: None,
                business_purpose: BusinessPurpose::AccountOpening.into(),
            };
            let mut client = VerificationServiceClient::new(target.channel(pick).clone());
            let call = client.verify_signature(authed(request, target.key(pick)));
            outcome.call(Rpc::VerifySignature, call).await.map(|answer| verdict(answer.result.as_ref()))
        }
        Kind::Login => match issue_and_prove(target, pick, &mut outcome).await {
            Some(prepared) => verify_proof(target, prepared, &mut outcome).await,
            None => None,
        },
        Kind::VerifyAuth => {
            let prepared = match prepared {
                Some(prepared) => Some(prepared),
                None => {
                    // The pool ran out: issue here, and leave that time out of the operation's.
                    let started = Instant::now();
                    outcome.pool_miss = true;
                    let prepared = issue_and_prove(target, pick, &mut outcome).await;
                    outcome.untimed = started.elapsed();
                    prepared
                }
            };
            match prepared {
                Some(prepared) => verify_proof(target, prepared, &mut outcome).await,
                None => None,
            }
        }
        Kind::IssueChallenge => {
            let mut client = VerificationServiceClient::new(target.channel(pick).clone());
            let request = authed(IssueChallengeRequest::default(), target.key(pick));
            outcome.call(Rpc::IssueChallenge, client.issue_challenge(request)).await.map(|answer| {
                if answer.challenge.is_empty() {
                    Verdict::NotPassed("no challenge".to_owned())
                } else {
                    Verdict::Passed
                }
            })
        }
        Kind::CheckStatus => {
            let request = CheckStatusRequest { certificates: vec![target.card(pick).signing_id.clone()] };
            let mut client = StatusServiceClient::new(target.channel(pick).clone());
            let call = client.check_status(authed(request, target.key(pick)));
            outcome.call(Rpc::CheckStatus, call).await.map(|answer| {
                let status =
                    answer.statuses.first().and_then(|status| status.revocation.as_ref()).map(|facts| facts.status());
                match status {
                    Some(RevocationStatus::Good) => Verdict::Passed,
                    Some(other) => Verdict::NotPassed(other.as_str_name().to_owned()),
                    None => Verdict::NotPassed("no status".to_owned()),
                }
            })
        }
        Kind::Health => {
            // No API key: the gateway answers health without authentication.
            let mut client = HealthClient::new(target.channel(pick).clone());
            let call = client.check(HealthCheckRequest { service: String::new() });
            outcome.call(Rpc::Health, call).await.map(|answer| match answer.status() {
                ServingStatus::Serving => Verdict::Passed,
                other => Verdict::NotPassed(other.as_str_name().to_owned()),
            })
        }
    };
    match verdict {
        Some(verdict) => outcome.finish(verdict),
        None => outcome,
    }
}

/// A gRPC code as the protocol names it (`RESOURCE_EXHAUSTED`).
pub fn code_name(code: tonic::Code) -> String {
    let camel = format!("{code:?}");
    let mut name = String::new();
    for (index, character) in camel.chars().enumerate() {
        if character.is_ascii_uppercase() && index > 0 {
            name.push('_');
        }
        name.push(character.to_ascii_uppercase());
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_names() {
        assert_eq!(code_name(tonic::Code::ResourceExhausted), "RESOURCE_EXHAUSTED");
        assert_eq!(code_name(tonic::Code::Unavailable), "UNAVAILABLE");
        assert_eq!(code_name(tonic::Code::Ok), "OK");
    }

    #[test]
    fn kinds_round_trip() {
        for kind in Kind::ALL {
            assert_eq!(kind.name().parse::<Kind>().unwrap(), kind);
        }
    }
}
