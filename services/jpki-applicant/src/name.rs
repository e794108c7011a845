//! 氏名: NFKC and no spaces; nothing else is folded.

use crate::text::{self, Item};

/// Normalises a name for comparison: Unicode NFKC (full/half width, compatibility ideographs),
/// then every space removed (U+3000, U+00A0, tabs, runs), then NFKC again so that removing a
/// space cannot leave an uncomposed pair behind.
///
/// Kana are not folded (やまだ ≠ ヤマダ), case is not folded, old and new character forms stay
/// apart (髙 ≠ 高): the register holds one spelling and a different spelling is not the same name.
pub fn normalise_name(text: &str) -> String {
    text::normalise(text, pipeline)
}

pub(crate) fn pipeline(items: Vec<Item>) -> Vec<Item> {
    let items = text::nfkc(items);
    let items = items.into_iter().filter(|item| !item.is(text::is_space)).collect();
    text::nfkc(items)
}
