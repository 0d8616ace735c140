//! The HTTP routes.

pub mod admin;
pub mod ops;
pub mod storefront;
pub mod v1;
