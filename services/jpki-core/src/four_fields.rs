//! The basic four information (基本4情報) in a signing certificate's subjectAltName.
//!
//! Each field is an `otherName { type-id, [0] EXPLICIT UTF8String }` under
//! `1.2.392.200149.8.5.5`. Values are kept exactly as encoded; the substitute-character masks
//! apply to these raw strings. Any normalisation for matching happens later, on a copy.
//! Problems with one field are reported on that field and never fail the signature.

use serde::Serialize;

use crate::der::{self, tag};
use crate::oid::jpki;

/// The four fields as found in the certificate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FourFields {
    /// 氏名: surname and given name separated by U+3000.
    pub name: TextField,
    /// 性別.
    pub sex: SexField,
    /// 生年月日.
    pub date_of_birth: DateOfBirthField,
    /// 住所, from the prefecture on.
    pub address: TextField,
}

/// Why a field could not be taken as valid.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
#[non_exhaustive]
pub enum FieldProblem {
    /// The otherName is absent.
    Missing,
    /// The otherName appears more than once; the first is reported.
    Duplicated,
    /// The value is not a UTF8String inside `[0] EXPLICIT`.
    NotUtf8String,
    /// The UTF8String's bytes are not valid UTF-8.
    InvalidUtf8,
    /// The value does not follow the field's format.
    InvalidFormat,
    /// The substitute mask has a different length than the field (in Unicode scalars).
    MaskLengthMismatch {
        /// Scalars in the field.
        field: usize,
        /// Characters in the mask.
        mask: usize,
    },
    /// The mask holds something other than `0` and `1`.
    MaskInvalidCharacter {
        /// Position of the first offending character.
        position: usize,
    },
}

/// A free-text field (name or address) with its substitute-character mask.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TextField {
    /// The value exactly as in the certificate.
    pub value: Option<String>,
    /// The mask exactly as in the certificate.
    pub substitute_mask: Option<String>,
    /// Positions (0-based, in Unicode scalars of `value`) that hold substitute characters.
    pub substitute_positions: Vec<usize>,
    /// Problems with the field or its mask; empty when well-formed.
    pub problems: Vec<FieldProblem>,
}

impl TextField {
    /// Whether value and mask are present and consistent.
    pub fn is_well_formed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// 性別 codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    /// `1`.
    Male,
    /// `2`.
    Female,
    /// `3`: not stated.
    Unknown,
}

/// The sex field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SexField {
    /// The raw value.
    pub raw: Option<String>,
    /// Decoded value.
    pub value: Option<Sex>,
    /// Problems; empty when well-formed.
    pub problems: Vec<FieldProblem>,
}

/// Japanese era of the date of birth (the first digit of `EYYYYMMDD`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Era {
    /// `1` 明治.
    Meiji,
    /// `2` 大正.
    Taisho,
    /// `3` 昭和.
    Showa,
    /// `4` 平成.
    Heisei,
    /// `5` 令和.
    Reiwa,
    /// `0`: not known.
    Unknown,
}

/// The date-of-birth field. Unknown parts stay `None`; nothing is guessed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DateOfBirthField {
    /// The raw `EYYYYMMDD` value.
    pub raw: Option<String>,
    /// The era code.
    pub era: Option<Era>,
    /// Gregorian year, `None` when `0000`.
    pub year: Option<u16>,
    /// Month, `None` when `00`.
    pub month: Option<u8>,
    /// Day, `None` when `00`.
    pub day: Option<u8>,
    /// Problems; empty when well-formed.
    pub problems: Vec<FieldProblem>,
}

/// Raw otherName values found, per suffix 1..=6.
#[derive(Default)]
struct RawValues {
    values: [Option<Result<String, FieldProblem>>; 6],
    duplicated: [bool; 6],
}

/// Extracts the four fields from a subjectAltName extension value (the OCTET STRING's contents).
/// Returns `None` when the extension holds no JPKI otherName at all.
pub fn extract(subject_alt_name: &[u8]) -> Option<FourFields> {
    let raw = collect(subject_alt_name);
    if raw.values.iter().all(Option::is_none) {
        return None;
    }
    let text = |index: usize| field_text(&raw, index);
    Some(FourFields {
        name: text_field(text(0), text(1)),
        sex: sex_field(text(2)),
        date_of_birth: date_of_birth_field(text(3)),
        address: text_field(text(4), text(5)),
    })
}

fn field_text(raw: &RawValues, index: usize) -> Result<String, FieldProblem> {
    let value = raw.values[index].clone().unwrap_or(Err(FieldProblem::Missing));
    match value {
        Ok(_) if raw.duplicated[index] => Err(FieldProblem::Duplicated),
        other => other,
    }
}

fn collect(subject_alt_name: &[u8]) -> RawValues {
    let mut raw = RawValues::default();
    let Ok(names) = der::parse_single(subject_alt_name, false) else { return raw };
    if names.tag != tag::SEQUENCE {
        return raw;
    }
    let mut reader = names.reader(false);
    while let Ok(general_name) = reader.read_any() {
        // otherName is GeneralName [0] IMPLICIT, i.e. a constructed [0].
        if general_name.tag != tag::CONTEXT_0 {
            continue;
        }
        let mut inner = general_name.reader(false);
        let Ok(type_id) = inner.read(tag::OID) else { continue };
        let Some(oid) = der::oid_to_string(type_id.contents) else { continue };
        let Some(index) = index_of(&oid) else { continue };
        let value = inner
            .read(tag::CONTEXT_0)
            .ok()
            .filter(|_| inner.finish().is_ok())
            .and_then(|explicit| der::parse_single(explicit.contents, false).ok())
            .filter(|string| string.tag == tag::UTF8_STRING)
            .ok_or(FieldProblem::NotUtf8String)
            .and_then(|string| String::from_utf8(string.contents.to_vec()).map_err(|_| FieldProblem::InvalidUtf8));
        if raw.values[index].is_some() {
            raw.duplicated[index] = true;
        } else {
            raw.values[index] = Some(value);
        }
    }
    raw
}

fn index_of(oid: &str) -> Option<usize> {
    [jpki::NAME, jpki::NAME_SUBSTITUTES, jpki::SEX, jpki::DATE_OF_BIRTH, jpki::ADDRESS, jpki::ADDRESS_SUBSTITUTES]
        .iter()
        .position(|known| *known == oid)
}

fn text_field(value: Result<String, FieldProblem>, mask: Result<String, FieldProblem>) -> TextField {
    let mut problems = Vec::new();
    let mut positions = Vec::new();
    let value = value.map_err(|problem| problems.push(problem)).ok();
    let mask = mask.map_err(|problem| problems.push(problem)).ok();
    if let (Some(value), Some(mask)) = (&value, &mask) {
        match mask_positions(value, mask) {
            Ok(found) => positions = found,
            Err(problem) => problems.push(problem),
        }
    }
    TextField { value, substitute_mask: mask, substitute_positions: positions, problems }
}

/// Positions marked `1` in `mask`, which must have one `0`/`1` per Unicode scalar of `value`.
pub fn mask_positions(value: &str, mask: &str) -> Result<Vec<usize>, FieldProblem> {
    let field = value.chars().count();
    let mask_length = mask.chars().count();
    if field != mask_length {
        return Err(FieldProblem::MaskLengthMismatch { field, mask: mask_length });
    }
    let mut positions = Vec::new();
    for (position, flag) in mask.chars().enumerate() {
        match flag {
            '0' => {}
            '1' => positions.push(position),
            _ => return Err(FieldProblem::MaskInvalidCharacter { position }),
        }
    }
    Ok(positions)
}

fn sex_field(raw: Result<String, FieldProblem>) -> SexField {
    match raw {
        Err(problem) => SexField { raw: None, value: None, problems: vec![problem] },
        Ok(raw) => {
            let value = match raw.as_str() {
                "1" => Some(Sex::Male),
                "2" => Some(Sex::Female),
                "3" => Some(Sex::Unknown),
                _ => None,
            };
            let problems = if value.is_some() { Vec::new() } else { vec![FieldProblem::InvalidFormat] };
            SexField { raw: Some(raw), value, problems }
        }
    }
}

fn date_of_birth_field(raw: Result<String, FieldProblem>) -> DateOfBirthField {
    let mut field = DateOfBirthField { raw: None, era: None, year: None, month: None, day: None, problems: Vec::new() };
    let raw = match raw {
        Ok(raw) => raw,
        Err(problem) => {
            field.problems.push(problem);
            return field;
        }
    };
    match parse_date_of_birth(&raw) {
        Some((era, year, month, day)) => {
            field.era = Some(era);
            field.year = year;
            field.month = month;
            field.day = day;
        }
        None => field.problems.push(FieldProblem::InvalidFormat),
    }
    field.raw = Some(raw);
    field
}

type DateParts = (Era, Option<u16>, Option<u8>, Option<u8>);

/// Parses `EYYYYMMDD`; zero parts are unknown. A known day needs a known month, and a complete
/// date must exist in the Gregorian calendar and fall within its era.
fn parse_date_of_birth(raw: &str) -> Option<DateParts> {
    let bytes = raw.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let number = |range: std::ops::Range<usize>| raw.get(range).and_then(|digits| digits.parse::<u16>().ok());
    let era = match bytes[0] {
        b'0' => Era::Unknown,
        b'1' => Era::Meiji,
        b'2' => Era::Taisho,
        b'3' => Era::Showa,
        b'4' => Era::Heisei,
        b'5' => Era::Reiwa,
        _ => return None,
    };
    let year = number(1..5).filter(|year| *year != 0);
    let month = number(5..7).filter(|month| *month != 0);
    let day = number(7..9).filter(|day| *day != 0);
    if month.is_some_and(|month| month > 12) || (day.is_some() && month.is_none()) {
        return None;
    }
    let month = month.map(|month| month as u8);
    let day = match day {
        None => None,
        Some(day) => {
            let month_value = month.and_then(|month| time::Month::try_from(month).ok())?;
            let days_in_month = match year {
                Some(year) => time::util::days_in_month(month_value, i32::from(year)),
                None => time::util::days_in_month(month_value, 2000), // leap year: allow 29 Feb
            };
            if day as u8 > days_in_month {
                return None;
            }
            Some(day as u8)
        }
    };
    if let (Some(year), Some(range)) = (year, era_years(era))
        && !range.contains(&year)
    {
        return None;
    }
    Some((era, year, month, day))
}

/// Gregorian years an era spans (inclusive, ignoring the exact change-over day).
fn era_years(era: Era) -> Option<std::ops::RangeInclusive<u16>> {
    match era {
        Era::Meiji => Some(1868..=1912),
        Era::Taisho => Some(1912..=1926),
        Era::Showa => Some(1926..=1989),
        Era::Heisei => Some(1989..=2019),
        Era::Reiwa => Some(2019..=9999),
        Era::Unknown => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_count_unicode_scalars_including_ideographic_space() {
        assert_eq!(mask_positions("山田\u{3000}太郎", "00001"), Ok(vec![4]));
        assert_eq!(
            mask_positions("山田\u{3000}太郎", "0001"),
            Err(FieldProblem::MaskLengthMismatch { field: 5, mask: 4 })
        );
        assert_eq!(mask_positions("山田", "02"), Err(FieldProblem::MaskInvalidCharacter { position: 1 }));
    }

    #[test]
    fn dates_of_birth_keep_unknown_parts_unknown() {
        assert_eq!(parse_date_of_birth("319801231"), Some((Era::Showa, Some(1980), Some(12), Some(31))));
        assert_eq!(parse_date_of_birth("019450000"), Some((Era::Unknown, Some(1945), None, None)));
        assert_eq!(parse_date_of_birth("419890100"), Some((Era::Heisei, Some(1989), Some(1), None)));
        assert_eq!(parse_date_of_birth("320000229"), None, "Showa ended in 1989");
        assert_eq!(parse_date_of_birth("420010229"), None, "2001 is not a leap year");
        assert_eq!(parse_date_of_birth("420000229"), Some((Era::Heisei, Some(2000), Some(2), Some(29))));
        assert_eq!(parse_date_of_birth("319800015"), None, "a day without a month");
        assert_eq!(parse_date_of_birth("619800101"), None);
        assert_eq!(parse_date_of_birth("31980123"), None);
        assert_eq!(parse_date_of_birth("３19801231"), None);
    }
}
