//! What a failed hand-over means, in words a log reader can act on.

use crate::state::StateError;
use std::fmt;

/// Why `handover` returned (on success it never does): the runtime's codes 1-5 of the
/// `lunatic::hot::handover` import, or a state that could not be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HandoverError {
    /// Code 1: this process already runs the current version.
    NoNewerVersion,
    /// Code 2: the new version cannot be instantiated for this process (imports, start
    /// function, memory limit).
    Instantiate,
    /// Code 3: the new version has no export of the entry's name with type `[] -> []`.
    NoEntry(String),
    /// Code 4: the new instance trapped (or its entry returned) before it called `commit`,
    /// e.g. because its `code_change` refused the state.
    RestoreFailed,
    /// Code 5: the state is larger than this process's `max_message_size`.
    StateTooLarge(usize),
    /// A code this crate does not know (a newer runtime).
    Unknown(i32),
    /// The state could not be serialized; the runtime was not asked.
    Encode(StateError),
}

impl HandoverError {
    /// Maps a non-zero return of the `handover` import; `entry` and `state_len` only fill in
    /// the message.
    pub fn from_code(code: i32, entry: &str, state_len: usize) -> Self {
        match code {
            1 => HandoverError::NoNewerVersion,
            2 => HandoverError::Instantiate,
            3 => HandoverError::NoEntry(entry.to_string()),
            4 => HandoverError::RestoreFailed,
            5 => HandoverError::StateTooLarge(state_len),
            other => HandoverError::Unknown(other),
        }
    }

    /// The runtime's code, when the runtime gave one.
    pub fn code(&self) -> Option<i32> {
        match self {
            HandoverError::NoNewerVersion => Some(1),
            HandoverError::Instantiate => Some(2),
            HandoverError::NoEntry(_) => Some(3),
            HandoverError::RestoreFailed => Some(4),
            HandoverError::StateTooLarge(_) => Some(5),
            HandoverError::Unknown(c) => Some(*c),
            HandoverError::Encode(_) => None,
        }
    }
}

impl fmt::Display for HandoverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandoverError::NoNewerVersion => write!(f, "no newer version is current"),
            HandoverError::Instantiate => {
                write!(f, "the new version cannot be instantiated for this process (imports, start or memory limit)")
            }
            HandoverError::NoEntry(name) => {
                write!(f, "the new version has no export `{name}` of type [] -> []")
            }
            HandoverError::RestoreFailed => {
                write!(f, "the new version trapped while restoring the state, before commit")
            }
            HandoverError::StateTooLarge(n) => {
                write!(f, "the state ({n} bytes) is larger than this process's max_message_size")
            }
            HandoverError::Unknown(c) => write!(f, "the runtime refused with unknown code {c}"),
            HandoverError::Encode(e) => write!(f, "the state could not be written: {e}"),
        }?;
        if let Some(code) = self.code() {
            write!(f, " (handover code {code})")?;
        }
        Ok(())
    }
}

impl std::error::Error for HandoverError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_runtime_code_has_its_own_message() {
        let msgs: Vec<String> = (1..=6)
            .map(|c| HandoverError::from_code(c, "lunatic_hot_entry", 99).to_string())
            .collect();
        assert!(msgs[0].starts_with("no newer version"));
        assert!(msgs[1].contains("cannot be instantiated"));
        assert!(msgs[2].contains("no export `lunatic_hot_entry`"));
        assert!(msgs[3].contains("trapped while restoring"));
        assert!(msgs[4].contains("(99 bytes)"));
        assert!(msgs[5].contains("unknown code 6"));
        for (i, m) in msgs.iter().enumerate() {
            assert!(m.ends_with(&format!("(handover code {})", i + 1)), "{m}");
            assert!(!m.contains('\n'));
        }
        assert_eq!(HandoverError::Encode(StateError::BadEnvelope("x")).code(), None);
    }
}
