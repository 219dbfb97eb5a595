//! The Lua scripts: every multi-step change runs as one script, atomically, on keys of one hash
//! slot (a session's `{p/t/f}` keys, or one key), all named in `KEYS` so a cluster can route them.
//!
//! Sealed records are compared byte for byte inside the scripts. Each seal carries a fresh random
//! nonce, so a record's bytes identify one write: a script that finds its own bytes already
//! stored knows that an earlier attempt of the same call was applied, which makes the calls safe
//! to retry after a connection dropped before the answer arrived.

use std::sync::LazyLock;

use redis::Script;

/// Compare-and-swap write of a session.
///
/// `KEYS`: session hash, version counter.
/// `ARGV`: mode (`any`, `absent`, `version`), expected version, sealed record, TTL in ms (0 for
/// none), how long the counter outlives the session in ms, the proposed version.
/// Returns the new version as a string; nil when the expectation does not hold; `low:<last>`
/// when the proposal is not above the key's counter (the writer seals again above it).
///
/// The version is sealed into the record, so the writer proposes it: its clock in µs, or one
/// above the counter. It rises per key while the counter lives, and stays above earlier versions
/// after the counter has expired (unless a writer's clock is behind by more than the counter's
/// grace period). The counter lives as long as the session (and the grace period after), which
/// is what a read compares a record's version with.
pub(crate) static PUT_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local cur = redis.call('HMGET', KEYS[1], 'v', 'd')
if cur[2] == ARGV[3] then return cur[1] end
if ARGV[1] == 'absent' then
  if cur[1] then return false end
elseif ARGV[1] == 'version' then
  if cur[1] ~= ARGV[2] then return false end
end
local last = redis.call('GET', KEYS[2]) or '0'
if tonumber(ARGV[6]) <= tonumber(last) then return 'low:' .. last end
redis.call('HSET', KEYS[1], 'v', ARGV[6], 'd', ARGV[3])
redis.call('SET', KEYS[2], ARGV[6])
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl + tonumber(ARGV[5]))
else
  redis.call('PERSIST', KEYS[1])
  redis.call('PERSIST', KEYS[2])
end
return ARGV[6]
",
    )
});

/// Deletes a session, raises its version counter past the deleted record's version (so that a
/// copy of that record put back later is older than the counter and refused), and lets the
/// counter expire after the grace period.
///
/// `KEYS`: session hash, version counter. `ARGV`: grace in ms. Returns 1 when a session existed.
pub(crate) static DELETE_SESSION: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local n = redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('INCR', KEYS[2])
  redis.call('PEXPIRE', KEYS[2], ARGV[1])
end
return n
",
    )
});

/// A session record and its key's version counter, read together.
///
/// `KEYS`: session hash, version counter. Returns `[v, d, counter]`, each nil when missing.
/// Also run in batches as `EVALSHA` after `SCRIPT LOAD` of this source.
pub(crate) const READ_SESSION_SOURCE: &str = r"
local row = redis.call('HMGET', KEYS[1], 'v', 'd')
return {row[1], row[2], redis.call('GET', KEYS[2])}
";

/// [`READ_SESSION_SOURCE`] as a script.
pub(crate) static READ_SESSION: LazyLock<Script> =
    LazyLock::new(|| Script::new(READ_SESSION_SOURCE));

/// Replaces the session key's flow.
///
/// `KEYS`: flow hash. `ARGV`: state hash, status, expiry, sealed record, TTL in ms.
pub(crate) static PUT_FLOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'h', ARGV[1], 'st', ARGV[2], 'exp', ARGV[3], 'd', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
",
    )
});

/// Moves a waiting, unexpired flow to `claimed`, if it is still the record the caller opened.
///
/// `KEYS`: flow hash. `ARGV`: state hash, now, sealed record read, the claimer's token.
/// Returns 1 when this claimer holds the claim (also on a retry of an applied claim), else 0.
pub(crate) static CLAIM_FLOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'h', 'st', 'exp', 'd', 'by')
if f[1] ~= ARGV[1] or f[4] ~= ARGV[3] then return 0 end
if f[2] == 'claimed' and f[5] == ARGV[4] then return 1 end
if f[2] ~= 'waiting' or tonumber(f[3]) <= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'st', 'claimed', 'by', ARGV[4])
return 1
",
    )
});

/// Records a flow's outcome, if the flow is still the record the caller read.
///
/// `KEYS`: flow hash. `ARGV`: state hash, sealed record read, new status, new sealed record.
/// Returns 1 when written (or already written by an earlier attempt), 0 when the flow is gone or
/// replaced, -1 when its record changed since it was read (read again).
pub(crate) static FINISH_FLOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'h', 'd')
if f[1] ~= ARGV[1] then return 0 end
if f[2] == ARGV[4] then return 1 end
if f[2] ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'st', ARGV[3], 'd', ARGV[4])
return 1
",
    )
});

/// Binds a waiting flow to a browser: replaces its sealed record if it is still the one read.
///
/// `KEYS`: flow hash. `ARGV`: state hash, sealed record read, new sealed record.
/// Returns 1 when written (or already written by an earlier attempt), 0 when the flow is gone,
/// replaced or no longer waiting, -1 when its record changed since it was read (read again).
pub(crate) static BIND_FLOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local f = redis.call('HMGET', KEYS[1], 'h', 'd', 'st')
if f[1] ~= ARGV[1] then return 0 end
if f[2] == ARGV[3] then return 1 end
if f[3] ~= 'waiting' then return 0 end
if f[2] ~= ARGV[2] then return -1 end
redis.call('HSET', KEYS[1], 'd', ARGV[3])
return 1
",
    )
});

/// Deletes the flow if it is the one with this state hash.
///
/// `KEYS`: flow hash. `ARGV`: state hash. Returns 1 when deleted.
pub(crate) static DELETE_FLOW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('HGET', KEYS[1], 'h') == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});

/// Deletes the flow if it is the one with this state hash and it has expired.
///
/// `KEYS`: flow hash. `ARGV`: state hash, now. Returns 1 when deleted.
/// It runs in batches as `EVALSHA` right after `SCRIPT LOAD` of this source, which is why the
/// source is kept.
pub(crate) const PURGE_FLOW_SOURCE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'h', 'exp')
if f[1] == ARGV[1] and tonumber(f[2]) <= tonumber(ARGV[2]) then
  return redis.call('DEL', KEYS[1])
end
return 0
";

/// [`PURGE_FLOW_SOURCE`] as a script, for its hash.
pub(crate) static PURGE_FLOW: LazyLock<Script> = LazyLock::new(|| Script::new(PURGE_FLOW_SOURCE));

/// Takes a lease, or extends it for its owner.
///
/// `KEYS`: lease. `ARGV`: owner, TTL in ms. Returns 1 when the owner holds the lease.
pub(crate) static TRY_LOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
",
    )
});

/// Releases a lease if its owner asks.
///
/// `KEYS`: lease. `ARGV`: owner. Returns 1 when released.
pub(crate) static UNLOCK: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
",
    )
});
