//! `path_*`: operations on paths relative to a directory descriptor.

use super::fs::{self, OpenRequest, Opened};
use super::table::{DirFd, Entry, Kind, OpenFile};
use super::types::*;
use super::{check_out, memory_and_state, offload, read_path, ret, WasiResult, M};
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use cap_std::fs::Dir;
use std::sync::Arc;
use wasmi::Caller;

type C<'a> = Caller<'a, ProcessState>;

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "path_create_directory", |mut c: C<'_>, fd: i32, path: i32, len: i32| {
        ret(simple(&mut c, fd, RIGHT_PATH_CREATE_DIRECTORY, path, len, |dir, path| {
            dir.create_dir(path)
        }))
    });
    host.func(M, "path_remove_directory", |mut c: C<'_>, fd: i32, path: i32, len: i32| {
        ret(simple(&mut c, fd, RIGHT_PATH_REMOVE_DIRECTORY, path, len, |dir, path| {
            dir.remove_dir(path)
        }))
    });
    host.func(M, "path_unlink_file", |mut c: C<'_>, fd: i32, path: i32, len: i32| {
        ret(simple(&mut c, fd, RIGHT_PATH_UNLINK_FILE, path, len, |dir, path| {
            dir.remove_file(path)
        }))
    });
    host.func(
        M,
        "path_filestat_get",
        |mut c: C<'_>, fd: i32, flags: i32, path: i32, len: i32, out: i32| {
            ret(path_filestat_get(&mut c, fd, flags as u32, path, len, out))
        },
    );
    host.func(
        M,
        "path_filestat_set_times",
        |mut c: C<'_>, fd: i32, flags: i32, path: i32, len: i32, atim: i64, mtim: i64, fst: i32| {
            ret(path_filestat_set_times(
                &mut c,
                fd,
                flags as u32,
                path,
                len,
                atim as u64,
                mtim as u64,
                fst as u32,
            ))
        },
    );
    host.func(
        M,
        "path_link",
        |mut c: C<'_>,
         old_fd: i32,
         flags: i32,
         old: i32,
         old_len: i32,
         new_fd: i32,
         new: i32,
         new_len: i32| {
            ret(path_link(&mut c, old_fd, flags as u32, old, old_len, new_fd, new, new_len))
        },
    );
    host.func(
        M,
        "path_open",
        |mut c: C<'_>,
         fd: i32,
         dirflags: i32,
         path: i32,
         len: i32,
         oflags: i32,
         base: i64,
         inheriting: i64,
         fdflags: i32,
         out: i32| {
            let request = Open {
                fd,
                dirflags: dirflags as u32,
                path,
                len,
                oflags: oflags as u32,
                base: base as u64,
                inheriting: inheriting as u64,
                fdflags: fdflags as u32,
                out,
            };
            ret(path_open(&mut c, request))
        },
    );
    host.func(
        M,
        "path_readlink",
        |mut c: C<'_>, fd: i32, path: i32, len: i32, buf: i32, buf_len: i32, out: i32| {
            ret(path_readlink(&mut c, fd, path, len, buf, buf_len as u32, out))
        },
    );
    host.func(
        M,
        "path_rename",
        |mut c: C<'_>, fd: i32, old: i32, old_len: i32, new_fd: i32, new: i32, new_len: i32| {
            ret(path_rename(&mut c, fd, old, old_len, new_fd, new, new_len))
        },
    );
    host.func(
        M,
        "path_symlink",
        |mut c: C<'_>, target: i32, target_len: i32, fd: i32, link: i32, len: i32| {
            ret(path_symlink(&mut c, target, target_len, fd, link, len))
        },
    );
}

/// The directory `fd` and the checked path at `ptr`; `ENOTCAPABLE` unless
/// the descriptor has `right` (a directory's rights are what a process can
/// pass on to configs it creates, so they are enforced here).
fn dir_and_path(
    memory: &[u8],
    state: &mut ProcessState,
    fd: i32,
    right: u64,
    ptr: i32,
    len: i32,
) -> WasiResult<(Arc<Dir>, usize, String)> {
    let path = read_path(memory, ptr, len)?;
    let entry = state.contexts.wasi().fds.get(fd as u32)?;
    let dir = entry.dir()?;
    if !entry.can(right) {
        return Err(Errno::NOTCAPABLE.into());
    }
    fs::check_path(&path)?;
    Ok((dir.dir.clone(), dir.depth, path))
}

fn follows(flags: u32) -> WasiResult<bool> {
    if flags & !LOOKUPFLAGS_SYMLINK_FOLLOW != 0 {
        return Err(Errno::INVAL.into());
    }
    Ok(flags & LOOKUPFLAGS_SYMLINK_FOLLOW != 0)
}

/// A path operation with no result but its errno.
fn simple(
    c: &mut C<'_>,
    fd: i32,
    right: u64,
    ptr: i32,
    len: i32,
    op: impl FnOnce(&Dir, &str) -> std::io::Result<()> + Send + 'static,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let (dir, _, path) = dir_and_path(memory, state, fd, right, ptr, len)?;
    offload(memory, state, move || op(&dir, &path), |_, _, r| Ok(r?))
}

fn path_filestat_get(
    c: &mut C<'_>,
    fd: i32,
    flags: u32,
    ptr: i32,
    len: i32,
    out: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    check_out(memory, out, FILESTAT_SIZE)?;
    let (dir, _, path) = dir_and_path(memory, state, fd, RIGHT_PATH_FILESTAT_GET, ptr, len)?;
    let follow = follows(flags)?;
    offload(
        memory,
        state,
        move || fs::path_filestat(&dir, &path, follow),
        move |memory, _, r| {
            guest::write(memory, out as u32, &r?.encode())?;
            Ok(())
        },
    )
}

#[allow(clippy::too_many_arguments)]
fn path_filestat_set_times(
    c: &mut C<'_>,
    fd: i32,
    flags: u32,
    ptr: i32,
    len: i32,
    atim: u64,
    mtim: u64,
    fst: u32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let (dir, _, path) = dir_and_path(memory, state, fd, RIGHT_PATH_FILESTAT_SET_TIMES, ptr, len)?;
    let follow = follows(flags)?;
    let fst = u16::try_from(fst).map_err(|_| Errno::INVAL)?;
    let now = std::time::UNIX_EPOCH + state.runtime.scheduler().wall_clock();
    let (atime, mtime) = fs::new_times(atim, mtim, fst, now)?;
    let work = move || fs::set_path_times(&dir, &path, follow, atime, mtime);
    offload(memory, state, work, |_, _, r| Ok(r?))
}

#[allow(clippy::too_many_arguments)]
fn path_link(
    c: &mut C<'_>,
    old_fd: i32,
    flags: u32,
    old_ptr: i32,
    old_len: i32,
    new_fd: i32,
    new_ptr: i32,
    new_len: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let (old_dir, _, old) =
        dir_and_path(memory, state, old_fd, RIGHT_PATH_LINK_SOURCE, old_ptr, old_len)?;
    let (new_dir, _, new) =
        dir_and_path(memory, state, new_fd, RIGHT_PATH_LINK_TARGET, new_ptr, new_len)?;
    let follow = follows(flags)?;
    let work = move || fs::hard_link(&old_dir, &old, follow, &new_dir, &new);
    offload(memory, state, work, |_, _, r| Ok(r?))
}

/// The arguments of `path_open`.
struct Open {
    fd: i32,
    dirflags: u32,
    path: i32,
    len: i32,
    oflags: u32,
    base: u64,
    inheriting: u64,
    fdflags: u32,
    out: i32,
}

fn path_open(c: &mut C<'_>, o: Open) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    check_out(memory, o.out, 4)?;
    let path = read_path(memory, o.path, o.len)?;
    let parent = state.contexts.wasi().fds.get(o.fd as u32)?;
    let parent_inheriting = parent.rights_inheriting;
    let parent_dir = parent.dir()?;
    let (dir, depth) = (parent_dir.dir.clone(), parent_dir.depth);
    fs::check_path(&path)?;
    let follow = follows(o.dirflags)?;
    let oflags = u16::try_from(o.oflags)
        .ok()
        .filter(|f| f & !(OFLAGS_CREAT | OFLAGS_DIRECTORY | OFLAGS_EXCL | OFLAGS_TRUNC) == 0)
        .ok_or(Errno::INVAL)?;
    let fdflags =
        u16::try_from(o.fdflags).ok().filter(|f| f & !FDFLAGS_ALL == 0).ok_or(Errno::INVAL)?;
    if !parent.can(RIGHT_PATH_OPEN)
        || (oflags & OFLAGS_CREAT != 0 && !parent.can(RIGHT_PATH_CREATE_FILE))
    {
        return Err(Errno::NOTCAPABLE.into());
    }
    // Truncating on open changes the file's size through the directory:
    // that is the directory's `PATH_FILESTAT_SET_SIZE` right, whatever
    // rights the new descriptor asks for.
    if oflags & OFLAGS_TRUNC != 0 && !parent.can(RIGHT_PATH_FILESTAT_SET_SIZE) {
        return Err(Errno::NOTCAPABLE.into());
    }
    // A descriptor gets at most what its directory passes on.
    let base = o.base & parent_inheriting;
    let inheriting = o.inheriting & parent_inheriting;
    let request = OpenRequest {
        follow,
        oflags,
        fdflags,
        read: base & RIGHT_FD_READ != 0,
        write: base & RIGHT_FD_WRITE != 0,
        path,
    };
    let out = o.out;
    offload(
        memory,
        state,
        move || fs::open(&dir, &request).map(|opened| (opened, request)),
        move |memory, state, r| {
            let (opened, request) = r?;
            let entry = match opened {
                Opened::File(file, filetype) => Entry {
                    kind: Kind::File(Arc::new(OpenFile { file, filetype })),
                    rights_base: base & RIGHTS_FILE,
                    rights_inheriting: inheriting,
                    flags: fdflags,
                },
                Opened::Dir(dir) => Entry {
                    kind: Kind::Dir(DirFd {
                        dir: Arc::new(dir),
                        preopen: None,
                        host: None,
                        depth: fs::walk(depth, std::path::Path::new(&request.path))
                            .unwrap_or(depth),
                        listing: None,
                    }),
                    rights_base: base & RIGHTS_DIR,
                    rights_inheriting: inheriting,
                    flags: fdflags,
                },
            };
            let fd = state.contexts.wasi().fds.insert(entry)?;
            guest::write_u32(memory, out as u32, fd)?;
            Ok(())
        },
    )
}

fn path_readlink(
    c: &mut C<'_>,
    fd: i32,
    ptr: i32,
    len: i32,
    buf: i32,
    buf_len: u32,
    out: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    guest::range(memory, buf as u32, buf_len)?;
    check_out(memory, out, 4)?;
    let (dir, _, path) = dir_and_path(memory, state, fd, RIGHT_PATH_READLINK, ptr, len)?;
    // cap-std refuses absolute targets: they would name host paths.
    offload(
        memory,
        state,
        move || dir.read_link(&path),
        move |memory, _, r| {
            let target = r?;
            #[cfg(unix)]
            let target = std::os::unix::ffi::OsStrExt::as_bytes(target.as_os_str());
            #[cfg(not(unix))]
            let target = target.to_str().ok_or(Errno::ILSEQ)?.as_bytes();
            // Cut to the buffer, as readlink(2) does.
            let n = target.len().min(buf_len as usize);
            guest::write(memory, buf as u32, &target[..n])?;
            guest::write_u32(memory, out as u32, n as u32)?;
            Ok(())
        },
    )
}

fn path_rename(
    c: &mut C<'_>,
    fd: i32,
    old_ptr: i32,
    old_len: i32,
    new_fd: i32,
    new_ptr: i32,
    new_len: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let (old_dir, _, old) =
        dir_and_path(memory, state, fd, RIGHT_PATH_RENAME_SOURCE, old_ptr, old_len)?;
    let (new_dir, _, new) =
        dir_and_path(memory, state, new_fd, RIGHT_PATH_RENAME_TARGET, new_ptr, new_len)?;
    offload(memory, state, move || old_dir.rename(&old, &new_dir, &new), |_, _, r| Ok(r?))
}

fn path_symlink(
    c: &mut C<'_>,
    target_ptr: i32,
    target_len: i32,
    fd: i32,
    ptr: i32,
    len: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let target = read_path(memory, target_ptr, target_len)?;
    let (dir, depth, link) = dir_and_path(memory, state, fd, RIGHT_PATH_SYMLINK, ptr, len)?;
    offload(memory, state, move || fs::symlink(&dir, depth, &target, &link), |_, _, r| Ok(r?))
}
