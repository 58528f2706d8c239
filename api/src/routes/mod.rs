pub mod health;
pub mod streams;
