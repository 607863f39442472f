//! Several nodes in one test binary, on 127.0.0.1, with real QUIC, TLS and
//! SWIM: joining, membership, remote spawn, send and request/reply from a
//! guest, failures, and bad input.

use super::*;
use crate::protocol::{Runtime, RuntimeOptions};
use crate::protocol::Environment;
use crate::scheduler::SchedulerKind;
use std::time::Instant;

fn temp_dir(name: &str) -> PathBuf {
    let _ = env_logger::builder().is_test(true).try_init();
    let dir = std::env::temp_dir().join(format!("lunatic-node-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn control(dir: &std::path::Path) -> Arc<Node> {
    let mut options = NodeOptions::new(loopback());
    options.signer = true;
    options.control = true;
    options.cluster_dir = dir.to_path_buf();
    Node::start(options, None).expect("control starts")
}

fn join_options(control: &Node, dir: &std::path::Path) -> NodeOptions {
    let mut options = NodeOptions::new(loopback());
    options.seed = Some(control.addr());
    options.token = control.token();
    options.cluster_dir = dir.to_path_buf();
    options.timeout = Duration::from_secs(2);
    options
}

fn local() -> Local {
    let scheduler = SchedulerKind::Threaded { threads: 1 }.build().unwrap();
    Local::new(Runtime::new(scheduler, RuntimeOptions::default()), Arc::new(Environment::new(1)))
}

fn node(control: &Node, dir: &std::path::Path, tags: &[(&str, &str)]) -> (Arc<Node>, Local) {
    let mut options = join_options(control, dir);
    options.tags = tags.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let local = local();
    (Node::start(options, Some(local.clone())).expect("node joins"), local)
}

/// A control server and two nodes, a and b, that see each other.
struct Pair {
    control: Arc<Node>,
    a: Arc<Node>,
    b: Arc<Node>,
    /// The runtime node b serves.
    b_local: Local,
}

/// Starts a [`Pair`] in a scratch directory named after the test.
fn two_nodes(name: &str) -> Pair {
    let dir = temp_dir(name);
    let control = control(&dir);
    let (a, _) = node(&control, &dir, &[]);
    let (b, b_local) = node(&control, &dir, &[]);
    wait_for("both nodes see both", Duration::from_secs(5), || b.nodes().len() == 2 && a.nodes().len() == 2);
    Pair { control, a, b, b_local }
}

/// Runs the `_start` of module `wat` as a root process of `local`, with
/// `name` as its only argument; its exit status arrives on the channel.
fn start_guest(local: &Local, wat: &str, name: &str) -> async_channel::Receiver<i32> {
    let module = local.compile(wat.as_bytes()).unwrap();
    let config = crate::protocol::ProcessConfig::root(vec![name.into()], Vec::new());
    local.spawn_root(module, config).unwrap()
}

/// Waits (bounded) until `ready` holds; returns how long it took.
fn wait_for(what: &str, limit: Duration, ready: impl Fn() -> bool) -> Duration {
    let start = Instant::now();
    while !ready() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    start.elapsed()
}

#[test]
fn nodes_see_each_other_and_lookups_filter_by_tags() {
    let dir = temp_dir("membership");
    let control = control(&dir);
    let (a, _) = node(&control, &dir, &[("role", "web")]);
    let (b, _) = node(&control, &dir, &[("role", "db"), ("zone", "1")]);
    wait_for("both nodes see both", Duration::from_secs(5), || a.nodes().len() == 2 && b.nodes().len() == 2);
    let mut expected = vec![a.id(), b.id()];
    expected.sort_unstable();
    assert_eq!(a.nodes(), expected, "the control server is not a node");
    assert!(a.id() != 0 && b.id() != 0 && a.id() != b.id());
    let tags = |q: &[(&str, &str)]| q.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<Vec<_>>();
    assert_eq!(a.lookup(&tags(&[("role", "db")])), vec![b.id()]);
    assert_eq!(b.lookup(&tags(&[("role", "web")])), vec![a.id()]);
    assert_eq!(a.lookup(&tags(&[("role", "db"), ("zone", "2")])), Vec::<u64>::new());
    let (query, count) = a.start_query(&tags(&[("zone", "1")])).unwrap();
    assert_eq!(count, 1);
    assert_eq!(a.take_query(query), Some(vec![b.id()]));
    assert_eq!(a.take_query(query), None, "a lookup is forgotten once copied");
    for n in [&a, &b, &control] {
        n.shutdown();
    }
}

#[test]
fn joining_needs_the_token_and_the_right_cluster() {
    let dir = temp_dir("join");
    let control = control(&dir);
    let token: certs::Token = control.token().unwrap().parse().unwrap();
    let mut options = join_options(&control, &dir);
    options.token = Some(format!("not-the-secret.{}", token.pin));
    let refused = Node::start(options, Some(local())).err().expect("a wrong secret is refused");
    assert!(format!("{refused:#}").contains("wrong join token"), "{refused:#}");
    // A token of another cluster: the joining node does not trust this one.
    let other = certs::Authority::open(&temp_dir("join-other")).unwrap();
    let mut options = join_options(&control, &dir);
    options.token = Some(other.token());
    assert!(Node::start(options, Some(local())).is_err());
    // The right token, found in the cluster directory as a node on the
    // same machine finds it.
    let mut options = join_options(&control, &dir);
    options.token = None;
    let joined = Node::start(options, Some(local())).expect("the token file admits");
    joined.shutdown();
    control.shutdown();
}

/// A guest that spawns an echo process on the other node, asks it 100
/// requests (send_receive_skip_search), sends it 1 000 one-way messages
/// and checks every reply arrives in order, and checks the error codes
/// for an unknown node and an unknown module. Exits 0 when all held, else
/// with the number of the failed check.
const SCENARIO: &str = r#"
(module
  (import "lunatic::distributed" "get_nodes" (func $get_nodes (param i32 i32) (result i32)))
  (import "lunatic::distributed" "node_id" (func $node_id (result i64)))
  (import "lunatic::distributed" "module_id" (func $module_id (result i64)))
  (import "lunatic::distributed" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::distributed" "send" (func $send (param i64 i64) (result i32)))
  (import "lunatic::distributed" "send_receive_skip_search" (func $srss (param i64 i64 i64 i64) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::message" "read_data" (func $read_data (param i32 i32) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "child")
  (data (i32.const 700) "\88\13\00\00\00\00\00\00")
  (func $reply_to (param $node i64) (param $pid i64) (param $tag i64) (param $value i64)
    (call $create_data (local.get $tag) (i64.const 8))
    (i64.store (i32.const 208) (local.get $value))
    (drop (call $write_data (i32.const 208) (i32.const 8)))
    (drop (call $send (local.get $node) (local.get $pid))))
  ;; child(node, pid): answers every message with its tag and value + 1.
  (func (export "child") (param $node i64) (param $pid i64)
    (loop $serve
      (if (i32.eqz (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
        (then
          (drop (call $read_data (i32.const 200) (i32.const 8)))
          (call $reply_to (local.get $node) (local.get $pid) (call $get_tag)
            (i64.add (i64.load (i32.const 200)) (i64.const 1)))))
      (br $serve)))
  (func $fail (param $code i32) (call $exit (local.get $code)) (unreachable))
  (func (export "_start")
    (local $me i64) (local $target i64) (local $child i64) (local $i i64)
    (local.set $me (call $node_id))
    (if (i32.ne (call $get_nodes (i32.const 300) (i32.const 8)) (i32.const 2)) (then (call $fail (i32.const 10))))
    (local.set $target (i64.load (i32.const 300)))
    (if (i64.eq (local.get $target) (local.get $me)) (then (local.set $target (i64.load (i32.const 308)))))
    ;; params: (i64 me, i64 my pid), 17-byte records
    (i32.store8 (i32.const 400) (i32.const 0x7E))
    (i64.store (i32.const 401) (local.get $me))
    (i32.store8 (i32.const 417) (i32.const 0x7E))
    (i64.store (i32.const 418) (call $process_id))
    (if (call $spawn (local.get $target) (i64.const -1) (call $module_id)
          (i32.const 100) (i32.const 5) (i32.const 400) (i32.const 34) (i32.const 500))
      (then (call $fail (i32.const 11))))
    (local.set $child (i64.load (i32.const 500)))
    ;; 100 requests, each waiting for its own tag
    (local.set $i (i64.const 1))
    (loop $ask
      (call $create_data (local.get $i) (i64.const 8))
      (i64.store (i32.const 600) (i64.mul (local.get $i) (i64.const 10)))
      (drop (call $write_data (i32.const 600) (i32.const 8)))
      (if (call $srss (local.get $target) (local.get $child) (local.get $i) (i64.const 5000))
        (then (call $fail (i32.const 12))))
      (drop (call $read_data (i32.const 608) (i32.const 8)))
      (if (i64.ne (i64.load (i32.const 608)) (i64.add (i64.mul (local.get $i) (i64.const 10)) (i64.const 1)))
        (then (call $fail (i32.const 13))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $ask (i64.le_u (local.get $i) (i64.const 100))))
    ;; 1 000 one-way messages (tag 5000); the replies come back in order
    (local.set $i (i64.const 0))
    (loop $push
      (call $create_data (i64.const 5000) (i64.const 8))
      (i64.store (i32.const 600) (local.get $i))
      (drop (call $write_data (i32.const 600) (i32.const 8)))
      (drop (call $send (local.get $target) (local.get $child)))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $push (i64.lt_u (local.get $i) (i64.const 1000))))
    (local.set $i (i64.const 0))
    (loop $pull
      (if (call $receive (i32.const 700) (i32.const 1) (i64.const 5000)) (then (call $fail (i32.const 16))))
      (drop (call $read_data (i32.const 608) (i32.const 8)))
      (if (i64.ne (i64.load (i32.const 608)) (i64.add (local.get $i) (i64.const 1))) (then (call $fail (i32.const 17))))
      (local.set $i (i64.add (local.get $i) (i64.const 1)))
      (br_if $pull (i64.lt_u (local.get $i) (i64.const 1000))))
    ;; an unknown node answers 1, an unknown module 2
    (if (i32.ne (call $spawn (i64.const 12345) (i64.const -1) (call $module_id)
          (i32.const 100) (i32.const 5) (i32.const 400) (i32.const 34) (i32.const 500)) (i32.const 1))
      (then (call $fail (i32.const 14))))
    (if (i32.ne (call $spawn (local.get $target) (i64.const -1) (i64.const 777)
          (i32.const 100) (i32.const 5) (i32.const 400) (i32.const 34) (i32.const 500)) (i32.const 2))
      (then (call $fail (i32.const 15))))))
"#;

#[test]
fn a_guest_spawns_sends_and_requests_across_nodes() {
    let Pair { control, a, b, b_local } = two_nodes("guest");
    let exited = start_guest(&b_local, SCENARIO, "scenario");
    let status = smol::block_on(within(Duration::from_secs(60), exited.recv()))
        .expect("the scenario finishes within 60 s")
        .expect("an exit status");
    assert_eq!(status, 0, "the scenario failed check {status}");
    for n in [&a, &b, &control] {
        n.shutdown();
    }
}

/// A module with one export that returns at once.
const IDLE: &str = r#"(module (func (export "idle")))"#;

#[test]
fn a_dead_node_fails_operations_in_bounded_time_and_leaves_nodes() {
    let dir = temp_dir("dead");
    let control = control(&dir);
    let (a, a_local) = node(&control, &dir, &[]);
    let (b, _) = node(&control, &dir, &[]);
    wait_for("both nodes see both", Duration::from_secs(5), || a.nodes().len() == 2);
    let module = a_local.compile(IDLE.as_bytes()).unwrap();
    let hash = a.module_id(&module);
    let spawn = |target: u64| {
        smol::block_on(a.spawn(target, hash, "idle".into(), Vec::new(), wire::RemoteConfig::default()))
    };
    // Alive: the remote node fetches the module and spawns.
    assert!(spawn(b.id()).is_ok());
    b.shutdown();
    // Before the membership notices: the spawn times out (2 s here).
    let started = Instant::now();
    let failed = spawn(b.id()).expect_err("a dead node cannot spawn");
    assert_eq!(failed.code, UNREACHABLE, "{}", failed.message);
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    let gone = wait_for("the dead node leaves nodes()", Duration::from_secs(6), || a.nodes() == vec![a.id()]);
    eprintln!("the dead node left nodes() {:?} after the spawn failed", gone);
    // After: sends and spawns fail at once.
    let started = Instant::now();
    assert_eq!(a.send(b.id(), 1, 0, b"dropped"), UNREACHABLE);
    assert_eq!(spawn(b.id()).expect_err("down").code, UNREACHABLE);
    // "At once": well under the 2 s spawn timeout (a loaded test machine
    // can deschedule this thread for tens of milliseconds).
    assert!(started.elapsed() < Duration::from_secs(1), "took {:?}", started.elapsed());
    assert_eq!(spawn(4242).expect_err("unknown").code, UNKNOWN_NODE);
    a.shutdown();
    control.shutdown();
}

#[test]
fn garbage_and_foreign_certificates_are_refused_and_the_node_keeps_serving() {
    let dir = temp_dir("garbage");
    let control = control(&dir);
    let (a, _) = node(&control, &dir, &[]);
    let (b, b_local) = node(&control, &dir, &[]);
    wait_for("both nodes see both", Duration::from_secs(5), || b.nodes().len() == 2);
    // Raw UDP garbage at the QUIC port.
    let udp = std::net::UdpSocket::bind(loopback()).unwrap();
    for size in [1, 40, 1200] {
        udp.send_to(&vec![0xAB; size], a.addr()).unwrap();
    }
    smol::block_on(async {
        // A member that answers module fetches with the wrong bytes.
        let identity = control.authority.as_ref().unwrap().own_identity().unwrap();
        let server = quinn::ServerConfig::with_crypto(Arc::new(QuicServerConfig::try_from(identity.server_config().unwrap()).unwrap()));
        let endpoint = quinn::Endpoint::server(server, loopback()).unwrap();
        let liar = endpoint.clone();
        let fetches = Arc::new(AtomicU64::new(0));
        let lie = |conn: quinn::Connection, counted: Arc<AtomicU64>| {
            smol::spawn(async move {
                while let Ok((mut send, mut recv)) = conn.accept_bi().await {
                    let asked = recv.read_to_end(1 << 20).await.map_err(anyhow::Error::from).and_then(|f| wire::decode::<Request>(&f));
                    if let Ok(Request::FetchModule { .. }) = asked {
                        counted.fetch_add(1, Ordering::SeqCst);
                        let lie = Response::Module { bytes: IDLE.as_bytes().to_vec() };
                        let _ = send.write_all(&wire::encode(&lie).unwrap()).await;
                        let _ = send.finish();
                        let _ = send.stopped().await;
                    }
                }
            })
            .detach();
        };
        let counted = fetches.clone();
        smol::spawn(async move {
            while let Some(incoming) = liar.accept().await {
                if let Ok(conn) = incoming.await {
                    lie(conn, counted.clone());
                }
            }
        })
        .detach();
        // A node of another cluster: its certificate is refused.
        let other = certs::Authority::open(&temp_dir("garbage-other")).unwrap();
        let foreign = client_config(other.own_identity().unwrap().client_config().unwrap()).unwrap();
        let refused = match endpoint.connect_with(foreign, a.addr(), certs::SERVER_NAME).unwrap().await {
            Err(_) => true,
            // The server may refuse after the client finished its side.
            Ok(conn) => match conn.open_bi().await {
                Err(_) => true,
                Ok((mut send, mut recv)) => {
                    let _ = send.write_all(&wire::encode(&Request::FetchModule { module: 1 }).unwrap()).await;
                    let _ = send.finish();
                    recv.read_to_end(1 << 20).await.is_err()
                }
            },
        };
        assert!(refused, "a certificate of another cluster must not be accepted");
        // A member sending garbage: bad frames are refused, the node goes on.
        let member = client_config(control.authority.as_ref().unwrap().own_identity().unwrap().client_config().unwrap()).unwrap();
        let conn = endpoint.connect_with(member, a.addr(), certs::SERVER_NAME).unwrap().await.unwrap();
        // (The node asks for modules on this connection, or dials back.)
        lie(conn.clone(), fetches.clone());
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        send.write_all(&[9, 0, 0, 0, 1, 2, 3]).await.unwrap();
        send.finish().unwrap();
        let answer: Response = wire::decode(&recv.read_to_end(1 << 20).await.unwrap()).unwrap();
        assert!(matches!(answer, Response::Failed { .. }), "{answer:?}");
        // Message streams: a frame too short for its header, a control
        // frame that is not postcard, a truncated frame.
        for garbage in [&[3, 0, 0, 0, 1, 2, 3][..], &[5, 0, 0, 0x80, 0xff, 0xff, 0xff, 0xff, 0xff], &[100, 0, 0, 0, 1, 2, 3]] {
            let mut uni = conn.open_uni().await.unwrap();
            uni.write_all(garbage).await.unwrap();
            let _ = uni.finish();
        }
        // A spawn of a module whose bytes do not match its ID.
        let (mut send, mut recv) = conn.open_bi().await.unwrap();
        let request = Request::Spawn { module: 99, entry: "idle".into(), params: vec![], config: Default::default() };
        send.write_all(&wire::encode(&request).unwrap()).await.unwrap();
        send.finish().unwrap();
        let answer: Response = wire::decode(&recv.read_to_end(1 << 20).await.unwrap()).unwrap();
        assert!(matches!(&answer, Response::Failed { code: 2, message } if message.contains("do not match")), "{answer:?}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "the node fetched the module from the asker");
    });
    // Still serving: b spawns on a.
    let module = b_local.compile(IDLE.as_bytes()).unwrap();
    let hash = b.module_id(&module);
    let spawned = smol::block_on(b.spawn(a.id(), hash, "idle".into(), Vec::new(), wire::RemoteConfig::default()));
    assert!(spawned.is_ok(), "{:?}", spawned.err());
    assert_eq!(a.nodes().len(), 2);
    for n in [&a, &b, &control] {
        n.shutdown();
    }
}

#[test]
fn remote_callers_get_no_environment_or_preopens_unless_allowed() {
    let asked = wire::RemoteConfig {
        envs: vec![("SECRET".into(), "x".into())],
        preopens: vec![("/".into(), "/".into())],
        max_memory: 1 << 20,
        ..Default::default()
    };
    let denied = local::granted_config(&asked, false);
    assert!(denied.envs.is_empty() && denied.preopens.is_empty());
    assert_eq!(denied.max_memory, 1 << 20);
    let allowed = local::granted_config(&asked, true);
    assert_eq!(allowed.envs.len(), 1);
    assert_eq!(allowed.preopens.len(), 1);
}

#[test]
fn module_ids_are_content_hashes() {
    assert_eq!(module_hash(b"abc"), module_hash(b"abc"));
    assert_ne!(module_hash(b"abc"), module_hash(b"abd"));
    assert!(module_hash(b"") > 0 && (module_hash(b"x") as i64) > 0);
}

/// The ABI extension: a guest monitors processes on another node and gets
/// `ProcessDied` when one returns, at once for one not running, and when
/// the node holding one goes down.
const MONITORS: &str = r#"
(module
  (import "lunatic::distributed" "get_nodes" (func $get_nodes (param i32 i32) (result i32)))
  (import "lunatic::distributed" "node_id" (func $node_id (result i64)))
  (import "lunatic::distributed" "module_id" (func $module_id (result i64)))
  (import "lunatic::distributed" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::distributed_ext" "monitor" (func $monitor (param i64 i64) (result i32)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "short")
  (data (i32.const 110) "forever")
  (func (export "short") (call $sleep (i64.const 200)))
  (func (export "forever") (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))
  (func $fail (param $code i32) (call $exit (local.get $code)) (unreachable))
  ;; waits for a ProcessDied of $pid within 10 s, else fails with $code
  (func $died (param $pid i64) (param $code i32)
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 10000)) (i32.const 2)) (then (call $fail (local.get $code))))
    (if (i64.ne (call $get_process_id) (local.get $pid)) (then (call $fail (i32.add (local.get $code) (i32.const 100))))))
  (func (export "_start")
    (local $target i64) (local $pid i64)
    (drop (call $get_nodes (i32.const 300) (i32.const 2)))
    (local.set $target (i64.load (i32.const 300)))
    (if (i64.eq (local.get $target) (call $node_id)) (then (local.set $target (i64.load (i32.const 308)))))
    (if (call $spawn (local.get $target) (i64.const -1) (call $module_id) (i32.const 100) (i32.const 5) (i32.const 0) (i32.const 0) (i32.const 500))
      (then (call $fail (i32.const 20))))
    (local.set $pid (i64.load (i32.const 500)))
    (if (call $monitor (local.get $target) (local.get $pid)) (then (call $fail (i32.const 21))))
    (call $died (local.get $pid) (i32.const 22))
    (if (call $monitor (local.get $target) (i64.const 999999)) (then (call $fail (i32.const 23))))
    (call $died (i64.const 999999) (i32.const 24))
    (if (call $spawn (local.get $target) (i64.const -1) (call $module_id) (i32.const 110) (i32.const 7) (i32.const 0) (i32.const 0) (i32.const 500))
      (then (call $fail (i32.const 25))))
    (local.set $pid (i64.load (i32.const 500)))
    (if (call $monitor (local.get $target) (local.get $pid)) (then (call $fail (i32.const 26))))
    ;; the test now takes the other node down
    (call $died (local.get $pid) (i32.const 27))))
"#;

#[test]
fn remote_monitors_fire_when_the_process_ends_or_its_node_goes_down() {
    let Pair { control, a, b, b_local } = two_nodes("monitors");
    let exited = start_guest(&b_local, MONITORS, "monitors");
    // The last monitor is set once the two earlier ones have fired.
    wait_for("the guest monitors a process on the other node", Duration::from_secs(20), || {
        lock(&b.remote_monitors).keys().any(|(node, pid)| *node == a.id() && *pid != 999_999)
            && exited.is_empty()
            && lock(&b.remote_monitors).len() == 1
    });
    std::thread::sleep(Duration::from_millis(300));
    a.shutdown();
    let status = smol::block_on(within(Duration::from_secs(30), exited.recv()))
        .expect("the guest finishes within 30 s")
        .expect("an exit status");
    assert_eq!(status, 0, "the monitor guest failed check {status}");
    for n in [&b, &control] {
        n.shutdown();
    }
}

/// `test_root_cert`, host-allocated through the guest's `lunatic_alloc`:
/// a bincode `(String, String)` whose first string is a PEM certificate.
const ROOT_CERT: &str = r#"
(module
  (import "lunatic::distributed" "test_root_cert" (func $root (param i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (global $next (mut i32) (i32.const 1024))
  (func (export "lunatic_alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $next))
    (global.set $next (i32.add (global.get $next) (local.get $len)))
    (local.get $ptr))
  (func (export "_start")
    (local $ptr i32)
    (local.set $ptr (call $root (i32.const 0)))
    ;; total length > 100, first string's length > 100, then "-----BEGIN"
    (if (i32.lt_u (i32.load (i32.const 0)) (i32.const 100)) (then (call $exit (i32.const 30))))
    (if (i64.lt_u (i64.load (local.get $ptr)) (i64.const 100)) (then (call $exit (i32.const 31))))
    (if (i64.ne (i64.load (i32.add (local.get $ptr) (i32.const 8))) (i64.const 0x4745422d2d2d2d2d))
      (then (call $exit (i32.const 32))))))
"#;

#[test]
fn test_root_cert_is_host_allocated_bincode_pem() {
    let local = local();
    let exited = start_guest(&local, ROOT_CERT, "root");
    let status = smol::block_on(within(Duration::from_secs(30), exited.recv())).unwrap().unwrap();
    assert_eq!(status, 0, "failed check {status}");
}

/// The ABI extension's links: a guest on node b links to processes on
/// node a. A linked remote process that fails gives a link death (with the
/// link's tag); a process not running gives one at once; an unlinked one
/// gives none; a local process that fails ends a remote process linked to
/// it (it does not trap link deaths); the node holding a linked process
/// going down gives a failed link death. Messages a linked process sent
/// before it failed arrive before its link death (one ordered stream).
const LINKS: &str = r#"
(module
  (import "lunatic::distributed" "get_nodes" (func $get_nodes (param i32 i32) (result i32)))
  (import "lunatic::distributed" "node_id" (func $node_id (result i64)))
  (import "lunatic::distributed" "module_id" (func $module_id (result i64)))
  (import "lunatic::distributed" "spawn" (func $spawn (param i64 i64 i64 i32 i32 i32 i32 i32) (result i32)))
  (import "lunatic::distributed" "send" (func $send (param i64 i64) (result i32)))
  (import "lunatic::distributed_ext" "link" (func $link (param i64 i64 i64) (result i32)))
  (import "lunatic::distributed_ext" "unlink" (func $unlink (param i64 i64)))
  (import "lunatic::distributed_ext" "monitor" (func $monitor (param i64 i64) (result i32)))
  (import "lunatic::message" "create_data" (func $create_data (param i64 i64)))
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "get_tag" (func $get_tag (result i64)))
  (import "lunatic::message" "get_process_id" (func $get_process_id (result i64)))
  (import "lunatic::process" "die_when_link_dies" (func $die_when_link_dies (param i32)))
  (import "lunatic::process" "sleep_ms" (func $sleep (param i64)))
  (import "lunatic::message" "write_data" (func $write_data (param i32 i32) (result i32)))
  (import "lunatic::process" "process_id" (func $process_id (result i64)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 100) "crash")
  (data (i32.const 110) "forever")
  (data (i32.const 120) "doomed")
  (data (i32.const 130) "sentinel")
  (data (i32.const 140) "chatty")
  ;; tags 13 and 12 (chatty's messages and link death) at 732
  (data (i32.const 732) "\0d\00\00\00\00\00\00\00\0c\00\00\00\00\00\00\00")
  ;; tags to receive: 7, 8, 10, 11 at 700, 708, 716, 724
  (data (i32.const 700) "\07\00\00\00\00\00\00\00\08\00\00\00\00\00\00\00\0a\00\00\00\00\00\00\00\0b\00\00\00\00\00\00\00")
  (func (export "crash") (call $sleep (i64.const 300)) (unreachable))
  (func (export "forever") (loop $l (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (br $l)))
  ;; doomed: fails once it gets any message
  (func (export "doomed") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1))) (unreachable))
  ;; sentinel(node, pid): links to (node, pid), pokes it, then waits (20 s)
  (func (export "sentinel") (param $node i64) (param $pid i64)
    (if (call $link (i64.const 9) (local.get $node) (local.get $pid)) (then (unreachable)))
    (call $create_data (i64.const 1) (i64.const 0))
    (drop (call $send (local.get $node) (local.get $pid)))
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const 20000))))
  ;; chatty(node, pid): links to (node, pid) with tag 12, sends it 300
  ;; messages of 8 KiB (tag 13), then fails
  (func (export "chatty") (param $node i64) (param $pid i64) (local $i i32)
    (if (call $link (i64.const 12) (local.get $node) (local.get $pid)) (then (unreachable)))
    (loop $l
      (call $create_data (i64.const 13) (i64.const 8192))
      (drop (call $write_data (i32.const 0) (i32.const 8192)))
      (drop (call $send (local.get $node) (local.get $pid)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 300))))
    (unreachable))
  (func $fail (param $code i32) (call $exit (local.get $code)) (unreachable))
  (func $spawn_on (param $target i64) (param $name i32) (param $len i32) (param $p1 i64) (param $p2 i64) (param $nparams i32) (result i64)
    (i32.store8 (i32.const 400) (i32.const 0x7E))
    (i64.store (i32.const 401) (local.get $p1))
    (i32.store8 (i32.const 417) (i32.const 0x7E))
    (i64.store (i32.const 418) (local.get $p2))
    (if (call $spawn (local.get $target) (i64.const -1) (call $module_id) (local.get $name) (local.get $len)
          (i32.const 400) (i32.mul (local.get $nparams) (i32.const 17)) (i32.const 500))
      (then (call $fail (i32.const 40))))
    (i64.load (i32.const 500)))
  ;; expects a link death with the tag at $tags within $ms, else fails with $code
  (func $link_died (param $tags i32) (param $ms i64) (param $code i32)
    (if (i32.ne (call $receive (local.get $tags) (i32.const 1) (local.get $ms)) (i32.const 1)) (then (call $fail (local.get $code)))))
  (func (export "_start")
    (local $me i64) (local $target i64) (local $pid i64) (local $local i64) (local $i i32)
    (call $die_when_link_dies (i32.const 0))
    (local.set $me (call $node_id))
    (drop (call $get_nodes (i32.const 300) (i32.const 2)))
    (local.set $target (i64.load (i32.const 300)))
    (if (i64.eq (local.get $target) (local.get $me)) (then (local.set $target (i64.load (i32.const 308)))))
    ;; a remote process that fails: link death, tag 7
    (local.set $pid (call $spawn_on (local.get $target) (i32.const 100) (i32.const 5) (i64.const 0) (i64.const 0) (i32.const 0)))
    (if (call $link (i64.const 7) (local.get $target) (local.get $pid)) (then (call $fail (i32.const 41))))
    (call $link_died (i32.const 700) (i64.const 10000) (i32.const 42))
    ;; a remote process that is not running: link death at once, tag 8
    (if (call $link (i64.const 8) (local.get $target) (i64.const 999999)) (then (call $fail (i32.const 43))))
    (call $link_died (i32.const 708) (i64.const 5000) (i32.const 44))
    ;; unlinked before it fails: nothing (tag 10)
    (local.set $pid (call $spawn_on (local.get $target) (i32.const 100) (i32.const 5) (i64.const 0) (i64.const 0) (i32.const 0)))
    (if (call $link (i64.const 10) (local.get $target) (local.get $pid)) (then (call $fail (i32.const 45))))
    (call $unlink (local.get $target) (local.get $pid))
    (if (i32.ne (call $receive (i32.const 716) (i32.const 1) (i64.const 1000)) (i32.const 9027)) (then (call $fail (i32.const 46))))
    ;; the other direction: a remote sentinel linked to a local process that fails ends too
    (local.set $local (call $spawn_on (local.get $me) (i32.const 120) (i32.const 6) (i64.const 0) (i64.const 0) (i32.const 0)))
    (local.set $pid (call $spawn_on (local.get $target) (i32.const 130) (i32.const 8) (local.get $me) (local.get $local) (i32.const 2)))
    (if (call $monitor (local.get $target) (local.get $pid)) (then (call $fail (i32.const 47))))
    (if (i32.ne (call $receive (i32.const 0) (i32.const 0) (i64.const 10000)) (i32.const 2)) (then (call $fail (i32.const 48))))
    (if (i64.ne (call $get_process_id) (local.get $pid)) (then (call $fail (i32.const 49))))
    ;; a linked process's 300 messages, then its link death (tag 12), in that order
    (local.set $pid (call $spawn_on (local.get $target) (i32.const 140) (i32.const 6) (local.get $me) (call $process_id) (i32.const 2)))
    (loop $l
      (if (i32.ne (call $receive (i32.const 732) (i32.const 2) (i64.const 10000)) (i32.const 0)) (then (call $fail (i32.const 52))))
      (if (i64.ne (call $get_tag) (i64.const 13)) (then (call $fail (i32.const 53))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 300))))
    (call $link_died (i32.const 740) (i64.const 10000) (i32.const 54))
    ;; a process on a node that goes down: link death, tag 11
    (local.set $pid (call $spawn_on (local.get $target) (i32.const 110) (i32.const 7) (i64.const 0) (i64.const 0) (i32.const 0)))
    (if (call $link (i64.const 11) (local.get $target) (local.get $pid)) (then (call $fail (i32.const 50))))
    ;; the test now takes the other node down
    (call $link_died (i32.const 724) (i64.const 15000) (i32.const 51))))
"#;

#[test]
fn remote_links_fire_both_ways_and_when_the_node_goes_down() {
    let Pair { control, a, b, b_local } = two_nodes("links");
    let exited = start_guest(&b_local, LINKS, "links");
    // The last link (tag 11) is the only one left once the others fired,
    // at both ends (the other end's entries come and go a moment later).
    wait_for("the guest links to a process on the other node, and both ends keep one link", Duration::from_secs(30), || {
        let links = lock(&b.links);
        exited.is_empty()
            && links.len() == 1
            && links.iter().all(|(k, l)| k.0 == a.id() && k.3 && l.tag == 11)
            && lock(&a.links).len() == 1
    });
    std::thread::sleep(Duration::from_millis(200));
    a.shutdown();
    let status = smol::block_on(within(Duration::from_secs(30), exited.recv()))
        .expect("the guest finishes within 30 s")
        .expect("an exit status");
    assert_eq!(status, 0, "the link guest failed check {status}");
    assert!(lock(&b.links).is_empty(), "no link is left");
    for n in [&b, &control] {
        n.shutdown();
    }
}

#[test]
fn a_node_that_leaves_is_dropped_at_once() {
    let Pair { control, a, b, .. } = two_nodes("leave");
    let started = Instant::now();
    a.leave();
    // Detection of a silent node takes ~2 s (see the dead-node test); a
    // goodbye is seen well within one probe period.
    let gone = wait_for("the node that left leaves nodes()", Duration::from_secs(1), || b.nodes() == vec![b.id()]);
    eprintln!("a node that left was dropped {:?} after it started leaving", started.elapsed().max(gone));
    assert_eq!(b.send(a.id(), 1, 0, b"late"), UNREACHABLE);
    for n in [&b, &control] {
        n.shutdown();
    }
}
