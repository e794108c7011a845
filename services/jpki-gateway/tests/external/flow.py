#!/usr/bin/env python3
"""A bank's Python client of jpki-gateway, doing one whole flow over a real connection.

Run by tests/external_clients.rs against the real server binary; it can be run by hand too:

    python -m grpc_tools.protoc -I proto --python_out=GEN --grpc_python_out=GEN \
        proto/jpki/gateway/v1/gateway.proto
    python flow.py --address 127.0.0.1:50051 --api-key demo-key --gen-dir GEN \
        --pki-dir jpki-gateway-data/test-pki --holder h01 --cms form.p7s --content form.txt \
        --customer-id CUST-1

GEN holds the modules generated from proto/ (jpki/gateway/v1/gateway_pb2*.py). The account
opening's CMS signature is given as a file (the card's signing application made it, e.g.
`jpkictl testpki sign --pki DIR --holder h01 --in form.txt --out form.p7s`); the login
is done here: the holder's user-authentication key (unencrypted PKCS#8 PEM in the test PKI
directory, found through its manifest.json) signs the challenge, PKCS#1 v1.5 with SHA-256, as the
card would.

Steps: Health/Check until SERVING (bounded); VerifySignature (the CMS, with the applicant's data
as typed); VerifySignature of a CMS this script makes itself over the same document (OpenSSL's
PKCS#7 signer through cryptography, with the holder's signing key); IssueChallenge,
VerifyAuthProof, Link, VerifyAuthProof again (finds the customer), LookupLink; and two errors: a
missing field (INVALID_ARGUMENT with a google.rpc.BadRequest) and a missing API key
(UNAUTHENTICATED). Prints one JSON summary on stdout; progress goes to stderr.
Exits non-zero on any unexpected error.
"""

import argparse
import json
import sys
import time
import uuid
from pathlib import Path


def log(message):
    print(f"flow.py: {message}", file=sys.stderr, flush=True)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--address", required=True, help="host:port of the gateway (plaintext)")
    parser.add_argument("--api-key", required=True, help="the tenant's API key")
    parser.add_argument("--gen-dir", required=True, help="where grpc_tools.protoc wrote the modules")
    parser.add_argument("--pki-dir", required=True, help="the test PKI directory (manifest.json)")
    parser.add_argument("--holder", required=True, help="holder id in the manifest, e.g. h01")
    parser.add_argument("--cms", required=True, help="DER CMS SignedData over --content (detached)")
    parser.add_argument("--content", required=True, help="the signed document")
    parser.add_argument("--customer-id", required=True, help="the bank's customer id to link")
    parser.add_argument("--health-attempts", type=int, default=600, help="bounded wait for SERVING")
    return parser.parse_args()


def applicant_from(four_fields):
    """The applicant's data as typed in the application form, made from the test PKI's manifest
    (which keeps the register's raw values: EYYYYMMDD, era digit then the Gregorian date)."""
    raw = four_fields["date_of_birth"]
    return {
        "name": four_fields["name"],
        "date_of_birth": f"{raw[1:5]}-{raw[5:7]}-{raw[7:9]}",
        "address": four_fields["address"],
        "sex": four_fields["sex"],
    }


def main():
    args = parse_args()
    sys.path.insert(0, str(Path(args.gen_dir).resolve()))

    import grpc
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.serialization import pkcs7
    from google.rpc import error_details_pb2
    from grpc_health.v1 import health_pb2, health_pb2_grpc
    from grpc_status import rpc_status

    from jpki.gateway.v1 import gateway_pb2 as pb
    from jpki.gateway.v1 import gateway_pb2_grpc as pb_grpc

    pki_dir = Path(args.pki_dir)
    manifest = json.loads((pki_dir / "manifest.json").read_text(encoding="utf-8"))
    holder = next(h for h in manifest["holders"] if h["id"] == args.holder)
    auth_cert = (pki_dir / holder["auth"]["cert_der"]).read_bytes()
    auth_key = serialization.load_pem_private_key((pki_dir / holder["auth"]["key_pem"]).read_bytes(), password=None)

    def card_prove(challenge):
        """電子利用者証明: what the card does with the challenge."""
        return auth_key.sign(challenge, padding.PKCS1v15(), hashes.SHA256())

    metadata = (("authorization", f"Bearer {args.api_key}"),)
    summary = {}

    with grpc.insecure_channel(args.address) as channel:
        health = health_pb2_grpc.HealthStub(channel)
        verification = pb_grpc.VerificationServiceStub(channel)
        links = pb_grpc.LinkServiceStub(channel)

        # 1. Health: NOT_SERVING until every list is loaded; wait, bounded by attempts.
        status = None
        for _ in range(args.health_attempts):
            try:
                status = health.Check(health_pb2.HealthCheckRequest(service=""), timeout=10).status
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
            if status == health_pb2.HealthCheckResponse.SERVING:
                break
            time.sleep(0.05)
        summary["health"] = health_pb2.HealthCheckResponse.ServingStatus.Name(status or 0)
        log(f"health {summary['health']}")

        # 2. Account opening: the CMS signature with the applicant's typed data. The caller's
        # x-request-id comes back in the response metadata.
        request_id = f"flow-py-{uuid.uuid4()}"
        request = pb.VerifySignatureRequest(
            cms=pb.CmsSignature(cms=Path(args.cms).read_bytes(), detached_content=Path(args.content).read_bytes()),
            applicant=pb.ApplicantData(**applicant_from(holder["four_fields"])),
            business_purpose=pb.ACCOUNT_OPENING,
        )
        response, call = verification.VerifySignature.with_call(
            request, metadata=metadata + (("x-request-id", request_id),), timeout=30
        )
        echoed = dict(call.initial_metadata()).get("x-request-id")
        result = response.result
        fields = response.four_fields
        summary["signature"] = {
            "verification_id": result.verification_id,
            "indication": pb.Indication.Name(result.indication),
            "sub_indication": pb.SubIndication.Name(result.sub_indication),
            "reason": result.reason.code,
            "kind": pb.CertificateKind.Name(result.certificate.kind),
            "serial": result.certificate.id.serial,
            "name": fields.name.value,
            # Typed by the API: no client decodes the register's EYYYYMMDD.
            "date_of_birth": {
                "era": pb.Era.Name(fields.date_of_birth.era),
                "year": fields.date_of_birth.year,
                "month": fields.date_of_birth.month,
                "day": fields.date_of_birth.day,
            },
            "sex": pb.Sex.Name(fields.sex.value),
            "verdicts": {
                field: pb.FieldVerdict.Name(getattr(fields, field).verdict)
                for field in ("name", "date_of_birth", "address", "sex")
            },
            "request_id_sent": request_id,
            "request_id_echoed": echoed,
        }
        log(f"VerifySignature {summary['signature']['indication']}")

        # 2b. The same document signed here, by OpenSSL's PKCS#7 code (through cryptography) with
        # the holder's signing key: a CMS no part of this project produced.
        signing_cert = x509.load_der_x509_certificate((pki_dir / holder["signing"]["cert_der"]).read_bytes())
        signing_key = serialization.load_pem_private_key(
            (pki_dir / holder["signing"]["key_pem"]).read_bytes(), password=None
        )
        content = Path(args.content).read_bytes()
        own_cms = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(signing_cert, signing_key, hashes.SHA256())
            .sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.DetachedSignature, pkcs7.PKCS7Options.Binary])
        )
        own = verification.VerifySignature(
            pb.VerifySignatureRequest(
                cms=pb.CmsSignature(cms=own_cms, detached_content=content), business_purpose=pb.ACCOUNT_OPENING
            ),
            metadata=metadata,
            timeout=30,
        ).result
        summary["own_cms"] = {
            "indication": pb.Indication.Name(own.indication),
            "sub_indication": pb.SubIndication.Name(own.sub_indication),
            "reason": own.reason.code,
            "serial": own.certificate.id.serial,
        }
        log(f"VerifySignature (own CMS) {summary['own_cms']['indication']}")

        # 3. Login: challenge, the card's proof, verification.
        def login(reference, purpose):
            issued = verification.IssueChallenge(
                pb.IssueChallengeRequest(transaction_reference=reference), metadata=metadata, timeout=30
            )
            proof = pb.VerifyAuthProofRequest(
                challenge_id=issued.challenge_id,
                certificate=auth_cert,
                signature=card_prove(issued.challenge),
                business_purpose=purpose,
            )
            answer = verification.VerifyAuthProof(proof, metadata=metadata, timeout=30)
            return issued, answer

        issued, answer = login("py-open-1", pb.LOGIN)
        certificate = answer.result.certificate
        summary["challenge"] = {
            "challenge_id": issued.challenge_id,
            "challenge_bytes": len(issued.challenge),
            "expires_at": issued.expires_at.ToJsonString(),
        }
        summary["login"] = {
            "verification_id": answer.result.verification_id,
            "indication": pb.Indication.Name(answer.result.indication),
            "sub_indication": pb.SubIndication.Name(answer.result.sub_indication),
            "reason": answer.result.reason.code,
            "kind": pb.CertificateKind.Name(certificate.kind),
            "certificate": {"ca_key_id": certificate.id.ca_key_id, "serial": certificate.id.serial},
            "customer_id": answer.customer_id,
            "transaction_reference": answer.transaction_reference,
        }
        log(f"VerifyAuthProof {summary['login']['indication']}")

        # 4. Link the customer to the authenticated certificate.
        linked = links.Link(
            pb.LinkRequest(
                customer_id=args.customer_id,
                auth_verification_id=answer.result.verification_id,
                signature_verification_id=result.verification_id,
            ),
            metadata=metadata,
            timeout=30,
        )
        summary["link"] = {
            "created": linked.created,
            "certificate": {"ca_key_id": linked.certificate.ca_key_id, "serial": linked.certificate.serial},
            "not_after": linked.not_after.ToJsonString(),
        }
        log(f"Link created={linked.created}")

        # 5. The next login finds the customer.
        _, again = login("py-remittance-1", pb.REMITTANCE)
        summary["relogin"] = {
            "indication": pb.Indication.Name(again.result.indication),
            "customer_id": again.customer_id,
            "transaction_reference": again.transaction_reference,
        }
        found = links.LookupLink(pb.LookupLinkRequest(customer_id=args.customer_id), metadata=metadata, timeout=30)
        summary["lookup"] = [
            {"customer_id": link.customer_id, "serial": link.certificate.serial, "ca_key_id": link.certificate.ca_key_id}
            for link in found.links
        ]
        log(f"relogin customer_id={again.customer_id!r}")

        # 6. Errors are errors: a missing field, a missing business purpose, a missing API key.
        def refusal(request):
            try:
                verification.VerifySignature(request, metadata=metadata, timeout=30)
                return {"code": "OK"}
            except grpc.RpcError as error:
                violations = []
                status = rpc_status.from_call(error)
                for detail in status.details if status else []:
                    if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
                        bad_request = error_details_pb2.BadRequest()
                        detail.Unpack(bad_request)
                        violations.extend(
                            {"field": v.field, "description": v.description} for v in bad_request.field_violations
                        )
                return {"code": error.code().name, "message": error.details(), "violations": violations}

        errors = {"missing_signature": refusal(pb.VerifySignatureRequest(business_purpose=pb.ACCOUNT_OPENING))}
        errors["missing_purpose"] = refusal(
            pb.VerifySignatureRequest(cms=pb.CmsSignature(cms=own_cms, detached_content=content))
        )
        try:
            verification.IssueChallenge(pb.IssueChallengeRequest(), timeout=30)
            errors["no_api_key"] = {"code": "OK"}
        except grpc.RpcError as error:
            errors["no_api_key"] = {"code": error.code().name, "message": error.details()}
        summary["errors"] = errors
        log(f"errors {errors}")

    print(json.dumps(summary, ensure_ascii=False, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
