//! The embedding API with real guests (WAT), real threads and timers.

use super::*;
use crate::protocol::Message;

const WAIT: Duration = Duration::from_secs(10);

fn runtime() -> Lunatic {
    Lunatic::builder().threads(2).build().unwrap()
}

/// Receives one message; sends its data back to the process whose ID is in
/// its first 8 bytes, with the tag plus one.
const ECHO: &str = r#"(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (import "lunatic::message" "read_data" (func $read (param i32 i32) (result i32)))
  (import "lunatic::message" "get_tag" (func $tag (result i64)))
  (import "lunatic::message" "create_data" (func $create (param i64 i64)))
  (import "lunatic::message" "write_data" (func $write (param i32 i32) (result i32)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "main") (local $n i32)
    (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
    (local.set $n (call $read (i32.const 0) (i32.const 1024)))
    (call $create (i64.add (call $tag) (i64.const 1)) (i64.const 0))
    (drop (call $write (i32.const 8) (i32.sub (local.get $n) (i32.const 8))))
    (drop (call $send (i64.load (i32.const 0))))))"#;

const LOOP: &str = r#"(module (func (export "main") (loop (br 0))))"#;

const PARK: &str = r#"(module
  (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
  (memory (export "memory") 1)
  (func (export "main") (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))))"#;

fn data(message: Message) -> (i64, Vec<u8>) {
    match message {
        Message::Data(data) => (data.tag, data.buffer),
        other => panic!("expected data, got {other:?}"),
    }
}

#[test]
fn native_send_and_receive() {
    let lunatic = runtime();
    let mailbox = lunatic.mailbox().unwrap();
    let echo = lunatic.load(ECHO.as_bytes()).unwrap();
    let process = lunatic.spawn(&echo, "main", ProcessConfig::default()).unwrap();
    let mut payload = mailbox.id().to_le_bytes().to_vec();
    payload.extend_from_slice(b"ping");
    assert!(mailbox.send(process.id(), 41, &payload));
    let reply = mailbox.receive_blocking(Some(WAIT)).unwrap();
    assert_eq!(data(reply), (42, b"ping".to_vec()));
    assert_eq!(process.wait_blocking(Some(WAIT)).unwrap(), Exit::Returned);
    // A send to a process that has ended reports it.
    assert!(!mailbox.send(process.id(), 1, b"late"));
    // Nothing else arrived; the timeout is an error of its kind.
    let waited = mailbox.receive_blocking(Some(Duration::from_millis(50))).unwrap_err();
    assert_eq!(waited.kind(), ErrorKind::Timeout);
}

#[test]
fn async_receive_and_callback() {
    let lunatic = runtime();
    let a = lunatic.mailbox().unwrap();
    let b = lunatic.mailbox().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let subscription = b.clone().on_message(move |m| tx.send(data(m)).unwrap());
    for i in 0..10 {
        a.send(subscription.mailbox().id(), i, &[i as u8]);
    }
    let got: Vec<_> = (0..10).map(|_| rx.recv_timeout(WAIT).unwrap()).collect();
    assert_eq!(got, (0..10).map(|i| (i, vec![i as u8])).collect::<Vec<_>>());
    drop(subscription);
    // An async receive on another executor (here futures-lite's).
    b.send(a.id(), 3, b"x");
    let received = futures_lite::future::block_on(a.receive()).unwrap();
    assert_eq!(data(received), (3, b"x".to_vec()));
}

/// `app::sum(ptr, len) -> i64` sums guest bytes; `app::fail()` traps;
/// `app::panics()` panics; `app::wrong() -> i32` returns an i64.
fn with_host_functions() -> Lunatic {
    Lunatic::builder()
        .threads(1)
        .host_function("app", "sum", &[ValType::I32, ValType::I32], &[ValType::I64], |call, args| {
            let [Value::I32(ptr), Value::I32(len)] = args else { return Err(Trap::new("bad args")) };
            let bytes = call.read(*ptr as u32, *len as u32)?;
            Ok(vec![Value::I64(bytes.iter().map(|&b| i64::from(b)).sum())])
        })
        .host_function("app", "fail", &[], &[], |call, _| {
            Err(Trap::new(format!("refused for process {}", call.process_id())))
        })
        .host_function("app", "panics", &[], &[], |_, _| panic!("a bug in the app"))
        .host_function("app", "wrong", &[], &[ValType::I32], |_, _| Ok(vec![Value::I64(1)]))
        .build()
        .unwrap()
}

const CALLS_APP: &str = r#"(module
  (import "app" "sum" (func $sum (param i32 i32) (result i64)))
  (import "app" "fail" (func $fail))
  (import "app" "panics" (func $panics))
  (import "app" "wrong" (func $wrong (result i32)))
  (import "lunatic::message" "create_data" (func $create (param i64 i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\01\02\03\04")
  (func (export "good") (param $to i64)
    (call $create (call $sum (i32.const 0) (i32.const 4)) (i64.const 0))
    (drop (call $send (local.get $to))))
  (func (export "bad") (drop (call $sum (i32.const 65534) (i32.const 100))))
  (func (export "fail") (call $fail))
  (func (export "panics") (call $panics))
  (func (export "wrong") (drop (call $wrong))))"#;

#[test]
fn host_functions_with_good_and_bad_arguments() {
    let lunatic = with_host_functions();
    let mailbox = lunatic.mailbox().unwrap();
    let module = lunatic.load(CALLS_APP.as_bytes()).unwrap();
    let good = lunatic
        .spawn_with(&module, "good", &[Value::I64(mailbox.id() as i64)], ProcessConfig::default())
        .unwrap();
    assert_eq!(good.wait_blocking(Some(WAIT)).unwrap(), Exit::Returned);
    // The sum came back as the tag of the guest's message.
    assert_eq!(data(mailbox.receive_blocking(Some(WAIT)).unwrap()).0, 10);
    let exit = |entry| lunatic.spawn(&module, entry, ProcessConfig::default()).unwrap().wait_blocking(Some(WAIT)).unwrap();
    let trapped = |exit: Exit| match exit {
        Exit::Trapped(why) => why,
        other => panic!("expected a trap, got {other:?}"),
    };
    assert!(trapped(exit("bad")).contains("out of bounds"));
    assert!(trapped(exit("fail")).contains("refused for process"));
    assert!(trapped(exit("panics")).contains("a bug in the app"));
    assert!(trapped(exit("wrong")).contains("returned"));
    // The runtime is unharmed.
    assert!(exit("missing").is_failure());
    // A module whose import does not match the app's signature is refused.
    let mismatch = r#"(module (import "app" "sum" (func (param i32))))"#;
    assert_eq!(lunatic.load(mismatch.as_bytes()).unwrap_err().kind(), ErrorKind::Load);
}

#[test]
fn a_host_function_defined_twice_fails_the_build() {
    let twice = Lunatic::builder()
        .threads(1)
        .host_function("app", "f", &[], &[], |_, _| Ok(vec![]))
        .host_function("app", "f", &[], &[], |_, _| Ok(vec![]))
        .build();
    assert_eq!(twice.err().map(|e| e.kind()), Some(ErrorKind::InvalidArgument));
    let builtin = Lunatic::builder()
        .threads(1)
        .host_function("lunatic::message", "send", &[], &[], |_, _| Ok(vec![]))
        .build();
    assert!(builtin.is_err());
}

#[test]
fn kill_monitor_and_link_from_native_code() {
    let lunatic = runtime();
    let mailbox = lunatic.mailbox().unwrap();
    let looping = lunatic.load(LOOP.as_bytes()).unwrap();
    let process = lunatic.spawn(&looping, "main", ProcessConfig::default()).unwrap();
    mailbox.monitor(process.id());
    assert!(lunatic.kill(process.id()));
    match mailbox.receive_blocking(Some(WAIT)).unwrap() {
        Message::ProcessDied { process_id } => assert_eq!(process_id, process.id()),
        other => panic!("{other:?}"),
    }
    assert_eq!(process.wait_blocking(Some(WAIT)).unwrap(), Exit::Killed);
    // A link brings a failure as a message with the link's tag.
    let second = lunatic.spawn(&looping, "main", ProcessConfig::default()).unwrap();
    mailbox.link(second.id(), 9);
    second.kill();
    match mailbox.receive_blocking(Some(WAIT)).unwrap() {
        Message::LinkDied { tag } => assert_eq!(tag, 9),
        other => panic!("{other:?}"),
    }
    // Monitoring or linking what is gone answers at once.
    mailbox.monitor(second.id());
    assert!(matches!(mailbox.receive_blocking(Some(WAIT)).unwrap(), Message::ProcessDied { .. }));
    mailbox.link(12345, 3);
    assert!(matches!(mailbox.receive_blocking(Some(WAIT)).unwrap(), Message::LinkDied { tag: 3 }));
    assert!(!lunatic.kill(12345));
}

#[test]
fn shutdown_with_processes_still_running() {
    let lunatic = runtime();
    let mailbox = lunatic.mailbox().unwrap();
    let looping = lunatic.load(LOOP.as_bytes()).unwrap();
    let parked = lunatic.load(PARK.as_bytes()).unwrap();
    let mut processes = Vec::new();
    for _ in 0..10 {
        processes.push(lunatic.spawn(&looping, "main", ProcessConfig::default()).unwrap());
        processes.push(lunatic.spawn(&parked, "main", ProcessConfig::default()).unwrap());
    }
    let receiver = std::thread::spawn({
        let mailbox = mailbox.clone();
        move || mailbox.receive_blocking(None)
    });
    let report = lunatic.shutdown_blocking(WAIT).unwrap();
    assert_eq!(report.killed, 20);
    assert_eq!(lunatic.processes(), 0, "the mailbox is closed too");
    for process in &processes {
        assert_eq!(process.try_exit(), Some(Exit::Killed));
    }
    // A pending receive ends, with the reason.
    assert_eq!(receiver.join().unwrap().unwrap_err().kind(), ErrorKind::ShutDown);
    assert_eq!(lunatic.mailbox().err().map(|e| e.kind()), Some(ErrorKind::ShutDown));
    assert_eq!(lunatic.load(LOOP.as_bytes()).unwrap_err().kind(), ErrorKind::ShutDown);
}

/// A guest that sends its tag argument to the process named "app".
const TELL_APP: &str = r#"(module
  (import "lunatic::registry" "get" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "lunatic::message" "create_data" (func $create (param i64 i64)))
  (import "lunatic::message" "send" (func $send (param i64) (result i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "app")
  (func (export "main") (param $tag i64)
    (if (call $get (i32.const 0) (i32.const 3) (i32.const 32) (i32.const 40)) (then unreachable))
    (call $create (local.get $tag) (i64.const 0))
    (drop (call $send (i64.load (i32.const 40))))))"#;

#[test]
fn two_runtimes_side_by_side() {
    let (one, two) = (runtime(), runtime());
    let (a, b) = (one.mailbox().unwrap(), two.mailbox().unwrap());
    a.register("app").unwrap();
    b.register("app").unwrap();
    assert_eq!(one.lookup("app"), Some(a.id()));
    let (m1, m2) = (one.load(TELL_APP.as_bytes()).unwrap(), two.load(TELL_APP.as_bytes()).unwrap());
    assert_eq!(m1.id(), m2.id(), "content hashes agree across runtimes");
    one.spawn_with(&m1, "main", &[Value::I64(1)], ProcessConfig::default()).unwrap();
    two.spawn_with(&m2, "main", &[Value::I64(2)], ProcessConfig::default()).unwrap();
    assert_eq!(data(a.receive_blocking(Some(WAIT)).unwrap()).0, 1);
    assert_eq!(data(b.receive_blocking(Some(WAIT)).unwrap()).0, 2);
    one.shutdown_blocking(WAIT).unwrap();
    // The other one is unaffected.
    two.spawn_with(&m2, "main", &[Value::I64(3)], ProcessConfig::default()).unwrap();
    assert_eq!(data(b.receive_blocking(Some(WAIT)).unwrap()).0, 3);
}

#[test]
fn pause_holds_processes_until_resume() {
    let lunatic = runtime();
    let mailbox = lunatic.mailbox().unwrap();
    mailbox.register("app").unwrap();
    let module = lunatic.load(TELL_APP.as_bytes()).unwrap();
    lunatic.pause();
    let teller = lunatic.spawn_with(&module, "main", &[Value::I64(7)], ProcessConfig::default()).unwrap();
    let held = mailbox.receive_blocking(Some(Duration::from_millis(300))).unwrap_err();
    assert_eq!(held.kind(), ErrorKind::Timeout);
    lunatic.resume();
    assert_eq!(data(mailbox.receive_blocking(Some(WAIT)).unwrap()).0, 7);
    assert_eq!(teller.wait_blocking(Some(WAIT)).unwrap(), Exit::Returned);
    // A looping process paused mid-run stops at the end of its slice and
    // can still be killed by a shutdown.
    let looping = lunatic.load(LOOP.as_bytes()).unwrap();
    let spinner = lunatic.spawn(&looping, "main", ProcessConfig::default()).unwrap();
    lunatic.pause();
    assert_eq!(lunatic.shutdown_blocking(WAIT).unwrap().killed, 1);
    assert_eq!(spinner.try_exit(), Some(Exit::Killed));
}

#[test]
fn config_limits_apply_to_spawned_processes() {
    let lunatic = runtime();
    let looping = lunatic.load(LOOP.as_bytes()).unwrap();
    let mut config = ProcessConfig::default();
    config.max_fuel = Some(1);
    let process = lunatic.spawn(&looping, "main", config).unwrap();
    assert_eq!(process.wait_blocking(Some(WAIT)).unwrap(), Exit::OutOfFuel);
    // Memory above the limit fails the spawn.
    let big = lunatic.load(br#"(module (memory 4) (func (export "main")))"#).unwrap();
    let mut small = ProcessConfig::default();
    small.max_memory = 65536;
    assert_eq!(lunatic.spawn(&big, "main", small).unwrap_err().kind(), ErrorKind::Spawn);
}

#[test]
fn config_args_env_and_preopens_reach_the_guest() {
    // Sends (argc * 100 + env count * 10 + preopen found) as a tag to the
    // process whose ID it is given; descriptor 3 is the first preopen.
    let guest = r#"(module
      (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "environ_sizes_get" (func $envs (param i32 i32) (result i32)))
      (import "wasi_snapshot_preview1" "fd_prestat_get" (func $prestat (param i32 i32) (result i32)))
      (import "lunatic::message" "create_data" (func $create (param i64 i64)))
      (import "lunatic::message" "send" (func $send (param i64) (result i32)))
      (memory (export "memory") 1)
      (func (export "main") (param $to i64)
        (drop (call $args (i32.const 0) (i32.const 8)))
        (drop (call $envs (i32.const 16) (i32.const 24)))
        (call $create
          (i64.extend_i32_u
            (i32.add
              (i32.add (i32.mul (i32.load (i32.const 0)) (i32.const 100))
                       (i32.mul (i32.load (i32.const 16)) (i32.const 10)))
              (i32.eqz (call $prestat (i32.const 3) (i32.const 32)))))
          (i64.const 0))
        (drop (call $send (local.get $to)))))"#;
    let lunatic = runtime();
    let mailbox = lunatic.mailbox().unwrap();
    let module = lunatic.load(guest.as_bytes()).unwrap();
    let dir = std::env::temp_dir();
    let mut config = ProcessConfig::default();
    config.args = vec!["app".into(), "one".into(), "two".into()];
    config.envs = vec![("A".into(), "1".into()), ("B".into(), "2".into())];
    config.preopens = vec![crate::protocol::Preopen::new(&dir, "/tmp")];
    let to = [Value::I64(mailbox.id() as i64)];
    lunatic.spawn_with(&module, "main", &to, config).unwrap();
    assert_eq!(data(mailbox.receive_blocking(Some(WAIT)).unwrap()).0, 321);
    // The default config: nothing.
    lunatic.spawn_with(&module, "main", &to, ProcessConfig::default()).unwrap();
    assert_eq!(data(mailbox.receive_blocking(Some(WAIT)).unwrap()).0, 0);
}

/// `load_version`: a process of the first version subscribed through
/// `lunatic::hot` hands over to the second and keeps its ID.
#[test]
fn load_version_lets_processes_hand_over() {
    let v1 = r#"(module
      (import "lunatic::hot" "subscribe" (func $subscribe (param i64)))
      (import "lunatic::hot" "handover" (func $handover (param i32 i32 i32 i32) (result i32)))
      (import "lunatic::message" "receive" (func $receive (param i32 i32 i64) (result i32)))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (data (i32.const 0) "\29")
      (data (i32.const 16) "lunatic_hot_entry")
      (func (export "main")
        (call $subscribe (i64.const 7))
        (drop (call $receive (i32.const 0) (i32.const 0) (i64.const -1)))
        (call $exit (i32.add (i32.const 100)
          (call $handover (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 17))))))"#;
    let v2 = r#"(module
      (import "lunatic::hot" "read_state" (func $read_state (param i32 i32) (result i32)))
      (import "lunatic::hot" "commit" (func $commit))
      (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
      (memory (export "memory") 1)
      (func (export "lunatic_hot_entry")
        (drop (call $read_state (i32.const 0) (i32.const 1)))
        (call $commit)
        (call $exit (i32.add (i32.load8_u (i32.const 0)) (i32.const 1)))))"#;
    let lunatic = runtime();
    let first = lunatic.load_version(v1.as_bytes()).unwrap();
    let process = lunatic.spawn(&first, "main", ProcessConfig::default()).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    lunatic.load_version(v2.as_bytes()).unwrap();
    assert_eq!(process.wait_blocking(Some(WAIT)).unwrap(), Exit::Exited(42));
}
