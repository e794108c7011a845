//! Who a call runs as: an authenticated tenant and what it may receive.

use jpki_store::TenantId;

/// The four fields, as named in tenant permissions.
pub const FOUR_FIELDS: [&str; 4] = ["name", "date_of_birth", "address", "sex"];

/// Which of the four fields a tenant may receive (none by default: deny by default).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FieldPermissions {
    /// 氏名.
    pub name: bool,
    /// 生年月日.
    pub date_of_birth: bool,
    /// 住所.
    pub address: bool,
    /// 性別.
    pub sex: bool,
}

impl FieldPermissions {
    /// All four fields.
    pub const ALL: FieldPermissions = FieldPermissions { name: true, date_of_birth: true, address: true, sex: true };

    /// The permissions named by [`FOUR_FIELDS`] entries; the first unknown name otherwise.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<Self, String> {
        let mut fields = FieldPermissions::default();
        for name in names {
            match name.as_ref() {
                "name" => fields.name = true,
                "date_of_birth" => fields.date_of_birth = true,
                "address" => fields.address = true,
                "sex" => fields.sex = true,
                other => return Err(other.to_owned()),
            }
        }
        Ok(fields)
    }
}

/// An authenticated tenant: every use case runs as one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    /// The tenant id: the first part of every stored key.
    pub id: TenantId,
    /// Its four-field permissions.
    pub fields: FieldPermissions,
}
