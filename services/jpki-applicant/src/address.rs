//! 住所: width, spaces, hyphens, kanji numerals in block numbers, and the block number itself
//! (丁目・番地・番・号) written as numbers joined by `-`.

use crate::text::{self, Item, is_dash, is_kanji_digit, is_space, kanji_digit_value};

/// Normalises an address for comparison, in this order:
///
/// 1. Unicode NFKC (ＡＢＣ → ABC, ｶﾀｶﾅ → カタカナ, １２３ → 123, ① → 1).
/// 2. Spaces removed, except that a run of spaces between two digits becomes `-` (so `1 23`
///    never turns into `123`).
/// 3. Hyphen, dash and minus variants become `-`; the long-vowel mark ー (and ｰ) only when it
///    stands between two digits, since inside katakana words (コーポ) it is a letter.
/// 4. Kanji numerals become arabic (一 → 1, 二十三 → 23, 〇 → 0) only inside block numbers:
///    followed by 丁目, 番(地), 号, 条, `-` or の+digit, or following such a separator after a
///    number. Place names (四日市, 六本木, 八丁堀, 一ノ関) keep their kanji.
/// 5. Block numbers become numbers joined by `-`: 1丁目2番3号, 1丁目2番地3 and 1-2-3 are all
///    `1-2-3`; 2番地の1 is `2-1`. A marker after the last number is dropped (2番地 → 2), except in
///    番町 and 号室/号棟/号館/号線, and where the text that follows could still read as part of a
///    number.
/// 6. NFKC again, so that removals cannot leave an uncomposed pair behind.
///
/// The prefecture is not supplied, old and new character forms stay apart, and ヶ/ケ/が are
/// not folded (霞ヶ関 ≠ 霞が関): those are different spellings in the register.
pub fn normalise_address(text: &str) -> String {
    text::normalise(text, pipeline)
}

pub(crate) fn pipeline(items: Vec<Item>) -> Vec<Item> {
    let items = text::nfkc(items);
    let items = spaces(&items);
    let items = hyphens(&items);
    let items = kanji_numerals(&items);
    let items = blocks(&items);
    text::nfkc(items)
}

const MARKERS: [&str; 4] = ["丁目", "番地", "番", "号"];
const LINKS: [char; 3] = ['-', 'の', 'ノ'];

fn is_digit(c: char) -> bool {
    c.is_ascii_digit()
}

fn is_digit_like(c: char) -> bool {
    c.is_ascii_digit() || is_kanji_digit(c)
}

fn starts_with(items: &[Item], at: usize, word: &str) -> bool {
    (at..).zip(word.chars()).all(|(index, expected)| char_at(items, index) == Some(expected))
}

fn char_at(items: &[Item], at: usize) -> Option<char> {
    items.get(at).and_then(|item| item.char())
}

fn spaces(items: &[Item]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    let mut index = 0;
    while let Some(&item) = items.get(index) {
        if !item.is(is_space) {
            out.push(item);
            index += 1;
            continue;
        }
        let mut end = index;
        while items.get(end).is_some_and(|item| item.is(is_space)) {
            end += 1;
        }
        let digit_before = out.last().is_some_and(|item| item.is(is_digit_like));
        let digit_after = items.get(end).is_some_and(|item| item.is(is_digit_like));
        if digit_before && digit_after {
            out.push(Item::Char('-'));
        }
        index = end;
    }
    out
}

fn hyphens(items: &[Item]) -> Vec<Item> {
    let digit_at = |index: Option<usize>| index.and_then(|index| char_at(items, index)).is_some_and(is_digit_like);
    items
        .iter()
        .enumerate()
        .map(|(index, &item)| match item.char() {
            Some(c) if is_dash(c) => Item::Char('-'),
            Some('ー') if digit_at(index.checked_sub(1)) && digit_at(index.checked_add(1)) => Item::Char('-'),
            _ => item,
        })
        .collect()
}

/// Length of the separator (marker, link, or marker then link) starting at `at`, split as
/// (marker length, link length).
fn separator_at(items: &[Item], at: usize) -> (usize, usize) {
    let marker =
        MARKERS.iter().find(|marker| starts_with(items, at, marker)).map_or(0, |marker| marker.chars().count());
    let link = usize::from(char_at(items, at + marker).is_some_and(|c| LINKS.contains(&c)));
    (marker, link)
}

/// Length of the separator token (marker or link) that ends at `end`, if any.
fn separator_before(items: &[Item], end: usize) -> Option<usize> {
    let marker = MARKERS
        .iter()
        .map(|marker| (marker, marker.chars().count()))
        .find(|&(marker, length)| end.checked_sub(length).is_some_and(|start| starts_with(items, start, marker)));
    match marker {
        Some((_, length)) => Some(length),
        None => end.checked_sub(1).and_then(|start| char_at(items, start)).filter(|c| LINKS.contains(c)).map(|_| 1),
    }
}

/// Whether `items` ends with one or two separator tokens that follow a number (1丁目, 2番地の).
fn after_separator_after_number(items: &[Item]) -> bool {
    let mut end = items.len();
    for _ in 0..2 {
        let Some(length) = separator_before(items, end) else { return false };
        end -= length;
        if end.checked_sub(1).and_then(|last| char_at(items, last)).is_some_and(is_digit) {
            return true;
        }
    }
    false
}

fn kanji_numerals(items: &[Item]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    let mut index = 0;
    while let Some(&item) = items.get(index) {
        if !item.is(is_kanji_digit) {
            out.push(item);
            index += 1;
            continue;
        }
        let start = index;
        while items.get(index).is_some_and(|item| item.is(is_kanji_digit)) {
            index += 1;
        }
        let run: Vec<char> =
            items.get(start..index).unwrap_or_default().iter().filter_map(|item| item.char()).collect();
        // Never glue kanji to arabic digits: 1二丁目 is not 12丁目.
        let next_to_digit =
            out.last().is_some_and(|item| item.is(is_digit)) || char_at(items, index).is_some_and(is_digit);
        let followed_by_marker = ["丁目", "番", "号", "条", "-"].iter().any(|word| starts_with(items, index, word))
            || (char_at(items, index).is_some_and(|c| c == 'の' || c == 'ノ')
                && char_at(items, index + 1).is_some_and(is_digit_like));
        let in_block = followed_by_marker || after_separator_after_number(&out);
        match kanji_number(&run).filter(|_| in_block && !next_to_digit) {
            Some(number) => out.extend(number.chars().map(Item::Char)),
            None => out.extend(run.into_iter().map(Item::Char)),
        }
    }
    out
}

/// Value of a kanji numeral: digit by digit without multipliers (二〇三 → 203), positional with
/// them (二十三 → 23, 百五 → 105). Malformed runs (十十, 〇十, 二三十) are left alone.
fn kanji_number(run: &[char]) -> Option<String> {
    if run.is_empty() {
        return None;
    }
    if run.iter().all(|&c| kanji_digit_value(c).is_some()) {
        return run.iter().map(|&c| kanji_digit_value(c).and_then(|value| char::from_digit(value, 10))).collect();
    }
    let mut total = 0u32;
    let mut pending: Option<u32> = None;
    let mut last_multiplier = u32::MAX;
    for &c in run {
        let multiplier = match c {
            '十' => 10,
            '百' => 100,
            '千' => 1000,
            _ => {
                let value = kanji_digit_value(c)?;
                if pending.is_some() || value == 0 {
                    return None;
                }
                pending = Some(value);
                continue;
            }
        };
        if multiplier >= last_multiplier {
            return None;
        }
        total += pending.take().unwrap_or(1) * multiplier;
        last_multiplier = multiplier;
    }
    Some((total + pending.unwrap_or(0)).to_string())
}

/// Whether a marker ending a block number can be dropped before the item at `at` without
/// changing how the result reads on a second pass.
fn marker_droppable(items: &[Item], marker: &str, at: usize) -> bool {
    let Some(next) = items.get(at) else { return true };
    let Some(c) = next.char() else { return true };
    let compound = matches!((marker, c), ("番", '町') | ("号", '室' | '棟' | '館' | '線'));
    !compound
        && !is_digit_like(c)
        && !is_space(c)
        && !LINKS.contains(&c)
        && !matches!(c, 'ー' | '丁' | '番' | '号')
        && !unicode_normalization::char::is_combining_mark(c)
}

fn blocks(items: &[Item]) -> Vec<Item> {
    let mut out: Vec<Item> = Vec::with_capacity(items.len());
    let mut index = 0;
    while let Some(&item) = items.get(index) {
        if !item.is(is_digit) {
            out.push(item);
            index += 1;
            continue;
        }
        while let Some(&digit) = items.get(index).filter(|item| item.is(is_digit)) {
            out.push(digit);
            index += 1;
        }
        let (marker, link) = separator_at(items, index);
        if marker + link > 0 && char_at(items, index + marker + link).is_some_and(is_digit) {
            out.push(Item::Char('-'));
            index += marker + link;
        } else if marker > 0 && link == 0 {
            let word: String =
                items.get(index..index + marker).unwrap_or_default().iter().filter_map(|i| i.char()).collect();
            if marker_droppable(items, &word, index + marker) {
                index += marker;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kanji_numbers() {
        let number = |text: &str| kanji_number(&text.chars().collect::<Vec<_>>());
        assert_eq!(number("二十三").as_deref(), Some("23"));
        assert_eq!(number("十").as_deref(), Some("10"));
        assert_eq!(number("百五").as_deref(), Some("105"));
        assert_eq!(number("千二百三十四").as_deref(), Some("1234"));
        assert_eq!(number("二〇三").as_deref(), Some("203"));
        assert_eq!(number("〇").as_deref(), Some("0"));
        assert_eq!(number("十十"), None);
        assert_eq!(number("〇十"), None);
        assert_eq!(number("二三十"), None);
        assert_eq!(number("百千"), None);
    }

    #[test]
    fn separators_after_numbers() {
        let check = |text: &str| after_separator_after_number(&text.chars().map(Item::Char).collect::<Vec<_>>());
        assert!(check("1丁目"));
        assert!(check("2番地の"));
        assert!(check("3-"));
        assert!(!check("丁目"));
        assert!(!check("町"));
        assert!(!check("1町"));
    }
}
