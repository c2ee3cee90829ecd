//! Digital vehicle inspections. `sheets`: the shop's templates, with
//! import and export.

pub mod sheets;
