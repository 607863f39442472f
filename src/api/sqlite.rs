//! `lunatic::sqlite`: an SQLite database per process (abi.md §2.12, A.2).
//!
//! Connections and statements live in per-process tables (IDs from 0, as
//! the guest relies on, quirk Q1) and are closed when the process ends.
//! Opening, preparing, stepping and executing can wait on the disk, so they
//! run on the blocking pool while the process is suspended; the cheap calls
//! (binding, reading the current row, names, counts) run in place.
//!
//! Blobs crossing the boundary are bincode 1.x with default options; the
//! encoder and decoder for the few shapes involved are here (module
//! [`wire`]). Results of variable size are written into memory the guest
//! allocates through its `lunatic_alloc` export (abi.md §1.4); the length is
//! written as 4 bytes, the size the guest reserves (quirk Q3).
//!
//! Deliberate differences from the original runtime, all on input it
//! mishandles: undecodable bind data traps (the original panics); a `String`
//! bind key binds the parameter of that name when the statement has one
//! (tried as given, then with `:`, `@`, `$`), else index 1 as the original
//! (Q5); `last_error` without an error returns an empty error instead of
//! trapping; `ATTACH` of a file is refused, since only the database opened
//! through the preopen check may be touched; an in-memory database is
//! limited to the process's `max_memory`; and pragmas that change
//! process-wide SQLite state or memory limits cannot be set (see
//! `os::sqlite`).

use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::errors::{bail_trap, trap};
use crate::os::sqlite::{Column, Connection, Statement};
use crate::protocol::ProcessState;
use super::Table;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use wasmi::{Caller, Error, Extern, Val};

const M: &str = "lunatic::sqlite";

/// Most connections one process may have (they are never closed by the
/// guest; each can hold megabytes of page cache).
const MAX_CONNECTIONS: u64 = 64;
/// Most live (unfinalized) statements per process.
const MAX_STATEMENTS: usize = 4096;

/// A process's SQLite connections and statements.
pub(crate) struct SqliteResources {
    connections: Table<Arc<Connection>>,
    opened: u64,
    /// Shared with a blocking-pool task while a step runs.
    statements: Table<Arc<Mutex<Statement>>>,
    live_statements: usize,
}

impl Default for SqliteResources {
    fn default() -> Self {
        Self {
            connections: Table::new("SQLite connection"),
            opened: 0,
            statements: Table::new("SQLite statement"),
            live_statements: 0,
        }
    }
}

impl SqliteResources {
    fn statement(&self, id: i64) -> Result<Arc<Mutex<Statement>>, Error> {
        self.statements.get(id as u64).cloned()
    }
}

/// Locks a statement; a poisoned lock (a panic elsewhere) is still usable.
fn lock(stmt: &Mutex<Statement>) -> std::sync::MutexGuard<'_, Statement> {
    stmt.lock().unwrap_or_else(|e| e.into_inner())
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "open", open);
    host.func(M, "query_prepare", query_prepare);
    host.func(M, "execute", execute);
    host.func(M, "bind_value", bind_value);
    host.func(M, "sqlite3_changes", changes);
    host.func(M, "statement_reset", statement_reset);
    host.func(M, "last_error", last_error);
    host.func(M, "sqlite3_finalize", finalize);
    host.func(M, "sqlite3_step", step);
    host.func(M, "read_column", read_column);
    host.func(M, "column_names", column_names);
    host.func(M, "read_row", read_row);
    host.func(M, "column_count", column_count);
    host.func(M, "column_name", column_name);
}

/// Runs `work` on the blocking pool while the process is suspended (see
/// [`crate::protocol::offload`]); `finish` makes the result.
fn offload<T, R, W, F>(memory: &mut [u8], state: &mut ProcessState, work: W, finish: F) -> Result<R, Error>
where
    T: Send + 'static,
    R: Into<Val>,
    W: FnOnce() -> T + Send + 'static,
    F: FnOnce(&mut [u8], &mut ProcessState, T) -> Result<R, Error> + Send + 'static,
{
    crate::protocol::offload(memory, state, work, finish)?
}

/// The absolute, normalised host path the guest's `path` names (relative
/// paths are relative to the runtime's working directory, as in the
/// original), with symbolic links resolved, if it lies inside one of
/// `preopens`.
fn check_path(path: &str, preopens: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let cwd = std::env::current_dir()?;
    let absolute = normalize(&cwd.join(path));
    let denied = || anyhow::anyhow!("Permission to '{absolute:?}' denied");
    // Resolve links in the part that exists; the rest is created by SQLite.
    // A link that exists but does not resolve (dangling) could make SQLite
    // create its target anywhere: refused.
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    let real = loop {
        if std::fs::symlink_metadata(existing).is_ok() {
            let real = std::fs::canonicalize(existing).map_err(|_| denied())?;
            break rest.iter().rev().fold(real, |p: PathBuf, c: &&std::ffi::OsStr| p.join(c));
        }
        match (existing.parent(), existing.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name);
                existing = parent;
            }
            _ => return Err(denied()),
        }
    };
    let allowed = preopens.iter().any(|dir| {
        std::fs::canonicalize(cwd.join(dir)).is_ok_and(|dir| dir.is_dir() && real.starts_with(&dir))
    });
    if allowed {
        Ok(real)
    } else {
        Err(denied())
    }
}

/// Removes `.` and resolves `..` without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// Opens `path` after the preopen check; `:memory:` and `""` (a private
/// temporary database) need no directory. An in-memory database lives in
/// host memory, so it may grow to at most `max_memory` bytes, the process's
/// linear-memory limit.
fn open_checked(path: &str, preopens: &[PathBuf], max_memory: u64) -> anyhow::Result<Connection> {
    let target = if path.is_empty() || path == ":memory:" {
        path.to_owned()
    } else {
        let real = check_path(path, preopens).map_err(|e| e.context(format!("Failed to access '{path}'")))?;
        real.into_os_string()
            .into_string()
            .map_err(|_| anyhow::anyhow!("Failed to access '{path}'"))?
    };
    Ok(Connection::open(&target, max_memory)?)
}

fn open(mut caller: Caller<'_, ProcessState>, ptr: i32, len: i32, id_ptr: i32) -> Result<i64, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let path = guest::str(memory, ptr as u32, len as u32)?.to_owned();
    let id_ptr = id_ptr as u32;
    // The ID (or error ID) goes to `id_ptr`, which the 0.14.1 guest passes
    // as address 0 (Q1): writing there is fine, it is in bounds.
    guest::range(memory, id_ptr, 8)?;
    if state.contexts.resources().sqlite.opened >= MAX_CONNECTIONS {
        let error = anyhow::anyhow!("too many SQLite connections in this process (at most {MAX_CONNECTIONS})");
        return super::fail_with(memory, state, id_ptr, error).map(i64::from);
    }
    let preopens: Vec<PathBuf> = state.config.preopens.iter().map(|p| p.host.clone()).collect();
    let max_memory = state.config.max_memory;
    offload(
        memory,
        state,
        move || open_checked(&path, &preopens, max_memory),
        move |memory, state, opened| match opened {
            Ok(conn) => {
                let sqlite = &mut state.contexts.resources().sqlite;
                sqlite.opened += 1;
                let id = sqlite.connections.add(Arc::new(conn));
                guest::write_u64(memory, id_ptr, id)?;
                Ok(0i64)
            }
            Err(error) => super::fail_with(memory, state, id_ptr, error).map(i64::from),
        },
    )
}

fn query_prepare(mut caller: Caller<'_, ProcessState>, conn_id: i64, ptr: i32, len: i32) -> Result<i64, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let sql = guest::str(memory, ptr as u32, len as u32)?.to_owned();
    let conn = state.contexts.resources().sqlite.connections.get(conn_id as u64)?.clone();
    if state.contexts.resources().sqlite.live_statements >= MAX_STATEMENTS {
        bail_trap!("too many SQLite statements in this process (at most {MAX_STATEMENTS})");
    }
    offload(
        memory,
        state,
        move || conn.prepare(&sql),
        |_, state, prepared| {
            let stmt = prepared.map_err(|e| trap(format_args!("sqlite query_prepare: {e}")))?;
            let sqlite = &mut state.contexts.resources().sqlite;
            sqlite.live_statements += 1;
            Ok(sqlite.statements.add(Arc::new(Mutex::new(stmt))) as i64)
        },
    )
}

fn execute(mut caller: Caller<'_, ProcessState>, conn_id: i64, ptr: i32, len: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let sql = guest::str(memory, ptr as u32, len as u32)?.to_owned();
    let conn = state.contexts.resources().sqlite.connections.get(conn_id as u64)?.clone();
    offload(
        memory,
        state,
        move || conn.execute(&sql),
        // The SQLite result code, 1 (SQLITE_ERROR) when there is none.
        |_, _, done| Ok(done.err().map_or(0, |e| e.code.unwrap_or(1))),
    )
}

fn step(mut caller: Caller<'_, ProcessState>, stmt_id: i64) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let stmt = state.contexts.resources().sqlite.statement(stmt_id)?;
    offload(
        memory,
        state,
        move || lock(&stmt).step(),
        |_, _, stepped| stepped.map_err(|e| trap(format_args!("sqlite3_step: {e}"))),
    )
}

fn bind_value(mut caller: Caller<'_, ProcessState>, stmt_id: i64, ptr: i32, len: i32) -> Result<(), Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let stmt = state.contexts.resources().sqlite.statement(stmt_id)?;
    let data = guest::bytes(memory, ptr as u32, len as u32)?;
    let pairs = wire::decode_bind_list(data).map_err(|e| trap(format_args!("sqlite bind_value: bad bind list: {e}")))?;
    let mut stmt = lock(&stmt);
    for (key, value) in pairs {
        let index = match key {
            wire::BindKey::Numeric(i) => i,
            wire::BindKey::String(name) => ["", ":", "@", "$"]
                .iter()
                .find_map(|prefix| stmt.parameter_index(&format!("{prefix}{name}")))
                .map_or(1, |i| i as u64),
            wire::BindKey::None => 1,
        };
        let index = usize::try_from(index).unwrap_or(usize::MAX);
        stmt.bind(index, value).map_err(|e| trap(format_args!("sqlite bind_value: {e}")))?;
    }
    Ok(())
}

fn changes(mut caller: Caller<'_, ProcessState>, conn_id: i64) -> Result<i32, Error> {
    Ok(caller.data_mut().contexts.resources().sqlite.connections.get(conn_id as u64)?.changes())
}

fn statement_reset(mut caller: Caller<'_, ProcessState>, stmt_id: i64) -> Result<(), Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let result = lock(&stmt).reset();
    result.map_err(|e| trap(format_args!("sqlite statement_reset: {e}")))
}

fn finalize(mut caller: Caller<'_, ProcessState>, stmt_id: i64) -> Result<(), Error> {
    let sqlite = &mut caller.data_mut().contexts.resources().sqlite;
    sqlite.statements.remove(stmt_id as u64)?;
    sqlite.live_statements = sqlite.live_statements.saturating_sub(1);
    Ok(())
}

fn column_count(mut caller: Caller<'_, ProcessState>, stmt_id: i64) -> Result<i32, Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let count = lock(&stmt).column_count();
    Ok(i32::try_from(count).unwrap_or(i32::MAX))
}

fn last_error(mut caller: Caller<'_, ProcessState>, conn_id: i64, len_ptr: i32) -> Result<i32, Error> {
    let conn = caller.data_mut().contexts.resources().sqlite.connections.get(conn_id as u64)?.clone();
    let blob = wire::encode_error(conn.last_error().as_ref());
    host_alloc(&mut caller, &blob, len_ptr)
}

fn read_column(mut caller: Caller<'_, ProcessState>, stmt_id: i64, col: i32, len_ptr: i32) -> Result<i32, Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let column = lock(&stmt).column(col as u32 as usize);
    let Some(column) = column else { bail_trap!("sqlite read_column: no column {}", col as u32) };
    let mut blob = Vec::new();
    wire::encode_value(&mut blob, &column);
    host_alloc(&mut caller, &blob, len_ptr)
}

fn read_row(mut caller: Caller<'_, ProcessState>, stmt_id: i64, len_ptr: i32) -> Result<i32, Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let blob = {
        let stmt = lock(&stmt);
        let columns: Vec<Column> = (0..stmt.column_count()).filter_map(|i| stmt.column(i)).collect();
        wire::encode_row(&columns)
    };
    host_alloc(&mut caller, &blob, len_ptr)
}

fn column_names(mut caller: Caller<'_, ProcessState>, stmt_id: i64, len_ptr: i32) -> Result<i32, Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let names = lock(&stmt).column_names();
    host_alloc(&mut caller, &wire::encode_strings(&names), len_ptr)
}

fn column_name(mut caller: Caller<'_, ProcessState>, stmt_id: i64, col: i32, len_ptr: i32) -> Result<i32, Error> {
    let stmt = caller.data_mut().contexts.resources().sqlite.statement(stmt_id)?;
    let name = lock(&stmt).column_name(col as u32 as usize);
    let Some(name) = name else { bail_trap!("sqlite column_name: no column {}", col as u32) };
    // Raw UTF-8, not bincode (abi.md §2.12).
    host_alloc(&mut caller, name.as_bytes(), len_ptr)
}

/// Fuel lent to the guest's allocator: its own slice, so a nearly spent
/// slice cannot make it run out of fuel mid-call (that would trap). What it
/// uses is charged to the process afterwards.
const ALLOC_FUEL: u64 = 10_000_000;

/// Copies `data` into a buffer the guest allocates with its `lunatic_alloc`
/// export, writes the length (4 bytes) at `len_ptr` and returns the buffer.
pub(crate) fn host_alloc(caller: &mut Caller<'_, ProcessState>, data: &[u8], len_ptr: i32) -> Result<i32, Error> {
    let Ok(len) = i32::try_from(data.len()) else { bail_trap!("result too large for a 32-bit guest") };
    let Some(Extern::Func(alloc)) = caller.get_export("lunatic_alloc") else {
        bail_trap!("the module exports no function `lunatic_alloc`");
    };
    let alloc = alloc
        .typed::<i32, i32>(&*caller)
        .map_err(|_| trap("`lunatic_alloc` must have type (i32) -> i32"))?;
    let before = caller.get_fuel()?;
    caller.set_fuel(before.saturating_add(ALLOC_FUEL))?;
    let result = alloc.call(&mut *caller, len);
    let used = before.saturating_add(ALLOC_FUEL).saturating_sub(caller.get_fuel()?);
    caller.set_fuel(before.saturating_sub(used))?;
    if caller.data().pending.is_some() {
        // The allocator called a host function that wanted to wait; a
        // nested call like this one cannot wait.
        caller.data_mut().pending = None;
        bail_trap!("`lunatic_alloc` may not block");
    }
    let ptr = result?;
    let (memory, _) = guest::memory_and_state(&mut *caller)?;
    guest::write(memory, ptr as u32, data)?;
    guest::write_u32(memory, len_ptr as u32, len as u32)?;
    Ok(ptr)
}

/// bincode 1.x (default options: little-endian fixed-width integers, u64
/// lengths, u32 enum tags, 1-byte `Option` tags) for the shapes of A.2.
pub(crate) mod wire {
    use crate::os::sqlite::{Column, Error, Value};

    /// How a bind pair names its parameter.
    #[derive(Debug, PartialEq)]
    pub(crate) enum BindKey {
        /// No key: parameter 1.
        None,
        /// A 1-based parameter index.
        Numeric(u64),
        /// A parameter name.
        String(String),
    }

    struct Reader<'a>(&'a [u8]);

    impl<'a> Reader<'a> {
        fn take(&mut self, n: u64) -> Result<&'a [u8], String> {
            let n = usize::try_from(n).ok().filter(|&n| n <= self.0.len()).ok_or("unexpected end of data")?;
            let (head, tail) = self.0.split_at(n);
            self.0 = tail;
            Ok(head)
        }
        fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
            let bytes = self.take(N as u64)?;
            let mut out = [0; N];
            out.copy_from_slice(bytes);
            Ok(out)
        }
        fn u32(&mut self) -> Result<u32, String> {
            Ok(u32::from_le_bytes(self.array()?))
        }
        fn u64(&mut self) -> Result<u64, String> {
            Ok(u64::from_le_bytes(self.array()?))
        }
        fn bytes(&mut self) -> Result<&'a [u8], String> {
            let len = self.u64()?;
            self.take(len)
        }
        fn str(&mut self) -> Result<&'a str, String> {
            std::str::from_utf8(self.bytes()?).map_err(|_| "invalid UTF-8 in a string".to_owned())
        }
    }

    /// Decodes a `BindList`. Trailing bytes are ignored, as bincode's
    /// `deserialize` does.
    pub(crate) fn decode_bind_list(data: &[u8]) -> Result<Vec<(BindKey, Value<'_>)>, String> {
        let mut r = Reader(data);
        let count = r.u64()?;
        // Every pair takes at least 8 bytes (two tags): do not trust `count`
        // for the allocation.
        let mut pairs = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(data.len() / 8));
        for _ in 0..count {
            let key = match r.u32()? {
                0 => BindKey::None,
                1 => BindKey::Numeric(r.u64()?),
                2 => BindKey::String(r.str()?.to_owned()),
                tag => return Err(format!("unknown BindKey variant {tag}")),
            };
            let value = match r.u32()? {
                0 => Value::Null,
                1 => Value::Blob(r.bytes()?),
                2 => Value::Text(r.str()?),
                3 => Value::Double(f64::from_le_bytes(r.array()?)),
                4 => Value::Integer(i64::from(i32::from_le_bytes(r.array()?))),
                5 => Value::Integer(i64::from_le_bytes(r.array()?)),
                tag => return Err(format!("unknown BindValue variant {tag}")),
            };
            pairs.push((key, value));
        }
        Ok(pairs)
    }

    fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        out.extend_from_slice(bytes);
    }

    /// Appends one `SqliteValue` (INTEGER columns as `Integer`, tag 4).
    pub(crate) fn encode_value(out: &mut Vec<u8>, value: &Column) {
        match value {
            Column::Null => out.extend_from_slice(&0u32.to_le_bytes()),
            Column::Blob(b) => {
                out.extend_from_slice(&1u32.to_le_bytes());
                put_bytes(out, b);
            }
            Column::Text(t) => {
                out.extend_from_slice(&2u32.to_le_bytes());
                put_bytes(out, t.as_bytes());
            }
            Column::Double(d) => {
                out.extend_from_slice(&3u32.to_le_bytes());
                out.extend_from_slice(&d.to_le_bytes());
            }
            Column::Integer(i) => {
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&i.to_le_bytes());
            }
        }
    }

    /// A `SqliteRow`: the count, then each value.
    pub(crate) fn encode_row(values: &[Column]) -> Vec<u8> {
        let mut out = (values.len() as u64).to_le_bytes().to_vec();
        for value in values {
            encode_value(&mut out, value);
        }
        out
    }

    /// A `Vec<String>`.
    pub(crate) fn encode_strings(strings: &[String]) -> Vec<u8> {
        let mut out = (strings.len() as u64).to_le_bytes().to_vec();
        for s in strings {
            put_bytes(&mut out, s.as_bytes());
        }
        out
    }

    /// A `SqliteError { code: Option<u32>, message: Option<String> }`.
    pub(crate) fn encode_error(error: Option<&Error>) -> Vec<u8> {
        let mut out = Vec::new();
        match error.and_then(|e| e.code) {
            Some(code) => {
                out.push(1);
                out.extend_from_slice(&(code as u32).to_le_bytes());
            }
            None => out.push(0),
        }
        match error.and_then(|e| e.message.as_deref()) {
            Some(message) => {
                out.push(1);
                put_bytes(&mut out, message.as_bytes());
            }
            None => out.push(0),
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn bind_lists_decode_as_bincode_wrote_them() {
            // BindList(vec![BindPair(Numeric(1), Text("Foo!")), BindPair(String("n"), Int(-2)),
            //   BindPair(None, Double(1.5)), BindPair(None, Blob([7])), BindPair(None, Null),
            //   BindPair(None, Int64(5))]) as bincode 1.x writes it.
            let mut data = vec![6, 0, 0, 0, 0, 0, 0, 0];
            data.extend([1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
            data.extend(b"Foo!");
            data.extend([2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, b'n', 4, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff]);
            data.extend([0, 0, 0, 0, 3, 0, 0, 0]);
            data.extend(1.5f64.to_le_bytes());
            data.extend([0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7]);
            data.extend([0, 0, 0, 0, 0, 0, 0, 0]);
            data.extend([0, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0]);
            let pairs = decode_bind_list(&data).unwrap();
            assert_eq!(
                pairs,
                [
                    (BindKey::Numeric(1), Value::Text("Foo!")),
                    (BindKey::String("n".into()), Value::Integer(-2)),
                    (BindKey::None, Value::Double(1.5)),
                    (BindKey::None, Value::Blob(&[7])),
                    (BindKey::None, Value::Null),
                    (BindKey::None, Value::Integer(5)),
                ]
            );
            // Truncated, bad tags, bad UTF-8, absurd counts: errors, never panics.
            for cut in 0..data.len() {
                assert!(decode_bind_list(&data[..cut]).is_err(), "cut at {cut}");
            }
            assert!(decode_bind_list(&[1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0]).is_err());
            assert!(decode_bind_list(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 6, 0, 0, 0]).is_err());
            assert!(decode_bind_list(&[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff]).is_err());
            assert!(decode_bind_list(&[0xff; 8]).is_err());
        }

        #[test]
        fn results_encode_as_bincode_reads_them() {
            let row = encode_row(&[Column::Integer(-1), Column::Text("hi".into()), Column::Null]);
            let mut expect = vec![3, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0];
            expect.extend((-1i64).to_le_bytes());
            expect.extend([2, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, b'h', b'i', 0, 0, 0, 0]);
            assert_eq!(row, expect);
            assert_eq!(encode_strings(&["a".into()]), [1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, b'a']);
            let error = Error { code: Some(1), message: Some("x".into()) };
            assert_eq!(encode_error(Some(&error)), [1, 1, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, b'x']);
            assert_eq!(encode_error(None), [0, 0]);
        }
    }
}
