//! Shared machinery for the free-text fields: normalisation over items that may stand for a
//! substitute character, and the comparison that uses it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::Verdict;

/// One unit of text under normalisation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Item {
    /// An ordinary character.
    Char(char),
    /// The certificate's substitute character at this scalar position. Normalisation steps never
    /// drop, duplicate or reorder these, and treat them as a letter of unknown identity.
    Substitute(usize),
}

impl Item {
    pub(crate) fn char(self) -> Option<char> {
        match self {
            Item::Char(c) => Some(c),
            Item::Substitute(_) => None,
        }
    }

    pub(crate) fn is(self, predicate: impl Fn(char) -> bool) -> bool {
        self.char().is_some_and(predicate)
    }
}

/// A field's normalisation as a sequence of steps over items.
pub(crate) type Pipeline = fn(Vec<Item>) -> Vec<Item>;

/// Items of `text`; characters whose flag is set become [`Item::Substitute`].
pub(crate) fn items(text: &str, substitutes: &[bool]) -> Vec<Item> {
    text.chars()
        .enumerate()
        .map(|(position, c)| match substitutes.get(position) {
            Some(true) => Item::Substitute(position),
            _ => Item::Char(c),
        })
        .collect()
}

/// Runs `pipeline` on plain text (no substitutes).
pub(crate) fn normalise(text: &str, pipeline: Pipeline) -> String {
    pipeline(items(text, &[])).into_iter().filter_map(Item::char).collect()
}

/// NFKC on each run of characters between substitutes. A substitute is a barrier: nothing
/// composes across it, which at worst makes a comparison fail, never succeed wrongly.
pub(crate) fn nfkc(items: Vec<Item>) -> Vec<Item> {
    let mut out = Vec::with_capacity(items.len());
    let mut run = String::new();
    for item in items {
        match item {
            Item::Char(c) => run.push(c),
            Item::Substitute(_) => {
                out.extend(run.nfkc().map(Item::Char));
                run.clear();
                out.push(item);
            }
        }
    }
    out.extend(run.nfkc().map(Item::Char));
    out
}

/// White space (U+3000 and U+00A0 included, though NFKC already made them U+0020) and the
/// invisible separators that input methods and copy-paste leave behind.
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// Kanji numerals, including the multipliers 十, 百 and 千.
pub(crate) fn is_kanji_digit(c: char) -> bool {
    kanji_digit_value(c).is_some() || matches!(c, '十' | '百' | '千')
}

/// Value of a kanji digit 〇 to 九.
pub(crate) fn kanji_digit_value(c: char) -> Option<u32> {
    "〇一二三四五六七八九".chars().position(|digit| digit == c).and_then(|value| u32::try_from(value).ok())
}

/// Hyphens, dashes and minus signs that are never letters (the long-vowel mark ー is not here).
pub(crate) fn is_dash(c: char) -> bool {
    matches!(c, '-' | '\u{2010}'..='\u{2015}' | '\u{2043}' | '\u{2212}' | '\u{FE58}' | '\u{FE63}' | '\u{FF0D}')
}

/// Whether the typed text may show `c` where the certificate holds a substitute. A substitute
/// replaces a kanji the register could not encode, so digits, ASCII, spaces, dashes, marks and
/// the characters that carry block-number structure never qualify.
fn may_replace_substitute(c: char) -> bool {
    !c.is_ascii()
        && !c.is_control()
        && !is_space(c)
        && !is_dash(c)
        && !is_kanji_digit(c)
        && !is_combining_mark(c)
        && !matches!(c, 'ー' | 'の' | 'ノ')
}

/// The comparison shared by name and address; see `docs/normalisation.md`.
pub(crate) fn compare(typed: &str, certificate: &str, positions: &[usize], pipeline: Pipeline) -> Verdict {
    if typed == certificate {
        return Verdict::Exact;
    }
    let typed_normal = normalise(typed, pipeline);
    if typed_normal == normalise(certificate, pipeline) {
        return Verdict::EqualAfterNormalisation;
    }
    let length = certificate.chars().count();
    let mut substitutes = vec![false; length];
    for &position in positions {
        if let Some(flag) = substitutes.get_mut(position) {
            *flag = true;
        }
    }
    if !substitutes.contains(&true) {
        return Verdict::Differs;
    }

    // Align the typed text with the certificate normalised around its substitutes: every
    // character must match, every substitute takes exactly one typed character.
    let pattern = pipeline(items(certificate, &substitutes));
    let typed_chars: Vec<char> = typed_normal.chars().collect();
    if pattern.len() != typed_chars.len() {
        return Verdict::Differs;
    }
    let mut replacements: Vec<Option<char>> = vec![None; length];
    for (item, &typed_char) in pattern.iter().zip(&typed_chars) {
        match *item {
            Item::Char(c) if c == typed_char => {}
            Item::Substitute(position) if may_replace_substitute(typed_char) => {
                if let Some(slot) = replacements.get_mut(position) {
                    *slot = Some(typed_char);
                }
            }
            _ => return Verdict::Differs,
        }
    }

    // Normalisation is context-sensitive, so the alignment only proposes replacements. Confirm
    // them: the certificate with only its substitutes replaced must normalise to the typed text.
    let rebuilt: String =
        certificate.chars().zip(&replacements).map(|(c, replacement)| replacement.unwrap_or(c)).collect();
    if normalise(&rebuilt, pipeline) == typed_normal { Verdict::DiffersAtSubstitutesOnly } else { Verdict::Differs }
}
