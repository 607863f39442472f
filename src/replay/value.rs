//! Values that cross from the outside world into a process, as tokens of
//! the recording (see [`super::log`]).

use super::log::{token, untoken};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

/// Reads tokens of one entry in order.
pub(crate) struct Tokens<'a> {
    items: std::slice::Iter<'a, String>,
}

impl<'a> Tokens<'a> {
    pub(crate) fn new(items: &'a [String]) -> Self {
        Self { items: items.iter() }
    }

    /// The next token, or an error naming what was expected.
    pub(crate) fn next(&mut self, what: &str) -> Result<&'a str, String> {
        self.items.next().map(String::as_str).ok_or_else(|| format!("missing {what}"))
    }

    /// Fails if tokens are left over.
    pub(crate) fn end(mut self) -> Result<(), String> {
        match self.items.next() {
            None => Ok(()),
            Some(extra) => Err(format!("unexpected `{}`", super::log::preview(extra, 20))),
        }
    }
}

/// Something a host call gets from the outside world: it is written to a
/// recording as tokens and read back from one in a replay.
pub(crate) trait Value: Sized + Send + 'static {
    /// Appends this value's tokens.
    fn put(&self, out: &mut Vec<String>);
    /// Reads a value back.
    fn take(input: &mut Tokens<'_>) -> Result<Self, String>;
}

/// Encodes a value as its tokens.
pub(crate) fn encode<T: Value>(value: &T) -> Vec<String> {
    let mut out = Vec::new();
    value.put(&mut out);
    out
}

/// Decodes a whole token list as one value.
pub(crate) fn decode<T: Value>(tokens: &[String]) -> Result<T, String> {
    let mut input = Tokens::new(tokens);
    let value = T::take(&mut input)?;
    input.end()?;
    Ok(value)
}

macro_rules! numbers {
    ($($t:ty),*) => {$(
        impl Value for $t {
            fn put(&self, out: &mut Vec<String>) {
                out.push(self.to_string());
            }
            fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
                let t = input.next("a number")?;
                t.parse().map_err(|_| format!("`{t}` is not a number"))
            }
        }
    )*};
}
numbers!(u64, i64, u32, i32, usize, bool);

impl Value for () {
    fn put(&self, _: &mut Vec<String>) {}
    fn take(_: &mut Tokens<'_>) -> Result<Self, String> {
        Ok(())
    }
}

impl Value for Duration {
    fn put(&self, out: &mut Vec<String>) {
        u64::try_from(self.as_nanos()).unwrap_or(u64::MAX).put(out)
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        Ok(Duration::from_nanos(u64::take(input)?))
    }
}

impl Value for Vec<u8> {
    fn put(&self, out: &mut Vec<String>) {
        out.push(token(self));
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        untoken(input.next("bytes")?)
    }
}

impl Value for String {
    fn put(&self, out: &mut Vec<String>) {
        out.push(token(self.as_bytes()));
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        String::from_utf8(untoken(input.next("text")?)?).map_err(|_| "text is not UTF-8".into())
    }
}

impl Value for SocketAddr {
    fn put(&self, out: &mut Vec<String>) {
        out.push(self.to_string());
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        let t = input.next("an address")?;
        t.parse().map_err(|_| format!("`{t}` is not a socket address"))
    }
}

impl<T: Value> Value for Vec<T> {
    fn put(&self, out: &mut Vec<String>) {
        self.len().put(out);
        self.iter().for_each(|item| item.put(out));
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        let n = usize::take(input)?;
        (0..n).map(|_| T::take(input)).collect()
    }
}

impl<T: Value> Value for Option<T> {
    fn put(&self, out: &mut Vec<String>) {
        match self {
            None => out.push("none".into()),
            Some(value) => {
                out.push("some".into());
                value.put(out);
            }
        }
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        match input.next("some/none")? {
            "none" => Ok(None),
            "some" => Ok(Some(T::take(input)?)),
            other => Err(format!("expected some/none, found `{other}`")),
        }
    }
}

impl<A: Value, B: Value> Value for (A, B) {
    fn put(&self, out: &mut Vec<String>) {
        self.0.put(out);
        self.1.put(out);
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        Ok((A::take(input)?, B::take(input)?))
    }
}

/// I/O error kinds a guest can tell apart (others read back as `Other`,
/// with their message intact).
const KINDS: &[io::ErrorKind] = &[
    io::ErrorKind::NotFound,
    io::ErrorKind::PermissionDenied,
    io::ErrorKind::ConnectionRefused,
    io::ErrorKind::ConnectionReset,
    io::ErrorKind::ConnectionAborted,
    io::ErrorKind::NotConnected,
    io::ErrorKind::AddrInUse,
    io::ErrorKind::AddrNotAvailable,
    io::ErrorKind::BrokenPipe,
    io::ErrorKind::AlreadyExists,
    io::ErrorKind::WouldBlock,
    io::ErrorKind::InvalidInput,
    io::ErrorKind::InvalidData,
    io::ErrorKind::TimedOut,
    io::ErrorKind::WriteZero,
    io::ErrorKind::Interrupted,
    io::ErrorKind::Unsupported,
    io::ErrorKind::UnexpectedEof,
    io::ErrorKind::OutOfMemory,
];

impl<T: Value> Value for io::Result<T> {
    fn put(&self, out: &mut Vec<String>) {
        match self {
            Ok(value) => {
                out.push("ok".into());
                value.put(out);
            }
            Err(e) => {
                out.push("err".into());
                let kind = KINDS.iter().position(|&k| k == e.kind()).map_or(-1, |i| i as i64);
                kind.put(out);
                e.to_string().put(out);
            }
        }
    }
    fn take(input: &mut Tokens<'_>) -> Result<Self, String> {
        match input.next("ok/err")? {
            "ok" => Ok(Ok(T::take(input)?)),
            "err" => {
                let kind = i64::take(input)?;
                let message = String::take(input)?;
                let kind = usize::try_from(kind)
                    .ok()
                    .and_then(|i| KINDS.get(i).copied())
                    .unwrap_or(io::ErrorKind::Other);
                Ok(Err(io::Error::new(kind, message)))
            }
            other => Err(format!("expected ok/err, found `{other}`")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip<T: Value + std::fmt::Debug>(value: T) -> T {
        decode(&encode(&value)).unwrap()
    }

    #[test]
    fn values_round_trip() {
        assert_eq!(round_trip(7u64), 7);
        assert_eq!(round_trip(-7i32), -7);
        assert_eq!(round_trip(Duration::from_nanos(12345)), Duration::from_nanos(12345));
        assert_eq!(round_trip(b"a b\n".to_vec()), b"a b\n");
        assert_eq!(round_trip(Some(3u32)), Some(3));
        assert_eq!(round_trip(None::<u32>), None);
        let addrs: Vec<SocketAddr> =
            vec!["127.0.0.1:80".parse().unwrap(), "[::1]:9".parse().unwrap()];
        assert_eq!(round_trip(addrs.clone()), addrs);
        assert_eq!(round_trip((5u64, "x".to_string())), (5, "x".to_string()));
        let ok: io::Result<u64> = Ok(4);
        assert_eq!(round_trip(ok).unwrap(), 4);
        let err: io::Result<u64> =
            Err(io::Error::new(io::ErrorKind::NotConnected, "Transport endpoint is not connected"));
        let back = round_trip(err).unwrap_err();
        assert_eq!(back.kind(), io::ErrorKind::NotConnected);
        assert_eq!(back.to_string(), "Transport endpoint is not connected");
        let other: io::Result<()> = Err(io::Error::other("weird"));
        assert_eq!(round_trip(other).unwrap_err().kind(), io::ErrorKind::Other);
    }

    #[test]
    fn wrong_tokens_are_errors() {
        assert!(decode::<u64>(&["x".into()]).is_err());
        assert!(decode::<u64>(&[]).is_err());
        assert!(decode::<u64>(&["1".into(), "2".into()]).unwrap_err().contains("unexpected"));
        assert!(decode::<io::Result<u64>>(&["maybe".into()]).is_err());
        assert!(decode::<Option<u64>>(&["some".into()]).is_err());
    }
}
