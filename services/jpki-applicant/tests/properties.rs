//! Properties: no panics on arbitrary input, identical input is `Exact`, normalisation is
//! idempotent, and substitutes never excuse a difference elsewhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_applicant::{
    Verdict, compare_address, compare_date_of_birth, compare_name, compare_sex, normalise_address, normalise_name,
};
use proptest::prelude::*;

/// Characters that exercise every rule: digits of both widths, kanji numerals, markers, links,
/// dashes, ー, spaces, compounds, half-width kana with voicing marks, combining marks.
const ALPHABET: &[char] = &[
    '0', '1', '2', '9', '１', '２', '一', '二', '三', '十', '百', '千', '〇', '丁', '目', '番', '地', '号', 'の', 'ノ',
    'ー', 'ｰ', '-', '－', '‐', '−', ' ', '　', '\t', '町', '室', '条', 'ｶ', 'ﾞ', '゛', 'ア', 'か', '東', '京', '都',
    '区', '霞', 'が', '関', 'ヶ', '①', '\u{3099}', '\u{0301}', '=', '\u{0338}', '㍻', 'Ａ',
];

fn japanese_text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(ALPHABET), 0..24).prop_map(|chars| chars.into_iter().collect())
}

fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![any::<String>(), japanese_text()]
}

fn positions() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![0usize..30, any::<usize>()], 0..6)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn never_panics(typed in any_text(), certificate in any_text(), positions in positions()) {
        compare_name(&typed, &certificate, &positions);
        compare_address(&typed, &certificate, &positions);
        compare_date_of_birth(&typed, &certificate);
        compare_sex(&typed, &certificate);
        normalise_name(&typed);
        normalise_address(&typed);
    }

    #[test]
    fn identical_text_is_exact(text in any_text(), positions in positions()) {
        prop_assert_eq!(compare_name(&text, &text, &positions), Verdict::Exact);
        prop_assert_eq!(compare_address(&text, &text, &positions), Verdict::Exact);
    }

    #[test]
    fn normalisation_is_idempotent(text in any_text()) {
        let name = normalise_name(&text);
        prop_assert_eq!(normalise_name(&name), name);
        let address = normalise_address(&text);
        prop_assert_eq!(normalise_address(&address), address);
    }

    #[test]
    fn no_positions_no_substitutes(typed in any_text(), certificate in any_text()) {
        prop_assert_ne!(compare_name(&typed, &certificate, &[]), Verdict::DiffersAtSubstitutesOnly);
        prop_assert_ne!(compare_address(&typed, &certificate, &[]), Verdict::DiffersAtSubstitutesOnly);
    }

    /// The real character typed at each substitute position is accepted.
    #[test]
    fn real_characters_at_substitutes_are_accepted(
        certificate in japanese_text(),
        positions in prop::collection::vec(0usize..24, 1..4),
        real in prop::sample::select(vec!['𠮷', '髙', '﨑', '丸']),
    ) {
        let typed = replaced(&certificate, &positions, real);
        prop_assert_ne!(compare_name(&typed, &certificate, &positions), Verdict::Differs);
        prop_assert_ne!(compare_address(&typed, &certificate, &positions), Verdict::Differs);
    }

    /// One more character changed outside the substitutes always differs.
    #[test]
    fn a_difference_outside_substitutes_is_never_excused(
        certificate in prop::collection::vec(prop::sample::select(ALPHABET), 1..24),
        positions in prop::collection::vec(0usize..24, 0..4),
        changed in any::<prop::sample::Index>(),
    ) {
        let changed = changed.index(certificate.len());
        let positions: Vec<usize> = positions.into_iter().filter(|&position| position != changed).collect();
        let certificate: String = certificate.into_iter().collect();
        let typed: String = replaced(&certificate, &positions, '𠮷')
            .chars()
            .enumerate()
            .map(|(index, c)| if index == changed { '髙' } else { c })
            .collect();
        prop_assert_eq!(compare_name(&typed, &certificate, &positions), Verdict::Differs);
        prop_assert_eq!(compare_address(&typed, &certificate, &positions), Verdict::Differs);
    }

    #[test]
    fn valid_dates_match_their_canonical_form(era in 1u8..=5, offset in 0u16..1000, month in 1u8..=12, day in 1u8..=28) {
        // Each era's first year and number of years (jpki-core's ranges).
        let (first_year, years) = [(1868u16, 45u16), (1912, 15), (1926, 64), (1989, 31), (2019, 100)][usize::from(era - 1)];
        let year = first_year + offset % years;
        let raw = format!("{era}{year:04}{month:02}{day:02}");
        prop_assert_eq!(compare_date_of_birth(&format!("{year:04}-{month:02}-{day:02}"), &raw), Verdict::Exact);
        prop_assert_eq!(compare_date_of_birth(&format!("{year:04}{month:02}{day:02}"), &raw), Verdict::EqualAfterNormalisation);
        prop_assert_eq!(compare_date_of_birth(&format!("{year:04}-{month:02}-{:02}", day + 1), &raw), Verdict::Differs);
        prop_assert_eq!(compare_date_of_birth(&format!("{year:04}-{month:02}-{day:02}"), &format!("{era}{year:04}0000")), Verdict::Differs);
    }
}

/// `text` with the characters at `positions` (where in range) replaced by `real`.
fn replaced(text: &str, positions: &[usize], real: char) -> String {
    text.chars().enumerate().map(|(index, c)| if positions.contains(&index) { real } else { c }).collect()
}
