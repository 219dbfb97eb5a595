//! The store's connection: a standalone server through a [`ConnectionManager`] (which
//! reconnects in the background), or a Redis Cluster through redis-rs's cluster connection
//! (which learns the slot map from the node in the URL, follows `MOVED`/`ASK` and reconnects).
//!
//! Both carry the same commands: every script and every pipeline touches keys of one slot (see
//! the crate docs' key layout). What differs is only what walks several slots: [`Conn::batch`]
//! sends independent commands as one pipeline to a standalone server and one by one,
//! concurrently, to a cluster; [`Conn::scan`] walks every primary of a cluster.

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{RoutingInfo, SingleNodeRoutingInfo};
use redis::{
    Cmd, ConnectionAddr, ConnectionInfo, RedisFuture, RedisResult, TlsCertificates, Value,
};

use crate::{CONNECT_TIMEOUT, RECONNECT_RETRIES, RESPONSE_TIMEOUT};

/// One server or a cluster; cheap to clone (clones share the connections).
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl Conn {
    /// Connects to the server of `client`; when it is a Redis Cluster node
    /// (`cluster_enabled:1`), to the whole cluster with it as the seed, with the same
    /// credentials and TLS files.
    pub(crate) async fn open(
        client: redis::Client,
        certs: Option<TlsCertificates>,
    ) -> RedisResult<Conn> {
        let info = client.get_connection_info().clone();
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(std::time::Duration::from_secs(1));
        let mut single = ConnectionManager::new_with_config(client, config).await?;
        if !is_cluster_node(&mut single).await {
            return Ok(Conn::Single(single));
        }
        Ok(Conn::Cluster(cluster(info, certs).await?))
    }

    pub(crate) fn is_cluster(&self) -> bool {
        matches!(self, Conn::Cluster(_))
    }

    /// Where the change subscription may connect, in turn: the server of `seed`, and on a
    /// cluster the other primaries too (pub/sub messages reach every node), reached with the
    /// seed's credentials and TLS settings.
    pub(crate) async fn subscription_nodes(
        &mut self,
        seed: &ConnectionInfo,
    ) -> Vec<ConnectionInfo> {
        let mut nodes = vec![seed.clone()];
        if let Conn::Cluster(c) = self {
            for (host, port) in primaries(c).await.unwrap_or_default() {
                let addr = match seed.addr() {
                    ConnectionAddr::TcpTls {
                        insecure,
                        tls_params,
                        ..
                    } => ConnectionAddr::TcpTls {
                        host,
                        port,
                        insecure: *insecure,
                        tls_params: tls_params.clone(),
                    },
                    _ => ConnectionAddr::Tcp(host, port),
                };
                if &addr != seed.addr() {
                    nodes.push(seed.clone().set_addr(addr));
                }
            }
        }
        nodes
    }

    /// Sends `cmds`, which need not be atomic together, after `load` (a script's source: its
    /// `EVALSHA`s then find it, on a server that restarted too): one pipeline to a standalone
    /// server, and to a cluster, where keys of several slots cannot share a pipeline, each
    /// command to its slot's primary, all at once.
    pub(crate) async fn batch(
        &mut self,
        load: Option<&str>,
        cmds: &[Cmd],
    ) -> RedisResult<Vec<Value>> {
        let load = load.map(|source| {
            let mut cmd = redis::cmd("SCRIPT");
            cmd.arg("LOAD").arg(source);
            cmd
        });
        match self {
            Conn::Single(c) => {
                let mut pipe = redis::pipe();
                if let Some(load) = load {
                    pipe.add_command(load).ignore();
                }
                for cmd in cmds {
                    pipe.add_command(cmd.clone());
                }
                pipe.query_async(c).await
            }
            Conn::Cluster(c) => {
                if let Some(load) = load {
                    // Routed to every primary.
                    load.exec_async(c).await?;
                }
                futures_util::future::try_join_all(cmds.iter().map(|cmd| {
                    let mut c = c.clone();
                    async move { cmd.query_async::<Value>(&mut c).await }
                }))
                .await
            }
        }
    }

    /// The names matching `pattern`, from `SCAN` on the server or on every primary of the
    /// cluster (a name may come twice: callers deduplicate).
    pub(crate) async fn scan(&mut self, pattern: &str, count: usize) -> RedisResult<Vec<String>> {
        let nodes = match self {
            Conn::Single(_) => vec![None],
            Conn::Cluster(c) => primaries(c).await?.into_iter().map(Some).collect(),
        };
        let mut names = Vec::new();
        for node in nodes {
            let mut cursor: u64 = 0;
            loop {
                let mut cmd = redis::cmd("SCAN");
                cmd.arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(count);
                let (next, batch): (u64, Vec<String>) = match (&mut *self, &node) {
                    (Conn::Cluster(c), Some((host, port))) => {
                        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        });
                        redis::from_redis_value(c.route_command(cmd, routing).await?)?
                    }
                    (conn, _) => cmd.query_async(conn).await?,
                };
                names.extend(batch);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(names)
    }
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Conn::Single(c) => c.req_packed_command(cmd),
            Conn::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Conn::Single(c) => c.req_packed_commands(pipeline, offset, count),
            Conn::Cluster(c) => c.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Conn::Single(c) => c.get_db(),
            Conn::Cluster(c) => c.get_db(),
        }
    }
}

/// Whether the server says it is a cluster node. A server that refuses `INFO` (an ACL) is
/// taken for standalone; on a cluster, its keys' `MOVED` answers then say what is wrong.
async fn is_cluster_node(conn: &mut ConnectionManager) -> bool {
    let info: RedisResult<String> = redis::cmd("INFO").arg("cluster").query_async(conn).await;
    info.is_ok_and(|info| info.lines().any(|l| l.trim() == "cluster_enabled:1"))
}

/// The cluster connection seeded by `info`.
async fn cluster(
    info: ConnectionInfo,
    certs: Option<TlsCertificates>,
) -> RedisResult<ClusterConnection> {
    let mut builder = ClusterClientBuilder::new(vec![info])
        .connection_timeout(CONNECT_TIMEOUT)
        .response_timeout(RESPONSE_TIMEOUT)
        .retries(RECONNECT_RETRIES as u32);
    if let Some(certs) = certs {
        builder = builder.certs(certs);
    }
    builder.build()?.get_async_connection().await
}

/// The cluster's primaries that serve slots, as `(host, port)`, from `CLUSTER NODES`.
async fn primaries(conn: &mut ClusterConnection) -> RedisResult<Vec<(String, u16)>> {
    // `CLUSTER NODES`: `<id> <ip:port@cport[,hostname]> <flags> <primary> <ping> <pong> <epoch>
    // <link> <slot> ...`, one line per node.
    let nodes: String = redis::cmd("CLUSTER").arg("NODES").query_async(conn).await?;
    Ok(nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serving = flags.split(',').any(|f| f == "master")
                && !flags.split(',').any(|f| f == "fail" || f == "noaddr")
                && fields.len() > 8;
            if !serving {
                return None;
            }
            let addr = fields[1].split(['@', ',']).next()?;
            let (host, port) = addr.rsplit_once(':')?;
            Some((host.to_owned(), port.parse().ok()?))
        })
        .collect())
}
