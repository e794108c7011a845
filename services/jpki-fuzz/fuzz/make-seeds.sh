#!/usr/bin/env bash
# Rebuilds seeds/<target>/ of the byte-level targets from fixtures/ (run after
# fixtures/generate.sh). Seeds are committed; the growing corpora live in corpus/ (ignored by git).
# seeds/crl_parse comes from `cargo run -p jpki-fuzz --example crl_seeds`, seeds/resign are
# written by resign-seeds.py; neither is touched here.
set -euo pipefail
cd "$(dirname "$0")"
rm -rf seeds/{certificate,four_fields,cms,auth_proof,crl,der}
mkdir -p seeds/{certificate,four_fields,cms,auth_proof,crl,der}
python3 - <<'PY'
import hashlib, struct
f = lambda name: open(f"fixtures/{name}", "rb").read()
def put(target, name, data):
    open(f"seeds/{target}/{name}", "wb").write(data)

def tlv(data, at):
    """(tag, header length, content length) of the element at `at` (definite lengths only)."""
    first = data[at + 1]
    if first < 0x80:
        return data[at], 2, first
    count = first & 0x7F
    return data[at], 2 + count, int.from_bytes(data[at + 2:at + 2 + count], "big")

def san_value(cert):
    at = cert.index(bytes.fromhex("0603551d11")) + 5
    tag, header, length = tlv(cert, at)
    if tag == 0x01:  # critical flag
        at += header + length
        tag, header, length = tlv(cert, at)
    assert tag == 0x04
    return cert[at + header:at + header + length]

def auth(flags, certificate, challenge, signature):
    return struct.pack(">HBB", len(certificate), len(challenge), flags) + certificate + challenge + signature

sign_ee, auth_ee = f("sign-ee.der"), f("auth-ee.der")
for name in ["sign-ee.der", "auth-ee.der", "sign-ca-1.der", "auth-ca.der"]:
    put("certificate", name, f(name))
import base64
pem = base64.encodebytes(sign_ee).decode().replace("\n", "")
pem = "\n".join(pem[i:i + 64] for i in range(0, len(pem), 64))
put("certificate", "sign-ee.pem", f"-----BEGIN CERTIFICATE-----\n{pem}\n-----END CERTIFICATE-----\n".encode())

san = san_value(sign_ee)
put("four_fields", "sign-ee-san.der", san)
put("four_fields", "mask-split", "山田\u3000太郎".encode() + b"\xff" + b"00010")

for name in ["cms-attached.der", "cms-detached.der", "cms-stream.ber"]:
    put("cms", name, f(name))

content, challenge = f("content.bin"), f("challenge.bin")
put("auth_proof", "auth-proof", auth(0, auth_ee, challenge, f("auth-signature.bin")))
put("auth_proof", "auth-proof-issued", auth(1, auth_ee, challenge, f("auth-signature.bin")))
put("auth_proof", "raw-message", auth(0, sign_ee, content, f("raw-signature.bin")))
put("auth_proof", "raw-digest", auth(8, sign_ee, hashlib.sha256(content).digest(), f("raw-signature.bin")))

for name in ["sign-ca-2.crl", "auth-ca.crl"]:
    put("crl", name, f(name))

put("der", "cms-stream.ber", f("cms-stream.ber"))
put("der", "san.der", san)
put("der", "crl.der", f("auth-ca.crl"))
put("der", "oid", bytes.fromhex("060a2a83088c9b5508050501"))
put("der", "constructed-octets", bytes.fromhex("2480040161040262630000"))
PY
find seeds/{certificate,four_fields,cms,auth_proof,crl,der} -type f | sort
