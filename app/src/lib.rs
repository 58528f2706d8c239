//! The application layer: the use cases above the command handlers and read
//! models, and the runtime that runs the background workers. No HTTP here:
//! errors are typed, and `api` maps them to problems.

pub mod demo;
