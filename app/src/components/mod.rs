//! Pieces of view used across pages.

pub mod auth_card;
pub mod check_report;
pub mod confirm;
pub mod fields;
pub mod file_text;
pub mod hydrated;
pub mod pager;
pub mod refresh;
pub mod search_box;
pub mod search_results;
pub mod theme;

pub use auth_card::*;
pub use check_report::*;
pub use confirm::*;
pub use fields::*;
pub use file_text::*;
pub use hydrated::*;
pub use pager::*;
pub use refresh::*;
pub use search_box::*;
pub use search_results::*;
pub use theme::*;
