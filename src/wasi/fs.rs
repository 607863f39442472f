//! Host file operations behind the WASI calls, confined with cap-std.
//!
//! Everything here may block and runs on the blocking pool. Every path is
//! resolved by cap-std relative to a `Dir`, which refuses `..` past it,
//! absolute paths and symlinks that lead outside it (reported as
//! `PermissionDenied` without an OS code, i.e. `ENOTCAPABLE`).

use super::table::Listed;
use super::types::*;
use cap_fs_ext::{
    DirExt, FollowSymlinks, OpenOptionsFollowExt, OpenOptionsMaybeDirExt, OpenOptionsSyncExt,
    SystemTimeSpec,
};
use cap_std::fs::{Dir, Metadata, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Component, Path};
use std::time::{SystemTime, UNIX_EPOCH};

/// Refuses paths no sandboxed lookup accepts, before any host call:
/// empty (`ENOENT`), with a NUL byte (`EINVAL`), or absolute (`ENOTCAPABLE`:
/// wasi-libc resolves absolute paths against the preopens itself).
pub(crate) fn check_path(path: &str) -> Result<(), Errno> {
    if path.is_empty() {
        Err(Errno::NOENT)
    } else if path.contains('\0') {
        Err(Errno::INVAL)
    } else if path.starts_with('/') || Path::new(path).has_root() {
        Err(Errno::NOTCAPABLE)
    } else {
        Ok(())
    }
}

/// A `path_open` request.
#[derive(Debug, Clone)]
pub(crate) struct OpenRequest {
    pub(crate) path: String,
    pub(crate) follow: bool,
    pub(crate) oflags: u16,
    pub(crate) fdflags: u16,
    pub(crate) read: bool,
    pub(crate) write: bool,
}

/// What `path_open` opened.
pub(crate) enum Opened {
    File(std::fs::File, u8),
    Dir(Dir),
}

fn errno(e: Errno) -> io::Error {
    // Only used to carry an errno through io::Result; see `errno::from_io`.
    match e {
        Errno::INVAL => io::Error::from(io::ErrorKind::InvalidInput),
        Errno::ISDIR => io::Error::from(io::ErrorKind::IsADirectory),
        Errno::NOTSUP => io::Error::from(io::ErrorKind::Unsupported),
        Errno::NOENT => io::Error::from(io::ErrorKind::NotFound),
        #[cfg(unix)]
        Errno::LOOP => io::Error::from_raw_os_error(libc::ELOOP),
        Errno::NOTCAPABLE => {
            io::Error::new(io::ErrorKind::PermissionDenied, "path leads outside the sandbox")
        }
        _ => io::Error::other(format!("WASI errno {}", e.0)),
    }
}

/// Opens a file or directory relative to `dir`.
///
/// The rights checks that need the directory descriptor (`O_TRUNC` needs
/// `PATH_FILESTAT_SET_SIZE`) are done by the caller; here the request is
/// mapped onto the host's open:
///
/// * A directory asked for with write access (`FD_WRITE`, or the `APPEND`
///   flag) is `EISDIR`, with `O_DIRECTORY` or without, as `open(2)` says.
/// * `O_TRUNC` truncates even when the descriptor gets no write right (the
///   directory's `PATH_FILESTAT_SET_SIZE` right is what allows it): the host
///   file is then opened writable, and the descriptor's rights keep the
///   guest from writing through it.
/// * `O_TRUNC` with `APPEND` (C's `O_CREAT|O_TRUNC|O_WRONLY|O_APPEND`): std
///   refuses append together with truncate, so the file is opened for
///   appending and then cut to length 0 through the same handle.
pub(crate) fn open(dir: &Dir, req: &OpenRequest) -> io::Result<Opened> {
    let creat = req.oflags & OFLAGS_CREAT != 0;
    let excl = req.oflags & OFLAGS_EXCL != 0;
    let trunc = req.oflags & OFLAGS_TRUNC != 0;
    let append = req.fdflags & FDFLAGS_APPEND != 0;
    let write = req.write || append;
    if req.oflags & OFLAGS_DIRECTORY != 0 {
        if creat || trunc {
            return Err(errno(Errno::INVAL));
        }
        let opened =
            if req.follow { dir.open_dir(&req.path) } else { dir.open_dir_nofollow(&req.path) };
        let opened = opened?;
        // Checked after opening, so that a missing path or a file stays
        // ENOENT / ENOTDIR.
        if write {
            return Err(errno(Errno::ISDIR));
        }
        return Ok(Opened::Dir(opened));
    }
    // The host handle needs write access to truncate.
    let host_write = write || trunc;
    let cut_after_open = trunc && append;
    let mut options = OpenOptions::new();
    options
        .read(req.read || !write)
        .write(host_write)
        .append(append)
        .truncate(trunc && !cut_after_open)
        .create(creat && !excl)
        .create_new(creat && excl)
        .follow(if req.follow { FollowSymlinks::Yes } else { FollowSymlinks::No })
        .maybe_dir(!host_write)
        .dsync(req.fdflags & FDFLAGS_DSYNC != 0)
        .rsync(req.fdflags & FDFLAGS_RSYNC != 0)
        .sync(req.fdflags & FDFLAGS_SYNC != 0);
    let file = match dir.open_with(&req.path, &options) {
        Ok(file) => file,
        // POSIX lets O_CREAT go with read-only access, std does not: ask
        // for write access too (the descriptor has no write right), and if
        // that is refused, fall back to opening the existing file.
        Err(e) if creat && !host_write && e.kind() == io::ErrorKind::InvalidInput => {
            let mut rw = options.clone();
            rw.write(true).maybe_dir(false);
            match dir.open_with(&req.path, &rw) {
                Ok(file) => file,
                Err(e) if !excl && e.kind() == io::ErrorKind::PermissionDenied => {
                    let mut ro = options.clone();
                    ro.create(false).create_new(false);
                    dir.open_with(&req.path, &ro)?
                }
                Err(e) => return Err(e),
            }
        }
        Err(e) => return Err(e),
    };
    let file = file.into_std();
    let meta = Metadata::from_file(&file)?;
    if meta.is_dir() {
        if write {
            return Err(errno(Errno::ISDIR));
        }
        return Ok(Opened::Dir(Dir::from_std_file(file)));
    }
    if cut_after_open && meta.is_file() {
        file.set_len(0)?;
    }
    Ok(Opened::File(file, filetype(&meta)))
}

/// The WASI file type of host metadata.
pub(crate) fn filetype(meta: &Metadata) -> u8 {
    use cap_fs_ext::FileTypeExt as _;
    let ft = meta.file_type();
    if ft.is_dir() {
        FILETYPE_DIRECTORY
    } else if ft.is_file() {
        FILETYPE_REGULAR_FILE
    } else if ft.is_symlink() {
        FILETYPE_SYMBOLIC_LINK
    } else if ft.is_char_device() {
        FILETYPE_CHARACTER_DEVICE
    } else if ft.is_block_device() {
        FILETYPE_BLOCK_DEVICE
    } else if ft.is_socket() {
        FILETYPE_SOCKET_STREAM
    } else {
        FILETYPE_UNKNOWN
    }
}

fn time_nanos(time: io::Result<cap_std::time::SystemTime>) -> u64 {
    time.ok()
        .and_then(|t| t.into_std().duration_since(UNIX_EPOCH).ok())
        .map_or(0, super::clock::nanos)
}

/// `filestat` of host metadata.
pub(crate) fn filestat(meta: &Metadata) -> Filestat {
    let mut st = Filestat {
        filetype: filetype(meta),
        size: meta.len(),
        atim: time_nanos(meta.accessed()),
        mtim: time_nanos(meta.modified()),
        ..Filestat::default()
    };
    #[cfg(unix)]
    {
        use cap_std::fs::MetadataExt as _;
        st.dev = meta.dev();
        st.ino = meta.ino();
        st.nlink = meta.nlink();
        let secs = u64::try_from(meta.ctime()).unwrap_or(0);
        st.ctim = secs.saturating_mul(1_000_000_000).saturating_add(meta.ctime_nsec() as u64);
    }
    #[cfg(not(unix))]
    {
        st.nlink = 1;
        st.ctim = time_nanos(meta.created());
    }
    st
}

/// `filestat` of an open file.
pub(crate) fn file_filestat(file: &std::fs::File) -> io::Result<Filestat> {
    Ok(filestat(&Metadata::from_file(file)?))
}

/// `filestat` of the path, following a final symlink if `follow`.
pub(crate) fn path_filestat(dir: &Dir, path: &str, follow: bool) -> io::Result<Filestat> {
    let meta = if follow { dir.metadata(path)? } else { dir.symlink_metadata(path)? };
    Ok(filestat(&meta))
}

/// The entries of a directory for `fd_readdir`, `.` and `..` first.
pub(crate) fn list(dir: &Dir) -> io::Result<Vec<Listed>> {
    #[cfg(unix)]
    let ino = |m: io::Result<Metadata>| m.map_or(0, |m| cap_std::fs::MetadataExt::ino(&m));
    #[cfg(not(unix))]
    let ino = |_: io::Result<Metadata>| 0u64;
    let mut out = vec![
        Listed { name: b".".to_vec(), ino: ino(dir.dir_metadata()), filetype: FILETYPE_DIRECTORY },
        // At a preopen's root `..` is outside the sandbox: no inode then.
        Listed { name: b"..".to_vec(), ino: ino(dir.metadata("..")), filetype: FILETYPE_DIRECTORY },
    ];
    for entry in dir.entries()? {
        let entry = entry?;
        let name = entry.file_name();
        #[cfg(unix)]
        let (name, ino) = {
            use std::os::unix::ffi::OsStrExt as _;
            use std::os::unix::fs::DirEntryExt as _;
            (name.as_bytes().to_vec(), entry.ino())
        };
        #[cfg(not(unix))]
        let (name, ino) = (name.to_string_lossy().into_owned().into_bytes(), 0);
        let filetype = match entry.file_type() {
            Ok(ft) if ft.is_dir() => FILETYPE_DIRECTORY,
            Ok(ft) if ft.is_file() => FILETYPE_REGULAR_FILE,
            Ok(ft) if ft.is_symlink() => FILETYPE_SYMBOLIC_LINK,
            Ok(_) => entry.metadata().map_or(FILETYPE_UNKNOWN, |m| filetype(&m)),
            // Removed since the directory was read: skip it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        out.push(Listed { name, ino, filetype });
    }
    Ok(out)
}

/// Serializes entries from `cookie` on as `dirent`s into at most `buf_len`
/// bytes; the last one is cut if it does not fit (the guest then knows to
/// retry with a larger buffer).
pub(crate) fn encode_dirents(listing: &[Listed], cookie: u64, buf_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let start = usize::try_from(cookie).unwrap_or(usize::MAX);
    for (i, entry) in listing.iter().enumerate().skip(start) {
        if out.len() >= buf_len {
            break;
        }
        push_dirent(&mut out, i as u64 + 1, entry.ino, entry.filetype, &entry.name);
    }
    out.truncate(buf_len);
    out
}

/// Whether a symlink at `link` (relative to a directory `depth` levels below
/// its preopen) whose target is `target` resolves inside the preopen, judged
/// by the names alone.
pub(crate) fn symlink_stays_inside(depth: usize, link: &str, target: &str) -> bool {
    let parent = Path::new(link).parent().unwrap_or(Path::new(""));
    let Some(at) = walk(depth, parent) else { return false };
    !Path::new(target).has_root()
        && !target.starts_with('/')
        && walk(at, Path::new(target)).is_some()
}

/// The depth reached from `depth` by following `path`'s components, `None`
/// if it climbs above the preopen.
pub(crate) fn walk(depth: usize, path: &Path) -> Option<usize> {
    let mut depth = depth;
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir => depth = depth.checked_sub(1)?,
            Component::Normal(_) => depth += 1,
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(depth)
}

/// A new time for `*_set_times`: `None` leaves it unchanged.
pub(crate) type NewTime = Option<SystemTime>;

/// Decodes `fstflags` into new access and modification times; `now` is the
/// scheduler's wall clock.
pub(crate) fn new_times(
    atim: u64,
    mtim: u64,
    flags: u16,
    now: SystemTime,
) -> Result<(NewTime, NewTime), Errno> {
    let pick = |value: u64, set: u16, set_now: u16| -> Result<NewTime, Errno> {
        match (flags & set != 0, flags & set_now != 0) {
            (true, true) => Err(Errno::INVAL),
            (true, false) => Ok(Some(UNIX_EPOCH + std::time::Duration::from_nanos(value))),
            (false, true) => Ok(Some(now)),
            (false, false) => Ok(None),
        }
    };
    if flags & !(FSTFLAGS_ATIM | FSTFLAGS_ATIM_NOW | FSTFLAGS_MTIM | FSTFLAGS_MTIM_NOW) != 0 {
        return Err(Errno::INVAL);
    }
    Ok((
        pick(atim, FSTFLAGS_ATIM, FSTFLAGS_ATIM_NOW)?,
        pick(mtim, FSTFLAGS_MTIM, FSTFLAGS_MTIM_NOW)?,
    ))
}

/// Sets the times of an open file.
pub(crate) fn set_file_times(
    file: &std::fs::File,
    atime: NewTime,
    mtime: NewTime,
) -> io::Result<()> {
    let mut times = std::fs::FileTimes::new();
    if let Some(t) = atime {
        times = times.set_accessed(t);
    }
    if let Some(t) = mtime {
        times = times.set_modified(t);
    }
    file.set_times(times)
}

/// Sets the times of a path (of the symlink itself unless `follow`).
pub(crate) fn set_path_times(
    dir: &Dir,
    path: &str,
    follow: bool,
    atime: NewTime,
    mtime: NewTime,
) -> io::Result<()> {
    let spec =
        |t: NewTime| t.map(|t| SystemTimeSpec::Absolute(cap_std::time::SystemTime::from_std(t)));
    if follow {
        dir.set_times(path, spec(atime), spec(mtime))
    } else {
        #[cfg(unix)]
        return dir.set_symlink_times(path, spec(atime), spec(mtime));
        #[cfg(not(unix))]
        Err(errno(Errno::NOTSUP))
    }
}

/// Creates a symlink at `link` with contents `target`, only if the target
/// stays inside the preopen (see [`symlink_stays_inside`]).
pub(crate) fn symlink(dir: &Dir, depth: usize, target: &str, link: &str) -> io::Result<()> {
    if target.is_empty() {
        return Err(errno(Errno::NOENT));
    }
    if !symlink_stays_inside(depth, link, target) {
        return Err(errno(Errno::NOTCAPABLE));
    }
    dir.symlink(target, link)
}

/// Most symlinks followed to resolve one path, as Linux's `MAXSYMLINKS`.
const MAX_SYMLINK_HOPS: usize = 40;

/// Creates a hard link to `old`. With `follow` (`LOOKUPFLAGS_SYMLINK_FOLLOW`,
/// `linkat(AT_SYMLINK_FOLLOW)`) a symlink at `old` is resolved first and the
/// link points to what it names: a dangling symlink is `ENOENT`, a loop
/// `ELOOP`. Without `follow` the new link is a second name of the symlink
/// itself. Resolution goes through `old_dir` step by step, so a symlink
/// leading outside the sandbox fails as any other path would (`ENOTCAPABLE`).
pub(crate) fn hard_link(
    old_dir: &Dir,
    old: &str,
    follow: bool,
    new_dir: &Dir,
    new: &str,
) -> io::Result<()> {
    let mut source = std::path::PathBuf::from(old);
    if follow {
        let mut hops = 0;
        while old_dir.symlink_metadata(&source)?.is_symlink() {
            hops += 1;
            if hops > MAX_SYMLINK_HOPS {
                return Err(errno(Errno::LOOP));
            }
            let target = old_dir.read_link(&source)?;
            if target.has_root() {
                return Err(errno(Errno::NOTCAPABLE));
            }
            source = source.parent().unwrap_or(Path::new("")).join(target);
        }
    }
    old_dir.hard_link(&source, new_dir, new)
}

/// Writes all of `data` unless an error comes first; returns how much was
/// written (an error after a partial write is reported as the short count).
pub(crate) fn write_counted(mut out: impl Write, data: &[u8]) -> io::Result<usize> {
    let mut done = 0;
    while done < data.len() {
        match out.write(&data[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) if done > 0 => break,
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

/// One read of up to `len` bytes.
pub(crate) fn read_once(mut input: impl Read, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let n = loop {
        match input.read(&mut buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => break other?,
        }
    };
    buf.truncate(n);
    Ok(buf)
}

/// Positioned read (the file position is unchanged).
pub(crate) fn read_at(file: &std::fs::File, len: usize, offset: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    #[cfg(unix)]
    let n = std::os::unix::fs::FileExt::read_at(file, &mut buf, offset)?;
    #[cfg(windows)]
    let n = std::os::windows::fs::FileExt::seek_read(file, &mut buf, offset)?;
    #[cfg(not(any(unix, windows)))]
    let n = {
        let _ = (file, offset);
        return Err(errno(Errno::NOTSUP));
    };
    buf.truncate(n);
    Ok(buf)
}

/// Positioned write (the file position is unchanged).
///
/// On a descriptor in append mode Linux's `pwrite` ignores the offset and
/// appends; WASI (like POSIX) writes at the offset, so append mode is
/// switched off around the write. Only this process's WASI call uses the
/// handle meanwhile (one call at a time per process), so nobody sees the
/// flag change.
pub(crate) fn write_at(file: &std::fs::File, data: &[u8], offset: u64) -> io::Result<usize> {
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        let flags = rustix::fs::fcntl_getfl(file)?;
        if !flags.contains(OFlags::APPEND) {
            return std::os::unix::fs::FileExt::write_at(file, data, offset);
        }
        rustix::fs::fcntl_setfl(file, flags - OFlags::APPEND)?;
        let written = std::os::unix::fs::FileExt::write_at(file, data, offset);
        let restored = rustix::fs::fcntl_setfl(file, flags);
        let written = written?;
        restored?;
        Ok(written)
    }
    #[cfg(windows)]
    return std::os::windows::fs::FileExt::seek_write(file, data, offset);
    #[cfg(not(any(unix, windows)))]
    {
        let _ = (file, data, offset);
        Err(errno(Errno::NOTSUP))
    }
}

/// `fd_allocate`: makes sure the file is at least `offset + len` long.
pub(crate) fn allocate(file: &std::fs::File, offset: u64, len: u64) -> io::Result<()> {
    let end =
        offset.checked_add(len).ok_or_else(|| io::Error::from(io::ErrorKind::FileTooLarge))?;
    if file.metadata()?.len() < end {
        file.set_len(end)?;
    }
    Ok(())
}

/// Flushes a directory to storage.
pub(crate) fn sync_dir(dir: &Dir) -> io::Result<()> {
    dir.try_clone()?.into_std_file().sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh directory tree: `root/box` is the sandbox, `root/secret.txt`
    /// lies outside it. Removed on drop.
    struct Scratch {
        root: std::path::PathBuf,
        dir: Dir,
    }

    impl Scratch {
        fn new() -> Self {
            static N: AtomicUsize = AtomicUsize::new(0);
            let root = std::env::temp_dir().join(format!(
                "lunatic-wasi-test-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            let _ = std::fs::remove_dir_all(&root);
            std::fs::create_dir_all(root.join("box/sub")).unwrap();
            std::fs::write(root.join("secret.txt"), "secret").unwrap();
            std::fs::write(root.join("box/inside.txt"), "inside").unwrap();
            let dir =
                Dir::open_ambient_dir(root.join("box"), cap_std::ambient_authority()).unwrap();
            Self { root, dir }
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn read(path: &str) -> OpenRequest {
        OpenRequest {
            path: path.into(),
            follow: true,
            oflags: 0,
            fdflags: 0,
            read: true,
            write: false,
        }
    }

    fn create(path: &str) -> OpenRequest {
        OpenRequest { oflags: OFLAGS_CREAT | OFLAGS_TRUNC, write: true, ..read(path) }
    }

    fn open_errno(dir: &Dir, req: &OpenRequest) -> Errno {
        match open(dir, req) {
            Ok(_) => Errno::SUCCESS,
            Err(e) => super::super::errno::from_io(&e),
        }
    }

    fn contents(opened: Opened) -> String {
        let Opened::File(mut f, _) = opened else { panic!("not a file") };
        let mut s = String::new();
        f.read_to_string(&mut s).unwrap();
        s
    }

    #[test]
    fn paths_inside_the_sandbox_work() {
        let s = Scratch::new();
        assert_eq!(contents(open(&s.dir, &read("inside.txt")).unwrap()), "inside");
        assert_eq!(contents(open(&s.dir, &read("sub/../inside.txt")).unwrap()), "inside");
        assert_eq!(contents(open(&s.dir, &read("./sub/./../inside.txt")).unwrap()), "inside");
        assert!(matches!(open(&s.dir, &read("sub")).unwrap(), Opened::Dir(_)));
        let dir_req = OpenRequest { oflags: OFLAGS_DIRECTORY, ..read("sub") };
        assert!(matches!(open(&s.dir, &dir_req).unwrap(), Opened::Dir(_)));
        assert_eq!(
            open_errno(&s.dir, &OpenRequest { oflags: OFLAGS_DIRECTORY, ..read("inside.txt") }),
            Errno::NOTDIR
        );
        assert_eq!(open_errno(&s.dir, &read("missing")), Errno::NOENT);
        let Opened::File(mut f, ft) = open(&s.dir, &create("sub/new.txt")).unwrap() else {
            panic!()
        };
        assert_eq!(ft, FILETYPE_REGULAR_FILE);
        f.write_all(b"new").unwrap();
        assert_eq!(std::fs::read_to_string(s.root.join("box/sub/new.txt")).unwrap(), "new");
        let excl = OpenRequest { oflags: OFLAGS_CREAT | OFLAGS_EXCL, ..create("sub/new.txt") };
        assert_eq!(open_errno(&s.dir, &excl), Errno::EXIST);
        // O_CREAT with read-only access (POSIX allows it, std does not).
        let ro_create = OpenRequest { oflags: OFLAGS_CREAT, ..read("sub/created-ro.txt") };
        assert!(matches!(open(&s.dir, &ro_create).unwrap(), Opened::File(..)));
        assert!(s.root.join("box/sub/created-ro.txt").exists());
        assert_eq!(
            contents(
                open(&s.dir, &OpenRequest { oflags: OFLAGS_CREAT, ..read("inside.txt") }).unwrap()
            ),
            "inside"
        );
    }

    #[test]
    fn dot_dot_past_the_root_and_absolute_paths_are_refused() {
        let s = Scratch::new();
        assert_eq!(check_path("/etc/passwd"), Err(Errno::NOTCAPABLE));
        assert_eq!(check_path(""), Err(Errno::NOENT));
        assert_eq!(check_path("a\0b"), Err(Errno::INVAL));
        assert_eq!(check_path("a/../b"), Ok(()));
        for path in ["../secret.txt", "sub/../../secret.txt", "..", "sub/../.."] {
            assert_eq!(open_errno(&s.dir, &read(path)), Errno::NOTCAPABLE, "{path}");
        }
        // Nothing is created outside either.
        assert_eq!(open_errno(&s.dir, &create("../escaped.txt")), Errno::NOTCAPABLE);
        assert!(!s.root.join("escaped.txt").exists());
        let e = s.dir.create_dir("../escaped-dir").unwrap_err();
        assert_eq!(super::super::errno::from_io(&e), Errno::NOTCAPABLE);
        assert!(path_filestat(&s.dir, "../secret.txt", true).is_err());
        assert!(s.dir.remove_file("../secret.txt").is_err());
        assert!(s.root.join("secret.txt").exists());
    }

    #[cfg(unix)]
    #[test]
    fn symlinks_leading_outside_are_refused() {
        let s = Scratch::new();
        let b = s.root.join("box");
        std::os::unix::fs::symlink("inside.txt", b.join("link-inside")).unwrap();
        std::os::unix::fs::symlink("../secret.txt", b.join("link-rel")).unwrap();
        std::os::unix::fs::symlink(s.root.join("secret.txt"), b.join("link-abs")).unwrap();
        std::os::unix::fs::symlink("..", b.join("sub/up")).unwrap();
        std::os::unix::fs::symlink("../..", b.join("sub/upup")).unwrap();
        assert_eq!(contents(open(&s.dir, &read("link-inside")).unwrap()), "inside");
        assert_eq!(contents(open(&s.dir, &read("sub/up/inside.txt")).unwrap()), "inside");
        for path in ["link-rel", "link-abs", "sub/upup/secret.txt", "sub/upup"] {
            assert_eq!(open_errno(&s.dir, &read(path)), Errno::NOTCAPABLE, "{path}");
        }
        // Writing through an escaping link does not touch the target.
        assert_eq!(open_errno(&s.dir, &create("link-rel")), Errno::NOTCAPABLE);
        assert_eq!(std::fs::read_to_string(s.root.join("secret.txt")).unwrap(), "secret");
        assert!(path_filestat(&s.dir, "link-abs", true).is_err());
        // Without following, the link itself is visible.
        assert_eq!(
            path_filestat(&s.dir, "link-abs", false).unwrap().filetype,
            FILETYPE_SYMBOLIC_LINK
        );
        let nofollow = OpenRequest { follow: false, ..read("link-inside") };
        assert_eq!(open_errno(&s.dir, &nofollow), Errno::LOOP);
    }

    #[cfg(unix)]
    #[test]
    fn created_symlinks_must_stay_inside() {
        let s = Scratch::new();
        symlink(&s.dir, 0, "inside.txt", "ok1").unwrap();
        symlink(&s.dir, 0, "../inside.txt", "sub/ok2").unwrap();
        assert_eq!(contents(open(&s.dir, &read("sub/ok2")).unwrap()), "inside");
        for (target, link) in [
            ("../secret.txt", "bad1"),
            ("/etc/passwd", "bad2"),
            ("../../x", "sub/bad3"),
            ("sub/../../x", "bad4"),
        ] {
            let e = symlink(&s.dir, 0, target, link).unwrap_err();
            assert_eq!(super::super::errno::from_io(&e), Errno::NOTCAPABLE, "{target}");
        }
        // One level down the same target is fine.
        assert!(symlink_stays_inside(1, "l", "../x"));
        assert!(!symlink_stays_inside(0, "../l", "x"));
        assert!(!s.root.join("box/bad1").exists());
    }

    #[test]
    fn listing_includes_dot_entries_and_cookies_resume() {
        let s = Scratch::new();
        let listing = list(&s.dir).unwrap();
        let mut names: Vec<&[u8]> = listing.iter().map(|l| &l.name[..]).collect();
        names.sort();
        assert_eq!(names, [&b"."[..], b"..", b"inside.txt", b"sub"]);
        let all = encode_dirents(&listing, 0, 4096);
        assert_eq!(all.len(), 4 * DIRENT_SIZE + 1 + 2 + 10 + 3);
        // A small buffer is filled completely (last entry cut).
        assert_eq!(encode_dirents(&listing, 0, 30).len(), 30);
        // Resuming after the second entry yields the last two.
        let rest = encode_dirents(&listing, 2, 4096);
        assert_eq!(u64::from_le_bytes(rest[0..8].try_into().unwrap()), 3);
        assert!(encode_dirents(&listing, 4, 4096).is_empty());
        assert!(encode_dirents(&listing, u64::MAX, 4096).is_empty());
    }

    #[test]
    fn set_times_flags_are_validated() {
        let now = UNIX_EPOCH + std::time::Duration::from_secs(1000);
        assert_eq!(new_times(5, 6, 0, now), Ok((None, None)));
        assert_eq!(
            new_times(5, 6, FSTFLAGS_ATIM | FSTFLAGS_MTIM_NOW, now),
            Ok((Some(UNIX_EPOCH + std::time::Duration::from_nanos(5)), Some(now)))
        );
        assert_eq!(new_times(5, 6, FSTFLAGS_ATIM | FSTFLAGS_ATIM_NOW, now), Err(Errno::INVAL));
        assert_eq!(new_times(5, 6, 1 << 7, now), Err(Errno::INVAL));
    }
}
