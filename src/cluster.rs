//! `lunatic control` and `lunatic node` (facade layer): start a signer or a
//! node on a runtime of its own and serve until killed.

use crate::node::{Local, Node, NodeOptions};
use crate::protocol::{Runtime, RuntimeOptions};
use crate::protocol::Environment;
use crate::protocol::ProcessConfig;
use crate::scheduler::SchedulerKind;
use anyhow::{anyhow, Context};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where `lunatic control` serves by default (UDP, QUIC).
pub const DEFAULT_CONTROL: &str = "127.0.0.1:3030";

/// Reads an address given as `host:port` or as a URL (`http://host:port/`,
/// the original's control URL).
pub fn parse_addr(text: &str) -> anyhow::Result<SocketAddr> {
    let rest = text.split_once("://").map_or(text, |(_, rest)| rest);
    let host_port = rest.split('/').next().unwrap_or(rest);
    host_port
        .to_socket_addrs()
        .with_context(|| format!("bad address '{text}'"))?
        .next()
        .ok_or_else(|| anyhow!("'{text}' resolves to no address"))
}

/// How long a node's idle workers keep polling before they sleep while its
/// work comes back at a steady pace (see `Scheduler::prefer_spin`; the
/// usual spin is 100 µs). Why: a node's next task is mostly a peer's
/// answer, one network round trip away (50-150 µs), and a worker asleep in
/// `epoll_wait` takes tens of µs to wake on a VM. Measured with the
/// benchmark's two-worker nodes (`run_cluster` of benches/distributed.py,
/// 8 runs each, alternating, 2026-12-07): remote spawn + reply medians
/// 244-424 µs (median of runs ~370) with the usual spin, 167-245 µs (217)
/// with this one, 179-233 µs (189) spinning 1 ms after every task (500 µs
/// and 2 ms: no better). Idle nodes (membership traffic only) used 0.8%
/// of a core each with the usual spin, 1.5% with this, 2.5% spinning after
/// every task.
const NODE_SPIN: std::time::Duration = std::time::Duration::from_millis(1);

/// Serves until SIGTERM or SIGINT (then leaves the cluster: the members
/// drop this node at once; status 0) or until the cluster declares this
/// node down (status 1: it stopped answering, e.g. it was suspended, and
/// must start again as a new node).
fn serve(node: &Arc<Node>) -> anyhow::Result<i32> {
    use async_signal::{Signal, Signals};
    let mut signals = Signals::new([Signal::Term, Signal::Int]).context("cannot watch for SIGTERM/SIGINT")?;
    let got = smol::block_on(async {
        futures_lite::future::or(async { futures_lite::StreamExt::next(&mut signals).await.is_some() }, async {
            while !node.is_defunct() {
                async_io::Timer::after(Duration::from_millis(100)).await;
            }
            false
        })
        .await
    });
    if got {
        node.leave();
        eprintln!("Lunatic node {} left the cluster", node.id());
        Ok(0)
    } else {
        eprintln!(
            "Lunatic node {}: the cluster declared this node down (it did not answer in time); start it again to rejoin as a new node",
            node.id()
        );
        Ok(1)
    }
}

/// `lunatic control`: makes or loads the cluster CA and the join token,
/// prints how to start nodes, and admits them.
pub fn control_main(bind: Option<SocketAddr>, cluster_dir: Option<PathBuf>) -> anyhow::Result<i32> {
    let bind = match bind {
        Some(bind) => bind,
        None => parse_addr(DEFAULT_CONTROL)?,
    };
    let mut options = NodeOptions::new(bind);
    if let Some(dir) = cluster_dir {
        options.cluster_dir = dir;
    }
    options.signer = true;
    options.control = true;
    let dir = options.cluster_dir.clone();
    let node = Node::start(options, None)?;
    let token = node.token().unwrap_or_default();
    eprintln!("Lunatic control serving on {} (QUIC, mutual TLS)", node.addr());
    eprintln!("Cluster CA and join token kept in {} (owner-only files)", dir.display());
    eprintln!("Join token: {token}");
    eprintln!("Start nodes here with: lunatic node http://{}/", node.addr());
    eprintln!("Elsewhere: LUNATIC_JOIN_TOKEN=<token> lunatic node http://{}/ --bind-socket <their ip>:<port>", node.addr());
    serve(&node)
}

/// What `lunatic node` was asked.
#[derive(Debug, Clone)]
pub struct NodeArgs {
    /// The control server (URL or address), the original's positional argument.
    pub control: Option<String>,
    /// Join through this member instead of a control server.
    pub join: Option<String>,
    /// Start a new cluster: hold the CA here and admit nodes (no control server).
    pub seed: bool,
    /// Where to serve (default 127.0.0.1 on an OS-chosen port).
    pub bind: Option<SocketAddr>,
    /// Run this module's `_start` once joined, and keep serving after.
    pub wasm: Option<PathBuf>,
    /// `k=v` tags.
    pub tags: Vec<(String, String)>,
    /// The join token.
    pub token: Option<String>,
    /// The cluster directory.
    pub cluster_dir: Option<PathBuf>,
    /// Remote spawn / join timeout.
    pub timeout: Duration,
    /// Grant remote callers' environment and preopens.
    pub allow_remote_env: bool,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// Arguments for the `--wasm` program.
    pub args: Vec<String>,
}

/// `lunatic node`: joins, runs `--wasm` if given, and serves until killed.
pub fn node_main(args: NodeArgs) -> anyhow::Result<i32> {
    let bind = match args.bind {
        Some(bind) => bind,
        None => parse_addr("127.0.0.1:0")?,
    };
    let mut options = NodeOptions::new(bind);
    if let Some(dir) = args.cluster_dir {
        options.cluster_dir = dir;
    }
    options.seed = match (&args.join, &args.control, args.seed) {
        (Some(join), _, _) => Some(parse_addr(join)?),
        (None, _, true) => None,
        (None, Some(control), false) => Some(parse_addr(control)?),
        (None, None, false) => Some(parse_addr(DEFAULT_CONTROL)?),
    };
    options.signer = args.seed;
    options.tags = args.tags;
    options.token = args.token;
    options.timeout = args.timeout;
    options.allow_remote_env = args.allow_remote_env;
    let scheduler = SchedulerKind::Threaded { threads: args.threads }.build()?;
    scheduler.prefer_spin(NODE_SPIN);
    let runtime = Runtime::new(scheduler.clone(), RuntimeOptions::default());
    let env = Arc::new(Environment::new(1));
    let local = Local::new(runtime, env.clone());
    let node = Node::start(options, Some(local.clone()))?;
    env.set_node_id(node.id());
    eprintln!("Lunatic node {} serving on {}", node.id(), node.addr());
    if args.seed {
        if let Some(token) = node.token() {
            eprintln!("Join token: {token}");
        }
    }
    let Some(path) = args.wasm else { return serve(&node) };
    let bytes = crate::runner::read_module(&path)?;
    let module = local.compile(&bytes)?;
    node.module_id(&module);
    let program = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    let argv = std::iter::once(program).chain(args.args).collect();
    let config = ProcessConfig::root(argv, crate::runner::root_preopens(&[], false)?);
    let exited = local.spawn_root(module, config).map_err(|e| anyhow!("cannot start '{}': {e}", path.display()))?;
    // The root's end is logged; the node keeps serving either way.
    scheduler.spawn(Box::pin(async move {
        let status = exited.recv().await.unwrap_or(101);
        log::info!(target: "lunatic::node", "'{}' ended with status {status}; still serving", path.display());
    }));
    serve(&node)
}
