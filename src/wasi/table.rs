//! The per-process file descriptor table.
//!
//! 0, 1 and 2 are the standard streams, preopened directories follow from 3
//! in config order, and files or directories the guest opens take the lowest
//! free number. Host handles sit behind `Arc`s so a blocking-pool job can use
//! them while the process is suspended; one process runs one WASI call at a
//! time, so nothing else touches an entry meanwhile.

use super::types::*;
use super::Fail;
use cap_std::fs::Dir;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

/// Most descriptors one process may hold: a guest that leaks files fails
/// with `EMFILE` before it exhausts the runtime's own descriptors.
pub(crate) const MAX_FDS: usize = 16_384;

/// One open descriptor.
pub(crate) struct Entry {
    pub(crate) kind: Kind,
    pub(crate) rights_base: u64,
    pub(crate) rights_inheriting: u64,
    /// `fdflags` as the guest set them.
    pub(crate) flags: u16,
}

/// What a descriptor refers to.
pub(crate) enum Kind {
    Stdin,
    Stdout,
    Stderr,
    File(Arc<OpenFile>),
    Dir(DirFd),
}

/// An open non-directory file.
pub(crate) struct OpenFile {
    pub(crate) file: std::fs::File,
    pub(crate) filetype: u8,
}

/// An open directory.
pub(crate) struct DirFd {
    pub(crate) dir: Arc<Dir>,
    /// The guest-visible name, for preopened directories.
    pub(crate) preopen: Option<String>,
    /// Where a preopened directory is on the host (informative: grants are
    /// resolved through `dir`, never through this path).
    pub(crate) host: Option<PathBuf>,
    /// How many directories below its preopen this one is, as far as the
    /// path it was opened by tells (used to keep symlink targets inside).
    pub(crate) depth: usize,
    /// Entries read by the last `fd_readdir` with cookie 0; later cookies
    /// index into it.
    pub(crate) listing: Option<Arc<Vec<Listed>>>,
}

/// One directory entry as `fd_readdir` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub(crate) name: Vec<u8>,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
}

impl Entry {
    pub(crate) fn stdio(kind: Kind) -> Self {
        let rights = if matches!(kind, Kind::Stdin) { RIGHTS_STDIN } else { RIGHTS_STDOUT };
        Self { kind, rights_base: rights, rights_inheriting: 0, flags: 0 }
    }

    /// A preopened directory with the given rights (a root process's
    /// preopens get [`RIGHTS_DIR`] and [`RIGHTS_ALL`]).
    pub(crate) fn preopen(
        dir: Arc<Dir>,
        name: String,
        host: PathBuf,
        rights_base: u64,
        rights_inheriting: u64,
    ) -> Self {
        Self {
            kind: Kind::Dir(DirFd {
                dir,
                preopen: Some(name),
                host: Some(host),
                depth: 0,
                listing: None,
            }),
            rights_base: rights_base & RIGHTS_DIR,
            rights_inheriting: rights_inheriting & RIGHTS_ALL,
            flags: 0,
        }
    }

    /// The WASI file type of the descriptor.
    pub(crate) fn filetype(&self) -> u8 {
        match &self.kind {
            Kind::Stdin => stdio_filetype(std::io::stdin()),
            Kind::Stdout => stdio_filetype(std::io::stdout()),
            Kind::Stderr => stdio_filetype(std::io::stderr()),
            Kind::File(f) => f.filetype,
            Kind::Dir(_) => FILETYPE_DIRECTORY,
        }
    }

    pub(crate) fn can(&self, right: u64) -> bool {
        self.rights_base & right == right
    }

    /// The directory, or `ENOTDIR` for other descriptors.
    pub(crate) fn dir(&self) -> Result<&DirFd, Fail> {
        match &self.kind {
            Kind::Dir(d) => Ok(d),
            _ => Err(Fail::Errno(Errno::NOTDIR)),
        }
    }
}

/// A terminal shows as a character device (so the guest's `isatty` is
/// true); anything else (pipe, file, test capture) as unknown.
fn stdio_filetype(stream: impl std::io::IsTerminal) -> u8 {
    if stream.is_terminal() {
        FILETYPE_CHARACTER_DEVICE
    } else {
        FILETYPE_UNKNOWN
    }
}

/// Descriptor number → entry.
#[derive(Default)]
pub(crate) struct FdTable {
    entries: BTreeMap<u32, Entry>,
}

impl FdTable {
    pub(crate) fn get(&self, fd: u32) -> Result<&Entry, Fail> {
        self.entries.get(&fd).ok_or(Fail::Errno(Errno::BADF))
    }

    pub(crate) fn get_mut(&mut self, fd: u32) -> Result<&mut Entry, Fail> {
        self.entries.get_mut(&fd).ok_or(Fail::Errno(Errno::BADF))
    }

    pub(crate) fn remove(&mut self, fd: u32) -> Result<Entry, Fail> {
        self.entries.remove(&fd).ok_or(Fail::Errno(Errno::BADF))
    }

    /// Puts `entry` under `fd`, returning what was there.
    pub(crate) fn put(&mut self, fd: u32, entry: Entry) -> Option<Entry> {
        self.entries.insert(fd, entry)
    }

    /// Every open descriptor.
    pub(crate) fn entries(&self) -> impl Iterator<Item = &Entry> {
        self.entries.values()
    }

    /// Stores `entry` under the lowest free number.
    pub(crate) fn insert(&mut self, entry: Entry) -> Result<u32, Fail> {
        if self.entries.len() >= MAX_FDS {
            return Err(Fail::Errno(Errno::MFILE));
        }
        let mut fd = 0u32;
        for &used in self.entries.keys() {
            if used != fd {
                break;
            }
            fd += 1;
        }
        self.entries.insert(fd, entry);
        Ok(fd)
    }
}

/// Opens a preopened directory, sharing the handle with every live process
/// that preopened the same host directory.
///
/// Child processes usually inherit their parent's config, preopens
/// included; a handle per process would make the runtime run out of file
/// descriptors after a few thousand spawns. A directory handle carries no
/// state a process could change (listing reopens the directory), so sharing
/// is invisible to guests.
pub(crate) fn open_preopen(host: &Path) -> std::io::Result<Arc<Dir>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Weak<Dir>>>> = OnceLock::new();
    let key = std::path::absolute(host)?;
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(dir) = cache.get(&key).and_then(Weak::upgrade) {
        return Ok(dir);
    }
    let dir = Arc::new(Dir::open_ambient_dir(host, cap_std::ambient_authority())?);
    cache.retain(|_, d| d.strong_count() > 0);
    cache.insert(key, Arc::downgrade(&dir));
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lowest_free_number_is_reused() {
        let mut t = FdTable::default();
        for _ in 0..4 {
            t.insert(Entry::stdio(Kind::Stdout)).unwrap();
        }
        t.remove(1).unwrap();
        assert_eq!(t.insert(Entry::stdio(Kind::Stdout)).unwrap(), 1);
        assert_eq!(t.insert(Entry::stdio(Kind::Stdout)).unwrap(), 4);
        assert!(matches!(t.get(9), Err(Fail::Errno(Errno::BADF))));
    }

    #[test]
    fn preopens_of_the_same_directory_share_one_handle() {
        let a = open_preopen(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        let b = open_preopen(Path::new(env!("CARGO_MANIFEST_DIR"))).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(open_preopen(Path::new("/definitely/not/a/dir")).is_err());
    }
}
