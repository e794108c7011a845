pub struct Bundle; pub enum Mismatch{} pub struct VerifyFailure; pub struct VerifyReport;
