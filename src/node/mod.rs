//! Distributed nodes: runtimes on several machines that spawn processes on
//! each other and exchange messages (`lunatic::distributed`).
//!
//! * Trust (`certs`): a cluster CA made at first start; a node presents the
//!   join token to get a certificate from a signer (`lunatic control` or a
//!   seed node); nodes then talk over QUIC (quinn) with mutual TLS.
//! * Membership (`membership`): SWIM through foca, its packets as QUIC
//!   datagrams and its timers on our own timers; a node that stops
//!   answering is declared down within seconds, and every operation
//!   waiting on it fails at once.
//! * Operations (this file): remote spawn by module content hash, remote
//!   send (FIFO per pair of nodes, so per pair of processes; spawns travel
//!   in the same ordered stream), lookups, monitors, links (`links`).
//! * Membership changes: a node that leaves (SIGTERM) is dropped at once;
//!   one the cluster declared down stops for good (it can only come back
//!   as a new node, with a new ID).
//! * The local runtime is reached through `local` only.
//!
//! The network seam: quinn runs on the runtime it is given (`tasks`:
//! timers, tasks, the UDP socket; `quinn::Endpoint::new_with_abstract_socket`
//! accepts a simulated socket) and foca is sans-IO, driven by
//! [`Node::after`]; replacing those two is what running nodes on a
//! simulated network takes.

pub(crate) mod certs;
mod links;
pub(crate) mod local;
mod membership;
mod tasks;
mod wire;

use crate::engine::ModuleHandle;
use anyhow::{anyhow, bail, Context};
use membership::{Ident, Membership};
use quinn::crypto::rustls::{QuicClientConfig, QuicServerConfig};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use wire::{Request, Response};

pub(crate) use local::Local;

/// The status guests see for a node that is down or does not answer in time.
pub(crate) const UNREACHABLE: i32 = 9027;
/// The status for a node nobody knows.
pub(crate) const UNKNOWN_NODE: i32 = 1;
/// The status for a module neither node has.
pub(crate) const UNKNOWN_MODULE: i32 = 2;

/// Bytes of messages one node may have queued for another before further
/// sends to it are dropped (the peer is slow or about to be declared down).
const MAX_QUEUED: usize = 64 << 20;
/// Lookups a node keeps for guests to copy before refusing more.
const MAX_QUERIES: usize = 4096;
/// Monitors of remote processes one node keeps at once.
const MAX_REMOTE_MONITORS: usize = 100_000;

/// How a node starts.
#[derive(Debug, Clone)]
pub struct NodeOptions {
    /// The UDP address to serve QUIC on; peers dial it.
    pub bind: SocketAddr,
    /// A member (or the control server) to join through; `None` starts a
    /// new cluster (only for a signer).
    pub seed: Option<SocketAddr>,
    /// The join token (else `$LUNATIC_JOIN_TOKEN`, else the token file).
    pub token: Option<String>,
    /// Where the cluster CA and the token file are (signer) or the token
    /// file is looked for (joining node).
    pub cluster_dir: PathBuf,
    /// Hold the CA: admit nodes that present the token.
    pub signer: bool,
    /// A control server: a member that runs no processes and is not listed
    /// by `nodes()`.
    pub control: bool,
    /// `--tag k=v` pairs, for `lookup_nodes`.
    pub tags: Vec<(String, String)>,
    /// How long a remote spawn or a join may take before it fails (9027).
    pub timeout: Duration,
    /// Apply remote callers' environment variables and preopened
    /// directories to processes they spawn here.
    pub allow_remote_env: bool,
}

impl NodeOptions {
    /// Options for a node serving on `bind` (an OS-chosen port if 0).
    pub fn new(bind: SocketAddr) -> Self {
        Self {
            bind,
            seed: None,
            token: None,
            cluster_dir: certs::default_cluster_dir(),
            signer: false,
            control: false,
            tags: Vec::new(),
            timeout: Duration::from_secs(5),
            allow_remote_env: false,
        }
    }
}

/// Why a remote spawn failed: the guest-visible code and a text.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

impl Failure {
    fn new(code: i32, message: impl Into<String>) -> Self {
        Self { code, message: message.into() }
    }
}

/// What this node knows of another member.
struct Peer {
    ident: Ident,
    up: bool,
}

/// Messages waiting to go to one peer, written by one task in order.
struct Outbox {
    frames: Mutex<Queued>,
    wake: event_listener::Event,
    closed: AtomicBool,
    /// Set while sends are dropped (logged once per episode).
    full: AtomicBool,
}

/// Frames waiting for a peer's writer, and what to do once they are
/// written (under one lock: a frame and its follow-up are taken together).
#[derive(Default)]
struct Queued {
    bytes: Vec<u8>,
    then: Vec<Box<dyn FnOnce() + Send>>,
}

impl Queued {
    /// Runs the follow-ups (the frames were written, or will never be).
    fn run_then(then: impl IntoIterator<Item = Box<dyn FnOnce() + Send>>) {
        for then in then {
            then();
        }
    }
}

/// A running node.
pub struct Node {
    id: u64,
    ident: Ident,
    timeout: Duration,
    allow_remote_env: bool,
    local: Option<Local>,
    /// Where its tasks and quinn's run.
    tasks: tasks::Tasks,
    endpoint: quinn::Endpoint,
    client: quinn::ClientConfig,
    authority: Option<certs::Authority>,
    /// Live connections by peer address (dialed or accepted).
    conns: Mutex<HashMap<SocketAddr, quinn::Connection>>,
    dialing: Mutex<HashMap<SocketAddr, Arc<async_lock::Mutex<()>>>>,
    peers: RwLock<HashMap<u64, Peer>>,
    /// Notified whenever a member comes up or goes down.
    changed: event_listener::Event,
    membership: Membership,
    outboxes: Mutex<HashMap<u64, Arc<Outbox>>>,
    /// Requests sent in the ordered streams, waiting for their answers.
    asks: Mutex<HashMap<u64, async_channel::Sender<Response>>>,
    next_ask: AtomicU64,
    /// Modules peers may fetch or spawn, by content hash.
    modules: Mutex<HashMap<u64, ModuleHandle>>,
    /// Content hash of each local module handle already hashed.
    hashes: Mutex<HashMap<u64, u64>>,
    queries: Mutex<HashMap<u64, Vec<u64>>>,
    next_query: AtomicU64,
    /// Remote monitors of local processes: (node, remote pid) -> watchers.
    remote_monitors: Mutex<HashMap<(u64, u64), Vec<crate::protocol::ProcessHandle>>>,
    /// Links between local processes and processes on other nodes.
    links: Mutex<links::Links>,
    stopped: AtomicBool,
    /// Set once the cluster declared this node down.
    defunct: AtomicBool,
    /// Set while it leaves the cluster.
    leaving: AtomicBool,
    /// Members declared down, with where they served and when: asked
    /// after a while whether they declared this node down too.
    departed: Mutex<HashMap<u64, (SocketAddr, std::time::Instant)>>,
}

/// How often members declared down are asked for a reunion.
const REUNION_EVERY: Duration = Duration::from_secs(2);
/// How long after a member was declared down it is first asked: by then
/// each side of a partition has declared the whole other side down
/// (suspicion takes 1.5 s after a missed probe), so both count their live
/// members from a settled view.
const REUNION_AFTER: Duration = Duration::from_secs(3);
/// How long a member declared down is asked before it is forgotten.
const REUNION_FOR: Duration = Duration::from_secs(600);

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A module's cluster-wide ID: its version ID (see
/// `engine::version_id`), so guests see the same value either way.
pub(crate) fn module_hash(bytes: &[u8]) -> u64 {
    crate::engine::version_id(bytes)
}

/// A fresh node ID: random, non-zero, positive as an i64; a restarted node
/// never reuses its earlier ID, so stale (node, pid) pairs reach nobody.
fn fresh_id() -> anyhow::Result<u64> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no random bytes: {e}"))?;
    Ok((u64::from_le_bytes(bytes) >> 1).max(1))
}

fn transport_config() -> Arc<quinn::TransportConfig> {
    let mut transport = quinn::TransportConfig::default();
    transport.keep_alive_interval(Some(Duration::from_millis(500)));
    transport.max_idle_timeout(Some(quinn::IdleTimeout::from(quinn::VarInt::from_u32(4_000))));
    transport.stream_receive_window(quinn::VarInt::from_u32(8 << 20));
    transport.receive_window(quinn::VarInt::from_u32(32 << 20));
    transport.send_window(32 << 20);
    transport.max_concurrent_bidi_streams(quinn::VarInt::from_u32(1024));
    // Nodes talk in requests and answers, and an answer carries the ACK
    // of its request: with QUIC's default (an ACK-only packet after every
    // second packet), a remote spawn + reply took 5 packets instead of 4,
    // and each extra packet wakes the peer. Asking the peer (the ACK
    // frequency extension, which both ends of a cluster speak) to ACK every
    // 9th packet, or at its ACK delay, removed them: `benches/run` remote
    // spawn + reply median 314 -> 188 us (one-worker nodes, 4 runs each).
    let mut acks = quinn::AckFrequencyConfig::default();
    acks.ack_eliciting_threshold(quinn::VarInt::from_u32(8));
    transport.ack_frequency_config(Some(acks));
    Arc::new(transport)
}

fn client_config(tls: rustls::ClientConfig) -> anyhow::Result<quinn::ClientConfig> {
    let mut config = quinn::ClientConfig::new(Arc::new(QuicClientConfig::try_from(tls)?));
    config.transport_config(transport_config());
    Ok(config)
}

/// Runs `work`, or gives up after `limit`.
async fn within<T>(limit: Duration, work: impl std::future::Future<Output = T>) -> Option<T> {
    futures_lite::future::or(async { Some(work.await) }, async {
        async_io::Timer::after(limit).await;
        None
    })
    .await
}

impl Node {
    /// Starts a node: gets its certificate (from the signer, with the join
    /// token, unless it is the signer), serves QUIC, joins the membership
    /// through `options.seed` and waits (up to the timeout) until it sees
    /// a member, so that `nodes()` is complete before a guest asks.
    pub(crate) fn start(options: NodeOptions, local: Option<Local>) -> anyhow::Result<Arc<Node>> {
        smol::block_on(Self::start_async(options, local))
    }

    async fn start_async(options: NodeOptions, local: Option<Local>) -> anyhow::Result<Arc<Node>> {
        let socket = std::net::UdpSocket::bind(options.bind)
            .with_context(|| format!("cannot bind UDP {}", options.bind))?;
        let mut addr = socket.local_addr()?;
        if addr.ip().is_unspecified() {
            log::warn!(target: "lunatic::node", "bound to {addr}: peers are told 127.0.0.1; pass --bind-socket with this machine's address");
            addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
        }
        let tasks = tasks::Tasks::new(local.as_ref().map(Local::scheduler));
        let endpoint = quinn::Endpoint::new(quinn::EndpointConfig::default(), None, socket, Arc::new(tasks.clone()))?;
        let (authority, identity) = if options.signer {
            let authority = certs::Authority::open(&options.cluster_dir)?;
            let identity = authority.own_identity()?;
            (Some(authority), identity)
        } else {
            let seed = options.seed.ok_or_else(|| anyhow!("a node joins through a seed address"))?;
            let token = certs::find_token(options.token.as_deref(), &options.cluster_dir)?;
            let identity = within(options.timeout, join(&endpoint, seed, &token))
                .await
                .ok_or_else(|| anyhow!("no answer from {seed} within {:?}", options.timeout))?
                .with_context(|| format!("cannot join the cluster through {seed}"))?;
            (None, identity)
        };
        let mut server = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(identity.server_config()?)?));
        server.transport_config(transport_config());
        endpoint.set_server_config(Some(server));
        let id = fresh_id()?;
        let ident = Ident::new(id, addr, options.control, options.tags.clone(), options.allow_remote_env);
        let node = Arc::new(Node {
            id,
            ident: ident.clone(),
            timeout: options.timeout,
            allow_remote_env: options.allow_remote_env,
            local,
            tasks,
            endpoint,
            client: client_config(identity.client_config()?)?,
            authority,
            conns: Mutex::default(),
            dialing: Mutex::default(),
            peers: RwLock::default(),
            changed: event_listener::Event::new(),
            membership: Membership::new(ident)?,
            outboxes: Mutex::default(),
            asks: Mutex::default(),
            next_ask: AtomicU64::new(1),
            modules: Mutex::default(),
            hashes: Mutex::default(),
            queries: Mutex::default(),
            next_query: AtomicU64::new(1),
            remote_monitors: Mutex::default(),
            links: Mutex::default(),
            stopped: AtomicBool::new(false),
            defunct: AtomicBool::new(false),
            leaving: AtomicBool::new(false),
            departed: Mutex::default(),
        });
        if let Some(local) = &node.local {
            local::attach(local.env(), &node);
        }
        let server = node.clone();
        node.tasks.spawn(async move { server.accept_loop().await });
        node.membership.start(&node);
        node.after(REUNION_EVERY, Node::reunite);
        if let Some(seed) = options.seed {
            node.membership.announce(&node, seed);
            // Wait for the first member (the announce's answer brings the
            // members it knows), then a moment for the rest of the feed.
            let seen = within(options.timeout, node.until(|n| n.peers_up() > 0)).await;
            if seen.is_none() {
                log::warn!(target: "lunatic::node", "no member answered from {seed} yet");
            }
            async_io::Timer::after(Duration::from_millis(300)).await;
        }
        log::info!(target: "lunatic::node", "node {id} serving on {addr}");
        Ok(node)
    }

    /// This node's ID (non-zero, new for every start).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The address peers dial.
    pub fn addr(&self) -> SocketAddr {
        self.ident.addr
    }

    /// The join token (signers only).
    pub(crate) fn token(&self) -> Option<String> {
        self.authority.as_ref().map(|a| a.token())
    }

    /// Leaves the cluster: the members are told (they drop this node from
    /// `nodes()` at once, as if it went down, instead of detecting it
    /// seconds later), then the node stops serving.
    pub fn leave(self: &Arc<Self>) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        // foca reports this node defunct as it leaves: not a failure here.
        self.leaving.store(true, Ordering::SeqCst);
        self.membership.leave(self);
        // The goodbye goes out as datagrams: give them a moment.
        std::thread::sleep(Duration::from_millis(200));
        self.stop("left");
        log::info!(target: "lunatic::node", "node {} left the cluster", self.id);
    }

    /// Whether the cluster declared this node down (it stopped answering
    /// for a while, e.g. it was suspended): it has stopped serving.
    pub fn is_defunct(&self) -> bool {
        self.defunct.load(Ordering::SeqCst)
    }

    /// The cluster declared this node down. Its peers have already told
    /// their processes that everything here ended (monitors, links), so it
    /// must not come back as itself: it stops, every member counts as down
    /// here (local monitors and links of remote processes fire), and
    /// `lunatic node` exits so that it can be started again as a new node
    /// (a new ID, so no stale (node, process) pair reaches it).
    fn defunct(&self) {
        if self.leaving.load(Ordering::SeqCst) || self.defunct.swap(true, Ordering::SeqCst) {
            return;
        }
        log::error!(target: "lunatic::node", "node {}: the cluster declared this node down (it did not answer in time); it stops serving", self.id);
        let peers: Vec<Ident> = self
            .peers
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .filter(|p| p.up)
            .map(|p| p.ident.clone())
            .collect();
        for ident in &peers {
            self.member_down(ident);
        }
        self.stop("declared down");
    }

    /// Stops serving: connections closed, queued messages dropped.
    fn stop(&self, reason: &str) {
        self.stopped.store(true, Ordering::SeqCst);
        self.endpoint.close(quinn::VarInt::from_u32(0), reason.as_bytes());
        for outbox in lock(&self.outboxes).drain().map(|(_, o)| o) {
            outbox.closed.store(true, Ordering::SeqCst);
            outbox.wake.notify(usize::MAX);
        }
        self.changed.notify(usize::MAX);
    }

    #[cfg(test)]
    /// Stops serving at once (tests use it as a crash): no goodbye to the
    /// membership, connections closed.
    pub fn shutdown(&self) {
        self.stop("stopped");
    }

    fn peers_up(&self) -> usize {
        self.peers.read().unwrap_or_else(std::sync::PoisonError::into_inner).values().filter(|p| p.up).count()
    }

    /// Waits until `ready` holds (checked at every membership change).
    async fn until(&self, ready: impl Fn(&Node) -> bool) {
        loop {
            let listener = self.changed.listen();
            if ready(self) || self.stopped.load(Ordering::SeqCst) {
                return;
            }
            listener.await;
        }
    }

    /// The nodes (not control servers) that are up, this one included,
    /// in ascending order of ID.
    pub fn nodes(&self) -> Vec<u64> {
        self.lookup(&[])
    }

    /// The live nodes whose tags include every `(key, value)` of `query`.
    pub(crate) fn lookup(&self, query: &[(String, String)]) -> Vec<u64> {
        let matches = |ident: &Ident| !ident.control && query.iter().all(|q| ident.tags.contains(q));
        let peers = self.peers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut ids: Vec<u64> = peers.values().filter(|p| p.up && matches(&p.ident)).map(|p| p.ident.id).collect();
        if matches(&self.ident) {
            ids.push(self.id);
        }
        ids.sort_unstable();
        ids
    }

    /// Runs a lookup and keeps its result for [`Node::take_query`].
    pub(crate) fn start_query(&self, query: &[(String, String)]) -> anyhow::Result<(u64, usize)> {
        let found = self.lookup(query);
        let mut queries = lock(&self.queries);
        if queries.len() >= MAX_QUERIES {
            bail!("too many lookups not yet copied");
        }
        let id = self.next_query.fetch_add(1, Ordering::Relaxed);
        let count = found.len();
        queries.insert(id, found);
        Ok((id, count))
    }

    /// The result of a lookup, forgotten once taken.
    pub(crate) fn take_query(&self, id: u64) -> Option<Vec<u64>> {
        lock(&self.queries).remove(&id)
    }

    /// The cluster-wide ID of `module`; it can be spawned remotely from now on.
    pub(crate) fn module_id(&self, module: &ModuleHandle) -> u64 {
        if let Some(hash) = lock(&self.hashes).get(&module.id()) {
            return *hash;
        }
        let hash = module_hash(module.bytes());
        lock(&self.hashes).insert(module.id(), hash);
        lock(&self.modules).entry(hash).or_insert_with(|| module.clone());
        hash
    }

    fn module(&self, hash: u64) -> Option<ModuleHandle> {
        lock(&self.modules).get(&hash).cloned()
    }

    fn peer(&self, id: u64) -> Result<Ident, Failure> {
        let peers = self.peers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        match peers.get(&id) {
            Some(peer) if peer.up && !peer.ident.control => Ok(peer.ident.clone()),
            Some(peer) if !peer.up => Err(Failure::new(UNREACHABLE, format!("node {id} is down"))),
            _ => Err(Failure::new(UNKNOWN_NODE, format!("unknown node {id}"))),
        }
    }

    /// Whether node `id` is a member that is up.
    fn is_up(&self, id: u64) -> bool {
        self.peer(id).is_ok()
    }

    /// Spawns `entry` of module `module` (a content hash) on node `target`.
    /// Answers once the process is registered there; fails with 1 (unknown
    /// node), 2 (unknown module) or 9027 (node down, or no answer within
    /// the timeout; never waits longer).
    pub(crate) async fn spawn(
        self: &Arc<Self>,
        target: u64,
        module: u64,
        entry: String,
        params: Vec<u8>,
        mut config: wire::RemoteConfig,
    ) -> Result<u64, Failure> {
        if target == self.id {
            let (pid, start) = self.spawn_here(module, entry, params, config, None).await?;
            start();
            return Ok(pid);
        }
        let peer = self.peer(target)?;
        if !peer.takes_env {
            // It would drop them (`granted_config`): ~2 KB less to send,
            // encrypt and decode in every spawn of a typical guest.
            config.envs.clear();
            config.preopens.clear();
        }
        let request = Request::Spawn { module, entry, params, config };
        let ask = self.ask(target, peer.addr, request);
        let down = self.until(|n| !n.is_up(target));
        let answer = within(self.timeout, futures_lite::future::or(async { Some(ask.await) }, async {
            down.await;
            None
        }))
        .await;
        match answer {
            None => Err(Failure::new(UNREACHABLE, format!("node {target} did not answer within {:?}", self.timeout))),
            Some(None) => Err(Failure::new(UNREACHABLE, format!("node {target} went down"))),
            Some(Some(Err(e))) => Err(Failure::new(UNREACHABLE, format!("node {target}: {e:#}"))),
            Some(Some(Ok(Response::Spawned { pid }))) => Ok(pid),
            Some(Some(Ok(Response::Failed { code, message }))) => Err(Failure::new(code as i32, message)),
            Some(Some(Ok(other))) => Err(Failure::new(UNREACHABLE, format!("node {target} answered {other:?}"))),
        }
    }

    /// A spawn asked of this node (by a peer at `from`, or by a local
    /// process); a module this node lacks is fetched from `from` and its
    /// bytes checked against the hash.
    async fn spawn_here(
        self: &Arc<Self>,
        hash: u64,
        entry: String,
        params: Vec<u8>,
        config: wire::RemoteConfig,
        from: Option<SocketAddr>,
    ) -> Result<(u64, impl FnOnce() + Send + use<>), Failure> {
        let local = self.local.clone().ok_or_else(|| Failure::new(UNKNOWN_NODE, "a control server runs no processes"))?;
        let module = match (self.module(hash), from) {
            (Some(module), _) => module,
            (None, None) => return Err(Failure::new(UNKNOWN_MODULE, format!("unknown module {hash}"))),
            (None, Some(from)) => {
                let bytes = match within(self.timeout, self.request(from, &Request::FetchModule { module: hash })).await {
                    Some(Ok(Response::Module { bytes })) => bytes,
                    Some(Ok(Response::Failed { message, .. })) => return Err(Failure::new(UNKNOWN_MODULE, message)),
                    other => return Err(Failure::new(UNKNOWN_MODULE, format!("cannot fetch module {hash}: {other:?}"))),
                };
                if module_hash(&bytes) != hash {
                    log::error!(target: "lunatic::node", "{from} sent bytes for module {hash} that do not match its ID");
                    return Err(Failure::new(UNKNOWN_MODULE, format!("the bytes of module {hash} do not match its ID")));
                }
                let compiler = local.clone();
                let module = blocking::unblock(move || compiler.compile(&bytes))
                    .await
                    .map_err(|e| Failure::new(UNKNOWN_MODULE, format!("module {hash} does not compile: {e:#}")))?;
                lock(&self.hashes).insert(module.id(), hash);
                lock(&self.modules).entry(hash).or_insert(module).clone()
            }
        };
        let config = local::granted_config(&config, self.allow_remote_env || from.is_none());
        // Registered now; instantiated (tens of microseconds, a start
        // section bounded by its own fuel) when its task first runs, on
        // this runtime's workers rather than another thread, which would add
        // a thread hop to every spawn. The caller starts it after its
        // answer is on its way, so that neither the instantiation nor the
        // new process runs ahead of the answer on this thread.
        let (pid, task) = local
            .spawn(module, entry, &params, config)
            .map_err(|e| Failure::new(UNKNOWN_NODE, format!("spawn failed: {e:#}")))?;
        Ok((pid, move || local.start(task)))
    }

    /// Sends a request in the ordered stream to node `target` and waits
    /// for its answer (the caller bounds the wait).
    async fn ask(self: &Arc<Self>, target: u64, addr: SocketAddr, request: Request) -> anyhow::Result<Response> {
        /// Forgets the request however the wait ends.
        struct Asked<'a>(&'a Node, u64);
        impl Drop for Asked<'_> {
            fn drop(&mut self) {
                lock(&self.0.asks).remove(&self.1);
            }
        }
        let id = self.next_ask.fetch_add(1, Ordering::Relaxed);
        let (answer, answered) = async_channel::bounded(1);
        lock(&self.asks).insert(id, answer);
        let _asked = Asked(self, id);
        let control = wire::Control::Ask { id, from: self.id, request };
        if self.push(target, addr, 0, |frames| wire::control_frame(frames, &control)) != 0 {
            bail!("node {target} cannot be asked");
        }
        answered.recv().await.map_err(|_| anyhow!("node {target} went away"))
    }

    /// Sends one request on a stream of its own and reads the answer.
    async fn request(self: &Arc<Self>, addr: SocketAddr, request: &Request) -> anyhow::Result<Response> {
        let frame = wire::encode(request)?;
        let conn = self.connection(addr).await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(&frame).await?;
        send.finish()?;
        wire::decode(&recv.read_to_end(wire::MAX_FRAME).await?)
    }

    /// Sends a data message to `pid` on node `target`: queued in order
    /// behind earlier sends to that node and returns at once. A message for
    /// a node that is down or unknown is dropped (9027 / 1).
    pub(crate) fn send(self: &Arc<Self>, target: u64, pid: u64, tag: i64, payload: &[u8]) -> i32 {
        if target == self.id {
            if let Some(local) = &self.local {
                local.deliver(pid, tag, payload.to_vec());
            }
            return 0;
        }
        let peer = match self.peer(target) {
            Ok(peer) => peer,
            Err(failure) => return failure.code,
        };
        self.push(target, peer.addr, payload.len(), |frames| {
            wire::message_frame(frames, pid, tag, payload);
            Ok(())
        })
    }

    /// Queues a frame for node `target` at `addr` behind earlier ones:
    /// 0, or 9027 if this node is stopping or the frame cannot be made. A
    /// frame past the queue's limit is dropped (the peer is slow or about
    /// to be declared down).
    fn push(self: &Arc<Self>, target: u64, addr: SocketAddr, size: usize, frame: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<()>) -> i32 {
        self.push_then(target, addr, size, frame, None)
    }

    /// [`Node::push`], and `then` runs once the frame is written to the
    /// peer's stream (or is dropped).
    fn push_then(
        self: &Arc<Self>,
        target: u64,
        addr: SocketAddr,
        size: usize,
        frame: impl FnOnce(&mut Vec<u8>) -> anyhow::Result<()>,
        then: Option<Box<dyn FnOnce() + Send>>,
    ) -> i32 {
        let outbox = {
            let mut outboxes = lock(&self.outboxes);
            if self.stopped.load(Ordering::SeqCst) {
                drop(outboxes);
                Queued::run_then(then);
                return UNREACHABLE;
            }
            outboxes
                .entry(target)
                .or_insert_with(|| {
                    let outbox = Arc::new(Outbox {
                        frames: Mutex::default(),
                        wake: event_listener::Event::new(),
                        closed: AtomicBool::new(false),
                        full: AtomicBool::new(false),
                    });
                    let writer = (self.clone(), outbox.clone(), addr);
                    self.tasks.spawn(async move { writer.0.write_messages(writer.1, writer.2).await });
                    outbox
                })
                .clone()
        };
        {
            let mut queued = lock(&outbox.frames);
            if queued.bytes.len().saturating_add(size) > MAX_QUEUED {
                drop(queued);
                if !outbox.full.swap(true, Ordering::Relaxed) {
                    log::warn!(target: "lunatic::node", "dropping messages for node {target}: {MAX_QUEUED} bytes already wait for it");
                }
                Queued::run_then(then);
                return 0;
            }
            outbox.full.store(false, Ordering::Relaxed);
            if let Err(e) = frame(&mut queued.bytes) {
                drop(queued);
                log::warn!(target: "lunatic::node", "cannot send to node {target}: {e:#}");
                Queued::run_then(then);
                return UNREACHABLE;
            }
            queued.then.extend(then);
        }
        if outbox.closed.load(Ordering::SeqCst) {
            // The peer went down meanwhile and its writer may be gone: run
            // what waited for the write (e.g. start a spawned process, which
            // must not stay registered without ever running).
            let then = std::mem::take(&mut lock(&outbox.frames).then);
            Queued::run_then(then);
            return 0;
        }
        outbox.wake.notify(1);
        0
    }

    /// The one writer of messages to a peer: one stream, frames in order.
    async fn write_messages(self: Arc<Self>, outbox: Arc<Outbox>, addr: SocketAddr) {
        let mut stream: Option<quinn::SendStream> = None;
        loop {
            let listener = outbox.wake.listen();
            let Queued { bytes: batch, then } = std::mem::take(&mut *lock(&outbox.frames));
            if batch.is_empty() {
                Queued::run_then(then);
                if outbox.closed.load(Ordering::SeqCst) {
                    return;
                }
                listener.await;
                continue;
            }
            if stream.is_none() {
                stream = match self.connection(addr).await {
                    Ok(conn) => conn.open_uni().await.ok(),
                    Err(_) => None,
                };
            }
            let Some(send) = stream.as_mut() else {
                log::debug!(target: "lunatic::node", "{addr} unreachable: {} bytes of messages dropped", batch.len());
                Queued::run_then(then);
                continue;
            };
            if let Err(e) = send.write_all(&batch).await {
                log::debug!(target: "lunatic::node", "messages to {addr} lost: {e}");
                stream = None;
            }
            // After the write, which woke quinn's driver (queued first): a
            // process spawned for a remote caller starts behind its answer.
            Queued::run_then(then);
        }
    }

    /// A connection to the peer at `addr`: an existing one, else dialed.
    async fn connection(self: &Arc<Self>, addr: SocketAddr) -> anyhow::Result<quinn::Connection> {
        if let Some(conn) = self.cached(addr) {
            return Ok(conn);
        }
        let gate = lock(&self.dialing).entry(addr).or_default().clone();
        let _dialing = gate.lock().await;
        if let Some(conn) = self.cached(addr) {
            return Ok(conn);
        }
        if self.stopped.load(Ordering::SeqCst) {
            bail!("node stopped");
        }
        let conn = within(self.timeout, self.endpoint.connect_with(self.client.clone(), addr, certs::SERVER_NAME)?)
            .await
            .ok_or_else(|| anyhow!("{addr} did not answer"))??;
        self.adopt(conn.clone());
        Ok(conn)
    }

    fn cached(&self, addr: SocketAddr) -> Option<quinn::Connection> {
        let mut conns = lock(&self.conns);
        match conns.get(&addr) {
            Some(conn) if conn.close_reason().is_none() => Some(conn.clone()),
            Some(_) => {
                conns.remove(&addr);
                None
            }
            None => None,
        }
    }

    /// Serves a connection with a verified peer, and keeps it for sending.
    fn adopt(self: &Arc<Self>, conn: quinn::Connection) {
        {
            let mut conns = lock(&self.conns);
            let stale = conns.get(&conn.remote_address()).is_none_or(|c| c.close_reason().is_some());
            if stale {
                conns.insert(conn.remote_address(), conn.clone());
            }
        }
        let node = self.clone();
        let datagrams = conn.clone();
        self.tasks.spawn(async move {
            while let Ok(packet) = datagrams.read_datagram().await {
                node.membership.handle_packet(&node, &packet);
            }
        });
        let node = self.clone();
        let streams = conn.clone();
        self.tasks.spawn(async move {
            while let Ok(stream) = streams.accept_uni().await {
                let node = node.clone();
                let from = streams.remote_address();
                node.tasks.clone().spawn(async move { node.read_messages(stream, from).await });
            }
        });
        let node = self.clone();
        self.tasks.spawn(async move {
            while let Ok((send, recv)) = conn.accept_bi().await {
                let node = node.clone();
                let from = conn.remote_address();
                node.tasks.clone().spawn(async move { node.answer(send, recv, from, true).await });
            }
        });
    }

    async fn accept_loop(self: Arc<Self>) {
        while let Some(incoming) = self.endpoint.accept().await {
            let node = self.clone();
            self.tasks.spawn(async move {
                let from = incoming.remote_address();
                match incoming.await {
                    Ok(conn) if conn.peer_identity().is_some() => node.adopt(conn),
                    // No certificate: a node asking to join, and nothing else.
                    Ok(conn) => {
                        while let Ok((send, recv)) = conn.accept_bi().await {
                            let node = node.clone();
                            node.tasks.clone().spawn(async move { node.answer(send, recv, from, false).await });
                        }
                    }
                    Err(e) => log::warn!(target: "lunatic::node", "refused a connection from {from}: {e}"),
                }
            });
        }
    }

    /// Reads data messages from a peer's stream into local mailboxes.
    /// Garbage ends the stream (logged), not the node.
    async fn read_messages(self: Arc<Self>, mut stream: quinn::RecvStream, from: SocketAddr) {
        let Some(local) = self.local.clone() else { return };
        let mut len = [0u8; 4];
        loop {
            match stream.read_exact(&mut len).await {
                Ok(()) => {}
                Err(quinn::ReadExactError::FinishedEarly(0)) => return,
                Err(e) => {
                    log::debug!(target: "lunatic::node", "message stream from {from} ended: {e}");
                    return;
                }
            }
            let len = u32::from_le_bytes(len);
            if len & wire::CONTROL != 0 {
                let len = (len & !wire::CONTROL) as usize;
                if len > wire::MAX_MESSAGE {
                    log::error!(target: "lunatic::node", "bad control frame from {from} (length {len}): stream dropped");
                    let _ = stream.stop(quinn::VarInt::from_u32(1));
                    return;
                }
                let mut frame = vec![0u8; len];
                if let Err(e) = stream.read_exact(&mut frame).await {
                    log::error!(target: "lunatic::node", "truncated control frame from {from}: {e}");
                    return;
                }
                match postcard::from_bytes::<wire::Control>(&frame) {
                    Ok(control) => self.control(control, from).await,
                    Err(e) => {
                        log::error!(target: "lunatic::node", "bad control frame from {from}: {e}: stream dropped");
                        let _ = stream.stop(quinn::VarInt::from_u32(1));
                        return;
                    }
                }
                continue;
            }
            let len = len as usize;
            if !(wire::MESSAGE_HEADER..=wire::MESSAGE_HEADER + wire::MAX_MESSAGE).contains(&len) {
                log::error!(target: "lunatic::node", "bad message frame from {from} (length {len}): stream dropped");
                let _ = stream.stop(quinn::VarInt::from_u32(1));
                return;
            }
            let mut frame = vec![0u8; len];
            if let Err(e) = stream.read_exact(&mut frame).await {
                log::error!(target: "lunatic::node", "truncated message frame from {from}: {e}");
                return;
            }
            let payload = frame.split_off(wire::MESSAGE_HEADER);
            let (pid, tag) = frame.split_at(8);
            let pid = u64::from_le_bytes(pid.try_into().unwrap_or_default());
            let tag = i64::from_le_bytes(tag.try_into().unwrap_or_default());
            local.deliver(pid, tag, payload);
        }
    }

    /// A control frame from the peer at `from`. A spawn is carried out
    /// before the frames after it are read (the messages for the new
    /// process find it registered), and answered in this node's ordered
    /// stream to the asker; the process starts once its answer is queued.
    async fn control(self: &Arc<Self>, control: wire::Control, from: SocketAddr) {
        match control {
            wire::Control::Answer { id, response } => {
                if let Some(waiter) = lock(&self.asks).remove(&id) {
                    let _ = waiter.try_send(response);
                }
            }
            wire::Control::Ask { id, from: asker, request } => {
                let mut started = None;
                let response = match request {
                    Request::Spawn { module, entry, params, config } => {
                        match self.spawn_here(module, entry, params, config, Some(from)).await {
                            Ok((pid, start)) => {
                                started = Some(start);
                                Response::Spawned { pid }
                            }
                            Err(f) => Response::Failed { code: f.code as u32, message: f.message },
                        }
                    }
                    other => Response::Failed { code: 1, message: format!("{other:?} is not asked this way") },
                };
                let answer = wire::Control::Answer { id, response };
                // The process is registered; it is instantiated and run once
                // its answer is on its way, so that the answer does not wait
                // for the instantiation.
                let then = started.map(|start| Box::new(start) as Box<dyn FnOnce() + Send>);
                self.push_then(asker, from, 0, |frames| wire::control_frame(frames, &answer), then);
            }
            wire::Control::Tell { request } => {
                let _ = self.notice(request, from);
            }
        }
    }

    /// Answers one request stream. Peers without a certificate may only join.
    async fn answer(self: Arc<Self>, mut send: quinn::SendStream, mut recv: quinn::RecvStream, from: SocketAddr, verified: bool) {
        let limit = if verified { wire::MAX_FRAME } else { 64 << 10 };
        let mut started = None;
        let response = match recv.read_to_end(limit).await.map_err(anyhow::Error::from).and_then(|f| wire::decode(&f)) {
            Err(e) => {
                log::error!(target: "lunatic::node", "bad request from {from}: {e:#}");
                Response::Failed { code: 1, message: format!("bad request: {e}") }
            }
            Ok(Request::Join { secret, csr_pem }) => match &self.authority {
                Some(authority) => match authority.admit(&secret, &csr_pem) {
                    Ok(cert_pem) => {
                        log::info!(target: "lunatic::node", "admitted a node from {from}");
                        Response::Joined { cert_pem, ca_pem: authority.ca_pem().to_string() }
                    }
                    Err(e) => {
                        log::warn!(target: "lunatic::node", "refused to admit {from}: {e:#}");
                        Response::Failed { code: 1, message: format!("{e:#}") }
                    }
                },
                None => Response::Failed { code: 1, message: "this node does not admit nodes; join through the control server".into() },
            },
            Ok(_) if !verified => {
                log::warn!(target: "lunatic::node", "{from} has no cluster certificate: request refused");
                Response::Failed { code: 1, message: "not a member".into() }
            }
            Ok(Request::Spawn { module, entry, params, config }) => {
                match self.spawn_here(module, entry, params, config, Some(from)).await {
                    Ok((pid, start)) => {
                        started = Some(start);
                        Response::Spawned { pid }
                    }
                    Err(f) => Response::Failed { code: f.code as u32, message: f.message },
                }
            }
            Ok(Request::Monitor { pid }) => match self.local.as_ref().and_then(|l| l.watch(pid)) {
                Some(ended) => {
                    let node = self.clone();
                    self.tasks.spawn(async move {
                        ended.await;
                        // In the ordered stream, behind what the process sent.
                        if let Some(watcher) = node.member_at(from) {
                            node.tell(watcher, from, Request::Died { pid, watcher: 0 });
                        }
                    });
                    Response::Monitoring { alive: true }
                }
                None => Response::Monitoring { alive: false },
            },
            Ok(Request::Reunion { id, .. }) => {
                let (live, lowest) = self.side();
                Response::Reunion { id: self.id, live, lowest, declared_down: lock(&self.departed).contains_key(&id) }
            }
            Ok(Request::Link { pid, from: remote, tag }) => self.accept_link(from, pid, remote, tag),
            Ok(notice @ (Request::Died { .. } | Request::LinkDied { .. } | Request::Unlink { .. })) => self.notice(notice, from),
            Ok(Request::FetchModule { module }) => match self.module(module) {
                Some(m) => Response::Module { bytes: m.bytes().to_vec() },
                None => Response::Failed { code: 2, message: format!("unknown module {module}") },
            },
        };
        if let Ok(frame) = wire::encode(&response) {
            let _ = send.write_all(&frame).await;
            let _ = send.finish();
        }
        // A spawned process runs once its answer is written (it is
        // registered already, so messages for it wait in its mailbox).
        if let Some(start) = started.take() {
            start();
        }
        // Let the answer leave before the stream is dropped.
        let _ = send.stopped().await;
    }

    /// A one-way notice from the peer at `from`: a process there that a
    /// local one monitors or links to ended, or unlinked.
    fn notice(&self, notice: Request, from: SocketAddr) -> Response {
        match notice {
            Request::Died { pid, .. } => {
                if let Some(node) = self.member_at(from) {
                    self.remote_died(node, pid);
                }
                Response::Done
            }
            Request::LinkDied { pid, from: remote, failed, linker } => self.link_gone(from, pid, remote, linker, Some(failed)),
            Request::Unlink { pid, from: remote, linker } => self.link_gone(from, pid, remote, linker, None),
            other => {
                log::warn!(target: "lunatic::node", "{from} sent {other:?} as a notice: ignored");
                Response::Failed { code: 1, message: "not a notice".into() }
            }
        }
    }

    /// The member serving at `addr`.
    fn member_at(&self, addr: SocketAddr) -> Option<u64> {
        let peers = self.peers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        peers.values().find(|p| p.ident.addr == addr).map(|p| p.ident.id)
    }

    /// Monitors process `pid` on node `target` for local process
    /// `watcher`, which gets a `ProcessDied` when that process ends or its
    /// node goes down (at once if it is not running). Fails with 1 (unknown
    /// node) or 9027 (down, or no answer within the timeout).
    pub(crate) async fn monitor(self: &Arc<Self>, target: u64, pid: u64, watcher: crate::protocol::ProcessHandle) -> Result<(), Failure> {
        let peer = self.peer(target)?;
        if lock(&self.remote_monitors).values().map(Vec::len).sum::<usize>() >= MAX_REMOTE_MONITORS {
            return Err(Failure::new(UNREACHABLE, "too many monitors of remote processes"));
        }
        // Registered first: a death reported before the answer is not lost.
        lock(&self.remote_monitors).entry((target, pid)).or_default().push(watcher.clone());
        let answer = within(self.timeout, self.request(peer.addr, &Request::Monitor { pid })).await;
        match answer {
            Some(Ok(Response::Monitoring { alive: true })) => Ok(()),
            Some(Ok(Response::Monitoring { alive: false })) => {
                self.remote_died(target, pid);
                Ok(())
            }
            other => {
                self.forget_monitor(target, pid, watcher.id());
                Err(Failure::new(UNREACHABLE, format!("node {target} did not take the monitor: {other:?}")))
            }
        }
    }

    /// Withdraws a monitor set with [`Node::monitor`].
    pub(crate) fn forget_monitor(&self, target: u64, pid: u64, watcher: u64) {
        let mut monitors = lock(&self.remote_monitors);
        if let Some(watchers) = monitors.get_mut(&(target, pid)) {
            watchers.retain(|w| w.id() != watcher);
            if watchers.is_empty() {
                monitors.remove(&(target, pid));
            }
        }
    }

    /// Process `pid` of node `node` ended: its watchers are told.
    fn remote_died(&self, node: u64, pid: u64) {
        let watchers = lock(&self.remote_monitors).remove(&(node, pid)).unwrap_or_default();
        for watcher in watchers {
            Local::tell_died(&watcher, pid);
        }
    }

    /// After a partition heals, each side has declared the other down and
    /// SWIM alone never brings them together again (a member declared down
    /// cannot come back as itself). So every few seconds this node asks
    /// the members it declared down whether they declared it down too; if
    /// so, the smaller side (fewer live members; on a tie, the side whose
    /// lowest member ID is lower) stops as a node declared down does (`lunatic node` exits 1, to be
    /// started again as a new node), and the other side goes on. Each side
    /// compares the same two figures, so exactly one of them yields.
    fn reunite(self: &Arc<Self>) {
        let now = std::time::Instant::now();
        let asks: Vec<(u64, SocketAddr)> = {
            let mut departed = lock(&self.departed);
            departed.retain(|_, (_, since)| now.duration_since(*since) < REUNION_FOR);
            departed
                .iter()
                .filter(|(_, (_, since))| now.duration_since(*since) >= REUNION_AFTER)
                .map(|(id, (addr, _))| (*id, *addr))
                .collect()
        };
        if asks.is_empty() || self.stopped.load(Ordering::SeqCst) {
            self.after(REUNION_EVERY, Node::reunite);
            return;
        }
        let node = self.clone();
        self.tasks.spawn(async move {
            for (other, addr) in asks {
                let (live, lowest) = node.side();
                let asked = within(Duration::from_secs(1), node.request(addr, &Request::Reunion { id: node.id, live })).await;
                match asked {
                    Some(Ok(Response::Reunion { id, live: theirs, lowest: their_lowest, declared_down })) => {
                        if id != other {
                            // Another node serves there now: the old one is gone.
                            lock(&node.departed).remove(&other);
                        } else if declared_down && (live, lowest) < (theirs, their_lowest) {
                            log::warn!(target: "lunatic::node", "a partition healed: node {other} ({theirs} live) declared this node ({live} live) down");
                            node.defunct();
                            return;
                        }
                    }
                    Some(Ok(other_answer)) => log::debug!(target: "lunatic::node", "{addr} answered a reunion with {other_answer:?}"),
                    Some(Err(e)) => log::debug!(target: "lunatic::node", "no reunion with node {other} at {addr}: {e:#}"),
                    None => log::debug!(target: "lunatic::node", "no reunion with node {other} at {addr}: no answer"),
                }
                // A connection to a member that is still down is not kept.
                let up_there = node
                    .peers
                    .read()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .values()
                    .any(|p| p.up && p.ident.addr == addr);
                if !up_there {
                    let conn = lock(&node.conns).remove(&addr);
                    if let Some(conn) = conn {
                        conn.close(quinn::VarInt::from_u32(2), b"down");
                    }
                }
            }
            node.after(REUNION_EVERY, Node::reunite);
        });
    }

    /// This node's side of the cluster as it sees it: how many members are
    /// live (itself included) and the lowest ID among them.
    fn side(&self) -> (u64, u64) {
        let peers = self.peers.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let live = peers.values().filter(|p| p.up);
        let lowest = live.clone().map(|p| p.ident.id).fold(self.id, u64::min);
        (live.count() as u64 + 1, lowest)
    }

    /// A member came up (or changed identity).
    fn member_up(&self, ident: &Ident) {
        if ident.id == self.id {
            return;
        }
        log::info!(target: "lunatic::node", "node {} at {} is up", ident.id, ident.addr);
        lock(&self.departed).remove(&ident.id);
        self.peers
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(ident.id, Peer { ident: ident.clone(), up: true });
        self.changed.notify(usize::MAX);
    }

    /// A member is down: it leaves `nodes()`, its queued messages are
    /// dropped and everyone waiting on it is told.
    fn member_down(&self, ident: &Ident) {
        log::info!(target: "lunatic::node", "node {} at {} is down", ident.id, ident.addr);
        if !self.stopped.load(Ordering::SeqCst) {
            lock(&self.departed).insert(ident.id, (ident.addr, std::time::Instant::now()));
        }
        if let Some(peer) = self.peers.write().unwrap_or_else(std::sync::PoisonError::into_inner).get_mut(&ident.id) {
            peer.up = false;
        }
        if let Some(outbox) = lock(&self.outboxes).remove(&ident.id) {
            outbox.closed.store(true, Ordering::SeqCst);
            let dropped = std::mem::take(&mut *lock(&outbox.frames));
            Queued::run_then(dropped.then);
            outbox.wake.notify(usize::MAX);
        }
        if let Some(conn) = lock(&self.conns).remove(&ident.addr) {
            conn.close(quinn::VarInt::from_u32(2), b"down");
        }
        // Its processes count as ended for everyone monitoring them.
        let gone: Vec<u64> =
            lock(&self.remote_monitors).keys().filter(|(node, _)| *node == ident.id).map(|(_, pid)| *pid).collect();
        for pid in gone {
            self.remote_died(ident.id, pid);
        }
        self.links_down(ident.id);
        self.changed.notify(usize::MAX);
    }

    /// Runs `work` after `delay` on the node's timers (foca's timers; the
    /// place a simulated clock would take over).
    fn after(self: &Arc<Self>, delay: Duration, work: impl FnOnce(&Arc<Node>) + Send + 'static) {
        let node = self.clone();
        self.tasks.spawn(async move {
            async_io::Timer::after(delay).await;
            if !node.stopped.load(Ordering::SeqCst) {
                work(&node);
            }
        });
    }

    /// Sends a membership packet to `addr` (dialing if need be).
    fn send_packet(self: &Arc<Self>, addr: SocketAddr, packet: bytes::Bytes) {
        if self.stopped.load(Ordering::SeqCst) {
            return;
        }
        if let Some(conn) = self.cached(addr) {
            let _ = conn.send_datagram(packet);
            return;
        }
        let node = self.clone();
        self.tasks.spawn(async move {
            if let Ok(conn) = node.connection(addr).await {
                let _ = conn.send_datagram(packet);
            }
        });
    }
}

/// Gets a certificate from the signer at `seed` with the join token.
async fn join(endpoint: &quinn::Endpoint, seed: SocketAddr, token: &certs::Token) -> anyhow::Result<certs::Identity> {
    let candidate = certs::Candidate::new()?;
    let config = client_config(certs::join_client_config(&token.pin)?)?;
    let conn = endpoint.connect_with(config, seed, certs::SERVER_NAME)?.await?;
    let (mut send, mut recv) = conn.open_bi().await?;
    send.write_all(&wire::encode(&Request::Join { secret: token.secret.clone(), csr_pem: candidate.csr_pem()? })?).await?;
    send.finish()?;
    let answer = wire::decode(&recv.read_to_end(1 << 20).await?)?;
    conn.close(quinn::VarInt::from_u32(0), b"joined");
    match answer {
        Response::Joined { cert_pem, ca_pem } => candidate.admitted(&cert_pem, &ca_pem),
        Response::Failed { message, .. } => bail!("refused: {message}"),
        other => bail!("unexpected answer {other:?}"),
    }
}

#[cfg(test)]
mod tests;
