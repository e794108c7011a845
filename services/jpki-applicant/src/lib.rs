//! Compares the applicant data typed into an account-opening form with the basic four information
//! (基本4情報) read from the applicant's JPKI signing certificate, one [`Verdict`] per field.
//!
//! Pure: no I/O, no async, no other workspace crate. The certificate side is taken as the raw
//! strings of the certificate (`EYYYYMMDD` for the date of birth, `1`/`2`/`3` for sex) and, for
//! name and address, the positions of substitute characters (代替文字) in Unicode scalars, as
//! `jpki_core::four_fields::TextField::substitute_positions` gives them.
//!
//! The rules, with examples and the reason for each, are in `docs/normalisation.md`.
//!
//! Empty typed input is the caller's business: the gateway reports a missing form field without
//! calling these functions. If called anyway, an empty typed value is compared like any other
//! (it is [`Verdict::Differs`] unless the certificate value is empty too).

mod address;
mod date;
mod name;
mod sex;
mod text;

use serde::Serialize;

pub use address::normalise_address;
pub use date::compare_date_of_birth;
pub use name::normalise_name;
pub use sex::compare_sex;

/// How a typed value relates to the certificate's value, from strongest to weakest.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Byte-identical (for the date of birth and sex: the typed value is the canonical rendering
    /// of a complete, valid certificate value, see [`compare_date_of_birth`] and [`compare_sex`]).
    Exact,
    /// Equal once both sides are normalised (width, spaces, hyphens, numerals, block numbers).
    EqualAfterNormalisation,
    /// Equal after normalisation except at characters the certificate holds as substitutes
    /// (代替文字), where the typed text shows another single character.
    DiffersAtSubstitutesOnly,
    /// Anything else, including a certificate value that does not follow the profile.
    Differs,
}

/// Compares a typed name with the certificate's 氏名.
///
/// `substitute_positions` are 0-based Unicode-scalar indexes into `certificate` (the ideographic
/// space counts); positions past its end are ignored. Normalisation: [`normalise_name`].
pub fn compare_name(typed: &str, certificate: &str, substitute_positions: &[usize]) -> Verdict {
    text::compare(typed, certificate, substitute_positions, name::pipeline)
}

/// Compares a typed address with the certificate's 住所.
///
/// `substitute_positions` are 0-based Unicode-scalar indexes into `certificate`; positions past
/// its end are ignored. Normalisation: [`normalise_address`]. The prefecture is not inferred:
/// an address typed without it [`Verdict::Differs`].
pub fn compare_address(typed: &str, certificate: &str, substitute_positions: &[usize]) -> Verdict {
    text::compare(typed, certificate, substitute_positions, address::pipeline)
}
