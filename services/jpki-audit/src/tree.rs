//! The RFC 6962 Merkle tree of a log, in memory, on tlog_tiles' stored hashes.
//!
//! Stored hashes (Crosby–Wallach order, as `golang.org/x/mod/sumdb/tlog`) hold every complete
//! subtree once, so the root of any earlier size, and any proof, is read from them without
//! rehashing leaves.

use tlog_tiles::{
    EMPTY_HASH, Hash, HashReader, Tile, check_record, check_tree, prove_record, prove_tree, record_hash,
    stored_hashes_for_record_hash, tree_hash,
};

use crate::AuditError;

/// The RFC 9162 leaf hash of a leaf, `SHA-256(0x00 || leaf)`: what the tree holds, and what is
/// left of an event once its payload has expired.
pub fn leaf_hash(leaf: &[u8]) -> Hash {
    record_hash(leaf)
}

/// Tile height of C2SP tlog-tiles: 256 hashes per full tile.
pub const TILE_HEIGHT: u8 = 8;

/// An append-only RFC 6962 tree over record hashes.
#[derive(Debug, Clone, Default)]
pub struct LogHashes {
    stored: Vec<Hash>,
    size: u64,
}

/// tlog_tiles' view of the stored hashes.
struct Stored<'a>(&'a [Hash]);

impl HashReader for Stored<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.0.get(i))
                    .copied()
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl LogHashes {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// A tree over `leaves`, in order.
    ///
    /// # Errors
    /// As [`LogHashes::push_record_hash`].
    pub fn from_leaves<L: AsRef<[u8]>>(leaves: &[L]) -> Result<Self, AuditError> {
        let mut tree = Self::new();
        for leaf in leaves {
            tree.push_leaf(leaf.as_ref())?;
        }
        Ok(tree)
    }

    /// Appends a leaf (its RFC 6962 record hash); returns its index.
    ///
    /// # Errors
    /// Only if the stored hashes were inconsistent, which this type does not allow.
    pub fn push_leaf(&mut self, leaf: &[u8]) -> Result<u64, AuditError> {
        self.push_record_hash(leaf_hash(leaf))
    }

    /// Appends a record hash (`SHA-256(0x00 || leaf)`); returns its index.
    ///
    /// # Errors
    /// Only if the stored hashes were inconsistent, which this type does not allow.
    pub fn push_record_hash(&mut self, hash: Hash) -> Result<u64, AuditError> {
        let index = self.size;
        let new = stored_hashes_for_record_hash(index, hash, &Stored(&self.stored))?;
        self.stored.extend(new);
        self.size += 1;
        Ok(index)
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The record hash of leaf `index`.
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] past the end.
    pub fn record_hash(&self, index: u64) -> Result<Hash, AuditError> {
        self.check_size(index.saturating_add(1))?;
        let stored = Stored(&self.stored).read_hashes(&[tlog_tiles::stored_hash_index(0, index)])?;
        stored.first().copied().ok_or_else(|| AuditError::OutOfRange(format!("leaf {index}")))
    }

    /// The root of the tree's first `size` leaves (the empty-tree hash for 0).
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] when `size` exceeds the tree.
    pub fn root(&self, size: u64) -> Result<Hash, AuditError> {
        self.check_size(size)?;
        Ok(tree_hash(size, &Stored(&self.stored))?)
    }

    /// The RFC 6962 audit path of leaf `index` in the tree of the first `size` leaves.
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] unless `index < size <= self.size()`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(size)?;
        if index >= size {
            return Err(AuditError::OutOfRange(format!("leaf {index} in a tree of {size}")));
        }
        Ok(prove_record(size, index, &Stored(&self.stored))?)
    }

    /// The RFC 6962 consistency proof from the tree of `old` leaves to the tree of `new` leaves
    /// (empty when `old` is 0 or equals `new`).
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] unless `old <= new <= self.size()`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<Hash>, AuditError> {
        self.check_size(new)?;
        if old > new {
            return Err(AuditError::OutOfRange(format!("old size {old} > new size {new}")));
        }
        if old == 0 {
            return Ok(Vec::new());
        }
        Ok(prove_tree(new, old, &Stored(&self.stored))?)
    }

    /// Every C2SP tlog-tiles hash tile (height 8) of the tree of the first `size` leaves, as
    /// `(path, data)`: full tiles and the partial right edge of each level, e.g. `tile/0/000`,
    /// `tile/0/001.p/5`, `tile/1/000.p/1`.
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] when `size` exceeds the tree.
    pub fn tiles(&self, size: u64) -> Result<Vec<(String, Vec<u8>)>, AuditError> {
        self.check_size(size)?;
        Tile::new_tiles(TILE_HEIGHT, 0, size)
            .into_iter()
            .map(|tile| Ok((tile_path(&tile), tile.read_data(&Stored(&self.stored))?)))
            .collect()
    }

    /// The data of the hash tile at the C2SP path `tile/<L>/<N>[.p/<W>]`, when every leaf under it
    /// is among the first `within` (at most this tree's size: e.g. the size of a checkpoint, so
    /// that no tile shows a leaf the checkpoint does not cover); entry bundles (`tile/entries/…`)
    /// are not hash tiles.
    ///
    /// # Errors
    /// [`AuditError::OutOfRange`] for a path that is not a hash tile, or a tile not wholly within.
    pub fn tile(&self, path: &str, within: u64) -> Result<Vec<u8>, AuditError> {
        let not_held = || AuditError::OutOfRange(format!("no tile {path:?} in a tree of {}", self.size));
        // Parsed here, not by `Tile::from_path`: `Tile::new` panics on a width of 0.
        let (level, index, width) = parse_hash_tile_path(path).ok_or_else(not_held)?;
        let tile = Tile::new(TILE_HEIGHT, level, index, width, false);
        // Every leaf under the tile must be within; checked arithmetic, so that no path can
        // overflow the index computations below.
        let leaves_per_hash =
            1u64.checked_shl(u32::from(TILE_HEIGHT) * u32::from(tile.level())).ok_or_else(not_held)?;
        let leaves_per_tile = leaves_per_hash.checked_shl(u32::from(TILE_HEIGHT)).ok_or_else(not_held)?;
        let first = tile.level_index().checked_mul(leaves_per_tile).ok_or_else(not_held)?;
        let end = leaves_per_hash.checked_mul(u64::from(width)).and_then(|span| first.checked_add(span));
        if end.is_none_or(|end| end > within.min(self.size)) {
            return Err(not_held());
        }
        tile.read_data(&Stored(&self.stored)).map_err(|_| not_held())
    }

    fn check_size(&self, size: u64) -> Result<(), AuditError> {
        if size > self.size {
            return Err(AuditError::OutOfRange(format!("size {size} in a tree of {}", self.size)));
        }
        Ok(())
    }
}

/// `(level, index, width)` of a C2SP hash tile path `tile/<L>/<N>[.p/<W>]`: `N` in groups of three
/// digits, all but the last prefixed with `x`; `W` from 1 to 255; `L` below 8 (more levels than a
/// 64-bit tree has). `None` for anything else, entry bundles included.
fn parse_hash_tile_path(path: &str) -> Option<(u8, u64, u32)> {
    let rest = path.strip_prefix("tile/")?;
    let (level, rest) = rest.split_once('/')?;
    let level: u8 = level.parse().ok().filter(|parsed: &u8| *parsed < 8 && parsed.to_string() == level)?;
    let (index_path, width) = match rest.split_once(".p/") {
        Some((index_path, width)) => {
            let width: u32 = width.parse().ok().filter(|width| (1..256).contains(width))?;
            (index_path, width)
        }
        None => (rest, 1 << TILE_HEIGHT),
    };
    let groups: Vec<&str> = index_path.split('/').collect();
    let (last, prefixed) = groups.split_last()?;
    let mut index: u64 = 0;
    for (group, digits) in prefixed.iter().map(|group| (group, group.strip_prefix('x'))).chain([(last, Some(*last))]) {
        let digits = digits.filter(|digits| digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()))?;
        if group == last && last.starts_with('x') {
            return None;
        }
        index = index.checked_mul(1000)?.checked_add(digits.parse::<u64>().ok()?)?;
    }
    Some((level, index, width))
}

/// The C2SP tlog-tiles path of a tile: `tile/<L>/<N>[.p/<W>]`, or `tile/entries/<N>[.p/<W>]` for a
/// data tile. tlog_tiles writes the Go sumdb form, which also names the height
/// (`tile/8/<L>/...`, `tile/8/data/...`); C2SP fixes the height at 8 and leaves it out.
pub fn tile_path(tile: &Tile) -> String {
    let go_path = tile.path();
    let prefix = format!("tile/{}/", tile.height());
    let rest = go_path.strip_prefix(&prefix).unwrap_or(&go_path);
    match rest.strip_prefix("data/") {
        Some(index) => format!("tile/entries/{index}"),
        None => format!("tile/{rest}"),
    }
}

/// The C2SP tlog-tiles entry bundles of a tree of `size` leaves, as `(path, first leaf index,
/// number of leaves)`: the same coordinates as the level-0 hash tiles.
pub fn entry_bundles(size: u64) -> Vec<(String, u64, u64)> {
    Tile::new_tiles(TILE_HEIGHT, 0, size)
        .into_iter()
        .filter(|tile| tile.level() == 0)
        .map(|mut tile| {
            tile.set_is_data();
            (tile_path(&tile), tile.level_index() << TILE_HEIGHT, u64::from(tile.width()))
        })
        .collect()
}

/// Checks that `proof` proves `leaf` is leaf `index` of the tree of `size` leaves with `root`.
///
/// # Errors
/// [`AuditError::InvalidProof`] when it does not.
pub fn verify_inclusion(proof: &[Hash], size: u64, root: Hash, index: u64, leaf: &[u8]) -> Result<(), AuditError> {
    if index >= size {
        return Err(AuditError::InvalidProof(format!("leaf {index} is outside a tree of {size}")));
    }
    check_record(&proof.to_vec(), size, root, index, record_hash(leaf))
        .map_err(|e| AuditError::InvalidProof(format!("inclusion of leaf {index} in tree {size}: {e}")))
}

/// Checks that `proof` proves the tree (`old_size`, `old_root`) is a prefix of (`new_size`,
/// `new_root`). From size 0 only the empty-tree root and an empty proof are accepted.
///
/// # Errors
/// [`AuditError::InvalidProof`] when it does not.
pub fn verify_consistency(
    proof: &[Hash],
    old_size: u64,
    old_root: Hash,
    new_size: u64,
    new_root: Hash,
) -> Result<(), AuditError> {
    let fail = |why: String| Err(AuditError::InvalidProof(format!("consistency {old_size} -> {new_size}: {why}")));
    if old_size > new_size {
        return fail("the old tree is larger".into());
    }
    if old_size == 0 {
        let new_ok = new_size > 0 || new_root == EMPTY_HASH;
        return if proof.is_empty() && old_root == EMPTY_HASH && new_ok {
            Ok(())
        } else {
            fail("not the empty tree".into())
        };
    }
    check_tree(&proof.to_vec(), new_size, new_root, old_size, old_root).or_else(|e| fail(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use proptest::prelude::*;
    use tlog_tiles::node_hash;

    fn leaf(i: u64) -> Vec<u8> {
        format!("leaf {i}").into_bytes()
    }

    fn tree(n: u64) -> LogHashes {
        let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
        LogHashes::from_leaves(&leaves).unwrap()
    }

    /// RFC 6962 MTH, straight from the definition, to check the stored-hash tree against.
    fn mth(leaves: &[Vec<u8>]) -> Hash {
        match leaves.len() {
            0 => EMPTY_HASH,
            1 => record_hash(&leaves[0]),
            n => {
                let k = 1 << (n - 1).ilog2();
                node_hash(mth(&leaves[..k]), mth(&leaves[k..]))
            }
        }
    }

    #[test]
    fn roots_match_the_rfc_definition() {
        let leaves: Vec<Vec<u8>> = (0..70).map(leaf).collect();
        let t = LogHashes::from_leaves(&leaves).unwrap();
        for n in 0..=70 {
            assert_eq!(t.root(n).unwrap(), mth(&leaves[..n as usize]), "size {n}");
        }
        assert!(t.root(71).is_err());
        assert_eq!(t.record_hash(5).unwrap(), record_hash(&leaf(5)));
        assert!(t.record_hash(70).is_err());
    }

    proptest::proptest! {
        /// No path, however made, panics: the HTTP tile server hands any client's path to it.
        #[test]
        fn any_tile_path_is_answered_without_a_panic(
            path in "tile/[0-9]{1,2}/(x[0-9]{3}/){0,7}[0-9]{3}(\\.p/[0-9]{1,4})?|.{0,60}",
        ) {
            let leaves: Vec<Vec<u8>> = (0..70_000u32).step_by(7_000).map(|i| i.to_be_bytes().to_vec()).collect();
            let tree = LogHashes::from_leaves(&leaves).unwrap();
            let _ = tree.tile(&path, 10);
        }
    }

    #[test]
    fn single_tiles_are_served_by_path_and_nothing_else() {
        let leaves: Vec<Vec<u8>> = (0..300u32).map(|i| format!("leaf {i}").into_bytes()).collect();
        let tree = LogHashes::from_leaves(&leaves).unwrap();
        for (path, data) in tree.tiles(300).unwrap() {
            assert_eq!(tree.tile(&path, 300).unwrap(), data, "{path}");
        }
        // Nothing beyond `within`: the partial tile of 300 leaves is not one of 299.
        assert!(tree.tile("tile/0/001.p/44", 299).is_err());
        assert!(tree.tile("tile/0/001.p/43", 299).is_ok());
        for path in [
            "tile/entries/000",
            "tile/0/001",
            "tile/1/000",
            "tile/0/x999/000",
            "tile/0/000.p/0",
            "tile/7/x018/x446/x744/x073/x709/551/615",
            "tile/../0/000",
            "tile/0/",
            "",
            "checkpoint",
        ] {
            assert!(tree.tile(path, 300).is_err(), "{path}");
        }
    }

    #[test]
    fn tile_paths_follow_c2sp() {
        let t = tree(256 * 256 + 256 * 3 + 5);
        let paths: Vec<String> = t.tiles(t.size()).unwrap().into_iter().map(|(p, _)| p).collect();
        assert!(paths.contains(&"tile/0/000".to_string()));
        assert!(paths.contains(&"tile/0/258".to_string()));
        assert!(paths.contains(&"tile/0/259.p/5".to_string()));
        assert!(paths.contains(&"tile/1/000".to_string()));
        assert!(paths.contains(&"tile/1/001.p/3".to_string()));
        assert!(paths.contains(&"tile/2/000.p/1".to_string()));
        // Level 0: 259 full and one partial; level 1: one full and one partial; level 2: one partial.
        assert_eq!(paths.len(), 260 + 2 + 1);
        let bundles = entry_bundles(t.size());
        assert_eq!(bundles.last().unwrap(), &("tile/entries/259.p/5".to_string(), (256 * 256 + 256 * 3) as u64, 5));
        assert_eq!(tile_path(&Tile::new(8, 1, 1_234_067, 256, false)), "tile/1/x001/x234/067");
        let mut data = Tile::new(8, 0, 1_234_067, 7, false);
        data.set_is_data();
        assert_eq!(tile_path(&data), "tile/entries/x001/x234/067.p/7");
        assert!(t.tiles(0).unwrap().is_empty());
    }

    #[test]
    fn tile_data_are_the_hashes_of_the_level() {
        let t = tree(300);
        let tiles = t.tiles(300).unwrap();
        let (path, data) = &tiles[0];
        assert_eq!(path, "tile/0/000");
        assert_eq!(data.len(), 256 * 32);
        assert_eq!(&data[32..64], &record_hash(&leaf(1)).0);
        let (path, data) = &tiles[2];
        assert_eq!(path, "tile/1/000.p/1");
        assert_eq!(data.as_slice(), &tlog_tiles::Tile::subtree_hash(&tiles[0].1).0);
    }

    #[test]
    fn empty_and_trivial_consistency() {
        let t = tree(5);
        assert!(t.consistency_proof(0, 5).unwrap().is_empty());
        verify_consistency(&[], 0, EMPTY_HASH, 5, t.root(5).unwrap()).unwrap();
        assert!(verify_consistency(&[], 0, t.root(5).unwrap(), 5, t.root(5).unwrap()).is_err());
        verify_consistency(&[], 5, t.root(5).unwrap(), 5, t.root(5).unwrap()).unwrap();
        assert!(verify_consistency(&[], 4, t.root(4).unwrap(), 5, t.root(5).unwrap()).is_err());
        assert!(t.consistency_proof(4, 3).is_err());
        assert!(t.inclusion_proof(5, 5).is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn every_inclusion_proof_verifies(n in 1u64..300, pick in any::<u64>(), cut in any::<u64>()) {
            let t = tree(n);
            let size = 1 + cut % n;
            let index = pick % size;
            let root = t.root(size).unwrap();
            let proof = t.inclusion_proof(index, size).unwrap();
            prop_assert!(verify_inclusion(&proof, size, root, index, &leaf(index)).is_ok());
            // Wrong leaf, index, root or size.
            prop_assert!(verify_inclusion(&proof, size, root, index, b"other").is_err());
            if size > 1 {
                let other = (index + 1) % size;
                prop_assert!(verify_inclusion(&proof, size, root, other, &leaf(index)).is_err());
            }
            let mut wrong_root = root;
            wrong_root.0[0] ^= 1;
            prop_assert!(verify_inclusion(&proof, size, wrong_root, index, &leaf(index)).is_err());
            if size < n {
                prop_assert!(verify_inclusion(&proof, size + 1, t.root(size + 1).unwrap(), index, &leaf(index)).is_err());
            }
        }

        #[test]
        fn every_consistency_proof_verifies(n in 1u64..300, a in any::<u64>(), b in any::<u64>()) {
            let t = tree(n);
            let (x, y) = (a % (n + 1), b % (n + 1));
            let (old, new) = (x.min(y), x.max(y));
            let (old_root, new_root) = (t.root(old).unwrap(), t.root(new).unwrap());
            let proof = t.consistency_proof(old, new).unwrap();
            prop_assert!(verify_consistency(&proof, old, old_root, new, new_root).is_ok());
            let mut wrong = new_root;
            wrong.0[31] ^= 1;
            if old > 0 || new == 0 {
                prop_assert!(verify_consistency(&proof, old, old_root, new, wrong).is_err());
            }
            let mut wrong = old_root;
            wrong.0[31] ^= 1;
            prop_assert!(verify_consistency(&proof, old, wrong, new, new_root).is_err());
            if old > 0 && old < new {
                // A different old tree of the same size is not a prefix.
                let mut other: Vec<Vec<u8>> = (0..old).map(leaf).collect();
                other[0] = b"forged".to_vec();
                let forged = LogHashes::from_leaves(&other).unwrap().root(old).unwrap();
                prop_assert!(verify_consistency(&proof, old, forged, new, new_root).is_err());
            }
        }
    }
}
