//! The Redis store's integration tests. Each needs a real `redis-server` and fails without one
//! (naming the command that installs it); all of them live in `redis_server`, so
//! `cargo xtask test --skip-redis` leaves out exactly these, by the `redis_server::` in their names.

mod redis_server;
