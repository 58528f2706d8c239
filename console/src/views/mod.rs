//! One module per view of the console: each reads models through the app's
//! queries and renders a template; each button calls one of the app's use
//! cases, as the API's routes do.

pub mod alerts;
pub mod as_of;
pub mod audit;
pub mod budgets;
pub mod downloads;
pub mod operations;
pub mod overview;
