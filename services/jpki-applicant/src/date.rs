//! 生年月日: typed Gregorian date against the certificate's `EYYYYMMDD`.

use unicode_normalization::UnicodeNormalization;

use crate::Verdict;
use crate::text::is_dash;

/// A date whose parts may be unknown (`None`), as the register records them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Date {
    year: Option<u16>,
    month: Option<u8>,
    day: Option<u8>,
}

/// Compares a typed date of birth with the certificate's raw `EYYYYMMDD`.
///
/// `typed` is `YYYY-MM-DD`; `YYYY/MM/DD`, `YYYYMMDD`, `YYYY年MM月DD日`, one-digit months and
/// days, full-width digits and surrounding spaces are accepted too. The era digit is not
/// compared (the year is Gregorian already), but it must be consistent with the year.
///
/// - [`Verdict::Exact`]: `typed` is exactly `YYYY-MM-DD` (ASCII, zero-padded) and equals a
///   complete certificate date.
/// - [`Verdict::EqualAfterNormalisation`]: the same date in another accepted form, or a
///   partial certificate date (unknown parts `0000`/`00`) typed with the same parts as zero
///   (`1945-00-00` for `019450000`).
/// - [`Verdict::Differs`]: anything else. In particular a complete typed date against a partial
///   certificate date: the certificate does not state that date, so it cannot confirm it.
///   A certificate value that does not follow the profile, or a typed date that does not exist,
///   also differs.
pub fn compare_date_of_birth(typed: &str, certificate_raw: &str) -> Verdict {
    let Some(certificate) = parse_certificate(certificate_raw) else { return Verdict::Differs };
    let Some(typed_date) = parse_typed(typed) else { return Verdict::Differs };
    if typed_date != certificate {
        return Verdict::Differs;
    }
    let canonical = match (certificate.year, certificate.month, certificate.day) {
        (Some(year), Some(month), Some(day)) => Some(format!("{year:04}-{month:02}-{day:02}")),
        _ => None,
    };
    if canonical.as_deref() == Some(typed) { Verdict::Exact } else { Verdict::EqualAfterNormalisation }
}

/// `EYYYYMMDD` with the same rules as jpki-core's four-field parser: era 0-5, zero parts unknown,
/// a day needs a month, the date must exist, the year must lie in the era (change-over days
/// are not checked).
fn parse_certificate(raw: &str) -> Option<Date> {
    let bytes = raw.as_bytes();
    if bytes.len() != 9 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let era = bytes.first().map(|digit| digit - b'0')?;
    let date = checked_date(raw.get(1..5)?.parse().ok()?, raw.get(5..7)?.parse().ok()?, raw.get(7..9)?.parse().ok()?)?;
    let years = match era {
        0 => None,
        1 => Some(1868..=1912),
        2 => Some(1912..=1926),
        3 => Some(1926..=1989),
        4 => Some(1989..=2019),
        5 => Some(2019..=9999),
        _ => return None,
    };
    if let (Some(years), Some(year)) = (years, date.year)
        && !years.contains(&year)
    {
        return None;
    }
    Some(date)
}

/// A typed date in one of the accepted forms; zero parts mean unknown, as in the certificate.
fn parse_typed(typed: &str) -> Option<Date> {
    let text: String = typed.nfkc().map(|c| if is_dash(c) { '-' } else { c }).collect();
    let text = text.trim();
    let parts: Vec<&str> = if text.len() == 8 && text.bytes().all(|byte| byte.is_ascii_digit()) {
        vec![text.get(0..4)?, text.get(4..6)?, text.get(6..8)?]
    } else if let Some(rest) = text.strip_suffix('日') {
        rest.split(['年', '月']).collect()
    } else if text.contains('/') {
        text.split('/').collect()
    } else {
        text.split('-').collect()
    };
    let [year, month, day] = parts.as_slice() else { return None };
    let number = |part: &str, lengths: std::ops::RangeInclusive<usize>| {
        if lengths.contains(&part.len()) && part.bytes().all(|byte| byte.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    let month = u8::try_from(number(month, 1..=2)?).ok()?;
    let day = u8::try_from(number(day, 1..=2)?).ok()?;
    checked_date(number(year, 4..=4)?, month, day)
}

/// Validates year/month/day where 0 means unknown.
fn checked_date(year: u16, month: u8, day: u8) -> Option<Date> {
    let year = (year != 0).then_some(year);
    let month = (month != 0).then_some(month);
    let day = (day != 0).then_some(day);
    match (month, day) {
        (Some(month), _) if month > 12 => return None,
        (None, Some(_)) => return None,
        (Some(month), Some(day)) if day > days_in_month(year, month) => return None,
        _ => {}
    }
    Some(Date { year, month, day })
}

/// Days in `month`; an unknown year allows 29 February.
fn days_in_month(year: Option<u16>, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 => match year {
            Some(year) if !(year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) => 28,
            _ => 29,
        },
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_dates_follow_the_core_rules() {
        let date = |year, month, day| Some(Date { year, month, day });
        assert_eq!(parse_certificate("319801231"), date(Some(1980), Some(12), Some(31)));
        assert_eq!(parse_certificate("019450000"), date(Some(1945), None, None));
        assert_eq!(parse_certificate("320000229"), None, "Showa ended in 1989");
        assert_eq!(parse_certificate("420010229"), None, "2001 is not a leap year");
        assert_eq!(parse_certificate("420000229"), date(Some(2000), Some(2), Some(29)));
        assert_eq!(parse_certificate("319800015"), None, "a day without a month");
        assert_eq!(parse_certificate("619800101"), None);
        assert_eq!(parse_certificate("31980123"), None);
        assert_eq!(parse_certificate("３19801231"), None);
    }
}
