//! `fd_*`: operations on open descriptors.

use super::table::{Entry, Kind, OpenFile};
use super::types::*;
use super::{
    check_out, fs, gather, iovecs, iovecs_len, memory_and_state, offload, offload_outside, ret,
    scatter, Fail, WasiResult, M,
};
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::protocol::ProcessState;
use std::io::{Seek, SeekFrom};
use std::sync::Arc;
use wasmi::Caller;

type C<'a> = Caller<'a, ProcessState>;

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "fd_advise", |mut c: C<'_>, fd: i32, _offset: i64, _len: i64, advice: i32| {
        ret(fd_advise(&mut c, fd as u32, advice as u32))
    });
    host.func(M, "fd_allocate", |mut c: C<'_>, fd: i32, offset: i64, len: i64| {
        ret(fd_allocate(&mut c, fd as u32, offset as u64, len as u64))
    });
    host.func(M, "fd_close", |mut c: C<'_>, fd: i32| ret(fd_close(&mut c, fd as u32)));
    host.func(M, "fd_datasync", |mut c: C<'_>, fd: i32| ret(fd_sync(&mut c, fd as u32, true)));
    host.func(M, "fd_sync", |mut c: C<'_>, fd: i32| ret(fd_sync(&mut c, fd as u32, false)));
    host.func(M, "fd_fdstat_get", |mut c: C<'_>, fd: i32, out: i32| {
        ret(fd_fdstat_get(&mut c, fd as u32, out))
    });
    host.func(M, "fd_fdstat_set_flags", |mut c: C<'_>, fd: i32, flags: i32| {
        ret(fd_fdstat_set_flags(&mut c, fd as u32, flags as u32))
    });
    host.func(M, "fd_fdstat_set_rights", |mut c: C<'_>, fd: i32, base: i64, inheriting: i64| {
        ret(fd_fdstat_set_rights(&mut c, fd as u32, base as u64, inheriting as u64))
    });
    host.func(M, "fd_filestat_get", |mut c: C<'_>, fd: i32, out: i32| {
        ret(fd_filestat_get(&mut c, fd as u32, out))
    });
    host.func(M, "fd_filestat_set_size", |mut c: C<'_>, fd: i32, size: i64| {
        ret(fd_filestat_set_size(&mut c, fd as u32, size as u64))
    });
    host.func(
        M,
        "fd_filestat_set_times",
        |mut c: C<'_>, fd: i32, atim: i64, mtim: i64, flags: i32| {
            ret(fd_filestat_set_times(&mut c, fd as u32, atim as u64, mtim as u64, flags as u32))
        },
    );
    host.func(M, "fd_pread", |mut c: C<'_>, fd: i32, iovs: i32, n: i32, offset: i64, out: i32| {
        ret(fd_read(&mut c, fd as u32, iovs, n, Some(offset as u64), out))
    });
    host.func(M, "fd_read", |mut c: C<'_>, fd: i32, iovs: i32, n: i32, out: i32| {
        ret(fd_read(&mut c, fd as u32, iovs, n, None, out))
    });
    host.func(M, "fd_pwrite", |mut c: C<'_>, fd: i32, iovs: i32, n: i32, offset: i64, out: i32| {
        ret(fd_write(&mut c, fd as u32, iovs, n, Some(offset as u64), out))
    });
    host.func(M, "fd_write", |mut c: C<'_>, fd: i32, iovs: i32, n: i32, out: i32| {
        ret(fd_write(&mut c, fd as u32, iovs, n, None, out))
    });
    host.func(M, "fd_prestat_get", |mut c: C<'_>, fd: i32, out: i32| {
        ret(fd_prestat_get(&mut c, fd as u32, out))
    });
    host.func(M, "fd_prestat_dir_name", |mut c: C<'_>, fd: i32, path: i32, len: i32| {
        ret(fd_prestat_dir_name(&mut c, fd as u32, path, len as u32))
    });
    host.func(
        M,
        "fd_readdir",
        |mut c: C<'_>, fd: i32, buf: i32, len: i32, cookie: i64, out: i32| {
            ret(fd_readdir(&mut c, fd as u32, buf, len as u32, cookie as u64, out))
        },
    );
    host.func(M, "fd_renumber", |mut c: C<'_>, from: i32, to: i32| {
        ret(fd_renumber(&mut c, from as u32, to as u32))
    });
    host.func(M, "fd_seek", |mut c: C<'_>, fd: i32, offset: i64, whence: i32, out: i32| {
        ret(fd_seek(&mut c, fd as u32, offset, whence as u32, out))
    });
    host.func(M, "fd_tell", |mut c: C<'_>, fd: i32, out: i32| ret(fd_tell(&mut c, fd as u32, out)));
}

/// The open file behind `fd`: `ESPIPE` for the standard streams (they do
/// not seek), `EISDIR` for directories.
fn file(entry: &Entry) -> WasiResult<Arc<OpenFile>> {
    match &entry.kind {
        Kind::File(f) => Ok(f.clone()),
        Kind::Dir(_) => Err(Errno::ISDIR.into()),
        Kind::Stdin | Kind::Stdout | Kind::Stderr => Err(Errno::SPIPE.into()),
    }
}

/// Like [`file`] but for calls that need the descriptor to be writable.
fn writable_file(entry: &Entry) -> WasiResult<Arc<OpenFile>> {
    let f = file(entry)?;
    if !entry.can(RIGHT_FD_WRITE) {
        return Err(Errno::BADF.into());
    }
    Ok(f)
}

fn fd_advise(c: &mut C<'_>, fd: u32, advice: u32) -> WasiResult {
    let entry = c.data_mut().contexts.wasi().fds.get(fd)?;
    if advice > u32::from(ADVICE_NOREUSE) {
        return Err(Errno::INVAL.into());
    }
    // Advice is only a hint; the host's page cache manages itself.
    match entry.kind {
        Kind::File(_) | Kind::Dir(_) => Ok(()),
        _ => Err(Errno::SPIPE.into()),
    }
}

fn fd_allocate(c: &mut C<'_>, fd: u32, offset: u64, len: u64) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let f = writable_file(state.contexts.wasi().fds.get(fd)?)?;
    offload(memory, state, move || fs::allocate(&f.file, offset, len), |_, _, r| Ok(r?))
}

fn fd_close(c: &mut C<'_>, fd: u32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let entry = state.contexts.wasi().fds.remove(fd)?;
    match entry.kind {
        // Closing can flush (network filesystems): do it off the executor.
        Kind::File(f) => offload(memory, state, move || drop(f), |_, _, ()| Ok(())),
        _ => Ok(()),
    }
}

fn fd_sync(c: &mut C<'_>, fd: u32, data_only: bool) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    match &state.contexts.wasi().fds.get(fd)?.kind {
        Kind::File(f) => {
            let f = f.clone();
            let work = move || if data_only { f.file.sync_data() } else { f.file.sync_all() };
            offload(memory, state, work, |_, _, r| Ok(r?))
        }
        Kind::Dir(d) => {
            let dir = d.dir.clone();
            offload(memory, state, move || fs::sync_dir(&dir), |_, _, r| Ok(r?))
        }
        // As fsync on a terminal or pipe.
        _ => Err(Errno::INVAL.into()),
    }
}

fn fd_fdstat_get(c: &mut C<'_>, fd: u32, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let stat =
        encode_fdstat(entry.filetype(), entry.flags, entry.rights_base, entry.rights_inheriting);
    guest::write(memory, out as u32, &stat)?;
    Ok(())
}

fn fd_fdstat_set_flags(c: &mut C<'_>, fd: u32, flags: u32) -> WasiResult {
    let entry = c.data_mut().contexts.wasi().fds.get_mut(fd)?;
    let flags = u16::try_from(flags).ok().filter(|f| f & !FDFLAGS_ALL == 0).ok_or(Errno::INVAL)?;
    if flags == entry.flags {
        return Ok(());
    }
    // Only append and non-blocking mode can change after opening (as with
    // fcntl(F_SETFL)), and only on files: the standard streams are the
    // runtime's own and shared by all processes.
    let changeable = FDFLAGS_APPEND | FDFLAGS_NONBLOCK;
    let Kind::File(f) = &entry.kind else { return Err(Errno::NOTSUP.into()) };
    if (flags ^ entry.flags) & !changeable != 0 {
        return Err(Errno::NOTSUP.into());
    }
    set_os_flags(&f.file, flags)?;
    entry.flags = flags;
    Ok(())
}

#[cfg(unix)]
fn set_os_flags(file: &std::fs::File, flags: u16) -> WasiResult {
    use rustix::fs::OFlags;
    // fcntl on a regular file does not block.
    let mut os = rustix::fs::fcntl_getfl(file).map_err(std::io::Error::from)?;
    os.set(OFlags::APPEND, flags & FDFLAGS_APPEND != 0);
    os.set(OFlags::NONBLOCK, flags & FDFLAGS_NONBLOCK != 0);
    rustix::fs::fcntl_setfl(file, os).map_err(std::io::Error::from)?;
    Ok(())
}

#[cfg(not(unix))]
fn set_os_flags(_: &std::fs::File, _: u16) -> WasiResult {
    Err(Errno::NOTSUP.into())
}

fn fd_fdstat_set_rights(c: &mut C<'_>, fd: u32, base: u64, inheriting: u64) -> WasiResult {
    let entry = c.data_mut().contexts.wasi().fds.get_mut(fd)?;
    // Rights can only be dropped.
    if base & !entry.rights_base != 0 || inheriting & !entry.rights_inheriting != 0 {
        return Err(Errno::NOTCAPABLE.into());
    }
    entry.rights_base = base;
    entry.rights_inheriting = inheriting;
    Ok(())
}

fn fd_filestat_get(c: &mut C<'_>, fd: u32, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    check_out(memory, out, FILESTAT_SIZE)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let finish = move |memory: &mut [u8],
                       _: &mut ProcessState,
                       r: std::io::Result<Filestat>|
          -> WasiResult {
        guest::write(memory, out as u32, &r?.encode())?;
        Ok(())
    };
    match &entry.kind {
        Kind::File(f) => {
            let f = f.clone();
            offload(memory, state, move || fs::file_filestat(&f.file), finish)
        }
        Kind::Dir(d) => {
            let dir = d.dir.clone();
            offload(memory, state, move || Ok(fs::filestat(&dir.dir_metadata()?)), finish)
        }
        _ => {
            let stat = Filestat { filetype: entry.filetype(), ..Filestat::default() };
            guest::write(memory, out as u32, &stat.encode())?;
            Ok(())
        }
    }
}

fn fd_filestat_set_size(c: &mut C<'_>, fd: u32, size: u64) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let f = match &entry.kind {
        Kind::File(_) => writable_file(entry)?,
        Kind::Dir(_) => return Err(Errno::ISDIR.into()),
        _ => return Err(Errno::INVAL.into()),
    };
    offload(memory, state, move || f.file.set_len(size), |_, _, r| Ok(r?))
}

fn fd_filestat_set_times(c: &mut C<'_>, fd: u32, atim: u64, mtim: u64, flags: u32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let now = std::time::UNIX_EPOCH + state.runtime.scheduler().wall_clock();
    let flags = u16::try_from(flags).map_err(|_| Errno::INVAL)?;
    let (atime, mtime) = fs::new_times(atim, mtim, flags, now)?;
    match &state.contexts.wasi().fds.get(fd)?.kind {
        Kind::File(f) => {
            let f = f.clone();
            offload(
                memory,
                state,
                move || fs::set_file_times(&f.file, atime, mtime),
                |_, _, r| Ok(r?),
            )
        }
        Kind::Dir(d) => {
            let dir = d.dir.clone();
            let work = move || fs::set_path_times(&dir, ".", true, atime, mtime);
            offload(memory, state, work, |_, _, r| Ok(r?))
        }
        _ => Err(Errno::NOTSUP.into()),
    }
}

/// `fd_read` (at the current position) and `fd_pread` (at `offset`).
fn fd_read(c: &mut C<'_>, fd: u32, iovs: i32, n: i32, offset: Option<u64>, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let iovs = iovecs(memory, iovs as u32, n as u32)?;
    check_out(memory, out, 4)?;
    let len = iovecs_len(&iovs);
    let entry = state.contexts.wasi().fds.get(fd)?;
    if !entry.can(RIGHT_FD_READ) {
        return Err(match entry.kind {
            Kind::Dir(_) => Errno::ISDIR,
            _ => Errno::BADF,
        }
        .into());
    }
    let finish =
        move |memory: &mut [u8], _: &mut ProcessState, r: std::io::Result<Vec<u8>>| -> WasiResult {
            let data = r?;
            scatter(memory, &iovs, &data)?;
            guest::write_u32(memory, out as u32, data.len() as u32)?;
            Ok(())
        };
    match (&entry.kind, offset) {
        (Kind::Stdin, None) => {
            // The host's stdin may wait for input for ever: never on an
            // executor thread.
            let call = || crate::replay::Call::new("fd_read").arg(fd).arg(len);
            offload_outside(memory, state, call, move || fs::read_once(std::io::stdin(), len), finish)
        }
        (Kind::File(f), None) => {
            let f = f.clone();
            offload(memory, state, move || fs::read_once(&f.file, len), finish)
        }
        (Kind::File(f), Some(offset)) => {
            let f = f.clone();
            offload(memory, state, move || fs::read_at(&f.file, len, offset), finish)
        }
        (Kind::Stdin, Some(_)) => Err(Errno::SPIPE.into()),
        (Kind::Dir(_), _) => Err(Errno::ISDIR.into()),
        (Kind::Stdout | Kind::Stderr, _) => Err(Errno::BADF.into()),
    }
}

/// Writes to stdout or stderr below this size happen on the executor
/// thread; larger ones on the blocking pool.
const INLINE_STDIO_WRITE: usize = 64 << 10;

/// `fd_write` (at the current position, or the end in append mode) and
/// `fd_pwrite` (at `offset`).
fn fd_write(
    c: &mut C<'_>,
    fd: u32,
    iovs: i32,
    n: i32,
    offset: Option<u64>,
    out: i32,
) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let iovs = iovecs(memory, iovs as u32, n as u32)?;
    check_out(memory, out, 4)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    if !entry.can(RIGHT_FD_WRITE) {
        return Err(Errno::BADF.into());
    }
    let data = gather(memory, &iovs)?;
    let finish =
        move |memory: &mut [u8], _: &mut ProcessState, r: std::io::Result<usize>| -> WasiResult {
            guest::write_u32(memory, out as u32, r? as u32)?;
            Ok(())
        };
    match (&entry.kind, offset) {
        (Kind::Stdout | Kind::Stderr, None) => {
            let to_stdout = matches!(entry.kind, Kind::Stdout);
            let stdio = state.stdio.clone();
            let inline = data.len() < INLINE_STDIO_WRITE;
            let write = move || {
                let written = if to_stdout { stdio.stdout(&data) } else { stdio.stderr(&data) };
                written.map(|()| data.len())
            };
            if inline {
                // The usual line of output: cheaper in place than a hop to
                // the blocking pool.
                return finish(memory, state, write());
            }
            // A large write may block on a slow reader (a pipe to `less`):
            // not on an executor thread.
            offload(memory, state, write, finish)
        }
        (Kind::File(f), None) => {
            let f = f.clone();
            offload(memory, state, move || fs::write_counted(&f.file, &data), finish)
        }
        (Kind::File(f), Some(offset)) => {
            let f = f.clone();
            offload(memory, state, move || fs::write_at(&f.file, &data, offset), finish)
        }
        (Kind::Stdout | Kind::Stderr, Some(_)) => Err(Errno::SPIPE.into()),
        (Kind::Stdin | Kind::Dir(_), _) => Err(Errno::BADF.into()),
    }
}

fn fd_prestat_get(c: &mut C<'_>, fd: u32, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let name = preopen_name(state.contexts.wasi().fds.get(fd)?)?;
    guest::write(memory, out as u32, &encode_prestat_dir(name.len() as u32))?;
    Ok(())
}

fn fd_prestat_dir_name(c: &mut C<'_>, fd: u32, ptr: i32, len: u32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let name = preopen_name(state.contexts.wasi().fds.get(fd)?)?;
    guest::range(memory, ptr as u32, len)?;
    if (len as usize) < name.len() {
        return Err(Errno::NAMETOOLONG.into());
    }
    guest::write(memory, ptr as u32, name.as_bytes())?;
    Ok(())
}

/// The guest-visible name of a preopened directory; other descriptors are
/// `EBADF` (wasi-libc scans descriptors from 3 until it gets `EBADF`).
fn preopen_name(entry: &Entry) -> WasiResult<&str> {
    match &entry.kind {
        Kind::Dir(d) => d.preopen.as_deref().ok_or(Fail::Errno(Errno::BADF)),
        _ => Err(Errno::BADF.into()),
    }
}

fn fd_readdir(c: &mut C<'_>, fd: u32, buf: i32, len: u32, cookie: u64, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    guest::range(memory, buf as u32, len)?;
    check_out(memory, out, 4)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let Kind::Dir(d) = &entry.kind else { return Err(Errno::NOTDIR.into()) };
    if !entry.can(RIGHT_FD_READDIR) {
        return Err(Errno::NOTCAPABLE.into());
    }
    let write = move |memory: &mut [u8], listing: &[super::table::Listed]| -> WasiResult {
        let bytes = fs::encode_dirents(listing, cookie, len as usize);
        guest::write(memory, buf as u32, &bytes)?;
        guest::write_u32(memory, out as u32, bytes.len() as u32)?;
        Ok(())
    };
    // A listing is read afresh when the guest starts over (cookie 0) and
    // reused while it continues.
    if cookie != 0 {
        if let Some(listing) = &d.listing {
            return write(memory, listing);
        }
    }
    let dir = d.dir.clone();
    offload(
        memory,
        state,
        move || fs::list(&dir),
        move |memory, state, r| {
            let listing = Arc::new(r?);
            write(memory, &listing)?;
            if let Ok(Entry { kind: Kind::Dir(d), .. }) = state.contexts.wasi().fds.get_mut(fd) {
                d.listing = Some(listing);
            }
            Ok(())
        },
    )
}

fn fd_renumber(c: &mut C<'_>, from: u32, to: u32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let fds = &mut state.contexts.wasi().fds;
    fds.get(from)?;
    fds.get(to)?;
    if from == to {
        return Ok(());
    }
    let entry = fds.remove(from)?;
    let replaced = fds.put(to, entry);
    match replaced.map(|e| e.kind) {
        Some(Kind::File(f)) => offload(memory, state, move || drop(f), |_, _, ()| Ok(())),
        _ => Ok(()),
    }
}

fn fd_seek(c: &mut C<'_>, fd: u32, offset: i64, whence: u32, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    check_out(memory, out, 8)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let f = match &entry.kind {
        Kind::Dir(_) => return Err(Errno::BADF.into()),
        _ => file(entry)?,
    };
    let pos = match u8::try_from(whence).unwrap_or(u8::MAX) {
        WHENCE_SET => SeekFrom::Start(u64::try_from(offset).map_err(|_| Errno::INVAL)?),
        WHENCE_CUR => SeekFrom::Current(offset),
        WHENCE_END => SeekFrom::End(offset),
        _ => return Err(Errno::INVAL.into()),
    };
    if let SeekFrom::End(_) = pos {
        // Needs the file's size, which a network filesystem may fetch.
        let work = move || (&f.file).seek(pos);
        return offload(memory, state, work, move |memory, _, r| {
            guest::write_u64(memory, out as u32, r?)?;
            Ok(())
        });
    }
    // Setting the position is bookkeeping in the kernel: no I/O.
    let new = (&f.file).seek(pos)?;
    guest::write_u64(memory, out as u32, new)?;
    Ok(())
}

fn fd_tell(c: &mut C<'_>, fd: u32, out: i32) -> WasiResult {
    let (memory, state) = memory_and_state(c)?;
    let entry = state.contexts.wasi().fds.get(fd)?;
    let f = match &entry.kind {
        Kind::Dir(_) => return Err(Errno::BADF.into()),
        _ => file(entry)?,
    };
    let pos = (&f.file).stream_position()?;
    guest::write_u64(memory, out as u32, pos)?;
    Ok(())
}
