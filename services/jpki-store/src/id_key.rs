//! [`IdKey`]: a challenge or verification id as the journal's maps hold it.

use std::fmt;

/// The length of the ids the gateway makes: 16 random bytes as lowercase hex.
const PACKED_ID_LEN: usize = 32;

/// A challenge or verification id as a map key.
///
/// The gateway's ids (32 lowercase hex digits) are packed into a `u128`: a B-tree compares them
/// within its node, where a `String` key costs a pointer to follow, usually a cache miss, at
/// every comparison; and they take no heap. Any other id the store accepts is kept as text. The
/// packing is canonical (an id packs if and only if it has that form), so two keys are equal
/// exactly when their ids are. Keys are ordered, packed before text, but not as their ids would
/// sort: nothing depends on the order of ids.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum IdKey {
    /// 32 lowercase hex digits.
    Packed(u128),
    /// Any other id.
    Text(Box<str>),
}

impl IdKey {
    /// The key of `id`.
    pub(crate) fn new(id: &str) -> IdKey {
        packed(id).map_or_else(|| IdKey::Text(id.into()), IdKey::Packed)
    }
}

/// `id` as a number when it is exactly 32 lowercase hex digits.
fn packed(id: &str) -> Option<u128> {
    if id.len() != PACKED_ID_LEN {
        return None;
    }
    id.bytes().try_fold(0u128, |value, digit| {
        let nibble = match digit {
            b'0'..=b'9' => digit - b'0',
            b'a'..=b'f' => digit - b'a' + 10,
            _ => return None,
        };
        Some(value << 4 | u128::from(nibble))
    })
}

/// The id, as it was given.
impl fmt::Display for IdKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdKey::Packed(value) => write!(f, "{value:0width$x}", width = PACKED_ID_LEN),
            IdKey::Text(id) => f.write_str(id),
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn the_gateways_ids_are_packed_and_others_kept_as_text() {
        let id = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
        assert_eq!(IdKey::new(id), IdKey::Packed(0x0f1e2d3c4b5a69788796a5b4c3d2e1f0));
        assert_eq!(IdKey::new("00000000000000000000000000000000"), IdKey::Packed(0));
        assert_eq!(IdKey::new(&"f".repeat(32)), IdKey::Packed(u128::MAX));
        // Upper case, a digit too many or too few, a non-hex letter, non-ASCII text: text.
        for other in [
            "0F1E2D3C4B5A69788796A5B4C3D2E1F0",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f",
            "0f1e2d3c4b5a69788796a5b4c3d2e1fg",
            "+f1e2d3c4b5a69788796a5b4c3d2e1f0",
            "0f1e2d3c4b5a69788796a5b4c3d2e1あ",
            "challenge-1",
            "",
        ] {
            assert_eq!(IdKey::new(other), IdKey::Text(other.into()), "{other}");
        }
    }

    proptest! {
        /// Every id comes back as it was given, and keys are equal exactly when ids are.
        #[test]
        fn keys_keep_their_ids_and_their_equality(
            a in prop_oneof!["[0-9a-f]{32}", "[0-9a-fA-F]{31,33}", "\\PC{0,40}"],
            b in prop_oneof!["[0-9a-f]{32}", "[0-9a-fA-F]{31,33}", "\\PC{0,40}"],
        ) {
            let (key_a, key_b) = (IdKey::new(&a), IdKey::new(&b));
            prop_assert_eq!(key_a.to_string(), a.clone());
            prop_assert_eq!(key_a == key_b, a == b);
            prop_assert_eq!(IdKey::new(&a), key_a);
        }
    }
}
