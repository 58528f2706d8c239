pub mod agents;
pub mod alerts;
pub mod dispatch;
pub mod health;
pub mod operators;
pub mod reports;
pub mod streams;
pub mod tasks;
