//! The SQL adapters: a shared group-commit engine over a small `Backend` trait,
//! implemented for SQLite and PostgreSQL.

pub(crate) mod backend;
pub mod engine;
pub(crate) mod filter;
pub(crate) mod migrations;
pub(crate) mod notify;
pub(crate) mod plan;
pub(crate) mod postgres;
pub(crate) mod row;
pub(crate) mod sqlite;
pub(crate) mod sqlite_reader;
pub(crate) mod sqlite_writer;
