//! Host I/O errors as WASI error numbers.

use super::types::Errno;
use std::io;

/// The WASI errno for a host I/O error.
///
/// cap-std reports a path that would leave its directory (`..` past the root,
/// an absolute path or symlink target) as `PermissionDenied` without an OS
/// error code: that is `ENOTCAPABLE`, distinct from a real `EACCES`/`EPERM`.
pub(crate) fn from_io(err: &io::Error) -> Errno {
    if let Some(errno) = from_os(err) {
        return errno;
    }
    use io::ErrorKind as K;
    match err.kind() {
        K::PermissionDenied => Errno::NOTCAPABLE,
        K::NotFound => Errno::NOENT,
        K::AlreadyExists => Errno::EXIST,
        K::InvalidInput | K::InvalidData => Errno::INVAL,
        K::Unsupported => Errno::NOTSUP,
        K::WouldBlock => Errno::AGAIN,
        K::Interrupted => Errno::INTR,
        K::OutOfMemory => Errno::NOMEM,
        K::BrokenPipe => Errno::PIPE,
        K::UnexpectedEof => Errno::IO,
        K::NotADirectory => Errno::NOTDIR,
        K::IsADirectory => Errno::ISDIR,
        K::DirectoryNotEmpty => Errno::NOTEMPTY,
        K::ReadOnlyFilesystem => Errno::ROFS,
        K::StorageFull => Errno::NOSPC,
        K::NotSeekable => Errno::SPIPE,
        K::FileTooLarge => Errno::FBIG,
        K::ResourceBusy => Errno::BUSY,
        K::TooManyLinks => Errno::MLINK,
        K::CrossesDevices => Errno::XDEV,
        K::TimedOut => Errno::TIMEDOUT,
        _ => Errno::IO,
    }
}

#[cfg(unix)]
fn from_os(err: &io::Error) -> Option<Errno> {
    use rustix::io::Errno as E;
    let e = E::from_io_error(err)?;
    let table: &[(E, Errno)] = &[
        (E::TOOBIG, Errno::TOOBIG),
        (E::ACCESS, Errno::ACCES),
        (E::ADDRINUSE, Errno::ADDRINUSE),
        (E::ADDRNOTAVAIL, Errno::ADDRNOTAVAIL),
        (E::AFNOSUPPORT, Errno::AFNOSUPPORT),
        (E::AGAIN, Errno::AGAIN),
        (E::ALREADY, Errno::ALREADY),
        (E::BADF, Errno::BADF),
        (E::BADMSG, Errno::BADMSG),
        (E::BUSY, Errno::BUSY),
        (E::CANCELED, Errno::CANCELED),
        (E::CHILD, Errno::CHILD),
        (E::CONNABORTED, Errno::CONNABORTED),
        (E::CONNREFUSED, Errno::CONNREFUSED),
        (E::CONNRESET, Errno::CONNRESET),
        (E::DEADLK, Errno::DEADLK),
        (E::DESTADDRREQ, Errno::DESTADDRREQ),
        (E::DOM, Errno::DOM),
        (E::DQUOT, Errno::DQUOT),
        (E::EXIST, Errno::EXIST),
        (E::FAULT, Errno::FAULT),
        (E::FBIG, Errno::FBIG),
        (E::HOSTUNREACH, Errno::HOSTUNREACH),
        (E::IDRM, Errno::IDRM),
        (E::ILSEQ, Errno::ILSEQ),
        (E::INPROGRESS, Errno::INPROGRESS),
        (E::INTR, Errno::INTR),
        (E::INVAL, Errno::INVAL),
        (E::IO, Errno::IO),
        (E::ISCONN, Errno::ISCONN),
        (E::ISDIR, Errno::ISDIR),
        (E::LOOP, Errno::LOOP),
        (E::MFILE, Errno::MFILE),
        (E::MLINK, Errno::MLINK),
        (E::MSGSIZE, Errno::MSGSIZE),
        (E::NAMETOOLONG, Errno::NAMETOOLONG),
        (E::NETDOWN, Errno::NETDOWN),
        (E::NETRESET, Errno::NETRESET),
        (E::NETUNREACH, Errno::NETUNREACH),
        (E::NFILE, Errno::NFILE),
        (E::NOBUFS, Errno::NOBUFS),
        (E::NODEV, Errno::NODEV),
        (E::NOENT, Errno::NOENT),
        (E::NOEXEC, Errno::NOEXEC),
        (E::NOLCK, Errno::NOLCK),
        (E::NOMEM, Errno::NOMEM),
        (E::NOMSG, Errno::NOMSG),
        (E::NOPROTOOPT, Errno::NOPROTOOPT),
        (E::NOSPC, Errno::NOSPC),
        (E::NOSYS, Errno::NOSYS),
        (E::NOTCONN, Errno::NOTCONN),
        (E::NOTDIR, Errno::NOTDIR),
        (E::NOTEMPTY, Errno::NOTEMPTY),
        (E::NOTSOCK, Errno::NOTSOCK),
        (E::NOTSUP, Errno::NOTSUP),
        (E::OPNOTSUPP, Errno::NOTSUP),
        (E::NOTTY, Errno::NOTTY),
        (E::NXIO, Errno::NXIO),
        (E::OVERFLOW, Errno::OVERFLOW),
        (E::PERM, Errno::PERM),
        (E::PIPE, Errno::PIPE),
        (E::PROTO, Errno::PROTO),
        (E::PROTONOSUPPORT, Errno::PROTONOSUPPORT),
        (E::PROTOTYPE, Errno::PROTOTYPE),
        (E::RANGE, Errno::RANGE),
        (E::ROFS, Errno::ROFS),
        (E::SPIPE, Errno::SPIPE),
        (E::SRCH, Errno::SRCH),
        (E::STALE, Errno::STALE),
        (E::TIMEDOUT, Errno::TIMEDOUT),
        (E::TXTBSY, Errno::TXTBSY),
        (E::XDEV, Errno::XDEV),
    ];
    Some(table.iter().find(|(os, _)| *os == e).map_or(Errno::IO, |&(_, wasi)| wasi))
}

#[cfg(not(unix))]
fn from_os(_: &io::Error) -> Option<Errno> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandbox_escapes_are_notcapable_and_os_errors_keep_their_meaning() {
        let escape =
            io::Error::new(io::ErrorKind::PermissionDenied, "a path led outside of the filesystem");
        assert_eq!(from_io(&escape), Errno::NOTCAPABLE);
        assert_eq!(from_io(&io::Error::from(io::ErrorKind::NotFound)), Errno::NOENT);
        #[cfg(unix)]
        {
            use rustix::io::Errno as E;
            assert_eq!(
                from_io(&io::Error::from_raw_os_error(E::ACCESS.raw_os_error())),
                Errno::ACCES
            );
            assert_eq!(from_io(&io::Error::from_raw_os_error(E::PERM.raw_os_error())), Errno::PERM);
            assert_eq!(
                from_io(&io::Error::from_raw_os_error(E::NOTEMPTY.raw_os_error())),
                Errno::NOTEMPTY
            );
            assert_eq!(from_io(&io::Error::from_raw_os_error(E::LOOP.raw_os_error())), Errno::LOOP);
        }
    }
}
