//! One fetch per interval across replicas, through Redis.
//!
//! Per list, a replica that wants to fetch takes a lease: `INCR` gives it a fencing token, `SET
//! lock token NX PX lease` makes it the leader until the lease runs out. The leader fetches from
//! the CA only if nobody checked within the interval, writes the list to Redis in chunks (a
//! 400 MB list must be neither one value nor one blocking command), and publishes it with a script
//! that succeeds only while the lock still holds its token and its token is newer than the one
//! published: a leader frozen past its lease cannot publish when it wakes. Followers are notified
//! by pub/sub (and poll as a fallback), download the chunks, check their hash, and check the CA's
//! signature themselves: Redis is not trusted to vouch for a list.

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

/// What is published for a list.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Published {
    /// Token of the leader that published it.
    pub fence: u64,
    /// cRLNumber, decimal (informative: every replica checks the list itself).
    pub number: String,
    /// cRLNumber, big-endian hex: the floor below which no leader may publish.
    pub number_hex: String,
    /// Number of chunks.
    pub chunks: u64,
    /// SHA-256 of the DER, hex.
    pub sha256: String,
    /// ETag from the CA.
    pub etag: Option<String>,
    /// Last-Modified from the CA.
    pub last_modified: Option<String>,
    /// When a leader last asked the CA (seconds since the epoch), whether or not it changed.
    pub checked_at: i64,
}

const PUBLISH: &str = r#"
-- KEYS[1] lock, KEYS[2] current; ARGV: fence, number, chunks, sha256, etag, last_modified, now, data prefix, channel, list, number_hex
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
local old = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0')
if old >= tonumber(ARGV[1]) then return 0 end
local old_chunks = tonumber(redis.call('HGET', KEYS[2], 'chunks') or '0')
for i = 0, tonumber(ARGV[3]) - 1 do redis.call('PERSIST', ARGV[8] .. ARGV[1] .. ':' .. i) end
redis.call('HSET', KEYS[2], 'fence', ARGV[1], 'number', ARGV[2], 'chunks', ARGV[3], 'sha256', ARGV[4],
  'etag', ARGV[5], 'last_modified', ARGV[6], 'checked_at', ARGV[7], 'number_hex', ARGV[11])
if old > 0 then for i = 0, old_chunks - 1 do redis.call('DEL', ARGV[8] .. old .. ':' .. i) end end
redis.call('PUBLISH', ARGV[9], ARGV[10])
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

    fn data_prefix(&self, list: &str) -> String {
        self.key(list, "data:")
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

    /// What is published for a list, if anything.
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
            number: text("number").unwrap_or_default(),
            number_hex: text("number_hex").unwrap_or_default(),
            chunks: u64::try_from(number("chunks")).unwrap_or(0),
            sha256: text("sha256").unwrap_or_default(),
            etag: text("etag"),
            last_modified: text("last_modified"),
            checked_at: number("checked_at"),
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

    /// Writes a list in chunks and publishes it; `false` when the lease was lost (nothing is
    /// published, and the orphaned chunks expire).
    pub async fn publish(
        &self,
        list: &str,
        lease: Lease,
        der: &[u8],
        published: &Published,
    ) -> Result<bool, CoordinationError> {
        let mut connection = self.connection.clone();
        let prefix = self.data_prefix(list);
        // Chunks expire unless the publish script makes them permanent.
        let orphan_ttl_ms = u64::try_from(self.config.lease.as_millis().saturating_mul(10)).unwrap_or(u64::MAX);
        let chunks = der.chunks(self.config.chunk_bytes.max(1));
        let count = chunks.len() as u64;
        for (index, chunk) in chunks.enumerate() {
            let _: () = redis::cmd("SET")
                .arg(format!("{prefix}{}:{index}", lease.fence))
                .arg(chunk)
                .arg("PX")
                .arg(orphan_ttl_ms)
                .query_async(&mut connection)
                .await?;
        }
        let done: i64 = redis::Script::new(PUBLISH)
            .key(self.key(list, "lock"))
            .key(self.key(list, "current"))
            .arg(lease.fence)
            .arg(&published.number)
            .arg(count)
            .arg(&published.sha256)
            .arg(published.etag.as_deref().unwrap_or(""))
            .arg(published.last_modified.as_deref().unwrap_or(""))
            .arg(published.checked_at)
            .arg(&prefix)
            .arg(self.channel())
            .arg(list)
            .arg(&published.number_hex)
            .invoke_async(&mut connection)
            .await?;
        Ok(done == 1)
    }

    /// Downloads a published list and checks its hash.
    pub async fn download(&self, list: &str, published: &Published) -> Result<Vec<u8>, CoordinationError> {
        let mut connection = self.connection.clone();
        let prefix = self.data_prefix(list);
        let mut der = Vec::new();
        let corrupt = || CoordinationError::Corrupt { list: list.to_owned(), fence: published.fence };
        for index in 0..published.chunks {
            let chunk: Option<Vec<u8>> = connection.get(format!("{prefix}{}:{index}", published.fence)).await?;
            der.extend_from_slice(&chunk.ok_or_else(corrupt)?);
        }
        let digest = hex::encode(ring::digest::digest(&ring::digest::SHA256, &der));
        if digest != published.sha256 {
            return Err(corrupt());
        }
        Ok(der)
    }
}
