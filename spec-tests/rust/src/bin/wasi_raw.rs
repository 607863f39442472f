//! WASI preview1 calls made directly (not through std), to check the exact
//! errno of edge cases: directories opened for writing, `path_link` with
//! symlink following, `O_TRUNC` and the directory's rights, `O_TRUNC` with
//! the `APPEND` flag and `pwrite`, `sock_shutdown` on non-sockets. Also
//! `#lunatic_test_*` exports for test mode with `--dir HOST::GUEST`.
//!
//! Usage: `wasi_raw.wasm <scenario> [preopen-name]`; the scenarios work in
//! the preopened directory of that name (default `/`) and print one line
//! per call: `<what>: ok` or `<what>: errno N`.

#![allow(clippy::missing_safety_doc)]

mod raw {
    #[link(wasm_import_module = "wasi_snapshot_preview1")]
    extern "C" {
        pub fn fd_prestat_get(fd: u32, out: *mut u8) -> u16;
        pub fn fd_prestat_dir_name(fd: u32, buf: *mut u8, len: u32) -> u16;
        #[allow(clippy::too_many_arguments)]
        pub fn path_open(
            fd: u32,
            dirflags: u32,
            path: *const u8,
            path_len: u32,
            oflags: u32,
            base: u64,
            inheriting: u64,
            fdflags: u32,
            out: *mut u32,
        ) -> u16;
        pub fn fd_close(fd: u32) -> u16;
        pub fn fd_write(fd: u32, iovs: *const [u32; 2], n: u32, out: *mut u32) -> u16;
        pub fn fd_pwrite(fd: u32, iovs: *const [u32; 2], n: u32, offset: u64, out: *mut u32)
            -> u16;
        pub fn fd_read(fd: u32, iovs: *const [u32; 2], n: u32, out: *mut u32) -> u16;
        pub fn fd_seek(fd: u32, offset: i64, whence: u32, out: *mut u64) -> u16;
        pub fn fd_fdstat_get(fd: u32, out: *mut u8) -> u16;
        pub fn fd_fdstat_set_rights(fd: u32, base: u64, inheriting: u64) -> u16;
        pub fn path_link(
            old_fd: u32,
            flags: u32,
            old: *const u8,
            old_len: u32,
            new_fd: u32,
            new: *const u8,
            new_len: u32,
        ) -> u16;
        pub fn path_symlink(
            target: *const u8,
            target_len: u32,
            fd: u32,
            path: *const u8,
            len: u32,
        ) -> u16;
        pub fn path_filestat_get(
            fd: u32,
            flags: u32,
            path: *const u8,
            len: u32,
            out: *mut u64,
        ) -> u16;
        pub fn sock_shutdown(fd: u32, how: u32) -> u16;
        pub fn path_create_directory(fd: u32, path: *const u8, len: u32) -> u16;
        pub fn fd_readdir(fd: u32, buf: *mut u8, len: u32, cookie: u64, out: *mut u32) -> u16;
    }
}

const RIGHT_FD_READ: u64 = 1 << 1;
const RIGHT_FD_SEEK: u64 = 1 << 2;
const RIGHT_FD_TELL: u64 = 1 << 5;
const RIGHT_FD_WRITE: u64 = 1 << 6;
const RIGHT_PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
const OFLAGS_CREAT: u32 = 1;
const OFLAGS_DIRECTORY: u32 = 2;
const OFLAGS_TRUNC: u32 = 8;
const FDFLAGS_APPEND: u32 = 1;
const FOLLOW: u32 = 1;

/// `ok` or `errno N`.
fn show(errno: u16) -> String {
    if errno == 0 {
        "ok".into()
    } else {
        format!("errno {errno}")
    }
}

/// The descriptor of the preopen named `name`.
fn preopen(name: &str) -> u32 {
    for fd in 3..64 {
        let mut prestat = [0u8; 8];
        if unsafe { raw::fd_prestat_get(fd, prestat.as_mut_ptr()) } != 0 {
            break;
        }
        let len = u32::from_le_bytes(prestat[4..8].try_into().unwrap());
        let mut buf = vec![0u8; len as usize];
        unsafe { raw::fd_prestat_dir_name(fd, buf.as_mut_ptr(), len) };
        if buf == name.as_bytes() {
            return fd;
        }
    }
    println!("no preopen named {name:?}");
    std::process::exit(2);
}

fn open(dir: u32, path: &str, oflags: u32, base: u64, fdflags: u32) -> Result<u32, u16> {
    let mut fd = 0;
    let e = unsafe {
        raw::path_open(dir, FOLLOW, path.as_ptr(), path.len() as u32, oflags, base, base, fdflags, &mut fd)
    };
    if e == 0 {
        Ok(fd)
    } else {
        Err(e)
    }
}

fn open_errno(dir: u32, path: &str, oflags: u32, base: u64, fdflags: u32) -> String {
    match open(dir, path, oflags, base, fdflags) {
        Ok(fd) => {
            unsafe { raw::fd_close(fd) };
            "ok".into()
        }
        Err(e) => show(e),
    }
}

fn write(fd: u32, data: &[u8], at: Option<u64>) -> String {
    let iov = [data.as_ptr() as u32, data.len() as u32];
    let mut n = 0;
    let e = unsafe {
        match at {
            None => raw::fd_write(fd, &iov, 1, &mut n),
            Some(offset) => raw::fd_pwrite(fd, &iov, 1, offset, &mut n),
        }
    };
    if e == 0 {
        format!("{n} bytes")
    } else {
        show(e)
    }
}

/// The file's contents, read through a new descriptor.
fn contents(dir: u32, path: &str) -> String {
    let Ok(fd) = open(dir, path, 0, RIGHT_FD_READ, 0) else { return "unreadable".into() };
    let mut buf = [0u8; 256];
    let iov = [buf.as_mut_ptr() as u32, buf.len() as u32];
    let mut n = 0;
    unsafe { raw::fd_read(fd, &iov, 1, &mut n) };
    unsafe { raw::fd_close(fd) };
    format!("{:?}", String::from_utf8_lossy(&buf[..n as usize]))
}

/// (filetype, nlink, size) of a path.
fn stat(dir: u32, path: &str, follow: bool) -> Result<(u8, u64, u64), u16> {
    let mut st = [0u64; 8];
    let e = unsafe {
        raw::path_filestat_get(dir, follow as u32, path.as_ptr(), path.len() as u32, st.as_mut_ptr())
    };
    if e == 0 {
        Ok((st[2] as u8, st[3], st[4]))
    } else {
        Err(e)
    }
}

fn link(dir: u32, flags: u32, old: &str, new: &str) -> String {
    show(unsafe {
        raw::path_link(dir, flags, old.as_ptr(), old.len() as u32, dir, new.as_ptr(), new.len() as u32)
    })
}

fn symlink(dir: u32, target: &str, path: &str) -> u16 {
    unsafe { raw::path_symlink(target.as_ptr(), target.len() as u32, dir, path.as_ptr(), path.len() as u32) }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let scenario = args.get(1).map(String::as_str).unwrap_or("");
    let name = args.get(2).map(String::as_str).unwrap_or("/");
    match scenario {
        "dir-write" => dir_write(preopen(name)),
        "link-follow" => link_follow(preopen(name)),
        "trunc-rights" => trunc_rights(preopen(name)),
        "trunc-append" => trunc_append(preopen(name)),
        "path-rights" => path_rights(preopen(name)),
        "sock-shutdown" => {
            for fd in [1u32, 3, 99] {
                println!("sock_shutdown {fd}: {}", show(unsafe { raw::sock_shutdown(fd, 1) }));
            }
        }
        other => {
            eprintln!("wasi_raw: unknown scenario {other:?}");
            std::process::exit(64);
        }
    }
}

/// A directory asked for with write access is EISDIR (issue 17, item 1).
fn dir_write(dir: u32) {
    let rw = RIGHT_FD_READ | RIGHT_FD_WRITE;
    println!("open . O_DIRECTORY read: {}", open_errno(dir, ".", OFLAGS_DIRECTORY, RIGHT_FD_READ, 0));
    println!("open . O_DIRECTORY read+write: {}", open_errno(dir, ".", OFLAGS_DIRECTORY, rw, 0));
    println!("open . O_DIRECTORY write: {}", open_errno(dir, ".", OFLAGS_DIRECTORY, RIGHT_FD_WRITE, 0));
    println!("open . O_DIRECTORY append: {}", open_errno(dir, ".", OFLAGS_DIRECTORY, 0, FDFLAGS_APPEND));
    println!("open . write: {}", open_errno(dir, ".", 0, RIGHT_FD_WRITE, 0));
    println!("open sub O_DIRECTORY read+write: {}", open_errno(dir, "sub", OFLAGS_DIRECTORY, rw, 0));
    println!("open missing O_DIRECTORY write: {}", open_errno(dir, "missing", OFLAGS_DIRECTORY, rw, 0));
    println!("open file.txt O_DIRECTORY write: {}", open_errno(dir, "file.txt", OFLAGS_DIRECTORY, rw, 0));
    println!("open file.txt read+write: {}", open_errno(dir, "file.txt", 0, rw, 0));
}

/// `path_link` with LOOKUPFLAGS_SYMLINK_FOLLOW links what the symlink names
/// (issue 17, item 2).
fn link_follow(dir: u32) {
    println!("symlink to-file -> file.txt: {}", show(symlink(dir, "file.txt", "to-file")));
    println!("symlink dangling -> nowhere: {}", show(symlink(dir, "nowhere", "dangling")));
    println!("symlink loop -> loop: {}", show(symlink(dir, "loop", "loop")));
    println!("symlink chain -> to-file: {}", show(symlink(dir, "to-file", "chain")));
    println!("link follow to-file: {}", link(dir, FOLLOW, "to-file", "hard1"));
    println!("  hard1 (type, nlink, size): {:?}", stat(dir, "hard1", false));
    println!("link follow chain: {}", link(dir, FOLLOW, "chain", "hard2"));
    println!("  hard2 (type, nlink, size): {:?}", stat(dir, "hard2", false));
    println!("link follow dangling: {}", link(dir, FOLLOW, "dangling", "hard3"));
    println!("  hard3: {:?}", stat(dir, "hard3", false));
    println!("link follow loop: {}", link(dir, FOLLOW, "loop", "hard4"));
    println!("link follow escaping (made by the host): {}", link(dir, FOLLOW, "escape", "hard5"));
    println!("  hard5: {:?}", stat(dir, "hard5", false));
    println!("link nofollow to-file: {}", link(dir, 0, "to-file", "soft1"));
    println!("  soft1 type: {:?}", stat(dir, "soft1", false).map(|s| s.0));
    println!("link nofollow dangling: {}", link(dir, 0, "dangling", "soft2"));
    println!("  soft2 type: {:?}", stat(dir, "soft2", false).map(|s| s.0));
}

/// O_TRUNC needs the directory's PATH_FILESTAT_SET_SIZE right, not write
/// access to the new descriptor (issue 17, item 3).
fn trunc_rights(dir: u32) {
    println!("file.txt before: {}", contents(dir, "file.txt"));
    println!("open O_TRUNC, no rights: {}", open_errno(dir, "file.txt", OFLAGS_TRUNC, 0, 0));
    println!("file.txt after: {}", contents(dir, "file.txt"));
    println!("open O_TRUNC read-only: {}", open_errno(dir, "other.txt", OFLAGS_TRUNC, RIGHT_FD_READ, 0));
    println!("other.txt after: {}", contents(dir, "other.txt"));
    // Every right a directory can have (a directory with FD_WRITE is EISDIR).
    let all = ((1u64 << 30) - 1) & !RIGHT_FD_WRITE;
    let Ok(sub) = open(dir, ".", OFLAGS_DIRECTORY, all, 0).map_err(|e| println!("reopen: {}", show(e)))
    else {
        return;
    };
    let mut fdstat = [0u64; 3];
    unsafe { raw::fd_fdstat_get(sub, fdstat.as_mut_ptr() as *mut u8) };
    let (base, inheriting) = (fdstat[1], fdstat[2]);
    println!("dir has PATH_FILESTAT_SET_SIZE: {}", base & RIGHT_PATH_FILESTAT_SET_SIZE != 0);
    let e = unsafe { raw::fd_fdstat_set_rights(sub, base & !RIGHT_PATH_FILESTAT_SET_SIZE, inheriting) };
    println!("drop PATH_FILESTAT_SET_SIZE: {}", show(e));
    println!(
        "open O_TRUNC without the right: {}",
        open_errno(sub, "third.txt", OFLAGS_TRUNC, RIGHT_FD_WRITE, 0)
    );
    println!("third.txt after: {}", contents(dir, "third.txt"));
    println!("open without O_TRUNC: {}", open_errno(sub, "third.txt", 0, RIGHT_FD_WRITE, 0));
}

/// O_CREAT|O_TRUNC with the APPEND flag, then writes and pwrite (issue 17,
/// item 4).
fn trunc_append(dir: u32) {
    let rights = RIGHT_FD_READ | RIGHT_FD_WRITE | RIGHT_FD_SEEK | RIGHT_FD_TELL | RIGHT_FD_FILESTAT_GET;
    let fd = match open(dir, "file.txt", OFLAGS_CREAT | OFLAGS_TRUNC, rights, FDFLAGS_APPEND) {
        Ok(fd) => fd,
        Err(e) => {
            println!("open O_CREAT|O_TRUNC append: {}", show(e));
            return;
        }
    };
    println!("open O_CREAT|O_TRUNC append: ok");
    println!("after open: {}", contents(dir, "file.txt"));
    println!("write ab: {}", write(fd, b"ab", None));
    let mut pos = 0;
    unsafe { raw::fd_seek(fd, 0, 0, &mut pos) };
    println!("seek to 0, write cd: {}", write(fd, b"cd", None));
    unsafe { raw::fd_seek(fd, 0, 1, &mut pos) };
    println!("position: {pos}");
    println!("pwrite XY at 0: {}", write(fd, b"XY", Some(0)));
    unsafe { raw::fd_seek(fd, 0, 1, &mut pos) };
    println!("position after pwrite: {pos}");
    println!("write ef: {}", write(fd, b"ef", None));
    unsafe { raw::fd_close(fd) };
    println!("contents: {}", contents(dir, "file.txt"));
    match open(dir, "new.txt", OFLAGS_CREAT | OFLAGS_TRUNC, RIGHT_FD_WRITE, FDFLAGS_APPEND) {
        Ok(fd) => {
            println!("create new.txt O_TRUNC append: ok, write: {}", write(fd, b"new", None));
            unsafe { raw::fd_close(fd) };
        }
        Err(e) => println!("create new.txt O_TRUNC append: {}", show(e)),
    }
}

/// A directory descriptor's rights are enforced: each operation fails with
/// ENOTCAPABLE (76) once the right it needs is dropped.
fn path_rights(dir: u32) {
    const PATH_CREATE_DIRECTORY: u64 = 1 << 9;
    const PATH_CREATE_FILE: u64 = 1 << 10;
    const PATH_OPEN: u64 = 1 << 13;
    const FD_READDIR: u64 = 1 << 14;
    let all = ((1u64 << 30) - 1) & !RIGHT_FD_WRITE;
    for (name, right) in [
        ("PATH_CREATE_DIRECTORY", PATH_CREATE_DIRECTORY),
        ("PATH_CREATE_FILE", PATH_CREATE_FILE),
        ("PATH_OPEN", PATH_OPEN),
        ("FD_READDIR", FD_READDIR),
    ] {
        let Ok(d) = open(dir, ".", OFLAGS_DIRECTORY, all, 0) else {
            println!("reopen failed");
            return;
        };
        let mut fdstat = [0u64; 3];
        unsafe { raw::fd_fdstat_get(d, fdstat.as_mut_ptr() as *mut u8) };
        unsafe { raw::fd_fdstat_set_rights(d, fdstat[1] & !right, fdstat[2]) };
        let mkdir = |path: &str| show(unsafe { raw::path_create_directory(d, path.as_ptr(), path.len() as u32) });
        let mut buf = [0u8; 256];
        let mut n = 0;
        let readdir = show(unsafe { raw::fd_readdir(d, buf.as_mut_ptr(), 256, 0, &mut n) });
        println!(
            "without {name}: mkdir {}, create {}, open {}, readdir {readdir}",
            mkdir(&format!("dir-{name}")),
            open_errno(d, &format!("new-{name}"), OFLAGS_CREAT, RIGHT_FD_READ, 0),
            open_errno(d, "file.txt", 0, RIGHT_FD_READ, 0),
        );
        unsafe { raw::fd_close(d) };
    }
}

/// For test mode: the preopen named `/` is the mapped fixture and holds
/// `in.txt` starting with "fixture" (`--dir HOST::/`).
#[export_name = "#lunatic_test_wasi_raw::fixture_is_root"]
pub extern "C" fn fixture_is_root() {
    check_mapping("/");
}

/// For test mode: the preopen named `/data` is the mapped fixture.
#[export_name = "#lunatic_test_wasi_raw::fixture_is_data"]
pub extern "C" fn fixture_is_data() {
    check_mapping("/data");
}

/// Traps unless a preopen named `name` holds `in.txt` starting with
/// "fixture". Raw calls only: std's WASI state is set up by `_start`, which
/// a test process does not run.
fn check_mapping(name: &str) {
    let mut found = None;
    for fd in 3..16 {
        let mut prestat = [0u8; 8];
        if unsafe { raw::fd_prestat_get(fd, prestat.as_mut_ptr()) } != 0 {
            break;
        }
        let len = u32::from_le_bytes([prestat[4], prestat[5], prestat[6], prestat[7]]);
        let mut buf = [0u8; 64];
        if len as usize <= buf.len()
            && unsafe { raw::fd_prestat_dir_name(fd, buf.as_mut_ptr(), len) } == 0
            && &buf[..len as usize] == name.as_bytes()
        {
            found = Some(fd);
        }
    }
    let Some(dir) = found else { core::arch::wasm32::unreachable() };
    let mut fd = 0;
    let path = "in.txt";
    let e = unsafe {
        raw::path_open(dir, 0, path.as_ptr(), path.len() as u32, 0, RIGHT_FD_READ, 0, 0, &mut fd)
    };
    if e != 0 {
        core::arch::wasm32::unreachable();
    }
    let mut buf = [0u8; 7];
    let iov = [buf.as_mut_ptr() as u32, buf.len() as u32];
    let mut n = 0;
    unsafe { raw::fd_read(fd, &iov, 1, &mut n) };
    if &buf != b"fixture" {
        core::arch::wasm32::unreachable();
    }
}
