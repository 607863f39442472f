//! A small safe wrapper over the raw SQLite C API (`libsqlite3-sys`).
//!
//! Why not rusqlite: the guest ABI mirrors the C API, where a prepared
//! statement is a free-standing handle that lives in a table next to its
//! connection and is stepped across many host calls, some of them on the
//! blocking pool. rusqlite's `Statement<'conn>` borrows its connection, which
//! cannot be stored that way. Here a [`Statement`] holds an `Arc` of its
//! [`Connection`] instead, so the connection is closed only after its last
//! statement is finalized.
//!
//! Thread safety: every connection is opened with `SQLITE_OPEN_FULLMUTEX`
//! (the "serialized" mode: SQLite locks the connection's mutex inside every
//! call), and opening refuses a library built without mutexes. Calls whose
//! result depends on the connection's "last error" take that mutex around
//! the call and the read, so another user of the connection cannot overwrite
//! the message in between.

use libsqlite3_sys as ffi;
use std::ffi::{c_char, c_int, c_void, CStr, CString};
use std::sync::Arc;

#[cfg(test)]
/// `SQLITE_ROW`: a row is ready.
pub(crate) const ROW: i32 = ffi::SQLITE_ROW;
#[cfg(test)]
/// `SQLITE_DONE`: the statement has finished.
pub(crate) const DONE: i32 = ffi::SQLITE_DONE;

/// An SQLite error as the C API reports it: the (primary) result code and
/// the connection's message, either of which may be missing.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Error {
    /// The SQLite result code, if SQLite produced one.
    pub(crate) code: Option<i32>,
    /// The message, if there is one.
    pub(crate) message: Option<String>,
}

impl Error {
    fn new(code: Option<i32>, message: impl Into<String>) -> Self {
        Self { code, message: Some(message.into()) }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The same shape as the original runtime's error text.
        match (self.code, &self.message) {
            (Some(code), Some(message)) => write!(f, "{message} (code {code})"),
            (Some(code), None) => write!(f, "an SQLite error (code {code})"),
            (None, Some(message)) => f.write_str(message),
            (None, None) => f.write_str("an SQLite error"),
        }
    }
}

impl std::error::Error for Error {}

/// Copies a C string owned by SQLite (may be null).
///
/// # Safety
/// `ptr` must be null or point to a NUL-terminated string that stays valid
/// for the duration of the call.
unsafe fn owned_string(ptr: *const c_char) -> Option<String> {
    if ptr.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    Some(unsafe { CStr::from_ptr(ptr) }.to_string_lossy().into_owned())
}

/// One open database connection. `Send + Sync`: see the module comment.
#[derive(Debug)]
pub(crate) struct Connection {
    db: *mut ffi::sqlite3,
}

// SAFETY: the handle is opened in serialized mode (SQLITE_OPEN_FULLMUTEX, and
// `open` refuses a library compiled with SQLITE_THREADSAFE=0), in which
// SQLite itself serialises every call on the connection, from any thread.
unsafe impl Send for Connection {}
// SAFETY: as above; every method takes `&self` and is safe to call
// concurrently in serialized mode (messages are read under the db mutex).
unsafe impl Sync for Connection {}

/// Pragmas a guest may read but not set: they change process-wide SQLite
/// state (heap limits, directories) or let one connection's memory grow
/// past what [`Connection::open`] allows (cache, temp storage in memory,
/// page counts and sizes, mmap, helper threads).
const LOCKED_PRAGMAS: &[&str] = &[
    "cache_size",
    "data_store_directory",
    "hard_heap_limit",
    "max_page_count",
    "mmap_size",
    "page_size",
    "soft_heap_limit",
    "temp_store",
    "temp_store_directory",
    "threads",
];

/// The authorizer of every connection: an `ATTACH` may name no file (the
/// preopen check covers only the database a connection is opened with) and
/// no in-memory database (it would escape the size limit); only `''`, the
/// disk-backed temporary database `VACUUM` attaches, is allowed. Pragmas in
/// [`LOCKED_PRAGMAS`] cannot be set.
unsafe extern "C" fn authorize(
    _data: *mut c_void,
    action: c_int,
    arg1: *const c_char,
    arg2: *const c_char,
    _arg3: *const c_char,
    _arg4: *const c_char,
) -> c_int {
    let allowed = match action {
        ffi::SQLITE_ATTACH => {
            // SAFETY: SQLite passes null or a NUL-terminated string valid
            // for this call.
            !arg1.is_null() && unsafe { CStr::from_ptr(arg1) }.to_bytes().is_empty()
        }
        ffi::SQLITE_PRAGMA if !arg1.is_null() && !arg2.is_null() => {
            // SAFETY: as above (arg1 is the pragma's name, arg2 its value).
            let name = unsafe { CStr::from_ptr(arg1) }.to_bytes();
            !LOCKED_PRAGMAS.iter().any(|locked| name.eq_ignore_ascii_case(locked.as_bytes()))
        }
        _ => true,
    };
    if allowed {
        ffi::SQLITE_OK
    } else {
        ffi::SQLITE_DENY
    }
}

impl Connection {
    /// Opens (creating if needed) the database at `path` for reading and
    /// writing (read-only if the file cannot be written), like the original
    /// runtime. `path` is an absolute file name (so never read as a URI),
    /// `:memory:` or `""` (a private temporary database). An in-memory
    /// database may grow to `max_memory` bytes, then writes fail with
    /// SQLITE_FULL.
    pub(crate) fn open(path: &str, max_memory: u64) -> Result<Connection, Error> {
        // SAFETY: sqlite3_threadsafe has no preconditions.
        if unsafe { ffi::sqlite3_threadsafe() } == 0 {
            return Err(Error::new(None, "the SQLite library was built without thread safety"));
        }
        let c_path = CString::new(path)
            .map_err(|_| Error::new(Some(ffi::SQLITE_CANTOPEN), "path contains a NUL byte"))?;
        let flags = ffi::SQLITE_OPEN_READWRITE | ffi::SQLITE_OPEN_CREATE | ffi::SQLITE_OPEN_FULLMUTEX;
        let mut db: *mut ffi::sqlite3 = std::ptr::null_mut();
        // SAFETY: c_path is NUL-terminated; db is a valid out pointer; a null
        // VFS name selects the default VFS.
        let rc = unsafe { ffi::sqlite3_open_v2(c_path.as_ptr(), &mut db, flags, std::ptr::null()) };
        if db.is_null() {
            // Only when SQLite could not even allocate the handle.
            return Err(Error::new(Some(rc), error_string(rc)));
        }
        let conn = Connection { db };
        if rc != ffi::SQLITE_OK {
            // The handle exists and carries the message; `conn` closes it.
            return Err(conn.error_for(rc));
        }
        if path == ":memory:" {
            // Set before the authorizer, which locks these pragmas.
            let pages = (max_memory / 4096).clamp(1, i32::MAX as u64);
            conn.execute(&format!("PRAGMA page_size = 4096; PRAGMA max_page_count = {pages}"))?;
        }
        // SAFETY: db is an open handle; `authorize` is a plain function that
        // does not use its user-data pointer (null here).
        let rc = unsafe { ffi::sqlite3_set_authorizer(db, Some(authorize), std::ptr::null_mut()) };
        if rc != ffi::SQLITE_OK {
            return Err(conn.error_for(rc));
        }
        Ok(conn)
    }

    /// Runs `f` holding the connection's mutex, so an error code and message
    /// read inside belong to the call made inside.
    fn locked<T>(&self, f: impl FnOnce() -> T) -> T {
        // SAFETY: db is open for the lifetime of self; in serialized mode the
        // db mutex exists and is recursive, so SQLite calls made by `f` can
        // take it again.
        let mutex = unsafe { ffi::sqlite3_db_mutex(self.db) };
        // SAFETY: mutex is this connection's mutex (null is allowed too).
        unsafe { ffi::sqlite3_mutex_enter(mutex) };
        struct Leave(*mut ffi::sqlite3_mutex);
        impl Drop for Leave {
            fn drop(&mut self) {
                // SAFETY: entered above on this thread.
                unsafe { ffi::sqlite3_mutex_leave(self.0) };
            }
        }
        let _leave = Leave(mutex);
        f()
    }

    /// The error for result code `rc`, with the connection's message. Call
    /// with the mutex held (or before anyone else can use the handle).
    fn error_for(&self, rc: c_int) -> Error {
        // SAFETY: db is open; the message is copied before the mutex (held
        // by the caller) is released.
        let message = unsafe { owned_string(ffi::sqlite3_errmsg(self.db)) };
        Error { code: Some(rc), message }
    }

    /// Runs `sql` (any number of statements), discarding rows.
    pub(crate) fn execute(&self, sql: &str) -> Result<(), Error> {
        // sqlite3_exec takes a C string; SQL with a NUL byte is an error
        // without a code, as in the original.
        let c_sql = CString::new(sql).map_err(|_| Error::new(None, "SQL contains a NUL byte"))?;
        self.locked(|| {
            // SAFETY: db is open, c_sql NUL-terminated; no callback, and no
            // error-message out pointer (the message is read from the handle).
            let rc = unsafe {
                ffi::sqlite3_exec(self.db, c_sql.as_ptr(), None, std::ptr::null_mut(), std::ptr::null_mut())
            };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(self.error_for(rc))
            }
        })
    }

    /// Prepares the first statement of `sql`. SQL without a statement (empty
    /// or only comments) is an error.
    pub(crate) fn prepare(self: &Arc<Self>, sql: &str) -> Result<Statement, Error> {
        let len = c_int::try_from(sql.len())
            .map_err(|_| Error::new(Some(ffi::SQLITE_TOOBIG), "SQL too long"))?;
        self.locked(|| {
            let mut stmt: *mut ffi::sqlite3_stmt = std::ptr::null_mut();
            // SAFETY: db is open; sql points to `len` readable bytes (SQLite
            // reads at most that many, no NUL needed); stmt is an out pointer.
            let rc = unsafe {
                ffi::sqlite3_prepare_v2(self.db, sql.as_ptr().cast(), len, &mut stmt, std::ptr::null_mut())
            };
            if rc != ffi::SQLITE_OK {
                return Err(self.error_for(rc));
            }
            if stmt.is_null() {
                return Err(Error::new(Some(ffi::SQLITE_MISUSE), "no SQL statement to prepare"));
            }
            Ok(Statement { conn: Arc::clone(self), stmt })
        })
    }

    /// Rows changed by the most recent INSERT, UPDATE or DELETE.
    pub(crate) fn changes(&self) -> i32 {
        // SAFETY: db is open.
        unsafe { ffi::sqlite3_changes(self.db) }
    }

    /// The connection's most recent error, or `None` if the last call
    /// succeeded.
    pub(crate) fn last_error(&self) -> Option<Error> {
        self.locked(|| {
            // SAFETY: db is open.
            let rc = unsafe { ffi::sqlite3_errcode(self.db) };
            (rc != ffi::SQLITE_OK).then(|| self.error_for(rc))
        })
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        // SAFETY: db is open and no statement is left (each one holds an Arc
        // of this connection), so sqlite3_close succeeds and frees it.
        unsafe { ffi::sqlite3_close(self.db) };
    }
}

/// SQLite's English text for a result code.
fn error_string(rc: c_int) -> String {
    // SAFETY: sqlite3_errstr returns a static string for any code.
    unsafe { owned_string(ffi::sqlite3_errstr(rc)) }.unwrap_or_default()
}

/// A value to bind to a statement parameter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Value<'a> {
    /// SQL NULL.
    Null,
    /// A BLOB.
    Blob(&'a [u8]),
    /// UTF-8 text.
    Text(&'a str),
    /// A REAL.
    Double(f64),
    /// An INTEGER.
    Integer(i64),
}

/// A value read from a column of the current row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Column {
    /// SQL NULL (also for a statement without a current row).
    Null,
    /// A BLOB.
    Blob(Vec<u8>),
    /// Text (invalid UTF-8 is replaced, as text is never a trap).
    Text(String),
    /// A REAL.
    Double(f64),
    /// An INTEGER.
    Integer(i64),
}

/// A prepared statement. `Send` (one thread at a time uses it, through
/// `&mut`), finalized when dropped.
#[derive(Debug)]
pub(crate) struct Statement {
    conn: Arc<Connection>,
    stmt: *mut ffi::sqlite3_stmt,
}

// SAFETY: the statement belongs to a serialized-mode connection (see
// `Connection`); moving it between threads is allowed, and all mutation goes
// through `&mut self`. Column reads copy the data out under the db mutex.
unsafe impl Send for Statement {}

impl Statement {
    /// Advances to the next row: [`ROW`] or [`DONE`].
    pub(crate) fn step(&mut self) -> Result<i32, Error> {
        self.conn.locked(|| {
            // SAFETY: stmt is a live prepared statement.
            let rc = unsafe { ffi::sqlite3_step(self.stmt) };
            match rc {
                ffi::SQLITE_ROW | ffi::SQLITE_DONE => Ok(rc),
                _ => Err(self.conn.error_for(rc)),
            }
        })
    }

    /// Resets the statement so it can run again (bindings are kept).
    pub(crate) fn reset(&mut self) -> Result<(), Error> {
        self.conn.locked(|| {
            // SAFETY: stmt is a live prepared statement.
            let rc = unsafe { ffi::sqlite3_reset(self.stmt) };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(self.conn.error_for(rc))
            }
        })
    }

    /// The 1-based index of the parameter named `name` (with its `:`, `@`
    /// or `$` prefix), if there is one.
    pub(crate) fn parameter_index(&self, name: &str) -> Option<usize> {
        let c_name = CString::new(name).ok()?;
        // SAFETY: stmt is live; c_name is NUL-terminated.
        let index = unsafe { ffi::sqlite3_bind_parameter_index(self.stmt, c_name.as_ptr()) };
        usize::try_from(index).ok().filter(|&i| i > 0)
    }

    /// Binds `value` to the 1-based parameter `index`.
    pub(crate) fn bind(&mut self, index: usize, value: Value<'_>) -> Result<(), Error> {
        let Ok(index) = c_int::try_from(index) else {
            return Err(Error::new(Some(ffi::SQLITE_RANGE), error_string(ffi::SQLITE_RANGE)));
        };
        self.conn.locked(|| {
            let stmt = self.stmt;
            // SAFETY (all arms): stmt is live; SQLITE_TRANSIENT makes SQLite
            // copy blob and text bytes before returning, and the pointers
            // cover exactly the given lengths.
            let rc = unsafe {
                match value {
                    Value::Null => ffi::sqlite3_bind_null(stmt, index),
                    Value::Blob(bytes) => ffi::sqlite3_bind_blob64(
                        stmt,
                        index,
                        bytes.as_ptr().cast(),
                        bytes.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                    ),
                    Value::Text(text) => ffi::sqlite3_bind_text64(
                        stmt,
                        index,
                        text.as_ptr().cast(),
                        text.len() as u64,
                        ffi::SQLITE_TRANSIENT(),
                        ffi::SQLITE_UTF8 as u8,
                    ),
                    Value::Double(d) => ffi::sqlite3_bind_double(stmt, index, d),
                    Value::Integer(i) => ffi::sqlite3_bind_int64(stmt, index, i),
                }
            };
            if rc == ffi::SQLITE_OK {
                Ok(())
            } else {
                Err(self.conn.error_for(rc))
            }
        })
    }

    /// Number of result columns.
    pub(crate) fn column_count(&self) -> usize {
        // SAFETY: stmt is live.
        let n = unsafe { ffi::sqlite3_column_count(self.stmt) };
        usize::try_from(n).unwrap_or(0)
    }

    /// The name of column `index`, or `None` if there is no such column.
    pub(crate) fn column_name(&self, index: usize) -> Option<String> {
        let index = self.column_index(index)?;
        self.conn.locked(|| {
            // SAFETY: stmt is live and index in range; the name is copied
            // before anything else can touch the statement.
            unsafe { owned_string(ffi::sqlite3_column_name(self.stmt, index)) }
        })
    }

    /// The names of all result columns.
    pub(crate) fn column_names(&self) -> Vec<String> {
        (0..self.column_count()).map(|i| self.column_name(i).unwrap_or_default()).collect()
    }

    /// Column `index` of the current row, or `None` if there is no such
    /// column. Without a current row every column reads as NULL.
    pub(crate) fn column(&self, index: usize) -> Option<Column> {
        let i = self.column_index(index)?;
        let stmt = self.stmt;
        Some(self.conn.locked(|| {
            // SAFETY: stmt is live, i in range. For text and blobs the
            // pointer is fetched before the length (the order SQLite
            // documents) and both are copied before the mutex is released.
            unsafe {
                match ffi::sqlite3_column_type(stmt, i) {
                    ffi::SQLITE_INTEGER => Column::Integer(ffi::sqlite3_column_int64(stmt, i)),
                    ffi::SQLITE_FLOAT => Column::Double(ffi::sqlite3_column_double(stmt, i)),
                    ffi::SQLITE_TEXT => {
                        let ptr = ffi::sqlite3_column_text(stmt, i);
                        let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                        let bytes = if ptr.is_null() { &[][..] } else { std::slice::from_raw_parts(ptr, len) };
                        Column::Text(String::from_utf8_lossy(bytes).into_owned())
                    }
                    ffi::SQLITE_BLOB => {
                        let ptr = ffi::sqlite3_column_blob(stmt, i);
                        let len = usize::try_from(ffi::sqlite3_column_bytes(stmt, i)).unwrap_or(0);
                        let bytes = if ptr.is_null() { &[][..] } else { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
                        Column::Blob(bytes.to_vec())
                    }
                    _ => Column::Null,
                }
            }
        }))
    }

    fn column_index(&self, index: usize) -> Option<c_int> {
        (index < self.column_count()).then(|| c_int::try_from(index).ok()).flatten()
    }
}

impl Drop for Statement {
    fn drop(&mut self) {
        // SAFETY: stmt is live and finalized exactly once, here; its
        // connection is still open (we hold an Arc of it).
        unsafe { ffi::sqlite3_finalize(self.stmt) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_bind_step_and_read() {
        let conn = Arc::new(Connection::open(":memory:", 1 << 30).unwrap());
        conn.execute("CREATE TABLE t(a INTEGER, b TEXT, c REAL, d BLOB, e); INSERT INTO t VALUES (1, 'x', 1.5, x'00ff', NULL)").unwrap();
        assert_eq!(conn.changes(), 1);
        let mut stmt = conn.prepare("SELECT a, b, c, d, e, ?1, :n FROM t").unwrap();
        stmt.bind(1, Value::Text("hé")).unwrap();
        let n = stmt.parameter_index(":n").unwrap();
        assert_eq!(n, 2);
        stmt.bind(n, Value::Blob(&[1, 2])).unwrap();
        assert_eq!(stmt.column_names(), ["a", "b", "c", "d", "e", "?1", ":n"]);
        assert_eq!(stmt.step().unwrap(), ROW);
        let row: Vec<_> = (0..7).map(|i| stmt.column(i).unwrap()).collect();
        assert_eq!(
            row,
            [
                Column::Integer(1),
                Column::Text("x".into()),
                Column::Double(1.5),
                Column::Blob(vec![0, 255]),
                Column::Null,
                Column::Text("hé".into()),
                Column::Blob(vec![1, 2]),
            ]
        );
        assert_eq!(stmt.column(7), None);
        assert_eq!(stmt.step().unwrap(), DONE);
        // Binding needs a reset statement; unknown parameters are a range error.
        assert_eq!(stmt.bind(1, Value::Null).unwrap_err().code, Some(ffi::SQLITE_MISUSE));
        stmt.reset().unwrap();
        assert_eq!(stmt.bind(9, Value::Null).unwrap_err().code, Some(ffi::SQLITE_RANGE));
        assert_eq!(stmt.step().unwrap(), ROW);
    }

    #[test]
    fn errors_carry_code_and_message() {
        let conn = Arc::new(Connection::open("", 1 << 30).unwrap());
        assert_eq!(conn.last_error(), None);
        let err = conn.execute("SELEC 1").unwrap_err();
        assert_eq!(err.code, Some(1));
        assert_eq!(err.to_string(), "near \"SELEC\": syntax error (code 1)");
        assert_eq!(conn.last_error(), Some(err));
        assert!(conn.prepare("-- nothing").is_err());
        let mut stmt = conn.prepare("SELECT 1").unwrap();
        drop(conn);
        // The statement keeps its connection open.
        assert_eq!(stmt.step().unwrap(), ROW);
    }

    #[test]
    fn attach_of_files_is_refused() {
        let conn = Connection::open(":memory:", 1 << 30).unwrap();
        let err = conn.execute("ATTACH '/tmp/lunatic-sqlite-attach.db' AS x").unwrap_err();
        assert_eq!(err.code, Some(ffi::SQLITE_AUTH));
        conn.execute("ATTACH '' AS t; VACUUM").unwrap();
        for sql in [
            "VACUUM INTO '/tmp/lunatic-sqlite-into.db'",
            "ATTACH ':memory:' AS m",
            "PRAGMA max_page_count = 1000000",
            "PRAGMA Hard_Heap_Limit = 1",
            "PRAGMA temp_store = MEMORY",
        ] {
            let err = conn.execute(sql).unwrap_err();
            assert_eq!(err.code, Some(ffi::SQLITE_AUTH), "{sql}: {err}");
        }
        // Reading a locked pragma is fine.
        conn.execute("PRAGMA cache_size").unwrap();
    }

    #[test]
    fn in_memory_databases_are_bounded() {
        let conn = Connection::open(":memory:", 64 * 4096).unwrap();
        conn.execute("CREATE TABLE t(x)").unwrap();
        let err = conn
            .execute("WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000) INSERT INTO t SELECT randomblob(100) FROM c")
            .unwrap_err();
        assert_eq!(err.code, Some(ffi::SQLITE_FULL), "{err}");
    }
}
