//! Hot reloading for Rust guests of the lunatic-wasmi runtime.
//!
//! When a new version of the app's module becomes current (`lunatic run --watch`, SIGHUP or
//! `lunatic reload`), the runtime starts the new version's `_start` beside the old one. A
//! process that wants to keep its PID, mailbox, links, monitors, registry names and
//! resources *and* its in-memory state moves itself to the new code with this crate:
//!
//! 1. its state type implements [`HotState`] (serde, a `NAME`, a `SCHEMA` number and, when
//!    the layout changes, a `code_change` from the old layout);
//! 2. it implements [`HotServer`] (how one message is handled) and runs [`serve`], which
//!    subscribes to the runtime's notices and, *between two messages*, writes the state and
//!    hands the process over to the new version;
//! 3. the binary exports the upgrade entry with [`upgrade_entry!`], which in the new instance
//!    reads the state back (through `code_change` if needed), commits and re-enters the loop.
//!
//! If the new version cannot take over (no entry export, a trap while restoring, ...) the
//! process stays on its old code and prints one line saying why.
//!
//! What does not cross: stack frames (the hand-over happens only between messages), and
//! anything in the state that holds function pointers, closures or trait objects.
//!
//! The state format ([`encode`], [`decode`]) and error texts are plain Rust and tested on the
//! host; the process part exists only on `wasm32`.

#![warn(missing_docs)]

mod error;
mod state;

pub use error::HandoverError;
pub use state::{decode, decode_payload, encode, peek, version_hex, Envelope, HotState, StateError};

#[cfg(target_arch = "wasm32")]
mod process;
#[cfg(target_arch = "wasm32")]
pub use process::*;

/// The export name [`upgrade_entry!`] uses and [`serve`] hands over to.
pub const DEFAULT_ENTRY: &str = "lunatic_hot_entry";

/// The message tag of the runtime's "newer version is current" notices ("LHOT" in the high
/// bytes, far from the tags the `lunatic` crate hands out).
pub const NOTICE_TAG: i64 = 0x4C48_4F54_0000_0001;

/// Exports the upgrade entry (`lunatic_hot_entry`, type `[] -> []`) for the listed
/// [`HotServer`] types: in the new instance it reads the state handed over, picks the type by
/// its [`HotState::NAME`], restores it (through `code_change` when the schema changed),
/// commits and re-enters that type's loop. Use it once per binary, listing every hot type:
///
/// ```ignore
/// lunatic_hot::upgrade_entry!(Counter, Watcher);
/// ```
///
/// A state whose name no listed type has, or that fails to restore, traps before the commit,
/// so the process stays on its old version.
#[macro_export]
macro_rules! upgrade_entry {
    ($($ty:ty),+ $(,)?) => {
        #[export_name = "lunatic_hot_entry"]
        pub extern "C" fn __lunatic_hot_upgrade_entry() {
            let bytes = $crate::take_state();
            let name = match $crate::peek(&bytes) {
                Ok(env) => env.name.to_string(),
                Err(e) => $crate::restore_failed(&e),
            };
            $(
                if name == <$ty as $crate::HotState>::NAME {
                    $crate::resume::<$ty>(bytes);
                    return;
                }
            )+
            $crate::restore_failed(&format!("this version has no hot type named `{name}`"));
        }
    };
}
