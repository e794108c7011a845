//! 性別: typed code or word against the certificate's `1`/`2`/`3`.

use unicode_normalization::UnicodeNormalization;

use crate::Verdict;

/// Compares a typed sex with the certificate's raw code (`1` male, `2` female, `3` not stated).
///
/// - [`Verdict::Exact`]: `typed` is the same code byte for byte.
/// - [`Verdict::EqualAfterNormalisation`]: the same code written full-width (`１`) or with
///   surrounding spaces, or as a word: 男/男性/male for `1`, 女/女性/female for `2` (ASCII case
///   ignored). No word maps to `3`.
/// - [`Verdict::Differs`]: anything else, including a certificate value other than `1`/`2`/`3`.
pub fn compare_sex(typed: &str, certificate_raw: &str) -> Verdict {
    if !matches!(certificate_raw, "1" | "2" | "3") {
        return Verdict::Differs;
    }
    if typed == certificate_raw {
        return Verdict::Exact;
    }
    let text: String = typed.nfkc().collect();
    let code = match text.trim() {
        code @ ("1" | "2" | "3") => code,
        "男" | "男性" => "1",
        "女" | "女性" => "2",
        word if word.eq_ignore_ascii_case("male") => "1",
        word if word.eq_ignore_ascii_case("female") => "2",
        _ => return Verdict::Differs,
    };
    if code == certificate_raw { Verdict::EqualAfterNormalisation } else { Verdict::Differs }
}
