//! What nodes say to each other on their QUIC connections.
//!
//! * Requests (join, spawn, module fetch) go on a bidirectional stream of
//!   their own: one length-prefixed postcard frame each way.
//! * Data messages from one node to another go on one unidirectional stream
//!   per connection, in the order they were sent: frames of
//!   `[u32 LE length][u64 LE target pid][i64 LE tag][payload]`. Spawns and
//!   their answers travel in these streams too, as control frames (the
//!   length's top bit set, a postcard [`Control`] after it), and so do the
//!   notices of deaths and unlinks: a message a process sent before it
//!   ended arrives before the news of its end, as on one node.
//! * Membership (SWIM) packets travel as QUIC datagrams.

use serde::{Deserialize, Serialize};

/// Largest request or answer frame (a module may be large).
pub(crate) const MAX_FRAME: usize = 256 << 20;
/// Largest data message payload one node accepts from another.
pub(crate) const MAX_MESSAGE: usize = 64 << 20;
/// Bytes of a message frame's fixed header after its length.
pub(crate) const MESSAGE_HEADER: usize = 16;

/// The config a remote spawn asks for (the caller's, already capped by the
/// caller's own). The receiving node applies its own policy on top.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct RemoteConfig {
    pub max_memory: u64,
    pub max_fuel: Option<u64>,
    pub max_message_size: u64,
    pub max_mailbox_size: u64,
    pub can_compile_modules: bool,
    pub can_create_configs: bool,
    pub can_spawn_processes: bool,
    pub args: Vec<String>,
    pub envs: Vec<(String, String)>,
    /// (host path, guest name) pairs.
    pub preopens: Vec<(String, String)>,
}

/// A request on its own bidirectional stream.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    /// From a node without a certificate: admit me.
    Join { secret: String, csr_pem: String },
    /// Spawn `entry` of module `module` (content hash) with `params`
    /// (17-byte records, as `lunatic::process::spawn` takes them).
    Spawn { module: u64, entry: String, params: Vec<u8>, config: RemoteConfig },
    /// Send me the bytes of module `module`.
    FetchModule { module: u64 },
    /// Tell me (`Died`) when your process `pid` ends.
    Monitor { pid: u64 },
    /// Process `pid` of the asking node, which `watcher` of yours monitors, ended.
    Died { pid: u64, watcher: u64 },
    /// Link my process `from` to your process `pid` with `tag`.
    Link { pid: u64, from: u64, tag: i64 },
    /// My process `from`, linked to your `pid`, ended (`linker`: your
    /// process is the one that called `link`).
    LinkDied { pid: u64, from: u64, failed: bool, linker: bool },
    /// My process `from` no longer links to your `pid`.
    Unlink { pid: u64, from: u64, linker: bool },
    /// I am node `id`, I count `live` members (myself included), and I
    /// declared you down: did you declare me down too? (A partition that
    /// healed; see `Node::reunite`.)
    Reunion { id: u64, live: u64 },
}

/// The answer to a [`Request`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    /// The node certificate and the CA.
    Joined { cert_pem: String, ca_pem: String },
    /// The new process is registered.
    Spawned { pid: u64 },
    /// The module's bytes.
    Module { bytes: Vec<u8> },
    /// The monitor is set (or the process had already ended: `alive` false).
    Monitoring { alive: bool },
    /// The link is set (or the process had already ended: `alive` false).
    Linking { alive: bool },
    /// The answer to a [`Request::Reunion`]: who answers, how many live
    /// members it counts and the lowest ID among them, and whether it
    /// declared the asker down.
    Reunion { id: u64, live: u64, lowest: u64, declared_down: bool },
    /// Noted.
    Done,
    /// Failed with a guest-visible code (2: unknown module; 1: other) and a text.
    Failed { code: u32, message: String },
}

/// Set in a message frame's length: the frame is a [`Control`] frame.
pub(crate) const CONTROL: u32 = 1 << 31;

/// A request or answer carried in the ordered stream of messages from one
/// node to another (spawns: they are then ordered with the messages that
/// follow them, and cost what a message costs).
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Control {
    /// Request `id` of node `from`.
    Ask { id: u64, from: u64, request: Request },
    /// The answer to request `id`.
    Answer { id: u64, response: Response },
    /// A one-way notice (`Died`, `LinkDied`, `Unlink`), ordered with the
    /// messages sent before it.
    Tell { request: Request },
}

/// Appends one control frame.
pub(crate) fn control_frame(out: &mut Vec<u8>, control: &Control) -> anyhow::Result<()> {
    let body = postcard::to_stdvec(control)?;
    let len = u32::try_from(body.len()).ok().filter(|l| *l < CONTROL).ok_or_else(|| anyhow::anyhow!("control frame too large"))?;
    out.extend_from_slice(&(len | CONTROL).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(())
}

/// Encodes a request or answer as a length-prefixed frame.
pub(crate) fn encode<T: Serialize>(value: &T) -> anyhow::Result<Vec<u8>> {
    let body = postcard::to_stdvec(value)?;
    let len = u32::try_from(body.len())?;
    let mut frame = Vec::with_capacity(body.len() + 4);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&body);
    Ok(frame)
}

/// Decodes a whole frame made by [`encode`] (garbage is an error).
pub(crate) fn decode<T: for<'de> Deserialize<'de>>(frame: &[u8]) -> anyhow::Result<T> {
    let (len, body) = frame.split_first_chunk::<4>().ok_or_else(|| anyhow::anyhow!("truncated frame"))?;
    if u32::from_le_bytes(*len) as usize != body.len() {
        anyhow::bail!("frame length {} does not match its {} bytes", u32::from_le_bytes(*len), body.len());
    }
    Ok(postcard::from_bytes(body)?)
}

/// Appends one data-message frame.
pub(crate) fn message_frame(out: &mut Vec<u8>, pid: u64, tag: i64, payload: &[u8]) {
    let len = (MESSAGE_HEADER + payload.len()) as u32;
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&pid.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(payload);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_garbage_is_refused() {
        let frame = encode(&Request::FetchModule { module: 7 }).unwrap();
        assert!(matches!(decode::<Request>(&frame).unwrap(), Request::FetchModule { module: 7 }));
        assert!(decode::<Request>(&frame[..frame.len() - 1]).is_err());
        assert!(decode::<Request>(&[1, 0, 0, 0, 0xff]).is_err());
        assert!(decode::<Request>(&[]).is_err());
    }
}
