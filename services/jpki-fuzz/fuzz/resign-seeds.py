#!/usr/bin/env python3
"""Writes seeds/resign/: one recipe per kind of mutation of the `resign` target.

A recipe is read by jpki_fuzz::resign::Recipe: byte 0 picks the document (0 CMS, 1 raw
signature, 2 authentication proof; /3 picks the holder), then each op is a byte (mod 17) and its
arguments (see `apply` in src/resign.rs). Seeds are committed; rerun after changing the ops.
"""
import os

HERE = os.path.dirname(os.path.abspath(__file__))
SEEDS = {
    "cms-as-issued": [0], "raw-as-issued": [1], "auth-as-issued": [2], "cms-second-holder": [3],
    "eku-critical": [0, 5, 0, 1], "eku-non-critical": [1, 5, 1, 0],
    "unknown-critical-extension": [1, 3, 1, 2, 0xAA, 0xBB], "unknown-non-critical-extension": [1, 3, 0, 1, 0xAA],
    "remove-extension": [2, 0, 0], "duplicate-extension": [0, 1, 2], "toggle-critical": [1, 2, 3],
    "key-usage-cert-sign-only": [1, 4, 0x20, 0, 0], "policies-wrong": [0, 6, 3, 0, 0], "policies-two": [0, 6, 0, 1, 2, 0],
    "san-name": [0, 7, 0, 6] + list("山田\u3000太郎".encode())[:6] + [0, 0],
    "basic-constraints-ca": [1, 8, 1, 1], "validity-shifted": [2, 9, 0x7F, 0], "serial-replaced": [1, 10, 3, 1, 2, 3],
    "subject-is-issuer": [0, 11], "content-type-signed-data": [0, 12, 1], "wrong-message-digest": [0, 13],
    "signing-time-late": [0, 14, 0, 0x40], "no-signing-time": [0, 14, 1],
    "revoked-key-compromise": [2, 15, 0xF6, 1], "on-hold": [0, 15, 0xF6, 4], "revoked-later": [1, 15, 0x0A, 2],
    "remove-from-crl": [1, 15, 0xF6, 5],
    "crl-other-scope": [0, 16, 2, 5, 0, 48], "crl-arl-only": [1, 16, 3, 5, 0, 48], "crl-future": [2, 16, 0, 5, 0x10, 48],
}
directory = os.path.join(HERE, "seeds", "resign")
os.makedirs(directory, exist_ok=True)
for name, recipe in SEEDS.items():
    with open(os.path.join(directory, name), "wb") as handle:
        handle.write(bytes(recipe))
print(f"{len(SEEDS)} recipes written to {directory}")
