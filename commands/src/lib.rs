//! Command handlers: load an aggregate from its stream, decide, append with the expected version, retry on conflict.
