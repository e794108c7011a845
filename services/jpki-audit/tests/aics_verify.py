#!/usr/bin/env python3
"""Verifies a jpki-audit bundle with aics-tlog alone (none of jpki-audit's code).

usage: aics_verify.py <bundle dir> <proofs.json>

proofs.json: {"inclusion": [{"index", "size", "proof": [base64...]}],
              "consistency": [{"old", "new", "proof": [base64...]}]}

Checks, each with aics-tlog:
  * every checkpoint (checkpoint, checkpoints/*): signed note against keys.vkey (c2sp signed-note:
    unknown keys ignored, a bad signature by a known key fails), tlog-checkpoint body, origin;
  * the tiles as a C2SP tlog-tiles tree read from the directory (FileSystemTileReader): the root of
    the newest checkpoint from the tiles, every hash tile and entry bundle authenticated against it
    (audit_tiles), and the root of every older checkpoint from the same tiles;
  * events.jsonl: each line is the proven entry of the entry bundles, and the RFC 9162 tree of the
    lines has every signed root;
  * the given inclusion and consistency proofs (RFC 9162 verification), which must also equal the
    proofs aics-tlog computes from the tiles.

Prints a JSON report; exits 0 when everything verifies, 1 otherwise.
"""

import base64
import json
import sys
from pathlib import Path

import aics_tlog as at


def main(bundle: Path, proofs_file: Path) -> int:
    errors: list[str] = []
    checked: dict[str, int] = {}

    def count(what: str) -> None:
        checked[what] = checked.get(what, 0) + 1

    origin = (bundle / "origin").read_text().rstrip("\n")
    keys = [at.parse_vkey(line.strip()) for line in (bundle / "keys.vkey").read_text().splitlines() if line.strip()]

    roots: dict[int, bytes] = {}
    files = [bundle / "checkpoint"] + sorted((bundle / "checkpoints").iterdir(), key=lambda p: int(p.name))
    for f in files:
        name = str(f.relative_to(bundle))
        try:
            note = at.parse_note(f.read_bytes())
        except ValueError as e:
            errors.append(f"{name}: {e}")
            continue
        # verify_checkpoint takes the log key; during a rotation the note verifies under any one.
        results = [at.verify_checkpoint(note, key, expected_origin=origin) for key in keys]
        if not any(r.ok for r in results):
            errors.append(f"{name}: " + "; ".join(str(r.error) for r in results))
            continue
        if not at.verify_note(note, keys):
            errors.append(f"{name}: a known key's signature does not verify")
            continue
        cp = at.parse_checkpoint(note.text)
        if name.startswith("checkpoints/") and f.name != str(cp.size):
            errors.append(f"{name}: holds size {cp.size}")
        if roots.setdefault(cp.size, cp.root) != cp.root:
            errors.append(f"{name}: two roots for size {cp.size}")
        count("checkpoints")
    if not roots:
        return report(errors, checked)

    size = max(roots)
    root = roots[size]
    reader = at.FileSystemTileReader(bundle)
    try:
        if at.tree_root_from_tiles(reader, size) != root:
            errors.append(f"tiles: root at {size} differs from the checkpoint")
        audit = at.audit_tiles(reader, size, root)
        checked["tiles"] = audit.tiles
        checked["entry_bundles"] = audit.bundles
        for s, r in sorted(roots.items()):
            if at.tree_root_from_tiles(reader, s, tile_size=size) != r:
                errors.append(f"tiles: root at {s} differs from the checkpoint")
            count("roots_from_tiles")
    except (ValueError, OSError) as e:
        errors.append(f"tiles: {type(e).__name__}: {e}")

    raw = (bundle / "events.jsonl").read_bytes()
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    else:
        errors.append("events.jsonl: does not end with a newline")
    if len(lines) != size:
        errors.append(f"events.jsonl: {len(lines)} lines for a checkpoint of size {size}")
    try:
        verified = at.VerifiedTileReader(reader, size, root)
        for i in range(min(size, len(lines))):
            if verified.entry(i) != lines[i]:
                errors.append(f"events.jsonl: line {i} is not the logged entry {i}")
                break
            count("entries")
    except (ValueError, OSError) as e:
        errors.append(f"entries: {type(e).__name__}: {e}")
    tree = at.MerkleTree(lines)
    for s, r in sorted(roots.items()):
        if s > len(lines) or tree.root(s) != r:
            errors.append(f"events.jsonl: the tree of its first {s} lines does not have the signed root")
        count("roots_from_events")

    proofs = json.loads(proofs_file.read_text())
    for p in proofs["inclusion"]:
        i, s = p["index"], p["size"]
        proof = [base64.b64decode(h) for h in p["proof"]]
        if s not in roots or i >= len(lines):
            errors.append(f"inclusion {i} in {s}: no such checkpoint or event")
            continue
        if not at.verify_leaf_inclusion(lines[i], i, s, proof, roots[s]):
            errors.append(f"inclusion {i} in {s}: does not verify")
        try:
            if at.inclusion_proof_from_tiles(reader, i, s, tile_size=size) != proof:
                errors.append(f"inclusion {i} in {s}: differs from the proof computed from the tiles")
        except (ValueError, OSError) as e:
            errors.append(f"inclusion {i} in {s}: {e}")
        count("inclusion_proofs")
    for p in proofs["consistency"]:
        old, new = p["old"], p["new"]
        proof = [base64.b64decode(h) for h in p["proof"]]
        if old not in roots or new not in roots:
            errors.append(f"consistency {old} -> {new}: no such checkpoints")
            continue
        if not at.verify_consistency(old, new, roots[old], roots[new], proof):
            errors.append(f"consistency {old} -> {new}: does not verify")
        try:
            if at.consistency_proof_from_tiles(reader, old, new, tile_size=size) != proof:
                errors.append(f"consistency {old} -> {new}: differs from the proof computed from the tiles")
        except (ValueError, OSError) as e:
            errors.append(f"consistency {old} -> {new}: {e}")
        count("consistency_proofs")
    return report(errors, checked, size=size, sizes=sorted(roots))


def report(errors: list[str], checked: dict[str, int], **extra) -> int:
    print(json.dumps({"ok": not errors, "aics_tlog": at.__version__, "errors": errors, "checked": checked, **extra}))
    return 0 if not errors else 1


if __name__ == "__main__":
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
