//! One fetch per interval across replicas, through Redis.
//!
//! Per configured source, a replica that wants to fetch takes a lease: `INCR` gives it a fencing
//! token, `SET lock token NX PX lease` makes it the leader until the lease runs out. The leader
//! fetches from the CA only if nobody checked within the interval. A source may hold several
//! lists (partitions of one issuer, CA generations), each with its own cRLNumber sequence (issuer
//! key and scope, [`crate::ledger::sequence_id`]): the leader writes each list to Redis in chunks
//! (a 400 MB list must be neither one value nor one blocking command) and publishes it under its
//! sequence with a script that succeeds only while the lock still holds its token and no higher
//! number is published there; then it publishes the source's record (validators, check time, the
//! sequences) with a script that also requires its token to be newer than the record's: a leader
//! frozen past its lease cannot publish when it wakes. Followers are notified by pub/sub (and
//! poll as a fallback), download every sequence's list they do not hold, check its hash, and check
//! the CA's signature themselves: Redis is not trusted to vouch for a list.

use std::collections::HashMap;
use std::time::Duration;

use redis::AsyncCommands;

/// Redis settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisConfig {
    /// `redis://host:port/db`.
    pub url: String,
    /// Prefix of every key and of the channel.
    pub prefix: String,
    /// Size of one chunk of a published list.
    pub chunk_bytes: usize,
    /// How long a leader may hold a list's lock.
    pub lease: Duration,
}

impl RedisConfig {
    /// Defaults: prefix `jpki:`, 4 MiB chunks, 60 s lease.
    pub fn new(url: &str) -> Self {
        RedisConfig {
            url: url.to_owned(),
            prefix: "jpki:".to_owned(),
            chunk_bytes: 4 << 20,
            lease: Duration::from_secs(60),
        }
    }
}

/// Why a Redis operation failed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CoordinationError {
    /// The Redis command failed.
    #[error("redis: {detail}")]
    Redis {
        /// What the client said.
        detail: String,
    },
    /// A published list's chunks are missing or do not match its hash.
    #[error("published list {list} (token {fence}) is incomplete or corrupt in redis")]
    Corrupt {
        /// The list.
        list: String,
        /// Its fencing token.
        fence: u64,
    },
}

impl From<redis::RedisError> for CoordinationError {
    fn from(error: redis::RedisError) -> Self {
        CoordinationError::Redis { detail: error.to_string() }
    }
}

/// A lease on one list: the fencing token that must still hold the lock to publish.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The fencing token.
    pub fence: u64,
}

/// What is published for a configured source (one configured list name): when it was last
/// checked, the validators of that check, and the cRLNumber sequences the source holds.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Token of the leader that published it.
    pub fence: u64,
    /// ETag from the CA.
    pub etag: Option<String>,
    /// Last-Modified from the CA.
    pub last_modified: Option<String>,
    /// When a leader last asked the CA (seconds since the epoch), whether or not it changed.
    pub checked_at: i64,
    /// The sequences ([`crate::ledger::sequence_id`]) whose lists came from this source; each is
    /// published on its own ([`PublishedList`]).
    pub lists: Vec<String>,
}

/// What is published for one cRLNumber sequence (issuer key and scope): the newest list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PublishedList {
    /// Token of the leader that published it (of the source named in `source`).
    pub fence: u64,
    /// The configured list name whose source it came from.
    pub source: String,
    /// cRLNumber, decimal (informative: every replica checks the list itself).
    pub number: String,
    /// cRLNumber, big-endian hex: the floor below which no leader may publish.
    pub number_hex: String,
    /// Number of chunks.
    pub chunks: u64,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// Key prefix of the chunks (`…:I` for chunk I).
    pub data: String,
}

const PUBLISH_LIST: &str = r#"
-- KEYS[1] source lock, KEYS[2] sequence record; ARGV: fence, number, number_hex, chunks, sha256, data prefix, source
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old_hex = redis.call('HGET', KEYS[2], 'number_hex') or ''
if #old_hex > #ARGV[3] or (#old_hex == #ARGV[3] and old_hex > ARGV[3]) then return -1 end
local old_data = redis.call('HGET', KEYS[2], 'data')
local old_chunks = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
for i = 0, tonumber(ARGV[4]) - 1 do redis.call('PERSIST', ARGV[6] .. i) end
redis.call('HSET', KEYS[2], 'fence', ARGV[1], 'number', ARGV[2], 'number_hex', ARGV[3], 'chunks', ARGV[4],
  'sha256', ARGV[5], 'data', ARGV[6], 'source', ARGV[7])
if old_data and old_data ~= ARGV[6] then for i = 0, old_chunks - 1 do redis.call('DEL', old_data .. i) end end
return 1
"#;

const PUBLISH_SOURCE: &str = r#"
-- KEYS[1] lock, KEYS[2] source record; ARGV: fence, etag, last_modified, checked_at, lists, channel, name, legacy data prefix
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
if old >= tonumber(ARGV[1]) then return 0 end
-- The previous format kept one list per name in the record, its chunks under the name.
local legacy = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
if old > 0 then for i = 0, legacy - 1 do redis.call('DEL', ARGV[8] .. old .. ':' .. i) end end
redis.call('HDEL', KEYS[2], 'number', 'number_hex', 'chunks', 'sha256')
redis.call('HSET', KEYS[2], 'fence', ARGV[1], 'etag', ARGV[2], 'last_modified', ARGV[3], 'checked_at', ARGV[4],
  'lists', ARGV[5])
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"#;

const MARK_CHECKED: &str = r#"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[2], 'checked_at', ARGV[2])
return 1
"#;

const RELEASE: &str = r#"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"#;

/// The Redis side of refreshing.
#[derive(Clone)]
pub struct Coordinator {
    client: redis::Client,
    connection: redis::aio::MultiplexedConnection,
    config: RedisConfig,
}

impl std::fmt::Debug for Coordinator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordinator").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Coordinator {
    /// Connects.
    pub async fn connect(config: RedisConfig) -> Result<Self, CoordinationError> {
        let client = redis::Client::open(config.url.as_str())?;
        let connection = client.get_multiplexed_async_connection().await?;
        Ok(Coordinator { client, connection, config })
    }

    fn key(&self, list: &str, part: &str) -> String {
        format!("{}crl:{list}:{part}", self.config.prefix)
    }

    fn sequence_key(&self, sequence: &str) -> String {
        format!("{}crl:seq:{sequence}:current", self.config.prefix)
    }

    /// The pub/sub channel carrying names of newly published lists.
    pub fn channel(&self) -> String {
        format!("{}crl-updates", self.config.prefix)
    }

    /// A pub/sub connection subscribed to [`Self::channel`].
    pub async fn subscribe(&self) -> Result<redis::aio::PubSub, CoordinationError> {
        let mut pubsub = self.client.get_async_pubsub().await?;
        pubsub.subscribe(self.channel()).await?;
        Ok(pubsub)
    }

    /// Tries to become the list's leader for one lease.
    pub async fn try_lead(&self, list: &str) -> Result<Option<Lease>, CoordinationError> {
        let mut connection = self.connection.clone();
        let fence: u64 = connection.incr(self.key(list, "fence"), 1).await?;
        let lease_ms = u64::try_from(self.config.lease.as_millis()).unwrap_or(u64::MAX);
        let acquired: Option<String> = redis::cmd("SET")
            .arg(self.key(list, "lock"))
            .arg(fence)
            .arg("NX")
            .arg("PX")
            .arg(lease_ms)
            .query_async(&mut connection)
            .await?;
        Ok(acquired.map(|_| Lease { fence }))
    }

    /// Gives a lease back early (no effect once it has expired or passed to another replica).
    pub async fn release(&self, list: &str, lease: Lease) -> Result<(), CoordinationError> {
        let mut connection = self.connection.clone();
        let _: i64 = redis::Script::new(RELEASE)
            .key(self.key(list, "lock"))
            .arg(lease.fence)
            .invoke_async(&mut connection)
            .await?;
        Ok(())
    }

    /// What is published for a source, if anything. A record of the previous format (one list
    /// per name) reads with no sequences: its list is fetched again by the next leader.
    pub async fn published(&self, list: &str) -> Result<Option<Published>, CoordinationError> {
        let mut connection = self.connection.clone();
        let fields: HashMap<String, String> = connection.hgetall(self.key(list, "current")).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| fields.get(name).and_then(|value| value.parse::<i64>().ok()).unwrap_or(0);
        let text = |name: &str| fields.get(name).filter(|value| !value.is_empty()).cloned();
        Ok(Some(Published {
            fence: u64::try_from(number("fence")).unwrap_or(0),
            etag: text("etag"),
            last_modified: text("last_modified"),
            checked_at: number("checked_at"),
            lists: text("lists").map(|lists| lists.split(' ').map(str::to_owned).collect()).unwrap_or_default(),
        }))
    }

    /// What is published for a cRLNumber sequence, if anything.
    pub async fn published_list(&self, sequence: &str) -> Result<Option<PublishedList>, CoordinationError> {
        let mut connection = self.connection.clone();
        let fields: HashMap<String, String> = connection.hgetall(self.sequence_key(sequence)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        let number = |name: &str| fields.get(name).and_then(|value| value.parse::<u64>().ok()).unwrap_or(0);
        let text = |name: &str| fields.get(name).cloned().unwrap_or_default();
        Ok(Some(PublishedList {
            fence: number("fence"),
            source: text("source"),
            number: text("number"),
            number_hex: text("number_hex"),
            chunks: number("chunks"),
            sha256: text("sha256"),
            data: text("data"),
        }))
    }

    /// Records that the leader asked the CA at `now` (nothing new), while it holds the lease.
    pub async fn mark_checked(&self, list: &str, lease: Lease, now: i64) -> Result<bool, CoordinationError> {
        let mut connection = self.connection.clone();
        let done: i64 = redis::Script::new(MARK_CHECKED)
            .key(self.key(list, "lock"))
            .key(self.key(list, "current"))
            .arg(lease.fence)
            .arg(now)
            .invoke_async(&mut connection)
            .await?;
        Ok(done == 1)
    }

    /// Writes one list of `list`'s source in chunks and publishes it under its sequence; `false`
    /// when the lease was lost or a list numbered higher is already published there (nothing is
    /// published, and the orphaned chunks expire). `number_hex` is the cRLNumber, big-endian hex
    /// without leading zero bytes.
    pub async fn publish_list(
        &self,
        list: &str,
        sequence: &str,
        lease: Lease,
        der: &[u8],
        number: &str,
        number_hex: &str,
    ) -> Result<bool, CoordinationError> {
        let mut connection = self.connection.clone();
        let prefix = format!("{}crl:seq:{sequence}:data:{list}:{}:", self.config.prefix, lease.fence);
        // Chunks expire unless the publish script makes them permanent.
        let orphan_ttl_ms = u64::try_from(self.config.lease.as_millis().saturating_mul(10)).unwrap_or(u64::MAX);
        let chunks = der.chunks(self.config.chunk_bytes.max(1));
        let count = chunks.len() as u64;
        for (index, chunk) in chunks.enumerate() {
            let _: () = redis::cmd("SET")
                .arg(format!("{prefix}{index}"))
                .arg(chunk)
                .arg("PX")
                .arg(orphan_ttl_ms)
                .query_async(&mut connection)
                .await?;
        }
        let done: i64 = redis::Script::new(PUBLISH_LIST)
            .key(self.key(list, "lock"))
            .key(self.sequence_key(sequence))
            .arg(lease.fence)
            .arg(number)
            .arg(number_hex)
            .arg(count)
            .arg(hex::encode(ring::digest::digest(&ring::digest::SHA256, der)))
            .arg(&prefix)
            .arg(list)
            .invoke_async(&mut connection)
            .await?;
        Ok(done == 1)
    }

    /// Publishes the source's record (validators, check time, sequences) and notifies followers;
    /// `false` when the lease was lost.
    pub async fn publish(&self, list: &str, lease: Lease, published: &Published) -> Result<bool, CoordinationError> {
        let mut connection = self.connection.clone();
        let done: i64 = redis::Script::new(PUBLISH_SOURCE)
            .key(self.key(list, "lock"))
            .key(self.key(list, "current"))
            .arg(lease.fence)
            .arg(published.etag.as_deref().unwrap_or(""))
            .arg(published.last_modified.as_deref().unwrap_or(""))
            .arg(published.checked_at)
            .arg(published.lists.join(" "))
            .arg(self.channel())
            .arg(list)
            .arg(self.key(list, "data:"))
            .invoke_async(&mut connection)
            .await?;
        Ok(done == 1)
    }

    /// Downloads a published list and checks its hash.
    pub async fn download(&self, sequence: &str, published: &PublishedList) -> Result<Vec<u8>, CoordinationError> {
        let mut connection = self.connection.clone();
        let mut der = Vec::new();
        let corrupt = || CoordinationError::Corrupt { list: sequence.to_owned(), fence: published.fence };
        for index in 0..published.chunks {
            let chunk: Option<Vec<u8>> = connection.get(format!("{}{index}", published.data)).await?;
            der.extend_from_slice(&chunk.ok_or_else(corrupt)?);
        }
        let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &der));
        if digest != published.sha256 {
            return Err(corrupt());
        }
        Ok(der)
    }
}
