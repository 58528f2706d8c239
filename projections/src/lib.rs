//! Projection runner and read models: fold the event log into queryable tables.
