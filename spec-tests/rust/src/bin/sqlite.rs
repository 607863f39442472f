//! `lunatic::sqlite`, through the `lunatic` crate's client and through the
//! raw host functions (for what the client cannot do: a second connection,
//! bad IDs and pointers, the exact bytes of results).
//!
//! Usage: `sqlite.wasm <scenario> [args...]`; see `spec-tests/cases/sqlite/`.

use std::time::Duration;

use lunatic::sqlite::{Query, SqliteClient, Value};
use lunatic::{Mailbox, MessageSignal, Process, ProcessConfig, ProcessDiedSignal};

/// The raw host functions, with the same Rust types the guest crate
/// declares them with (so both declarations link to one import).
mod raw {
    #[link(wasm_import_module = "lunatic::sqlite")]
    extern "C" {
        pub fn open(path: *const u8, path_len: usize, connection_id: *mut u32) -> u64;
        pub fn query_prepare(connection_id: u64, query_str: *const u8, query_str_len: u32) -> u64;
        pub fn execute(connection_id: u64, exec_str: *const u8, exec_str_len: u32) -> u32;
        pub fn bind_value(statement_id: u64, bind_data_ptr: u32, bind_data_len: u32);
        pub fn sqlite3_changes(connection_id: u64) -> u32;
        pub fn statement_reset(statement_id: u64);
        pub fn sqlite3_step(connection_id: u64) -> u32;
        pub fn sqlite3_finalize(connection_id: u64);
        pub fn column_count(statement_id: u64) -> u32;
        pub fn last_error(connection_id: u64, opaque_ptr: *mut u32) -> u32;
        pub fn read_column(statement_id: u64, col_idx: u32, opaque_ptr: *mut u32) -> u32;
        pub fn read_row(statement_id: u64, opaque_ptr: *mut u32) -> u32;
        pub fn column_name(statement_id: u64, col_idx: u32, opaque_ptr: *mut u32) -> u32;
        pub fn column_names(statement_id: u64, opaque_ptr: *mut u32) -> u32;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rest: Vec<&str> = args.iter().skip(2).map(String::as_str).collect();
    match args.get(1).map(String::as_str).unwrap_or("") {
        "client" => client(rest[0]),
        "raw" => raw_api(),
        "open" => {
            for path in rest {
                println!("open {path:?}: {}", open_report(path));
            }
        }
        "traps" => traps(&rest),
        "readonly" => readonly(rest[0]),
        "released" => released(rest[0]),
        "blocking" => blocking(),
        "limits" => limits(),
        other => {
            eprintln!("sqlite: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// Opens `path` through the raw ABI with a real out pointer: "ok, id N" or
/// "error: <text>".
fn open_report(path: &str) -> String {
    let mut out = 0u64;
    let status = unsafe { raw::open(path.as_ptr(), path.len(), &mut out as *mut u64 as *mut u32) };
    match status {
        0 => format!("ok, id {out}"),
        1 => format!("error: {}", error_text(out)),
        other => format!("status {other}"),
    }
}

/// The text of a `lunatic::error` ID (and drops it).
fn error_text(id: u64) -> String {
    use lunatic::host::api::error;
    unsafe {
        let len = error::string_size(id);
        let mut buf = vec![0u8; len as usize];
        error::to_string(id, buf.as_mut_ptr());
        error::drop(id);
        String::from_utf8_lossy(&buf).into_owned()
    }
}

/// Takes ownership of a host-allocated result.
fn host_vec(call: impl FnOnce(*mut u32) -> u32) -> Vec<u8> {
    let mut len = 0u32;
    let ptr = call(&mut len);
    unsafe { Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize) }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn prepare(conn: u64, sql: &str) -> u64 {
    unsafe { raw::query_prepare(conn, sql.as_ptr(), sql.len() as u32) }
}

fn execute(conn: u64, sql: &str) -> u32 {
    unsafe { raw::execute(conn, sql.as_ptr(), sql.len() as u32) }
}

/// The crate's client, as an application uses it.
fn client(path: &str) {
    let client = SqliteClient::connect(path).expect("connect");
    client
        .execute("CREATE TABLE cars (id INTEGER PRIMARY KEY, name TEXT, price REAL, photo BLOB, note)")
        .expect("create");
    let rows = client
        .prepare_query("INSERT INTO cars (name, price, photo, note) VALUES (?, ?, ?, ?)")
        .bind("Zastava")
        .bind(1234.5)
        .bind(vec![0u8, 1, 255])
        .bind(Value::Null)
        .execute();
    println!("insert rows: {rows:?}");
    client
        .prepare_query("INSERT INTO cars (name, price, note) VALUES (?, ?, ?)")
        .bind(Value::Int(7).as_int().map(|i| format!("Yugo {i}")).unwrap())
        .bind(Value::Int64(1 << 40))
        .bind(Value::Int(-3))
        .execute();
    // A named parameter, bound by name (the original binds index 1).
    client
        .prepare_query("INSERT INTO cars (note, name) VALUES (:note, :name)")
        .bind_named("name", "Fiat")
        .bind_named(":note", "named")
        .execute();
    for row in client.query("SELECT id, name, price, photo, note FROM cars ORDER BY id") {
        println!("row: {row:?}");
    }
    let filtered = client.prepare_query("SELECT name FROM cars WHERE price > ?").bind(2000).execute();
    println!("price > 2000: {filtered:?}");
    println!("bad sql: {:?}", client.execute("INSERT INTO nowhere VALUES (1)"));
    println!("constraint: {:?}", client.execute("INSERT INTO cars (id) VALUES (1)"));
    client.execute("CREATE TABLE t(x); INSERT INTO t VALUES (1); INSERT INTO t VALUES (2);").expect("multi");
    println!("multi: {:?}", client.query("SELECT sum(x) FROM t"));
}

/// Every host function through the raw ABI, results as bincode bytes.
fn raw_api() {
    let mut first = u64::MAX;
    let mut second = u64::MAX;
    let s1 = unsafe { raw::open(":memory:".as_ptr(), 8, &mut first as *mut u64 as *mut u32) };
    let s2 = unsafe { raw::open("".as_ptr(), 0, &mut second as *mut u64 as *mut u32) };
    println!("open: {s1} id {first}, {s2} id {second}");
    println!("execute 1: {}", execute(first, "CREATE TABLE a(x INTEGER, y TEXT); INSERT INTO a VALUES (1, 'one'), (2, 'two')"));
    println!("changes 1: {}", unsafe { raw::sqlite3_changes(first) });
    println!("execute 2: {}", execute(second, "CREATE TABLE b(z BLOB, w REAL); INSERT INTO b VALUES (x'0102', 0.5)"));
    println!("changes 2: {}", unsafe { raw::sqlite3_changes(second) });
    // Each connection has its own tables.
    println!("execute 2 on a: {}", execute(second, "SELECT * FROM a"));
    let err = host_vec(|len| unsafe { raw::last_error(second, len) });
    println!("last_error 2: {} {:?}", hex(&err[..6]), String::from_utf8_lossy(&err[14..]));
    let err = host_vec(|len| unsafe { raw::last_error(first, len) });
    println!("last_error 1: {}", hex(&err));

    let a = prepare(first, "SELECT x, y, NULL AS n FROM a WHERE x >= ? ORDER BY x");
    let b = prepare(second, "SELECT z, w FROM b");
    println!("statements: {a} {b}");
    println!("column_count: {} {}", unsafe { raw::column_count(a) }, unsafe { raw::column_count(b) });
    let names = host_vec(|len| unsafe { raw::column_names(a, len) });
    println!("column_names: {}", hex(&names));
    let name = host_vec(|len| unsafe { raw::column_name(a, 1, len) });
    println!("column_name 1: {:?}", String::from_utf8_lossy(&name));
    // BindList([BindPair(Numeric(1), Int(2))]) in bincode.
    let bind: [u8; 24] = [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0];
    let mut bind = bind.to_vec();
    bind.extend(2i32.to_le_bytes());
    unsafe { raw::bind_value(a, bind.as_ptr() as u32, bind.len() as u32) };
    println!("step: {}", unsafe { raw::sqlite3_step(a) });
    let row = host_vec(|len| unsafe { raw::read_row(a, len) });
    println!("read_row: {}", hex(&row));
    let col = host_vec(|len| unsafe { raw::read_column(a, 1, len) });
    println!("read_column 1: {}", hex(&col));
    println!("step: {}", unsafe { raw::sqlite3_step(a) });
    // Reset keeps the binding: the same row again.
    unsafe { raw::statement_reset(a) };
    println!("after reset: {}", unsafe { raw::sqlite3_step(a) });
    let col = host_vec(|len| unsafe { raw::read_column(a, 0, len) });
    println!("read_column 0: {}", hex(&col));
    println!("step b: {}", unsafe { raw::sqlite3_step(b) });
    let row = host_vec(|len| unsafe { raw::read_row(b, len) });
    println!("read_row b: {}", hex(&row));
    unsafe { raw::sqlite3_finalize(a) };
    unsafe { raw::sqlite3_finalize(b) };
    // IDs are never reused.
    let c = prepare(first, "SELECT 1");
    println!("next statement: {c}");
}

/// Each kind of bad input kills only the child that makes it.
fn traps(kinds: &[&str]) {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    for &kind in kinds {
        let child = Process::spawn(kind.to_string(), |kind: String, mb: Mailbox<()>| {
            mb.receive();
            bad_input(&kind);
        });
        m.monitor(child);
        child.send(());
        let died = matches!(m.receive(), MessageSignal::Signal(ProcessDiedSignal(id)) if id == child.id());
        println!("{kind}: child died: {died}");
    }
    // The root's own SQLite still works.
    let conn = SqliteClient::connect(":memory:").unwrap();
    println!("root still works: {:?}", conn.query("SELECT 41 + 1"));
}

fn bad_input(kind: &str) {
    let conn = SqliteClient::connect(":memory:").unwrap();
    conn.execute("CREATE TABLE t(x UNIQUE); INSERT INTO t VALUES (1)").unwrap();
    let stmt = prepare(0, "SELECT x FROM t");
    let mut len = 0u32;
    unsafe {
        match kind {
            "unknown-connection" => drop(prepare(7, "SELECT 1")),
            "unknown-connection-execute" => drop(execute(7, "SELECT 1")),
            "unknown-connection-changes" => drop(raw::sqlite3_changes(7)),
            "unknown-connection-last-error" => drop(raw::last_error(7, &mut len)),
            "unknown-statement" => drop(raw::sqlite3_step(99)),
            "step-after-finalize" => {
                raw::sqlite3_finalize(stmt);
                raw::sqlite3_step(stmt);
            }
            "finalize-twice" => {
                raw::sqlite3_finalize(stmt);
                raw::sqlite3_finalize(stmt);
            }
            "read-after-finalize" => {
                raw::sqlite3_finalize(stmt);
                raw::read_row(stmt, &mut len);
            }
            "bad-sql-pointer" => drop(raw::query_prepare(0, 0xFFFF_FFF0usize as *const u8, 100)),
            "bad-utf8-sql" => drop(raw::execute(0, [0xffu8, 0xfe].as_ptr(), 2)),
            "bad-len-pointer" => drop(raw::read_row(stmt, 0xFFFF_FFFFusize as *mut u32)),
            "bad-open-pointer" => drop(raw::open(":memory:".as_ptr(), 8, 0xFFFF_FFFCusize as *mut u32)),
            "syntax-error-prepare" => drop(prepare(0, "SELEKT")),
            "constraint-step" => {
                let insert = prepare(0, "INSERT INTO t VALUES (1)");
                raw::sqlite3_step(insert);
            }
            "bind-garbage" => {
                let junk = [9u8, 9, 9];
                raw::bind_value(stmt, junk.as_ptr() as u32, junk.len() as u32);
            }
            "bind-bad-tag" => {
                let junk = [1u8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 0];
                raw::bind_value(stmt, junk.as_ptr() as u32, junk.len() as u32);
            }
            "bind-out-of-range" => {
                // BindPair(Numeric(5), Null) for a statement without parameters.
                let pair = [1u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
                raw::bind_value(stmt, pair.as_ptr() as u32, pair.len() as u32);
            }
            "read-column-out-of-range" => {
                raw::sqlite3_step(stmt);
                raw::read_column(stmt, 5, &mut len);
            }
            "column-name-out-of-range" => drop(raw::column_name(stmt, 1, &mut len)),
            other => panic!("unknown kind {other:?}"),
        }
    }
    println!("{kind}: the process survived (this line must not be printed)");
}

/// A database SQLite must treat as read-only (its header's write version, byte 18, is
/// 3): reads work, writes fail with SQLITE_READONLY. The file is made by a
/// child process, whose connection is closed when it ends.
fn readonly(path: &str) {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    let child = Process::spawn(path.to_string(), |path: String, _: Mailbox<()>| {
        let db = SqliteClient::connect(&path).unwrap();
        db.execute("CREATE TABLE t(x); INSERT INTO t VALUES ('kept')").unwrap();
    });
    m.monitor(child);
    let _ = m.receive();
    let mut bytes = std::fs::read(path).expect("database file");
    println!("file header: {:?}", String::from_utf8_lossy(&bytes[..15]));
    bytes[18] = 3;
    std::fs::write(path, &bytes).unwrap();
    let db = SqliteClient::connect(path).unwrap();
    println!("read: {:?}", db.query("SELECT x FROM t"));
    println!("write: {:?}", db.execute("INSERT INTO t VALUES ('new')"));
    let err = host_vec(|len| unsafe { raw::last_error(0, len) });
    println!("last_error: {}", hex(&err));
}

/// A process that dies inside an exclusive transaction leaves no lock
/// behind: its connection is closed when it ends.
fn released(path: &str) {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    let child = Process::spawn((m.this(), path.to_string()), |(root, path): (Process<u64>, String), mb: Mailbox<()>| {
        let db = SqliteClient::connect(&path).unwrap();
        db.execute("CREATE TABLE IF NOT EXISTS t(x); BEGIN EXCLUSIVE; INSERT INTO t VALUES (1)").unwrap();
        let _stmt = prepare(0, "SELECT * FROM t");
        root.send(1);
        mb.receive();
        panic!("dies holding the lock");
    });
    m.monitor(child);
    let locked = matches!(m.receive(), MessageSignal::Message(1));
    println!("child holds the lock: {locked}");
    let db = SqliteClient::connect(path).unwrap();
    println!("while locked: {:?}", db.execute("INSERT INTO t VALUES (2)").map_err(|e| e.code));
    child.send(());
    let died = matches!(m.receive(), MessageSignal::Signal(ProcessDiedSignal(_)));
    println!("child died: {died}");
    println!("after: {:?}", db.execute("INSERT INTO t VALUES (3)"));
    println!("rows: {:?}", db.query("SELECT x FROM t"));
}

/// A long query suspends only its own process: another process keeps
/// answering messages meanwhile.
fn blocking() {
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    let slow = Process::spawn(m.this(), |root: Process<u64>, _: Mailbox<()>| {
        let db = SqliteClient::connect(":memory:").unwrap();
        let rows = db.query(
            "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 3000000) SELECT count(*) FROM c",
        );
        println!("slow query: {rows:?}");
        root.send(0);
    });
    let echo = Process::spawn(m.this(), |root: Process<u64>, mb: Mailbox<u64>| loop {
        let x = mb.receive();
        root.send(x);
    });
    let _ = slow;
    let mut answered_first = 0;
    for i in 1..=20u64 {
        echo.send(i);
        if let MessageSignal::Message(x) = m.receive() {
            if x == i {
                answered_first += 1;
            }
        }
    }
    println!("echoes answered before the slow query ended: {answered_first}");
    let _ = m.receive_timeout(Duration::from_secs(30));
}

/// What a guest may not do with SQL: attach files or in-memory databases,
/// set pragmas with process-wide effect or that lift memory limits, or grow
/// an in-memory database past its process's memory limit.
fn limits() {
    let db = SqliteClient::connect(":memory:").unwrap();
    for sql in [
        "ATTACH 'db/other.db' AS other",
        "ATTACH ':memory:' AS m",
        "PRAGMA hard_heap_limit = 1",
        "PRAGMA max_page_count = 2000000000",
        "PRAGMA temp_store = MEMORY",
        "VACUUM INTO 'db/copy.db'",
        "VACUUM",
    ] {
        println!("{sql}: {:?}", db.execute(sql).map_err(|e| e.code));
    }
    println!("read a pragma: {:?}", db.query("PRAGMA page_size"));
    let m = unsafe { Mailbox::<u64>::new() }.monitorable();
    let mut config = ProcessConfig::new().unwrap();
    config.set_max_memory(16 << 20);
    let child = Process::spawn_config(&config, m.this(), |root: Process<u64>, _: Mailbox<()>| {
        let db = SqliteClient::connect(":memory:").unwrap();
        db.execute("CREATE TABLE t(x)").unwrap();
        let fill = "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 4000) INSERT INTO t SELECT randomblob(10000) FROM c";
        println!("40 MB into a 16 MiB process: {:?}", db.execute(fill).map_err(|e| e.code));
        println!("rolled back, still usable: {:?}", db.query("SELECT count(*) FROM t"));
        root.send(1);
    });
    m.monitor(child);
    println!("child answered: {}", matches!(m.receive(), MessageSignal::Message(1)));
}
