//! The bytes a process hands to its next version: a small fixed header (so the new code can
//! check what it is given before trusting it) followed by the state in bincode.
//!
//! Layout, all integers little-endian:
//! `b"LHOT"`, format `u8` (= 1), schema `u32`, old version ID `u64`, name length `u16`,
//! name (UTF-8), payload (bincode of the state value, to the end).
//! The header is written by hand, not by serde, so it stays readable by any later build
//! whatever happens to the state type.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt;

const MAGIC: &[u8; 4] = b"LHOT";
const FORMAT: u8 = 1;
/// Bytes before the name: magic, format, schema, version, name length.
const FIXED: usize = 4 + 1 + 4 + 8 + 2;

/// A process state that can cross to a new version of its module.
///
/// `NAME` says which state this is (the upgrade entry picks the type to restore by it, and a
/// state never lands in a type of another name); `SCHEMA` numbers its layout. When the new
/// code's `SCHEMA` differs from the one the bytes were written with, [`HotState::code_change`]
/// gets the old payload and builds the new value, as Erlang's `code_change/3` does.
pub trait HotState: Serialize + DeserializeOwned {
    /// A name unique among the hot states of the app, the same in every version.
    const NAME: &'static str;
    /// The layout number of this version's state; raise it whenever the fields change.
    const SCHEMA: u32;

    /// Builds this version's state from a payload written under `old_schema` (a different
    /// number than `Self::SCHEMA`, older or newer). Read the old layout with
    /// [`decode_payload`]. The default refuses, which makes the upgrade fail and the process
    /// stay on its old version.
    fn code_change(old_schema: u32, payload: &[u8]) -> Result<Self, StateError> {
        let _ = payload;
        Err(StateError::NoCodeChange {
            name: Self::NAME,
            from: old_schema,
            to: Self::SCHEMA,
        })
    }
}

/// Why a state could not be written or read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StateError {
    /// The bytes are not a state written by this crate (wrong magic, format or length).
    BadEnvelope(&'static str),
    /// The bytes hold a state of another name than the type asked for.
    WrongType {
        /// The name the reading type declares.
        expected: &'static str,
        /// The name found in the bytes.
        found: String,
    },
    /// The schema changed and the new code has no way from the old one.
    NoCodeChange {
        /// The state's name.
        name: &'static str,
        /// The schema the bytes were written with.
        from: u32,
        /// The schema of the reading code.
        to: u32,
    },
    /// serde/bincode failed on the payload.
    Payload(String),
    /// The state's own conversion refused (a message from `code_change`).
    Conversion(String),
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StateError::BadEnvelope(why) => write!(f, "not a lunatic-hot state ({why})"),
            StateError::WrongType { expected, found } => {
                write!(f, "state of type `{found}` given to `{expected}`")
            }
            StateError::NoCodeChange { name, from, to } => write!(
                f,
                "state `{name}` has schema {from}, this version wants {to} and has no code_change for it"
            ),
            StateError::Payload(why) => write!(f, "state payload unreadable: {why}"),
            StateError::Conversion(why) => write!(f, "code_change failed: {why}"),
        }
    }
}

impl std::error::Error for StateError {}

/// The header of a state as read back by [`peek`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope<'a> {
    /// The state's [`HotState::NAME`].
    pub name: &'a str,
    /// The [`HotState::SCHEMA`] it was written with.
    pub schema: u32,
    /// The version ID of the code that wrote it (0 when unknown, e.g. on the host).
    pub from_version: u64,
    /// The bincode payload.
    pub payload: &'a [u8],
}

/// Writes `state` with its name, schema and the writer's version ID `from_version`.
pub fn encode<S: HotState>(state: &S, from_version: u64) -> Result<Vec<u8>, StateError> {
    let payload = bincode::serialize(state).map_err(|e| StateError::Payload(e.to_string()))?;
    let name = S::NAME.as_bytes();
    let name_len =
        u16::try_from(name.len()).map_err(|_| StateError::BadEnvelope("name longer than 65535 bytes"))?;
    let mut out = Vec::with_capacity(FIXED + name.len() + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT);
    out.extend_from_slice(&S::SCHEMA.to_le_bytes());
    out.extend_from_slice(&from_version.to_le_bytes());
    out.extend_from_slice(&name_len.to_le_bytes());
    out.extend_from_slice(name);
    out.extend_from_slice(&payload);
    Ok(out)
}

/// Reads the header of state bytes without decoding the payload (to pick the type by name).
pub fn peek(bytes: &[u8]) -> Result<Envelope<'_>, StateError> {
    if bytes.len() < FIXED {
        return Err(StateError::BadEnvelope("too short"));
    }
    if &bytes[..4] != MAGIC {
        return Err(StateError::BadEnvelope("no LHOT magic"));
    }
    if bytes[4] != FORMAT {
        return Err(StateError::BadEnvelope("unknown format number"));
    }
    let schema = u32::from_le_bytes([bytes[5], bytes[6], bytes[7], bytes[8]]);
    let mut v = [0u8; 8];
    v.copy_from_slice(&bytes[9..17]);
    let from_version = u64::from_le_bytes(v);
    let name_len = usize::from(u16::from_le_bytes([bytes[17], bytes[18]]));
    let rest = &bytes[FIXED..];
    if rest.len() < name_len {
        return Err(StateError::BadEnvelope("name cut short"));
    }
    let name = std::str::from_utf8(&rest[..name_len])
        .map_err(|_| StateError::BadEnvelope("name not UTF-8"))?;
    Ok(Envelope {
        name,
        schema,
        from_version,
        payload: &rest[name_len..],
    })
}

/// Reads a state of type `S`: checks the name, decodes directly when the schema matches and
/// goes through [`HotState::code_change`] when it does not.
pub fn decode<S: HotState>(bytes: &[u8]) -> Result<S, StateError> {
    let env = peek(bytes)?;
    if env.name != S::NAME {
        return Err(StateError::WrongType {
            expected: S::NAME,
            found: env.name.to_string(),
        });
    }
    if env.schema == S::SCHEMA {
        decode_payload(env.payload)
    } else {
        S::code_change(env.schema, env.payload)
    }
}

/// Decodes a payload as `T` (for `code_change`: read the old layout into an old struct).
/// Trailing bytes are an error, so a layout mismatch does not go unnoticed.
pub fn decode_payload<T: DeserializeOwned>(payload: &[u8]) -> Result<T, StateError> {
    use bincode::Options;
    bincode::DefaultOptions::new()
        .with_fixint_encoding()
        .reject_trailing_bytes()
        .deserialize(payload)
        .map_err(|e| StateError::Payload(e.to_string()))
}

/// A version ID as the runtime prints it: 16 lower-case hex digits.
pub fn version_hex(id: u64) -> String {
    format!("{id:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V1 {
        count: u64,
        label: String,
    }
    impl HotState for V1 {
        const NAME: &'static str = "counter";
        const SCHEMA: u32 = 1;
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V2 {
        count: u64,
        label: String,
        upgrades: u32,
    }
    impl HotState for V2 {
        const NAME: &'static str = "counter";
        const SCHEMA: u32 = 2;
        fn code_change(old: u32, payload: &[u8]) -> Result<Self, StateError> {
            match old {
                1 => {
                    let v1: V1 = decode_payload(payload)?;
                    Ok(V2 { count: v1.count, label: v1.label, upgrades: 1 })
                }
                other => Err(StateError::Conversion(format!("unknown schema {other}"))),
            }
        }
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct Other(u8);
    impl HotState for Other {
        const NAME: &'static str = "other";
        const SCHEMA: u32 = 1;
    }

    /// Same name as V1 with a new schema but no code_change: the default refuses.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct V3NoChange {
        count: u64,
    }
    impl HotState for V3NoChange {
        const NAME: &'static str = "counter";
        const SCHEMA: u32 = 3;
    }

    fn v1() -> V1 {
        V1 { count: 41, label: "c".into() }
    }

    #[test]
    fn same_schema_round_trips() {
        let bytes = encode(&v1(), 0xabc).unwrap();
        assert_eq!(decode::<V1>(&bytes).unwrap(), v1());
        let env = peek(&bytes).unwrap();
        assert_eq!((env.name, env.schema, env.from_version), ("counter", 1, 0xabc));
    }

    #[test]
    fn new_schema_goes_through_code_change() {
        let bytes = encode(&v1(), 7).unwrap();
        let v2 = decode::<V2>(&bytes).unwrap();
        assert_eq!(v2, V2 { count: 41, label: "c".into(), upgrades: 1 });
    }

    #[test]
    fn downgrade_without_a_path_is_refused() {
        let bytes = encode(&V2 { count: 1, label: String::new(), upgrades: 0 }, 0).unwrap();
        assert_eq!(
            decode::<V1>(&bytes).unwrap_err(),
            StateError::NoCodeChange { name: "counter", from: 2, to: 1 }
        );
        let e = decode::<V3NoChange>(&encode(&v1(), 0).unwrap()).unwrap_err();
        assert!(e.to_string().contains("schema 1, this version wants 3"), "{e}");
        assert!(matches!(decode::<V2>(&encode(&V3NoChange { count: 1 }, 0).unwrap()), Err(StateError::Conversion(_))));
    }

    #[test]
    fn wrong_type_is_refused() {
        let bytes = encode(&Other(3), 0).unwrap();
        assert_eq!(
            decode::<V1>(&bytes).unwrap_err(),
            StateError::WrongType { expected: "counter", found: "other".into() }
        );
    }

    #[test]
    fn damaged_bytes_are_refused_not_misread() {
        let bytes = encode(&v1(), 0).unwrap();
        assert!(matches!(peek(b"LHO"), Err(StateError::BadEnvelope(_))));
        assert!(matches!(peek(b"XXXX\x01aaaaaaaaaaaaaa"), Err(StateError::BadEnvelope(_))));
        let mut fmt = bytes.clone();
        fmt[4] = 9;
        assert!(matches!(peek(&fmt), Err(StateError::BadEnvelope(_))));
        // Every strict prefix fails cleanly.
        for cut in 0..bytes.len() {
            assert!(decode::<V1>(&bytes[..cut]).is_err(), "prefix {cut} decoded");
        }
        // Trailing garbage in the payload is noticed.
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(decode::<V1>(&long), Err(StateError::Payload(_))));
    }

    #[test]
    fn version_ids_print_as_sixteen_hex_digits() {
        assert_eq!(version_hex(0x1a2b), "0000000000001a2b");
        assert_eq!(version_hex(u64::MAX >> 1), "7fffffffffffffff");
    }
}
