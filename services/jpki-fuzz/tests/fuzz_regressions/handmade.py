#!/usr/bin/env python3
"""Writes the hand-made nasty inputs into <target>/handmade-* beside this script.

Run from anywhere; reads the fixtures in ../../fuzz/fixtures. Each file is replayed by
tests/fuzz_regressions.rs through jpki_fuzz::<target>, like a fuzzer-found input.
"""
import hashlib
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "..", "fuzz", "fixtures")


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as handle:
        return handle.read()


def length(n):
    if n < 0x80:
        return bytes([n])
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def tlv(tag, *parts):
    body = b"".join(parts)
    return bytes([tag]) + length(len(body)) + body


def indef(tag, *parts):
    return bytes([tag, 0x80]) + b"".join(parts) + b"\x00\x00"


def oid(dotted):
    arcs = [int(arc) for arc in dotted.split(".")]
    body = bytearray([arcs[0] * 40 + arcs[1]])
    for arc in arcs[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return tlv(0x06, bytes(body))


seq = lambda *p: tlv(0x30, *p)
set_ = lambda *p: tlv(0x31, *p)
ctx0 = lambda *p: tlv(0xA0, *p)
utf8 = lambda text: tlv(0x0C, text.encode() if isinstance(text, str) else text)
octets = lambda data: tlv(0x04, data)
integer = lambda value: tlv(0x02, value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big"))
JPKI = "1.2.392.200149.8.5.5."


def other_name(suffix, value_element):
    return ctx0(oid(JPKI + str(suffix)), ctx0(value_element))


def san(*names):
    return seq(*names)


def good_fields(override=None):
    values = {1: "山田\u3000太郎", 2: "00100", 3: "1", 4: "319801231", 5: "東京都千代田区", 6: "0000000"}
    values.update(override or {})
    return [other_name(k, utf8(v)) for k, v in values.items() if v is not None]


def write(target, name, data):
    directory = os.path.join(HERE, target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, "handmade-" + name), "wb") as handle:
        handle.write(data)


def element_at(data, start):
    """(header length, content length) of the definite-length element at `start`."""
    first = data[start + 1]
    if first < 0x80:
        return 2, first
    count = first & 0x7F
    return 2 + count, int.from_bytes(data[start + 2:start + 2 + count], "big")


# ---------------------------------------------------------------- der
deep = 2000
write("der", "deep-ber-nesting", b"\x30\x80" * deep + b"\x00\x00" * deep)
nested = b"\x05\x00"
for _ in range(3000):
    nested = seq(nested)
write("der", "deep-definite-nesting", nested)
write("der", "indefinite-primitive", bytes.fromhex("0480 0000"))
write("der", "indefinite-unterminated", bytes.fromhex("3080 3080 0201 01"))
write("der", "indefinite-eoc-with-length", bytes.fromhex("3080 0001 00 0000"))
write("der", "length-4-bytes-max", bytes.fromhex("0484 ffffffff 00"))
write("der", "length-5-bytes", bytes.fromhex("0485 0100000000 00"))
write("der", "length-8-bytes-max", bytes.fromhex("0488 ffffffffffffffff"))
write("der", "length-0xff", bytes.fromhex("04ff 00"))
write("der", "length-non-minimal", bytes.fromhex("0481 01 61"))
write("der", "length-leading-zero", bytes.fromhex("0482 0001 61"))
write("der", "length-truncated", bytes.fromhex("0484 ffff"))
write("der", "high-tag-number", bytes.fromhex("1f81 0000"))
write("der", "eoc-only", bytes.fromhex("0000"))
write("der", "lone-tag", bytes.fromhex("30"))
write("der", "oid-non-minimal", bytes.fromhex("0603 2a8001"))
write("der", "oid-arc-overflow", bytes.fromhex("060c 2a ffffffffffffffffff 7f 01"))
write("der", "oid-unterminated", bytes.fromhex("0602 2a81"))
write("der", "oid-first-arc-huge", bytes.fromhex("0609 ffffffffffffffff7f"))
segments = b"\x04\x01a"
for _ in range(200):
    segments = indef(0x24, segments)
write("der", "deep-constructed-octets", segments)
definite_segments = b"\x04\x01a"
for _ in range(200):
    definite_segments = tlv(0x24, definite_segments)
write("der", "deep-definite-constructed-octets", definite_segments)
write("der", "constructed-octets-wrong-inner-tag", indef(0x24, bytes.fromhex("020100")))
write("der", "many-empty-elements", b"\x30" + length(2 * 20000) + b"\x05\x00" * 20000)

# ---------------------------------------------------------------- four_fields
write("four_fields", "wrong-inner-tag-printable", san(other_name(1, tlv(0x13, b"YAMADA")), *good_fields({1: None})))
write("four_fields", "value-not-explicit", san(ctx0(oid(JPKI + "1"), utf8("山田")), *good_fields()[1:]))
write("four_fields", "explicit-with-two-values", san(ctx0(oid(JPKI + "1"), ctx0(utf8("山田"), utf8("x")))))
write("four_fields", "explicit-trailing-element", san(ctx0(oid(JPKI + "1"), ctx0(utf8("山田")), utf8("x"))))
write("four_fields", "explicit-empty", san(ctx0(oid(JPKI + "1"), ctx0())))
write("four_fields", "inner-utf8-indefinite", san(ctx0(oid(JPKI + "1"), indef(0xA0, utf8("山田")))))
write("four_fields", "invalid-utf8-name", san(*good_fields({1: b"\xff\xfe\xe5\xb1"})))
write("four_fields", "invalid-utf8-mask", san(*good_fields({2: b"0\xc0\x80"})))
write("four_fields", "overlong-utf8-space", san(*good_fields({1: b"\xe5\xb1\xb1\xe0\x80\xa0"})))
write("four_fields", "mask-length-mismatch", san(*good_fields({2: "0010"})))
write("four_fields", "mask-longer", san(*good_fields({2: "001000"})))
write("four_fields", "mask-invalid-character", san(*good_fields({2: "00２00"})))
write("four_fields", "mask-empty-name-empty", san(*good_fields({1: "", 2: ""})))
write("four_fields", "duplicated-name", san(*good_fields(), other_name(1, utf8("別人"))))
write("four_fields", "only-mask", san(other_name(6, utf8("0101"))))
write("four_fields", "dob-era-zero-all-zero", san(*good_fields({4: "000000000"})))
write("four_fields", "dob-era-six", san(*good_fields({4: "619800101"})))
write("four_fields", "dob-fullwidth-digit", san(*good_fields({4: "3１9801231"})))
write("four_fields", "dob-feb-30", san(*good_fields({4: "319800230"})))
write("four_fields", "dob-day-without-month", san(*good_fields({4: "319800015"})))
write("four_fields", "dob-ten-digits", san(*good_fields({4: "3198012310"})))
write("four_fields", "dob-multibyte-nine-bytes", san(*good_fields({4: "3198０１"})))
write("four_fields", "sex-multibyte", san(*good_fields({3: "１"})))
write("four_fields", "oid-non-minimal", san(ctx0(bytes.fromhex("060b2a83088c9b550805058001"), ctx0(utf8("x")))))
write("four_fields", "set-instead-of-sequence", set_(*good_fields()))
write("four_fields", "indefinite-san", indef(0x30, *good_fields()))
write("four_fields", "other-name-primitive-tag", san(tlv(0x80, oid(JPKI + "1")), *good_fields()[1:]))
write("four_fields", "truncated", san(*good_fields())[:-7])
deep_value = utf8("x")
for _ in range(100):
    deep_value = ctx0(deep_value)
write("four_fields", "deep-explicit", san(ctx0(oid(JPKI + "1"), deep_value)))
write("four_fields", "huge-length", bytes.fromhex("3084ffffffff") + b"".join(good_fields()))

# ---------------------------------------------------------------- certificate
sign_ee = fixture("sign-ee.der")
write("certificate", "empty", b"")
write("certificate", "truncated-half", sign_ee[: len(sign_ee) // 2])
write("certificate", "trailing-byte", sign_ee + b"\x00")
write("certificate", "outer-length-overflow", bytes.fromhex("3084ffffffff") + sign_ee[4:])
write("certificate", "outer-indefinite", b"\x30\x80" + sign_ee[4:] + b"\x00\x00")
name_oid = oid(JPKI + "1")
at = sign_ee.index(name_oid) + len(name_oid)
assert sign_ee[at] == 0xA0 and sign_ee[at + 2] == 0x0C
mutated = bytearray(sign_ee)
mutated[at + 2] = 0x13  # UTF8String -> PrintableString inside [0] EXPLICIT
write("certificate", "other-name-wrong-inner-tag", bytes(mutated))
mutated = bytearray(sign_ee)
value_length = sign_ee[at + 3]
mutated[at + 4:at + 4 + value_length] = b"\xff" * value_length
write("certificate", "other-name-invalid-utf8", bytes(mutated))
mask_oid = oid(JPKI + "2")
at = sign_ee.index(mask_oid) + len(mask_oid)
mutated = bytearray(sign_ee)
mutated[at + 4] = ord("7")
write("certificate", "mask-invalid-character", bytes(mutated))
write("certificate", "pem-garbage", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n")
write("certificate", "pem-unterminated", b"-----BEGIN CERTIFICATE-----\nMIIB\n")
write("certificate", "pem-empty-body", b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")
write("certificate", "pem-other-label", b"-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n")
write("certificate", "deep-ber-nesting", b"\x30\x80" * 5000 + b"\x00\x00" * 5000)

# ---------------------------------------------------------------- cms
attached = fixture("cms-attached.der")
stream = fixture("cms-stream.ber")
for fraction in (1, 3, 5, 7):
    write("cms", f"truncated-attached-{fraction}of8", attached[: len(attached) * fraction // 8])
    write("cms", f"truncated-stream-{fraction}of8", stream[: len(stream) * fraction // 8])
write("cms", "stream-missing-final-eoc", stream[:-2])
write("cms", "deep-ber-nesting", b"\x30\x80" * 5000 + b"\x00\x00" * 5000)
write("cms", "content-info-length-overflow", bytes.fromhex("3084ffffffff") + attached[4:])

certificate = fixture("sign-ee.der")
content = fixture("content.bin")
digest = hashlib.sha256(content).digest()
SIGNED_DATA, DATA = "1.2.840.113549.1.7.2", "1.2.840.113549.1.7.1"
SHA256, RSA, SHA256_RSA = "2.16.840.1.101.3.4.2.1", "1.2.840.113549.1.1.1", "1.2.840.113549.1.1.11"
CONTENT_TYPE, MESSAGE_DIGEST, SIGNING_TIME = "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.5"
issuer = certificate[4:]  # tbsCertificate ... take the issuer Name from the certificate
tbs_header, _ = element_at(certificate, 4)
at = 4 + tbs_header
at += sum(element_at(certificate, at))  # [0] version
serial_header, serial_length = element_at(certificate, at)
serial = certificate[at + serial_header:at + serial_header + serial_length]
at += serial_header + serial_length
at += sum(element_at(certificate, at))  # signature AlgorithmIdentifier
issuer = certificate[at:at + sum(element_at(certificate, at))]


def attribute(kind, *values):
    return seq(oid(kind), set_(*values))


def cms(attributes=None, signers=None, certificates=None, encap=None, signature=b"\x00" * 256):
    attributes = attributes if attributes is not None else ctx0(
        attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST, octets(digest))
    )
    signer = seq(
        integer(1),
        seq(issuer, tlv(0x02, serial)),
        seq(oid(SHA256)),
        attributes,
        seq(oid(SHA256_RSA)),
        octets(signature),
    )
    signers = signers if signers is not None else set_(signer)
    certificates = certificates if certificates is not None else ctx0(certificate)
    encap = encap if encap is not None else seq(oid(DATA), ctx0(octets(content)))
    body = seq(integer(1), set_(seq(oid(SHA256))), encap, certificates, signers)
    return seq(oid(SIGNED_DATA), ctx0(body))


write("cms", "signed-attributes-indefinite", cms(attributes=indef(0xA0, attribute(CONTENT_TYPE, oid(DATA)))))
write("cms", "signed-attributes-non-minimal-length",
      cms(attributes=b"\xa0\x81\x0d" + attribute(CONTENT_TYPE, oid(DATA))))
write("cms", "signed-attributes-empty", cms(attributes=ctx0()))
write("cms", "duplicate-message-digest", cms(attributes=ctx0(
    attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST, octets(digest)),
    attribute(MESSAGE_DIGEST, octets(digest)))))
write("cms", "message-digest-two-values", cms(attributes=ctx0(
    attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST, octets(digest), octets(digest)))))
write("cms", "message-digest-no-value", cms(attributes=ctx0(
    attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST))))
write("cms", "message-digest-constructed", cms(attributes=ctx0(
    attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST, indef(0x24, octets(digest))))))
for name, value in [("feb-30", tlv(0x17, b"260230000000Z")), ("second-60", tlv(0x17, b"261231235960Z")),
                    ("generalized-9999", tlv(0x18, b"99991231235959Z")), ("no-z", tlv(0x17, b"2612312359590")),
                    ("generalized-year-0", tlv(0x18, b"00000101000000Z")), ("non-ascii", tlv(0x17, "２６１２３１２３５９５９Z".encode())),
                    ("utc-with-offset", tlv(0x17, b"2612312359+0900")), ("empty", tlv(0x17, b""))]:
    write("cms", f"signing-time-{name}", cms(attributes=ctx0(
        attribute(CONTENT_TYPE, oid(DATA)), attribute(MESSAGE_DIGEST, octets(digest)), attribute(SIGNING_TIME, value))))
write("cms", "no-signers", cms(signers=set_()))
write("cms", "two-signers", cms(signers=set_(seq(integer(1)), seq(integer(1)))))
write("cms", "signer-not-sequence", cms(signers=set_(integer(1))))
write("cms", "certificates-indefinite-entry", cms(certificates=ctx0(b"\x30\x80" + certificate[4:] + b"\x00\x00")))
write("cms", "certificates-garbage", cms(certificates=ctx0(seq(), seq(integer(5)), tlv(0xA1, b""))))
write("cms", "many-bad-certificates", cms(certificates=ctx0(*[seq(integer(n)) for n in range(2000)])))
deep_octets = octets(content)
for _ in range(40):
    deep_octets = indef(0x24, deep_octets)
write("cms", "econtent-deep-constructed", cms(encap=seq(oid(DATA), ctx0(deep_octets))))  # over MAX_DEPTH
nested_octets = octets(content[:10]) + octets(content[10:])
for _ in range(20):
    nested_octets = indef(0x24, nested_octets)
write("cms", "econtent-nested-constructed", cms(encap=seq(oid(DATA), ctx0(nested_octets))))  # within it
write("cms", "econtent-wrong-tag", cms(encap=seq(oid(DATA), ctx0(utf8("text")))))
write("cms", "econtent-two-values", cms(encap=seq(oid(DATA), ctx0(octets(content), octets(content)))))
write("cms", "econtent-type-empty-oid", cms(encap=seq(tlv(0x06, b""))))
write("cms", "content-type-not-signed-data", seq(oid(DATA), ctx0(octets(content))))
write("cms", "signature-constructed-indefinite", cms().replace(octets(b"\x00" * 256), indef(0x24, octets(b"\x00" * 128), octets(b"\x00" * 128))))

# ---------------------------------------------------------------- auth_proof
auth_ee = fixture("auth-ee.der")
challenge = fixture("challenge.bin")
signature = fixture("auth-signature.bin")


def auth(flags, certificate, challenge, signature, declared=None):
    declared = declared or (len(certificate), len(challenge))
    return struct.pack(">HBB", declared[0], declared[1], flags) + certificate + challenge + signature


write("auth_proof", "empty", b"")
write("auth_proof", "header-only", bytes.fromhex("ffffff01"))
write("auth_proof", "certificate-length-beyond-input", auth(0, auth_ee[:100], b"", b"", declared=(60000, 0)))
write("auth_proof", "signing-certificate-as-proof", auth(0, sign_ee, content, fixture("raw-signature.bin")))
write("auth_proof", "sha1-raw", auth(6, sign_ee, content, fixture("raw-signature.bin")))
write("auth_proof", "digest-wrong-length", auth(8, sign_ee, digest[:31], fixture("raw-signature.bin")))
write("auth_proof", "signature-empty", auth(1, auth_ee, challenge, b""))
write("auth_proof", "signature-too-long", auth(1, auth_ee, challenge, signature + b"\x00"))
write("auth_proof", "signature-all-ff", auth(0, auth_ee, challenge, b"\xff" * 256))
write("auth_proof", "signature-modulus-sized-zero", auth(0, auth_ee, challenge, b"\x00" * 256))

# ---------------------------------------------------------------- crl
crl = fixture("sign-ca-2.crl")
write("crl", "empty", b"")
write("crl", "truncated", crl[: len(crl) // 2])
write("crl", "trailing-byte", crl + b"\x00")
write("crl", "length-overflow", bytes.fromhex("3084ffffffff") + crl[4:])
write("crl", "deep-ber-nesting", b"\x30\x80" * 5000 + b"\x00\x00" * 5000)
write("crl", "certificate-as-crl", sign_ee)
print("hand-made inputs written under", HERE)

# ---------------------------------------------------------------- malleability (found by properties.rs)
# Single-bit flips outside the signed part that x509-parser accepted and that still verified before
# jpki-core's cert.rs checked the envelope (check_signed_envelope; CRLs now go through
# jpki-revocation's strict DER parser). The fuzzing oracles reject any pass
# or load of bytes other than the fixtures, so these fail loudly if the check goes away.
def envelope_offsets(data):
    """Offsets of: outer tag, outer algorithm tag, its OID tag, BIT STRING tag, BIT STRING unused-bits byte."""
    header, _ = element_at(data, 0)
    tbs = header
    algorithm = tbs + sum(element_at(data, tbs))
    algorithm_header, algorithm_length = element_at(data, algorithm)
    oid_at = algorithm + algorithm_header
    bit_string = algorithm + algorithm_header + algorithm_length
    bit_string_header, _ = element_at(data, bit_string)
    return {"outer-tag": (0, 0x80), "algorithm-tag": (algorithm, 0x40), "algorithm-oid-tag": (oid_at, 0x01),
            "bit-string-tag": (bit_string, 0x80), "unused-bits": (bit_string + bit_string_header, 0x01)}


def flip(data, at, mask):
    out = bytearray(data)
    out[at] ^= mask
    return bytes(out)


for name, (at, mask) in envelope_offsets(sign_ee).items():
    flipped = flip(sign_ee, at, mask)
    write("auth_proof", f"malleable-sign-ee-{name}", auth(0, flipped, content, fixture("raw-signature.bin")))
    write("certificate", f"malleable-sign-ee-{name}", flipped)
for name, (at, mask) in envelope_offsets(auth_ee).items():
    write("auth_proof", f"malleable-auth-ee-{name}", auth(1, flip(auth_ee, at, mask), challenge, signature))
sign_root = fixture("sign-ca-2.der")
for name, (at, mask) in envelope_offsets(sign_root).items():
    write("certificate", f"malleable-sign-ca-2-{name}", flip(sign_root, at, mask))
for name, (at, mask) in envelope_offsets(crl).items():
    write("crl", f"malleable-{name}", flip(crl, at, mask))
cms_certificate = attached.index(sign_ee[4:]) - 4
for name, (at, mask) in envelope_offsets(sign_ee).items():
    if name != "outer-tag":
        write("cms", f"malleable-embedded-certificate-{name}", flip(attached, cms_certificate + at, mask))
print("malleability inputs written")

# crl_parse: unsigned lists built field by field (the differential target checks no signature),
# each aimed at a place where the streaming parser's fast path, its general path and x509-parser
# might read the same bytes differently.
def utc(text):
    return tlv(0x17, text.encode())


def generalized(text):
    return tlv(0x18, text.encode())


def extension(dotted, value, critical=False):
    return seq(oid(dotted), *([tlv(0x01, b"\xff")] if critical else []), tlv(0x04, value))


SHA256_RSA = seq(oid("1.2.840.113549.1.1.11"), tlv(0x05, b""))
CRL_ISSUER = seq(set_(seq(oid("2.5.4.6"), tlv(0x13, b"JP"))), set_(seq(oid("2.5.4.10"), tlv(0x13, b"JPKI"))))


def unsigned_crl(entries, version=True, number=b"\x01", extra=()):
    # An empty list of entries still writes revokedCertificates (RFC 5280 says omit it instead).
    revoked = [seq(*entries)] if entries is not None else []
    exts = [extension("2.5.29.20", tlv(0x02, number))] + list(extra)
    tbs = seq(*([tlv(0x02, b"\x01")] if version else []), SHA256_RSA, CRL_ISSUER, utc("260501000000Z"),
              utc("260701000000Z"), *revoked, tlv(0xA0, seq(*exts)))
    return seq(tbs, SHA256_RSA, tlv(0x03, b"\x00" + b"\x5a" * 256))


def reason(code_bytes):
    return seq(extension("2.5.29.21", tlv(0x0A, code_bytes)))


date = utc("260401000000Z")
for name, entries, kwargs in [
    ("usual-entries", [seq(tlv(0x02, b"\x03"), date), seq(tlv(0x02, b"\x04"), date, reason(b"\x01"))], {}),
    ("serial-non-minimal", [seq(tlv(0x02, b"\x00\x03"), date)], {}),
    ("serial-negative", [seq(tlv(0x02, b"\x83"), date)], {}),
    ("serial-zero", [seq(tlv(0x02, b"\x00"), date)], {}),
    ("serial-21-bytes", [seq(tlv(0x02, b"\x01" * 21), date)], {}),
    ("revocation-date-generalized-2026", [seq(tlv(0x02, b"\x03"), generalized("20260401000000Z"))], {}),
    ("revocation-date-generalized-2051", [seq(tlv(0x02, b"\x03"), generalized("20510401000000Z"))], {}),
    ("revocation-date-no-seconds", [seq(tlv(0x02, b"\x03"), utc("2604010000Z"))], {}),
    ("reason-undefined-7", [seq(tlv(0x02, b"\x03"), date, reason(b"\x07"))], {}),
    ("reason-255", [seq(tlv(0x02, b"\x03"), date, reason(b"\xff"))], {}),
    ("reason-two-bytes", [seq(tlv(0x02, b"\x03"), date, reason(b"\x00\x01"))], {}),
    ("reason-critical", [seq(tlv(0x02, b"\x03"), date, seq(extension("2.5.29.21", tlv(0x0A, b"\x01"), True)))], {}),
    ("reason-twice", [seq(tlv(0x02, b"\x03"), date, seq(extension("2.5.29.21", tlv(0x0A, b"\x01")),
                                                     extension("2.5.29.21", tlv(0x0A, b"\x04"))))], {}),
    ("entry-extensions-empty", [seq(tlv(0x02, b"\x03"), date, seq())], {}),
    ("entry-unknown-critical", [seq(tlv(0x02, b"\x03"), date, seq(extension("1.3.6.1.4.1.55555.2", b"\x05\x00", True)))], {}),
    ("revoked-empty-sequence", [], {}),
    ("v1-no-version", [seq(tlv(0x02, b"\x03"), date)], {"version": False}),
    ("crl-number-negative", None, {"number": b"\x80"}),
    ("crl-number-21-bytes", None, {"number": b"\x01" * 21}),
    ("crl-number-zero", None, {"number": b"\x00"}),
    ("duplicate-crl-number", None, {"extra": [extension("2.5.29.20", tlv(0x02, b"\x02"))]}),
    ("unknown-critical-extension", None, {"extra": [extension("1.3.6.1.4.1.55555.3", b"\x05\x00", True)]}),
]:
    write("crl_parse", name, unsigned_crl(entries, **kwargs))
print("crl_parse inputs written")
