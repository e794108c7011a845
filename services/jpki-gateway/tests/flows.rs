//! Account opening, login, linking and revocation events over a real socket, as a bank runs them.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

mod common;

use common::*;
use jpki_api::v1::BusinessPurpose;
use jpki_api::v1::{
    ApplicantData, CertificateId, CheckStatusRequest, FieldVerdict, Indication, IssueChallengeRequest, LinkRequest,
    LookupLinkRequest, SubIndication, UnlinkRequest, VerifyAuthProofRequest, WatchRevocationsRequest,
    lookup_link_request::Key,
};
use tonic::Code;
use tonic_types::StatusExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_opening_compares_typed_data_and_respects_field_permissions() {
    let running = start().await;
    let mut client = running.verification().await;
    let holder = running.pki.holder("h01").unwrap();
    let fields = holder.four_fields().clone();
    let mut request = cms_request(&running.pki, "h01", FORM, FORM);
    request.applicant = Some(ApplicantData {
        name: fields.name.clone(),
        // Typed with a space where the register has none, or none where it has one: normalised.
        address: format!("{} ", fields.address),
        date_of_birth: "1900-01-01".into(),
        sex: fields.sex.clone(),
    });
    let response = client.verify_signature(authed(request.clone(), KEY_A)).await.unwrap().into_inner();
    let result = response.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    let four = response.four_fields.unwrap();
    assert_eq!(four.name.as_ref().unwrap().verdict(), FieldVerdict::Exact);
    assert_eq!(four.address.as_ref().unwrap().verdict(), FieldVerdict::EqualAfterNormalisation);
    assert_eq!(four.date_of_birth.as_ref().unwrap().verdict(), FieldVerdict::Differs);
    assert_eq!(four.sex.as_ref().unwrap().verdict(), FieldVerdict::Exact);
    // Typed beside the raw value: h01 was born 昭和 (raw 3YYYYMMDD).
    let date = four.date_of_birth.as_ref().unwrap();
    assert_eq!(date.raw, fields.date_of_birth);
    assert_eq!(date.era(), jpki_api::v1::Era::Showa, "{date:?}");
    assert_eq!(
        format!("{}{:04}{:02}{:02}", date.era, date.year, date.month, date.day),
        fields.date_of_birth,
        "{date:?}"
    );
    let sex = four.sex.as_ref().unwrap();
    assert_eq!((sex.raw.as_str(), sex.value as u8 + b'0'), (fields.sex.as_str(), fields.sex.as_bytes()[0]));

    // Tenant B may receive the name only: the other fields are absent, not compared.
    let response = client.verify_signature(authed(request, KEY_B)).await.unwrap().into_inner();
    let four = response.four_fields.unwrap();
    assert!(four.name.is_some());
    assert!(four.address.is_none() && four.date_of_birth.is_none() && four.sex.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_without_a_valid_api_key_are_unauthenticated() {
    let running = start().await;
    let mut client = running.verification().await;
    let status = client.issue_challenge(IssueChallengeRequest::default()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    let status = client.issue_challenge(authed(IssueChallengeRequest::default(), "wrong")).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(status.message(), "the API key is not valid (unknown, expired, revoked, or its principal suspended)");
    let mut links = running.links().await;
    let status = links.lookup_link(LookupLinkRequest { key: Some(Key::CustomerId("c".into())) }).await.unwrap_err();
    assert_eq!(status.code(), Code::Unauthenticated);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn challenges_are_single_use_and_tenant_bound() {
    // The default lifetime: a loaded machine must not expire the challenges this test uses.
    let running = start().await;
    let mut client = running.verification().await;
    let card = running.pki.card("h02").unwrap();

    let response = login(&mut client, &running.pki, "h02", KEY_A, "tx-42").await;
    let result = response.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalPassed, "{result:?}");
    assert_eq!(response.transaction_reference, "tx-42");
    assert_eq!(response.customer_id, "", "nothing linked yet");

    // Replay: the same challenge and proof again.
    let issued = client
        .issue_challenge(authed(IssueChallengeRequest { transaction_reference: "tx-43".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    let proof = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id.clone(),
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&issued.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    // Another tenant cannot use it (and cannot tell that it exists) ...
    let foreign = client.verify_auth_proof(authed(proof.clone(), KEY_B)).await.unwrap().into_inner();
    let result = foreign.result.unwrap();
    assert_eq!(result.sub_indication(), SubIndication::SigConstraintsFailure);
    assert_eq!(result.reason.unwrap().code, "CHALLENGE_UNKNOWN");
    // ... its owner can, once.
    let first = client.verify_auth_proof(authed(proof.clone(), KEY_A)).await.unwrap().into_inner();
    assert_eq!(first.result.unwrap().indication(), Indication::TotalPassed);
    let replay = client.verify_auth_proof(authed(proof, KEY_A)).await.unwrap().into_inner();
    let result = replay.result.unwrap();
    assert_eq!(result.indication(), Indication::TotalFailed);
    assert_eq!(result.sub_indication(), SubIndication::SigConstraintsFailure);
    assert_eq!(result.reason.unwrap().code, "CHALLENGE_ALREADY_USED");

    // A proof over other bytes than the challenge is a signature failure (and burns the challenge).
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let wrong = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(b"something else").unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let result = client.verify_auth_proof(authed(wrong, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.sub_indication(), SubIndication::SigCryptoFailure);

    // Malformed ids are errors, not results.
    let status = client
        .verify_auth_proof(authed(VerifyAuthProofRequest { challenge_id: "xyz".into(), ..Default::default() }, KEY_A))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "challenge_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn links_need_a_fresh_passed_authentication_of_the_same_tenant() {
    let running = start().await;
    let mut client = running.verification().await;
    let mut links = running.links().await;
    let link = |auth: &str, signature: &str| LinkRequest {
        customer_id: "CUST-0001".into(),
        auth_verification_id: auth.into(),
        signature_verification_id: signature.into(),
    };

    // No proof at all: a made-up id.
    let status = links.link(authed(link("00112233445566778899aabbccddeeff", ""), KEY_A)).await.unwrap_err();
    assert_eq!(status.code(), Code::FailedPrecondition);
    let failure = status.get_details_precondition_failure().unwrap();
    assert_eq!(failure.violations[0].r#type, "VERIFICATION_UNKNOWN");

    // A signature verification is not an authentication.
    let signed = client.verify_signature(authed(cms_request(&running.pki, "h01", FORM, FORM), KEY_A)).await.unwrap();
    let signature_id = signed.into_inner().result.unwrap().verification_id;
    let status = links.link(authed(link(&signature_id, ""), KEY_A)).await.unwrap_err();
    assert_eq!(status.get_details_precondition_failure().unwrap().violations[0].r#type, "VERIFICATION_WRONG_KIND");

    // A failed authentication cannot back a link.
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    let card = running.pki.card("h01").unwrap();
    let failed = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(b"not the challenge").unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let failed = client.verify_auth_proof(authed(failed, KEY_A)).await.unwrap().into_inner();
    let failed_id = failed.result.unwrap().verification_id;
    let status = links.link(authed(link(&failed_id, ""), KEY_A)).await.unwrap_err();
    assert_eq!(status.get_details_precondition_failure().unwrap().violations[0].r#type, "VERIFICATION_NOT_PASSED");

    // A passed one does, with the account opening's signature verification cited.
    let passed = login(&mut client, &running.pki, "h01", KEY_A, "").await;
    let auth_result = passed.result.unwrap();
    let auth_id = auth_result.verification_id.clone();
    // Tenant B cannot use tenant A's verification.
    let status = links.link(authed(link(&auth_id, ""), KEY_B)).await.unwrap_err();
    assert_eq!(status.get_details_precondition_failure().unwrap().violations[0].r#type, "VERIFICATION_UNKNOWN");
    let linked = links.link(authed(link(&auth_id, &signature_id), KEY_A)).await.unwrap().into_inner();
    assert!(linked.created);
    let certificate = auth_result.certificate.unwrap();
    assert_eq!(linked.certificate.as_ref(), certificate.id.as_ref());
    assert_eq!(linked.not_after, certificate.not_after);
    // Idempotent for the same customer; refused for another.
    let again = links.link(authed(link(&auth_id, ""), KEY_A)).await.unwrap().into_inner();
    assert!(!again.created);
    let mut other = link(&auth_id, "");
    other.customer_id = "CUST-0002".into();
    assert_eq!(links.link(authed(other, KEY_A)).await.unwrap_err().code(), Code::AlreadyExists);

    // The next login finds the customer; tenant B's login of the same card does not.
    let next = login(&mut client, &running.pki, "h01", KEY_A, "remittance-1").await;
    assert_eq!(next.customer_id, "CUST-0001");
    assert_eq!(next.transaction_reference, "remittance-1");
    let foreign = login(&mut client, &running.pki, "h01", KEY_B, "").await;
    assert_eq!(foreign.customer_id, "");

    // Lookup both ways, then unlink.
    let by_customer = links
        .lookup_link(authed(LookupLinkRequest { key: Some(Key::CustomerId("CUST-0001".into())) }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_customer.links.len(), 1);
    let id = certificate.id.clone().unwrap();
    let by_certificate = links
        .lookup_link(authed(LookupLinkRequest { key: Some(Key::Certificate(id.clone())) }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(by_certificate.links[0].customer_id, "CUST-0001");
    let hidden = links
        .lookup_link(authed(LookupLinkRequest { key: Some(Key::Certificate(id.clone())) }, KEY_B))
        .await
        .unwrap()
        .into_inner();
    assert!(hidden.links.is_empty(), "tenant B sees nothing of tenant A");
    let removed = links
        .unlink(authed(UnlinkRequest { customer_id: "CUST-0001".into(), certificate: Some(id) }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(removed.removed, 1);
    let after = login(&mut client, &running.pki, "h01", KEY_A, "").await;
    assert_eq!(after.customer_id, "");

    // Malformed: a bad certificate id is a field violation.
    let status = links
        .lookup_link(authed(
            LookupLinkRequest {
                key: Some(Key::Certificate(CertificateId { ca_key_id: "zz".into(), serial: "01".into() })),
            },
            KEY_A,
        ))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(status.get_details_bad_request().unwrap().field_violations[0].field, "certificate.ca_key_id");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocation_reaches_the_watch_stream_and_check_status() {
    use tokio_stream::StreamExt;
    let running = start_with_casim(|_| {}).await;
    wait_serving(running.address).await;
    let mut client = running.verification().await;
    let mut links = running.links().await;
    let mut status = running.status().await;

    // Account opening and first login of h03; link the customer.
    let signed = client.verify_signature(authed(cms_request(&running.pki, "h03", FORM, FORM), KEY_A)).await.unwrap();
    let signing = signed.into_inner().result.unwrap();
    assert_eq!(signing.indication(), Indication::TotalPassed, "{signing:?}");
    let auth = login(&mut client, &running.pki, "h03", KEY_A, "").await.result.unwrap();
    assert_eq!(auth.indication(), Indication::TotalPassed, "{auth:?}");
    let link = LinkRequest {
        customer_id: "CUST-0003".into(),
        auth_verification_id: auth.verification_id.clone(),
        signature_verification_id: signing.verification_id.clone(),
    };
    links.link(authed(link, KEY_A)).await.unwrap();
    let auth_id = auth.certificate.unwrap().id.unwrap();
    let signing_id = signing.certificate.unwrap().id.unwrap();

    let checked = status
        .check_status(authed(CheckStatusRequest { certificates: vec![auth_id.clone(), signing_id.clone()] }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    assert!(
        checked
            .statuses
            .iter()
            .all(|status| status.revocation.as_ref().unwrap().status() == jpki_api::v1::RevocationStatus::Good),
        "{checked:?}"
    );

    let mut stream = status
        .watch_revocations(authed(WatchRevocationsRequest { cursor: String::new() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    // Tenant B watches too but verified nothing: it must get nothing.
    let mut other = running
        .status()
        .await
        .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_B))
        .await
        .unwrap()
        .into_inner();

    // The card is lost: the CA revokes its authentication certificate; then the holder moves:
    // the signing certificate is revoked with affiliationChanged.
    let simulator = running.casim.as_ref().unwrap().simulator();
    let holder = running.pki.holder("h03").unwrap();
    let auth_ca = holder.auth().issuer_label().to_owned();
    let signing_ca = holder.signing().issuer_label().to_owned();
    simulator
        .revoke(&jpki_casim::Revocation {
            ca: auth_ca,
            target: jpki_casim::RevokeTarget::Holder("h03".into()),
            reason: jpki_casim::parse_reason("key_compromise"),
            revoked_at: None,
        })
        .unwrap();
    let first =
        tokio::time::timeout(std::time::Duration::from_secs(60), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(first.certificate.as_ref(), Some(&auth_id));
    assert_eq!(first.meaning(), jpki_api::v1::BusinessMeaning::CardLost);
    assert_eq!(first.customer_id, "CUST-0003");
    assert_eq!(first.reason(), jpki_api::v1::RevocationReason::KeyCompromise);
    assert_eq!(first.kind(), jpki_api::v1::CertificateKind::AuthCard);
    simulator
        .revoke(&jpki_casim::Revocation {
            ca: signing_ca,
            target: jpki_casim::RevokeTarget::Holder("h03".into()),
            reason: jpki_casim::parse_reason("affiliation_changed"),
            revoked_at: None,
        })
        .unwrap();
    let second =
        tokio::time::timeout(std::time::Duration::from_secs(60), stream.next()).await.unwrap().unwrap().unwrap();
    assert_eq!(second.certificate.as_ref(), Some(&signing_id));
    assert_eq!(second.meaning(), jpki_api::v1::BusinessMeaning::MovedOrRenamed);
    assert_eq!(second.kind(), jpki_api::v1::CertificateKind::SigningCard);

    // Reconnect: from "0" both events come back, from the first cursor only the second.
    drop(stream);
    let replay: Vec<_> = status
        .watch_revocations(authed(WatchRevocationsRequest { cursor: "0".into() }, KEY_A))
        .await
        .unwrap()
        .into_inner()
        .take(2)
        .collect::<Vec<_>>()
        .await;
    assert_eq!(replay.len(), 2);
    let mut resumed = status
        .watch_revocations(authed(WatchRevocationsRequest { cursor: first.cursor.clone() }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    let next = resumed.next().await.unwrap().unwrap();
    assert_eq!(next.cursor, second.cursor);

    // CheckStatus now says revoked; a login fails.
    let checked = status
        .check_status(authed(CheckStatusRequest { certificates: vec![auth_id.clone()] }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    let facts = checked.statuses[0].revocation.clone().unwrap();
    assert_eq!(facts.status(), jpki_api::v1::RevocationStatus::Revoked);
    assert_eq!(facts.reason(), jpki_api::v1::RevocationReason::KeyCompromise);
    let denied = login(&mut client, &running.pki, "h03", KEY_A, "").await.result.unwrap();
    assert_eq!(denied.indication(), Indication::TotalFailed, "{denied:?}");

    // Nothing for tenant B (checked without waiting on time: its stream has nothing buffered
    // once tenant A's events are out).
    let nothing = tokio::time::timeout(std::time::Duration::from_millis(300), other.next()).await;
    assert!(nothing.is_err(), "tenant B got {nothing:?}");

    // Draining ends open streams with UNAVAILABLE, so clients resume elsewhere.
    let mut gateway = running;
    gateway.gateway.take().unwrap().shutdown().await.unwrap();
    let end = resumed.next().await;
    match end {
        Some(Err(status)) => assert_eq!(status.code(), Code::Unavailable),
        other => panic!("stream ended with {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_status_limits_and_foreign_issuers() {
    let running = start().await;
    let mut status = running.status().await;
    let unknown = CertificateId { ca_key_id: "00ff".into(), serial: "01".into() };
    let checked = status
        .check_status(authed(CheckStatusRequest { certificates: vec![unknown] }, KEY_A))
        .await
        .unwrap()
        .into_inner();
    // An issuer nobody verified under: not this tenant's certificate (tests/status.rs has the rest).
    let facts = checked.statuses[0].revocation.clone().unwrap();
    assert_eq!(facts.status(), jpki_api::v1::RevocationStatus::NotEntitled);
    assert_eq!(facts.unknown_cause, "");
    let many = vec![CertificateId { ca_key_id: "00ff".into(), serial: "01".into() }; 1001];
    let error = status.check_status(authed(CheckStatusRequest { certificates: many }, KEY_A)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let error = status.check_status(authed(CheckStatusRequest { certificates: vec![] }, KEY_A)).await.unwrap_err();
    assert_eq!(error.get_details_bad_request().unwrap().field_violations[0].field, "certificates");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_count_characters_so_a_japanese_customer_id_of_the_full_length_links() {
    // 128 characters at the API; the store takes up to 4 bytes per character (こ: 3 bytes, 𠮷: 4).
    let running = start().await;
    let mut client = running.verification().await;
    let mut links = running.links().await;
    for (holder, customer_id) in [("h01", "こ".repeat(128)), ("h02", "𠮷".repeat(128))] {
        let passed = login(&mut client, &running.pki, holder, KEY_A, &"取".repeat(128)).await;
        assert_eq!(passed.transaction_reference, "取".repeat(128));
        let link = LinkRequest {
            customer_id: customer_id.clone(),
            auth_verification_id: passed.result.unwrap().verification_id,
            signature_verification_id: String::new(),
        };
        assert!(links.link(authed(link, KEY_A)).await.unwrap().into_inner().created, "{holder}");
        let found = links
            .lookup_link(authed(LookupLinkRequest { key: Some(Key::CustomerId(customer_id.clone())) }, KEY_A))
            .await
            .unwrap()
            .into_inner();
        assert_eq!(found.links[0].customer_id, customer_id);
        assert_eq!(login(&mut client, &running.pki, holder, KEY_A, "").await.customer_id, customer_id);
    }
    let too_long = LookupLinkRequest { key: Some(Key::CustomerId("𠮷".repeat(129))) };
    let status = links.lookup_link(authed(too_long, KEY_A)).await.unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
}

/// Expiry over the API (the use-case tests check it on a fixed clock): a one-second lifetime, and a
/// proof sent after it. Only a lower bound on time matters here, so a slow machine cannot flake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_challenge_is_refused() {
    let running = start_with(|config| config.challenges.ttl_seconds = 1).await;
    let mut client = running.verification().await;
    let card = running.pki.card("h02").unwrap();
    let issued = client.issue_challenge(authed(IssueChallengeRequest::default(), KEY_A)).await.unwrap().into_inner();
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let late = VerifyAuthProofRequest {
        challenge_id: issued.challenge_id,
        certificate: card.auth_cert_der().to_vec(),
        signature: card.prove(&issued.challenge).unwrap(),
        business_purpose: BusinessPurpose::Login as i32,
    };
    let result = client.verify_auth_proof(authed(late, KEY_A)).await.unwrap().into_inner().result.unwrap();
    assert_eq!(result.reason.unwrap().code, "CHALLENGE_EXPIRED");
}
