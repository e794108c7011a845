//! The basic four information (基本4情報) and the fictitious holders of the test PKI.
//!
//! All people, addresses and dates here are invented. Fields are kept exactly as encoded in the
//! certificate (the raw UTF8String values), so tests can compare byte for byte.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The four fields as carried in a signing certificate's subjectAltName.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct FourFields {
    /// `.1` 氏名: surname, U+3000, given name (after substitution of characters outside JIS).
    pub name: String,
    /// `.2` one `'0'`/`'1'` per Unicode scalar of `name`; `'1'` marks a substitute character.
    pub name_substitute: String,
    /// `.3` 性別: `"1"` male, `"2"` female, `"3"` unknown.
    pub sex: String,
    /// `.4` 生年月日 `EYYYYMMDD`: era digit (0 unknown, 1 明治 ... 5 令和) and Gregorian date.
    pub date_of_birth: String,
    /// `.5` 住所 from the prefecture on, at most 200 characters.
    pub address: String,
    /// `.6` one `'0'`/`'1'` per Unicode scalar of `address`.
    pub address_substitute: String,
}

impl FourFields {
    /// Builds the fields, computing the substitute masks from the positions (in Unicode scalars)
    /// of substituted characters.
    pub fn new(
        name: &str,
        name_substituted_at: &[usize],
        sex: &str,
        date_of_birth: &str,
        address: &str,
        address_substituted_at: &[usize],
    ) -> Result<FourFields> {
        let f = FourFields {
            name: name.to_owned(),
            name_substitute: substitute_mask(name, name_substituted_at)?,
            sex: sex.to_owned(),
            date_of_birth: date_of_birth.to_owned(),
            address: address.to_owned(),
            address_substitute: substitute_mask(address, address_substituted_at)?,
        };
        f.validate()?;
        Ok(f)
    }

    /// Checks the shapes: masks match their fields' lengths, sex and date formats, address length.
    pub fn validate(&self) -> Result<()> {
        let bad = |m: &str| Err(Error::Invalid(format!("four fields: {m}")));
        if self.name_substitute.chars().count() != self.name.chars().count()
            || self.address_substitute.chars().count() != self.address.chars().count()
        {
            return bad("substitute mask length differs from its field");
        }
        if !self.name_substitute.chars().chain(self.address_substitute.chars()).all(|c| c == '0' || c == '1') {
            return bad("substitute masks may only hold '0' and '1'");
        }
        if !matches!(self.sex.as_str(), "1" | "2" | "3") {
            return bad("sex must be 1, 2 or 3");
        }
        let d = self.date_of_birth.as_bytes();
        if d.len() != 9 || !d.iter().all(u8::is_ascii_digit) || d[0] > b'5' {
            return bad("date of birth must be EYYYYMMDD with era 0-5");
        }
        if self.address.chars().count() > 200 {
            return bad("address longer than 200 characters");
        }
        Ok(())
    }

    /// Number of characters marked as substitutes in the name and address.
    pub fn substitute_count(&self) -> usize {
        self.name_substitute.chars().chain(self.address_substitute.chars()).filter(|c| *c == '1').count()
    }
}

/// A mask of `'0'` with `'1'` at the given scalar positions.
pub fn substitute_mask(field: &str, positions: &[usize]) -> Result<String> {
    let n = field.chars().count();
    if let Some(p) = positions.iter().find(|p| **p >= n) {
        return Err(Error::Invalid(format!("substitute position {p} outside a field of {n} characters")));
    }
    Ok((0..n).map(|i| if positions.contains(&i) { '1' } else { '0' }).collect())
}

/// A fictitious holder of the test PKI.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolderProfile {
    /// Stable id (`h01`, ..., `p01` for the smartphone holder).
    pub id: String,
    /// The four fields as in the signing certificate.
    pub four_fields: FourFields,
    /// The name as the person writes it (with characters the certificate had to substitute).
    pub name_as_written: String,
    /// The address as the person writes it.
    pub address_as_written: String,
    /// Prefecture in romaji, used in the signing subject `L` and the CRL distribution point.
    pub prefecture: String,
    /// Municipality in romaji, used in the signing subject `L` and the CRL distribution point.
    pub municipality: String,
    /// CA generation that issued the holder's certificates (1 or 2).
    pub generation: u8,
    /// Whether the certificates are smartphone certificates.
    pub phone: bool,
    /// What the holder exercises.
    pub note: String,
}

/// The 200-character address of holder `h06` (limit of the `.5` field).
pub const ADDRESS_200: &str = "北海道川上郡弟子屈町字屈斜路原野四千五百六十七番地八十九　屈斜路湖畔リゾートヴィレッジ・ノースウィング別館第三号棟二千三百四十五号室　株式会社長大住所試験用見本資料作成研究所気付　第一倉庫管理事務所東側通用口受付窓口経由　北見方面営業所阿寒湖温泉出張所連絡事務室内　総務部総務課庶務係郵便物集配担当者宛　摩周湖第一展望台前観光案内所裏手駐車場奥　硫黄山登山口休憩所隣接木造平屋建物内北側倉庫二階奥部屋";

#[allow(clippy::too_many_arguments)]
fn holder(
    id: &str,
    written: (&str, &str),
    fields: (&str, &[usize], &str, &str, &str, &[usize]),
    place: (&str, &str),
    generation: u8,
    phone: bool,
    note: &str,
) -> Result<HolderProfile> {
    let (name, name_subs, sex, dob, address, address_subs) = fields;
    Ok(HolderProfile {
        id: id.to_owned(),
        four_fields: FourFields::new(name, name_subs, sex, dob, address, address_subs)?,
        name_as_written: written.0.to_owned(),
        address_as_written: written.1.to_owned(),
        prefecture: place.0.to_owned(),
        municipality: place.1.to_owned(),
        generation,
        phone,
        note: note.to_owned(),
    })
}

/// The holders of the default PKI: six card holders from the g2 CAs, one from g1, one phone holder.
pub fn default_holders() -> Result<Vec<HolderProfile>> {
    Ok(vec![
        holder(
            "h01",
            ("山田　太郎", "東京都千代田区霞が関二丁目１番２号"),
            ("山田　太郎", &[], "1", "319801231", "東京都千代田区霞が関二丁目１番２号", &[]),
            ("Tokyo", "Chiyoda-ku"),
            2,
            false,
            "plain adult, Showa birth date, full-width digits in the address",
        )?,
        holder(
            "h02",
            ("山﨑　花子", "大阪府大阪市北区梅田三丁目四番五号"),
            ("山崎　花子", &[1], "2", "419950615", "大阪府大阪市北区梅田三丁目四番五号", &[]),
            ("Osaka", "Osaka-shi Kita-ku"),
            2,
            false,
            "Heisei birth date; 﨑 in the name replaced by 崎 (marked '1'); kanji numerals",
        )?,
        holder(
            "h03",
            ("髙橋　一郎", "福岡県福岡市博多区𠮷塚一丁目２番３号"),
            ("高橋　一郎", &[0], "1", "119110203", "福岡県福岡市博多区吉塚一丁目２番３号", &[9]),
            ("Fukuoka", "Fukuoka-shi Hakata-ku"),
            2,
            false,
            "Meiji birth date; substitutes in name (髙→高) and address (𠮷→吉)",
        )?,
        holder(
            "h04",
            ("鈴木　ハナ", "北海道札幌市中央区北一条西二丁目１番地"),
            ("鈴木　ハナ", &[], "2", "219250101", "北海道札幌市中央区北一条西二丁目１番地", &[]),
            ("Hokkaido", "Sapporo-shi Chuo-ku"),
            2,
            false,
            "Taisho birth date; katakana given name; 番地",
        )?,
        holder(
            "h05",
            ("田中　陽葵", "京都府京都市左京区下鴨半木町１番地"),
            ("田中　陽葵", &[], "2", "520231224", "京都府京都市左京区下鴨半木町１番地", &[]),
            ("Kyoto", "Kyoto-shi Sakyo-ku"),
            2,
            false,
            "Reiwa birth date (a baby)",
        )?,
        holder(
            "h06",
            ("渡辺　誠", ADDRESS_200),
            ("渡辺　誠", &[], "3", "019450000", ADDRESS_200, &[]),
            ("Hokkaido", "Teshikaga-cho"),
            2,
            false,
            "unknown era and month/day (019450000), sex 3, address exactly 200 characters",
        )?,
        holder(
            "h07",
            ("伊藤　健太", "神奈川県横浜市中区日本大通１番地"),
            ("伊藤　健太", &[], "1", "420010911", "神奈川県横浜市中区日本大通１番地", &[]),
            ("Kanagawa", "Yokohama-shi Naka-ku"),
            1,
            false,
            "certificates from the g1 CAs",
        )?,
        holder(
            "p01",
            ("小林　美咲", "愛知県名古屋市中区三の丸三丁目１番２号"),
            ("小林　美咲", &[], "2", "319750505", "愛知県名古屋市中区三の丸三丁目１番２号", &[]),
            ("Aichi", "Nagoya-shi Naka-ku"),
            2,
            true,
            "smartphone certificates (test-only phone profile)",
        )?,
    ])
}

/// The four fields carried by the signing-profile bad-case certificates.
pub fn bad_case_fields() -> Result<FourFields> {
    FourFields::new("見本　太郎", &[], "1", "319700101", "東京都千代田区永田町一丁目７番１号", &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks() {
        assert_eq!(substitute_mask("高橋　一郎", &[0]).unwrap(), "10000");
        assert!(substitute_mask("ab", &[2]).is_err());
    }

    #[test]
    fn defaults_are_valid() {
        let hs = default_holders().unwrap();
        assert_eq!(ADDRESS_200.chars().count(), 200);
        assert!(hs.iter().any(|h| h.four_fields.substitute_count() >= 2));
        for h in &hs {
            h.four_fields.validate().unwrap();
        }
    }
}
