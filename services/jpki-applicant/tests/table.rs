//! The verdict table: (typed, certificate, substitute positions, expected verdict) across all four
//! fields, positives and negatives. `docs/normalisation.md` explains each rule.

use jpki_applicant::{Verdict, compare_address, compare_date_of_birth, compare_name, compare_sex};

use Field::{Address, Date, Name, Sex};
use Verdict::{DiffersAtSubstitutesOnly as Substitutes, EqualAfterNormalisation as Equal, Exact};

#[derive(Clone, Copy, Debug)]
enum Field {
    Name,
    Address,
    Date,
    Sex,
}

type Row = (Field, &'static str, &'static str, &'static [usize], Verdict);

const DIFFERS: Verdict = Verdict::Differs;

#[rustfmt::skip]
const ROWS: &[Row] = &[
    // ---- names
    (Name, "山田　太郎", "山田　太郎", &[], Exact),
    (Name, "山田 太郎", "山田　太郎", &[], Equal),
    (Name, "山田太郎", "山田　太郎", &[], Equal),
    (Name, "山田\t太郎", "山田　太郎", &[], Equal),
    (Name, " 山田  太郎 ", "山田　太郎", &[], Equal),
    (Name, "山田\u{00A0}太郎", "山田　太郎", &[], Equal),
    (Name, "山田\u{200B}太郎", "山田　太郎", &[], Equal),
    (Name, "ﾔﾏﾀﾞ ﾀﾛｳ", "ヤマダ　タロウ", &[], Equal),
    (Name, "ＳＭＩＴＨ　ＪＯＨＮ", "SMITH JOHN", &[], Equal),
    (Name, "\u{FA1B}田　一郎", "福田　一郎", &[], Equal), // compatibility ideograph, canonically 福
    (Name, "Smith John", "SMITH JOHN", &[], DIFFERS),   // case is not folded
    (Name, "やまだ たろう", "ヤマダ　タロウ", &[], DIFFERS),
    (Name, "高橋 一郎", "髙橋　一郎", &[], DIFFERS),
    (Name, "山崎 花子", "山﨑　花子", &[], DIFFERS),
    (Name, "山田　太郎", "山田　花子", &[], DIFFERS),
    (Name, "山田", "山田　太郎", &[], DIFFERS),
    (Name, "髙橋 一郎", "高橋　一郎", &[0], Substitutes),
    (Name, "山﨑 花子", "山崎　花子", &[1], Substitutes),
    (Name, "𠮷田 花子", "吉田　花子", &[0], Substitutes),
    (Name, "髙橋一郎", "高橋　一郎", &[0, 99], Substitutes), // out-of-range position ignored
    (Name, "髙橋 一郎", "高橋　一郎", &[0, 0], Substitutes), // duplicate position counts once
    (Name, "髙﨑 一郎", "高崎　一郎", &[0, 1], Substitutes),
    (Name, "髙橋 次郎", "高橋　一郎", &[0], DIFFERS),      // another character differs too
    (Name, "髙橋 一郎", "高橋　一郎", &[1], DIFFERS),      // substitute at another position
    (Name, "髙橋 一郎", "高橋　一郎", &[99], DIFFERS),     // only out-of-range positions
    (Name, "髙橋 一郎", "高橋　一郎", &[2], DIFFERS),      // the space is the substitute
    (Name, "1田 花子", "吉田　花子", &[0], DIFFERS),       // a digit never stands for a kanji
    (Name, "田 花子", "吉田　花子", &[0], DIFFERS),        // a substitute takes one character
    (Name, "𠮷𠮷田 花子", "吉田　花子", &[0], DIFFERS),
    (Name, "(吉)田 花子", "吉田　花子", &[0], DIFFERS),
    // ---- addresses
    (Address, "東京都千代田区霞が関1丁目2番3号", "東京都千代田区霞が関1丁目2番3号", &[], Exact),
    (Address, "東京都千代田区霞が関1-2-3", "東京都千代田区霞が関一丁目二番三号", &[], Equal),
    (Address, "東京都千代田区霞が関１－２－３", "東京都千代田区霞が関1丁目2番3号", &[], Equal),
    (Address, "東京都千代田区霞が関1丁目2-3", "東京都千代田区霞が関1丁目2番3号", &[], Equal),
    (Address, "東京都千代田区霞が関1丁目2番地3", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都千代田区霞が関1ー2ー3", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都千代田区霞が関1‐2—3", "東京都千代田区霞が関1−2–3", &[], Equal),
    (Address, "東京都千代田区霞が関1ｰ2ｰ3", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都千代田区霞が関①-②-③", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都 千代田区　霞が関 1-2-3", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都千代田区霞が関1 2 3", "東京都千代田区霞が関1丁目2番3号", &[], Equal),
    (Address, "東京都千代田区霞が関\t1-2-3", "東京都千代田区霞が関1-2-3", &[], Equal),
    (Address, "東京都千代田区霞が関1-23", "東京都千代田区霞が関1-2-3", &[], DIFFERS),
    (Address, "東京都千代田区霞が関12-3", "東京都千代田区霞が関1-23", &[], DIFFERS),
    (Address, "東京都千代田区霞が関1 23", "東京都千代田区霞が関12-3", &[], DIFFERS),
    (Address, "東京都千代田区霞が関1-2-3", "東京都千代田区霞が関1-2-4", &[], DIFFERS),
    (Address, "大阪府大阪市北区梅田23番地", "大阪府大阪市北区梅田二十三番地", &[], Equal),
    (Address, "大阪府大阪市北区梅田2-3", "大阪府大阪市北区梅田二十三番地", &[], DIFFERS),
    (Address, "大阪府大阪市北区梅田10番地", "大阪府大阪市北区梅田十番地", &[], Equal),
    (Address, "大阪府大阪市北区梅田105番地", "大阪府大阪市北区梅田百五番地", &[], Equal),
    (Address, "大阪府大阪市北区梅田10番地", "大阪府大阪市北区梅田一〇番地", &[], Equal),
    (Address, "京都府京都市北区紫野2", "京都府京都市北区紫野2番地", &[], Equal),
    (Address, "京都府京都市北区紫野2番地", "京都府京都市北区紫野2番地の1", &[], DIFFERS),
    (Address, "京都府京都市北区紫野2-1", "京都府京都市北区紫野2番地の1", &[], Equal),
    (Address, "京都府京都市北区紫野二番地ノ一", "京都府京都市北区紫野2番地の1", &[], Equal),
    (Address, "千代田区霞が関1-2-3", "東京都千代田区霞が関1-2-3", &[], DIFFERS),
    (Address, "神奈川県千代田区霞が関1-2-3", "東京都千代田区霞が関1-2-3", &[], DIFFERS),
    (Address, "東京都千代田区霞が関1-2-3", "東京都千代田区霞ヶ関1-2-3", &[], DIFFERS),
    (Address, "神奈川県川崎市川崎区1-2", "神奈川県川﨑市川崎区1-2", &[], DIFFERS),
    (Address, "三重県四日市市諏訪町1-5", "三重県四日市市諏訪町1番5号", &[], Equal),
    (Address, "三重県4日市市諏訪町1-5", "三重県四日市市諏訪町1番5号", &[], DIFFERS),
    (Address, "東京都港区六本木6-10-1", "東京都港区六本木六丁目10番1号", &[], Equal),
    (Address, "東京都中央区八丁堀3", "東京都中央区八丁堀三丁目", &[], Equal),
    (Address, "東京都中央区8丁堀3", "東京都中央区八丁堀三丁目", &[], DIFFERS),
    (Address, "東京都港区麻布十番1-2-3", "東京都港区麻布十番一丁目二番三号", &[], Equal),
    (Address, "東京都千代田区五番町1-2", "東京都千代田区五番町1番地2", &[], Equal),
    (Address, "岩手県一関市大町1-2", "岩手県一関市大町1番2号", &[], Equal),
    (Address, "北海道札幌市中央区北1条西2丁目", "北海道札幌市中央区北一条西二丁目", &[], Equal),
    (Address, "東京都港区1-2-3コーポ山田", "東京都港区1丁目2番3号コーポ山田", &[], Equal),
    (Address, "東京都港区1-2-3ｺｰﾎﾟ山田", "東京都港区1-2-3コーポ山田", &[], Equal),
    (Address, "東京都港区1-2-3コ-ポ山田", "東京都港区1-2-3コーポ山田", &[], DIFFERS),
    (Address, "東京都港区1-2-3-101号室", "東京都港区1丁目2番3号101号室", &[], Equal),
    (Address, "東京都港区1-2-3-101", "東京都港区1丁目2番3号101号室", &[], DIFFERS),
    (Address, "茨城県つくば市𠮷瀬1-2", "茨城県つくば市吉瀬1丁目2番", &[7], Substitutes),
    (Address, "茨城県 つくば市𠮷瀬一丁目二番", "茨城県つくば市吉瀬1-2", &[7], Substitutes),
    (Address, "茨城県つくば市𠮷瀬1-2-3", "茨城県つくば市吉瀬1丁目2番", &[7], DIFFERS),
    (Address, "茨城県つくば市𠮷瀬1-2", "茨城県つくば市吉瀬1丁目2番", &[], DIFFERS),
    (Address, "茨城県つくば市二瀬1-2", "茨城県つくば市吉瀬1丁目2番", &[7], DIFFERS), // a numeral is never a substitute
    // ---- dates of birth
    (Date, "1980-12-31", "319801231", &[], Exact),
    (Date, "1980/12/31", "319801231", &[], Equal),
    (Date, "19801231", "319801231", &[], Equal),
    (Date, "１９８０－１２－３１", "319801231", &[], Equal),
    (Date, "1980年12月31日", "319801231", &[], Equal),
    (Date, " 1980-12-31 ", "319801231", &[], Equal),
    (Date, "1980-1-5", "319800105", &[], Equal),
    (Date, "2000-02-29", "420000229", &[], Exact),
    (Date, "1989-01-07", "319890107", &[], Exact),
    (Date, "2019-05-01", "520190501", &[], Exact),
    (Date, "1945-08-15", "019450815", &[], Exact),   // era unknown, date complete
    (Date, "1945-00-00", "019450000", &[], Equal),   // unknown parts typed as zero
    (Date, "1989-01-00", "419890100", &[], Equal),
    (Date, "1980-12-30", "319801231", &[], DIFFERS),
    (Date, "1981-01-01", "319801231", &[], DIFFERS),
    (Date, "1945-08-15", "019450000", &[], DIFFERS), // partial certificate date
    (Date, "1989-01-08", "419890100", &[], DIFFERS),
    (Date, "1980-12-31", "419801231", &[], DIFFERS), // 平成 1980: era inconsistent
    (Date, "2001-02-29", "420010229", &[], DIFFERS),
    (Date, "1980-12-31", "31980123", &[], DIFFERS),
    (Date, "12/31/1980", "319801231", &[], DIFFERS),
    (Date, "1980-12", "319801200", &[], DIFFERS),
    // ---- sex
    (Sex, "1", "1", &[], Exact),
    (Sex, "2", "2", &[], Exact),
    (Sex, "3", "3", &[], Exact),
    (Sex, "１", "1", &[], Equal),
    (Sex, " 2 ", "2", &[], Equal),
    (Sex, "男", "1", &[], Equal),
    (Sex, "男性", "1", &[], Equal),
    (Sex, "女性", "2", &[], Equal),
    (Sex, "Female", "2", &[], Equal),
    (Sex, "MALE", "1", &[], Equal),
    (Sex, "1", "2", &[], DIFFERS),
    (Sex, "男", "2", &[], DIFFERS),
    (Sex, "female", "1", &[], DIFFERS),
    (Sex, "男", "3", &[], DIFFERS),
    (Sex, "4", "4", &[], DIFFERS), // not a code of the profile
    (Sex, "M", "1", &[], DIFFERS),
];

fn verdict((field, typed, certificate, positions, _): &Row) -> Verdict {
    match field {
        Name => compare_name(typed, certificate, positions),
        Address => compare_address(typed, certificate, positions),
        Date => compare_date_of_birth(typed, certificate),
        Sex => compare_sex(typed, certificate),
    }
}

#[test]
fn every_row_gives_its_verdict() {
    let failures: Vec<String> = ROWS
        .iter()
        .filter(|row| verdict(row) != row.4)
        .map(|row| {
            format!("{:?} {:?} vs {:?} {:?}: expected {:?}, got {:?}", row.0, row.1, row.2, row.3, row.4, verdict(row))
        })
        .collect();
    assert!(failures.is_empty(), "{} of {} rows fail:\n{}", failures.len(), ROWS.len(), failures.join("\n"));
}

#[test]
fn the_table_is_large_and_balanced() {
    let negatives = ROWS.iter().filter(|row| row.4 == DIFFERS).count();
    assert!(ROWS.len() >= 60, "{} rows", ROWS.len());
    assert!(negatives >= 15, "{negatives} negatives");
    for field in [Name, Address, Date, Sex] {
        let rows: Vec<_> =
            ROWS.iter().filter(|row| std::mem::discriminant(&row.0) == std::mem::discriminant(&field)).collect();
        assert!(rows.iter().any(|row| row.4 == DIFFERS), "{field:?} has no negative");
        assert!(rows.iter().any(|row| row.4 != DIFFERS), "{field:?} has no positive");
    }
}

#[test]
fn verdicts_serialise_in_snake_case() {
    let names: Vec<String> =
        [Exact, Equal, Substitutes, DIFFERS].iter().map(|v| serde_json::to_string(v).unwrap()).collect();
    assert_eq!(
        names,
        [r#""exact""#, r#""equal_after_normalisation""#, r#""differs_at_substitutes_only""#, r#""differs""#]
    );
}

#[test]
fn normalised_forms() {
    use jpki_applicant::{normalise_address, normalise_name};
    assert_eq!(normalise_name(" 山田　太郎\t"), "山田太郎");
    assert_eq!(normalise_name("ﾔﾏﾀﾞ"), "ヤマダ");
    assert_eq!(normalise_address("東京都千代田区霞が関一丁目二番三号"), "東京都千代田区霞が関1-2-3");
    assert_eq!(normalise_address("梅田二十三番地の一"), "梅田23-1");
    assert_eq!(normalise_address("1-2-3 コーポ山田 101号室"), "1-2-3コーポ山田101号室");
    assert_eq!(normalise_address("四日市市一ノ関1ー2"), "四日市市一ノ関1-2");
}
