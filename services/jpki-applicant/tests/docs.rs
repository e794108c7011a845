//! Every example row in `docs/normalisation.md` gives the verdict the page states.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use jpki_applicant::{Verdict, compare_address, compare_date_of_birth, compare_name, compare_sex};

fn verdict_named(name: &str) -> Verdict {
    match name {
        "exact" => Verdict::Exact,
        "equal_after_normalisation" => Verdict::EqualAfterNormalisation,
        "differs_at_substitutes_only" => Verdict::DiffersAtSubstitutesOnly,
        "differs" => Verdict::Differs,
        other => panic!("unknown verdict {other:?}"),
    }
}

#[test]
fn documented_examples_hold() {
    let page = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/normalisation.md")).unwrap();
    let (_, rest) = page.split_once("<!-- examples:begin -->").expect("examples begin marker");
    let (table, _) = rest.split_once("<!-- examples:end -->").expect("examples end marker");
    let mut checked = 0;
    for line in table.lines().filter(|line| line.starts_with('|')).skip(2) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        let [field, typed, certificate, positions, expected, _rule] = cells.as_slice() else {
            panic!("malformed row {line:?}")
        };
        let typed = typed.trim_matches('`');
        let certificate = certificate.trim_matches('`');
        let positions: Vec<usize> =
            positions.split(',').filter(|p| !p.trim().is_empty()).map(|p| p.trim().parse().unwrap()).collect();
        let got = match *field {
            "name" => compare_name(typed, certificate, &positions),
            "address" => compare_address(typed, certificate, &positions),
            "date" => compare_date_of_birth(typed, certificate),
            "sex" => compare_sex(typed, certificate),
            other => panic!("unknown field {other:?}"),
        };
        assert_eq!(got, verdict_named(expected), "{line}");
        checked += 1;
    }
    assert!(checked >= 20, "only {checked} examples found");
}
