//! Nothing but a home for `tests/subset.rs`: compile tests of the keyfob facade built with a
//! feature subset (`github` on, `stripe` off), which the workspace's `--all-features` build cannot
//! be.
