//! The preview1 ABI: numeric constants and the byte layout of the structs
//! exchanged with the guest (all little-endian, offsets from the witx
//! definitions of `wasi_snapshot_preview1`).

#![allow(dead_code)] // the full set of ABI names, not all of them used

/// A WASI error number, returned by every preview1 function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Errno(pub(crate) u16);

impl Errno {
    pub(crate) const SUCCESS: Errno = Errno(0);
    pub(crate) const TOOBIG: Errno = Errno(1);
    pub(crate) const ACCES: Errno = Errno(2);
    pub(crate) const ADDRINUSE: Errno = Errno(3);
    pub(crate) const ADDRNOTAVAIL: Errno = Errno(4);
    pub(crate) const AFNOSUPPORT: Errno = Errno(5);
    pub(crate) const AGAIN: Errno = Errno(6);
    pub(crate) const ALREADY: Errno = Errno(7);
    pub(crate) const BADF: Errno = Errno(8);
    pub(crate) const BADMSG: Errno = Errno(9);
    pub(crate) const BUSY: Errno = Errno(10);
    pub(crate) const CANCELED: Errno = Errno(11);
    pub(crate) const CHILD: Errno = Errno(12);
    pub(crate) const CONNABORTED: Errno = Errno(13);
    pub(crate) const CONNREFUSED: Errno = Errno(14);
    pub(crate) const CONNRESET: Errno = Errno(15);
    pub(crate) const DEADLK: Errno = Errno(16);
    pub(crate) const DESTADDRREQ: Errno = Errno(17);
    pub(crate) const DOM: Errno = Errno(18);
    pub(crate) const DQUOT: Errno = Errno(19);
    pub(crate) const EXIST: Errno = Errno(20);
    pub(crate) const FAULT: Errno = Errno(21);
    pub(crate) const FBIG: Errno = Errno(22);
    pub(crate) const HOSTUNREACH: Errno = Errno(23);
    pub(crate) const IDRM: Errno = Errno(24);
    pub(crate) const ILSEQ: Errno = Errno(25);
    pub(crate) const INPROGRESS: Errno = Errno(26);
    pub(crate) const INTR: Errno = Errno(27);
    pub(crate) const INVAL: Errno = Errno(28);
    pub(crate) const IO: Errno = Errno(29);
    pub(crate) const ISCONN: Errno = Errno(30);
    pub(crate) const ISDIR: Errno = Errno(31);
    pub(crate) const LOOP: Errno = Errno(32);
    pub(crate) const MFILE: Errno = Errno(33);
    pub(crate) const MLINK: Errno = Errno(34);
    pub(crate) const MSGSIZE: Errno = Errno(35);
    pub(crate) const MULTIHOP: Errno = Errno(36);
    pub(crate) const NAMETOOLONG: Errno = Errno(37);
    pub(crate) const NETDOWN: Errno = Errno(38);
    pub(crate) const NETRESET: Errno = Errno(39);
    pub(crate) const NETUNREACH: Errno = Errno(40);
    pub(crate) const NFILE: Errno = Errno(41);
    pub(crate) const NOBUFS: Errno = Errno(42);
    pub(crate) const NODEV: Errno = Errno(43);
    pub(crate) const NOENT: Errno = Errno(44);
    pub(crate) const NOEXEC: Errno = Errno(45);
    pub(crate) const NOLCK: Errno = Errno(46);
    pub(crate) const NOLINK: Errno = Errno(47);
    pub(crate) const NOMEM: Errno = Errno(48);
    pub(crate) const NOMSG: Errno = Errno(49);
    pub(crate) const NOPROTOOPT: Errno = Errno(50);
    pub(crate) const NOSPC: Errno = Errno(51);
    pub(crate) const NOSYS: Errno = Errno(52);
    pub(crate) const NOTCONN: Errno = Errno(53);
    pub(crate) const NOTDIR: Errno = Errno(54);
    pub(crate) const NOTEMPTY: Errno = Errno(55);
    pub(crate) const NOTRECOVERABLE: Errno = Errno(56);
    pub(crate) const NOTSOCK: Errno = Errno(57);
    pub(crate) const NOTSUP: Errno = Errno(58);
    pub(crate) const NOTTY: Errno = Errno(59);
    pub(crate) const NXIO: Errno = Errno(60);
    pub(crate) const OVERFLOW: Errno = Errno(61);
    pub(crate) const OWNERDEAD: Errno = Errno(62);
    pub(crate) const PERM: Errno = Errno(63);
    pub(crate) const PIPE: Errno = Errno(64);
    pub(crate) const PROTO: Errno = Errno(65);
    pub(crate) const PROTONOSUPPORT: Errno = Errno(66);
    pub(crate) const PROTOTYPE: Errno = Errno(67);
    pub(crate) const RANGE: Errno = Errno(68);
    pub(crate) const ROFS: Errno = Errno(69);
    pub(crate) const SPIPE: Errno = Errno(70);
    pub(crate) const SRCH: Errno = Errno(71);
    pub(crate) const STALE: Errno = Errno(72);
    pub(crate) const TIMEDOUT: Errno = Errno(73);
    pub(crate) const TXTBSY: Errno = Errno(74);
    pub(crate) const XDEV: Errno = Errno(75);
    pub(crate) const NOTCAPABLE: Errno = Errno(76);
}

// --- filetype (u8) ---
pub(crate) const FILETYPE_UNKNOWN: u8 = 0;
pub(crate) const FILETYPE_BLOCK_DEVICE: u8 = 1;
pub(crate) const FILETYPE_CHARACTER_DEVICE: u8 = 2;
pub(crate) const FILETYPE_DIRECTORY: u8 = 3;
pub(crate) const FILETYPE_REGULAR_FILE: u8 = 4;
pub(crate) const FILETYPE_SOCKET_DGRAM: u8 = 5;
pub(crate) const FILETYPE_SOCKET_STREAM: u8 = 6;
pub(crate) const FILETYPE_SYMBOLIC_LINK: u8 = 7;

// --- fdflags (u16) ---
pub(crate) const FDFLAGS_APPEND: u16 = 1 << 0;
pub(crate) const FDFLAGS_DSYNC: u16 = 1 << 1;
pub(crate) const FDFLAGS_NONBLOCK: u16 = 1 << 2;
pub(crate) const FDFLAGS_RSYNC: u16 = 1 << 3;
pub(crate) const FDFLAGS_SYNC: u16 = 1 << 4;
pub(crate) const FDFLAGS_ALL: u16 = (1 << 5) - 1;

// --- oflags (u16) ---
pub(crate) const OFLAGS_CREAT: u16 = 1 << 0;
pub(crate) const OFLAGS_DIRECTORY: u16 = 1 << 1;
pub(crate) const OFLAGS_EXCL: u16 = 1 << 2;
pub(crate) const OFLAGS_TRUNC: u16 = 1 << 3;

// --- lookupflags (u32) ---
pub(crate) const LOOKUPFLAGS_SYMLINK_FOLLOW: u32 = 1 << 0;

// --- fstflags (u16) ---
pub(crate) const FSTFLAGS_ATIM: u16 = 1 << 0;
pub(crate) const FSTFLAGS_ATIM_NOW: u16 = 1 << 1;
pub(crate) const FSTFLAGS_MTIM: u16 = 1 << 2;
pub(crate) const FSTFLAGS_MTIM_NOW: u16 = 1 << 3;

// --- whence (u8) ---
pub(crate) const WHENCE_SET: u8 = 0;
pub(crate) const WHENCE_CUR: u8 = 1;
pub(crate) const WHENCE_END: u8 = 2;

// --- clockid (u32) ---
pub(crate) const CLOCK_REALTIME: u32 = 0;
pub(crate) const CLOCK_MONOTONIC: u32 = 1;
pub(crate) const CLOCK_PROCESS_CPUTIME_ID: u32 = 2;
pub(crate) const CLOCK_THREAD_CPUTIME_ID: u32 = 3;

// --- advice (u8) ---
pub(crate) const ADVICE_NOREUSE: u8 = 5;

// --- preopentype (u8) ---
pub(crate) const PREOPENTYPE_DIR: u8 = 0;

// --- eventtype (u8) ---
pub(crate) const EVENTTYPE_CLOCK: u8 = 0;
pub(crate) const EVENTTYPE_FD_READ: u8 = 1;
pub(crate) const EVENTTYPE_FD_WRITE: u8 = 2;

// --- subclockflags (u16) / eventrwflags (u16) ---
pub(crate) const SUBCLOCKFLAGS_ABSTIME: u16 = 1 << 0;
pub(crate) const EVENTRWFLAGS_HANGUP: u16 = 1 << 0;

// --- rights (u64) ---
pub(crate) const RIGHT_FD_DATASYNC: u64 = 1 << 0;
pub(crate) const RIGHT_FD_READ: u64 = 1 << 1;
pub(crate) const RIGHT_FD_SEEK: u64 = 1 << 2;
pub(crate) const RIGHT_FD_FDSTAT_SET_FLAGS: u64 = 1 << 3;
pub(crate) const RIGHT_FD_SYNC: u64 = 1 << 4;
pub(crate) const RIGHT_FD_TELL: u64 = 1 << 5;
pub(crate) const RIGHT_FD_WRITE: u64 = 1 << 6;
pub(crate) const RIGHT_FD_ADVISE: u64 = 1 << 7;
pub(crate) const RIGHT_FD_ALLOCATE: u64 = 1 << 8;
pub(crate) const RIGHT_PATH_CREATE_DIRECTORY: u64 = 1 << 9;
pub(crate) const RIGHT_PATH_CREATE_FILE: u64 = 1 << 10;
pub(crate) const RIGHT_PATH_LINK_SOURCE: u64 = 1 << 11;
pub(crate) const RIGHT_PATH_LINK_TARGET: u64 = 1 << 12;
pub(crate) const RIGHT_PATH_OPEN: u64 = 1 << 13;
pub(crate) const RIGHT_FD_READDIR: u64 = 1 << 14;
pub(crate) const RIGHT_PATH_READLINK: u64 = 1 << 15;
pub(crate) const RIGHT_PATH_RENAME_SOURCE: u64 = 1 << 16;
pub(crate) const RIGHT_PATH_RENAME_TARGET: u64 = 1 << 17;
pub(crate) const RIGHT_PATH_FILESTAT_GET: u64 = 1 << 18;
pub(crate) const RIGHT_PATH_FILESTAT_SET_SIZE: u64 = 1 << 19;
pub(crate) const RIGHT_PATH_FILESTAT_SET_TIMES: u64 = 1 << 20;
pub(crate) const RIGHT_FD_FILESTAT_GET: u64 = 1 << 21;
pub(crate) const RIGHT_FD_FILESTAT_SET_SIZE: u64 = 1 << 22;
pub(crate) const RIGHT_FD_FILESTAT_SET_TIMES: u64 = 1 << 23;
pub(crate) const RIGHT_PATH_SYMLINK: u64 = 1 << 24;
pub(crate) const RIGHT_PATH_REMOVE_DIRECTORY: u64 = 1 << 25;
pub(crate) const RIGHT_PATH_UNLINK_FILE: u64 = 1 << 26;
pub(crate) const RIGHT_POLL_FD_READWRITE: u64 = 1 << 27;
pub(crate) const RIGHT_SOCK_SHUTDOWN: u64 = 1 << 28;
pub(crate) const RIGHT_SOCK_ACCEPT: u64 = 1 << 29;

/// Every right preview1 defines.
pub(crate) const RIGHTS_ALL: u64 = (1 << 30) - 1;

/// Rights that mean something on a regular file.
pub(crate) const RIGHTS_FILE: u64 = RIGHT_FD_DATASYNC
    | RIGHT_FD_READ
    | RIGHT_FD_SEEK
    | RIGHT_FD_FDSTAT_SET_FLAGS
    | RIGHT_FD_SYNC
    | RIGHT_FD_TELL
    | RIGHT_FD_WRITE
    | RIGHT_FD_ADVISE
    | RIGHT_FD_ALLOCATE
    | RIGHT_FD_FILESTAT_GET
    | RIGHT_FD_FILESTAT_SET_SIZE
    | RIGHT_FD_FILESTAT_SET_TIMES
    | RIGHT_POLL_FD_READWRITE;

/// Rights that mean something on a directory.
pub(crate) const RIGHTS_DIR: u64 = RIGHT_FD_FDSTAT_SET_FLAGS
    | RIGHT_FD_SYNC
    | RIGHT_FD_ADVISE
    | RIGHT_PATH_CREATE_DIRECTORY
    | RIGHT_PATH_CREATE_FILE
    | RIGHT_PATH_LINK_SOURCE
    | RIGHT_PATH_LINK_TARGET
    | RIGHT_PATH_OPEN
    | RIGHT_FD_READDIR
    | RIGHT_PATH_READLINK
    | RIGHT_PATH_RENAME_SOURCE
    | RIGHT_PATH_RENAME_TARGET
    | RIGHT_PATH_FILESTAT_GET
    | RIGHT_PATH_FILESTAT_SET_SIZE
    | RIGHT_PATH_FILESTAT_SET_TIMES
    | RIGHT_FD_FILESTAT_GET
    | RIGHT_FD_FILESTAT_SET_TIMES
    | RIGHT_PATH_SYMLINK
    | RIGHT_PATH_REMOVE_DIRECTORY
    | RIGHT_PATH_UNLINK_FILE
    | RIGHT_POLL_FD_READWRITE;

/// Rights of the standard streams. No seek or tell: wasi-libc's `isatty`
/// looks for exactly that on a character device.
pub(crate) const RIGHTS_STDIN: u64 =
    RIGHT_FD_READ | RIGHT_FD_FDSTAT_SET_FLAGS | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;
pub(crate) const RIGHTS_STDOUT: u64 =
    RIGHT_FD_WRITE | RIGHT_FD_FDSTAT_SET_FLAGS | RIGHT_FD_FILESTAT_GET | RIGHT_POLL_FD_READWRITE;

// --- struct sizes ---
pub(crate) const FILESTAT_SIZE: u32 = 64;
pub(crate) const FDSTAT_SIZE: u32 = 24;
pub(crate) const PRESTAT_SIZE: u32 = 8;
pub(crate) const DIRENT_SIZE: usize = 24;
pub(crate) const SUBSCRIPTION_SIZE: u32 = 48;
pub(crate) const EVENT_SIZE: u32 = 32;
pub(crate) const IOVEC_SIZE: u32 = 8;

/// `filestat`: what `fd_filestat_get` and `path_filestat_get` report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Filestat {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) filetype: u8,
    pub(crate) nlink: u64,
    pub(crate) size: u64,
    pub(crate) atim: u64,
    pub(crate) mtim: u64,
    pub(crate) ctim: u64,
}

impl Filestat {
    pub(crate) fn encode(&self) -> [u8; FILESTAT_SIZE as usize] {
        let mut b = [0u8; FILESTAT_SIZE as usize];
        b[0..8].copy_from_slice(&self.dev.to_le_bytes());
        b[8..16].copy_from_slice(&self.ino.to_le_bytes());
        b[16] = self.filetype;
        b[24..32].copy_from_slice(&self.nlink.to_le_bytes());
        b[32..40].copy_from_slice(&self.size.to_le_bytes());
        b[40..48].copy_from_slice(&self.atim.to_le_bytes());
        b[48..56].copy_from_slice(&self.mtim.to_le_bytes());
        b[56..64].copy_from_slice(&self.ctim.to_le_bytes());
        b
    }
}

/// `fdstat`: what `fd_fdstat_get` reports.
pub(crate) fn encode_fdstat(filetype: u8, flags: u16, base: u64, inheriting: u64) -> [u8; 24] {
    let mut b = [0u8; FDSTAT_SIZE as usize];
    b[0] = filetype;
    b[2..4].copy_from_slice(&flags.to_le_bytes());
    b[8..16].copy_from_slice(&base.to_le_bytes());
    b[16..24].copy_from_slice(&inheriting.to_le_bytes());
    b
}

/// `prestat` of a preopened directory whose name is `name_len` bytes.
pub(crate) fn encode_prestat_dir(name_len: u32) -> [u8; 8] {
    let mut b = [0u8; PRESTAT_SIZE as usize];
    b[0] = PREOPENTYPE_DIR;
    b[4..8].copy_from_slice(&name_len.to_le_bytes());
    b
}

/// Appends a `dirent` header followed by the name.
pub(crate) fn push_dirent(out: &mut Vec<u8>, next: u64, ino: u64, filetype: u8, name: &[u8]) {
    let mut b = [0u8; DIRENT_SIZE];
    b[0..8].copy_from_slice(&next.to_le_bytes());
    b[8..16].copy_from_slice(&ino.to_le_bytes());
    b[16..20].copy_from_slice(&(name.len() as u32).to_le_bytes());
    b[20] = filetype;
    out.extend_from_slice(&b);
    out.extend_from_slice(name);
}

/// An `event` of `poll_oneoff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Event {
    pub(crate) userdata: u64,
    pub(crate) error: Errno,
    pub(crate) kind: u8,
    pub(crate) nbytes: u64,
    pub(crate) flags: u16,
}

impl Event {
    pub(crate) fn encode(&self) -> [u8; EVENT_SIZE as usize] {
        let mut b = [0u8; EVENT_SIZE as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.0.to_le_bytes());
        b[10] = self.kind;
        if self.kind != EVENTTYPE_CLOCK {
            b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
            b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        }
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_match_the_witx_offsets() {
        let st =
            Filestat { dev: 1, ino: 2, filetype: 4, nlink: 3, size: 5, atim: 6, mtim: 7, ctim: 8 };
        let b = st.encode();
        assert_eq!(b[16], 4);
        assert_eq!(u64::from_le_bytes(b[24..32].try_into().unwrap()), 3);
        assert_eq!(u64::from_le_bytes(b[56..64].try_into().unwrap()), 8);
        let f = encode_fdstat(3, 0x11, 0xAA, 0xBB);
        assert_eq!((f[0], u16::from_le_bytes([f[2], f[3]])), (3, 0x11));
        assert_eq!(u64::from_le_bytes(f[16..24].try_into().unwrap()), 0xBB);
        let mut d = Vec::new();
        push_dirent(&mut d, 9, 8, 7, b"ab");
        assert_eq!(d.len(), 26);
        assert_eq!(&d[24..], b"ab");
        assert_eq!(d[20], 7);
        assert_eq!(RIGHTS_ALL, 0x3fff_ffff);
        assert_eq!(RIGHTS_FILE & RIGHTS_STDOUT, RIGHTS_STDOUT);
    }
}
