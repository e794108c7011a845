//! No four-field value, document, challenge or key reaches a log line, even at trace level for
//! every crate (tonic, h2, hyper, tower-http included).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{ApplicantData, Indication, IssueChallengeRequest, LinkRequest, VerifyAuthProofRequest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_logs_hold_no_personal_data_documents_or_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path());
    let log_path = dir.path().join("gateway.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let (mut child, address) = spawn_binary(&config, "trace", log.into());
    let pki = jpki_testsupport::testing::pki();
    let holder = pki.holder("h05").unwrap();
    let fields = holder.four_fields().clone();
    let mut client = jpki_api::v1::verification_service_client::VerificationServiceClient::new(channel(address).await);
    let mut links = jpki_api::v1::link_service_client::LinkServiceClient::new(channel(address).await);

    let document = "口座開設申込書 秘密の内容 4111-1111".as_bytes();
    let mut request = cms_request(&pki, "h05", document, document);
    request.applicant = Some(ApplicantData {
        name: fields.name.clone(),
        date_of_birth: "1980-01-02".into(),
        address: fields.address.clone(),
        sex: fields.sex.clone(),
    });
    let signed = client.verify_signature(authed(request, KEY_A)).await.unwrap().into_inner();
    assert_eq!(signed.result.unwrap().indication(), Indication::TotalPassed);
    let issued = client
        .issue_challenge(authed(IssueChallengeRequest { transaction_reference: "tx-private".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    let card = pki.card("h05").unwrap();
    let signature = card.prove(&issued.challenge).unwrap();
    let proof = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id.clone(),
        certificate: card.auth_cert_der().to_vec(),
        signature: signature.clone(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let auth = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner().result.unwrap();
    links
        .link(authed(
            LinkRequest {
                customer_id: "CUST-PRIVATE-77".into(),
                auth_verification_id: auth.verification_id,
                signature_verification_id: String::new(),
            },
            KEY_A,
        ))
        .await
        .unwrap();
    kill_9(&mut child);

    let text = String::from_utf8_lossy(&std::fs::read(&log_path).unwrap()).into_owned();
    assert!(text.contains("VerifyAuthProof"), "the log is empty or unexpected:\n{text}");
    let surname = fields.name.split('\u{3000}').next().unwrap().to_owned();
    let secrets = [
        ("name", fields.name.clone()),
        ("surname", surname),
        ("address", fields.address.clone()),
        ("date of birth", fields.date_of_birth.clone()),
        ("document", "秘密の内容".to_owned()),
        ("API key", KEY_A.to_owned()),
        ("challenge (hex)", hex::encode(&issued.challenge)),
        ("proof (hex)", hex::encode(&signature[..16])),
        ("customer id", "CUST-PRIVATE-77".to_owned()),
        ("transaction reference", "tx-private".to_owned()),
    ];
    for (what, secret) in secrets {
        assert!(!text.contains(&secret), "the log holds the {what}");
    }
    // Byte-escaped forms too (h2/hyper debug-print byte buffers).
    let escaped_key = format!("{:?}", bytes_of(KEY_A));
    assert!(!text.contains(&escaped_key[1..escaped_key.len() - 1]), "the log holds the API key bytes");
}

fn bytes_of(text: &str) -> String {
    text.bytes().map(|byte| std::ascii::escape_default(byte).to_string()).collect()
}
