//! Links between processes on different nodes (the ABI extension
//! `lunatic::distributed_ext::{link, unlink}`), with the semantics of local
//! links: when either end ends, the other gets a link death (failed if the
//! end failed), and when the node at the other end goes down, the local end
//! gets a failed link death (Erlang's `noconnection`).
//!
//! Each end is a stand-in process handle in the local process's link table
//! (an ID from the top of the range, never a real process's): the local
//! process tells it of its death as it tells any linked process, and a
//! relay task carries that to the other node. The other node keeps its own
//! stand-in on the target's side, so both processes' link tables hold
//! exactly one entry per remote link and need nothing new.

use super::local::{self, LinkEnd};
use super::wire::{self, Request, Response};
use super::{lock, within, Failure, Node, UNREACHABLE};
use crate::protocol::{ProcessHandle, Signal};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

/// Remote links one node keeps at once (both directions together).
const MAX_REMOTE_LINKS: usize = 100_000;

/// One link between a local process and a process on another node.
pub(super) struct RemoteLink {
    /// The local process.
    local: ProcessHandle,
    /// The stand-in in its link table.
    proxy: u64,
    pub(super) tag: i64,
    /// Dropped to stop the relay (the link is gone).
    _relay: async_channel::Sender<()>,
}

/// Links by (other node, process there, local process); `linker` tells
/// which end called `link` (a pair may be linked once from each end).
pub(super) type Links = HashMap<(u64, u64, u64, bool), RemoteLink>;

impl Node {
    fn links_len(&self) -> usize {
        lock(&self.links).len()
    }

    /// Removes a link; its relay stops.
    fn take_link(&self, key: (u64, u64, u64, bool)) -> Option<RemoteLink> {
        lock(&self.links).remove(&key)
    }

    /// Keeps a link and starts relaying the local end's death (or unlink)
    /// to the other node at `addr`.
    fn keep_link(self: &Arc<Self>, key: (u64, u64, u64, bool), local: ProcessHandle, proxy: ProcessHandle, tag: i64, addr: SocketAddr) {
        let (relay, stop) = async_channel::bounded::<()>(1);
        let old = lock(&self.links).insert(key, RemoteLink { local: local.clone(), proxy: proxy.id(), tag, _relay: relay });
        if let Some(old) = old {
            // A link again: it replaces the earlier one, as locally.
            old.local.signal(Signal::Unlink { from: old.proxy });
        }
        let node = self.clone();
        let (other, remote_pid, local_pid, linker) = key;
        self.tasks.spawn(async move {
            let ended = futures_lite::future::or(async { Some(local::link_end(&proxy).await) }, async {
                let _ = stop.recv().await;
                None
            })
            .await;
            let Some(end) = ended else { return };
            // Only if the link is still there (not already dissolved by the other end).
            let still = lock(&node.links).get(&key).is_some_and(|l| l.proxy == proxy.id());
            if !still {
                return;
            }
            node.take_link(key);
            let request = match end {
                LinkEnd::Died { failed } => Request::LinkDied { pid: remote_pid, from: local_pid, failed, linker: !linker },
                LinkEnd::Unlinked => Request::Unlink { pid: remote_pid, from: local_pid, linker: !linker },
            };
            node.tell(other, addr, request);
        });
    }

    /// Sends a one-way notice to node `other` in the ordered stream, behind
    /// the messages queued for it already; a node that is gone is not told
    /// (it has dropped its end already).
    pub(super) fn tell(self: &Arc<Self>, other: u64, addr: SocketAddr, request: Request) {
        if !self.is_up(other) {
            return;
        }
        let notice = wire::Control::Tell { request };
        if self.push(other, addr, 0, |frames| wire::control_frame(frames, &notice)) != 0 {
            log::debug!(target: "lunatic::node", "cannot tell node {other} {notice:?}");
        }
    }

    /// Links local process `local` to process `pid` on node `target`;
    /// `proxy` is already in the local process's link table with `tag`.
    /// Fails with 1 (unknown node) or 9027 (down, or no answer within the
    /// timeout); then there is no link. A target that is not running gives
    /// a failed link death at once, as locally.
    pub(crate) async fn link(self: &Arc<Self>, target: u64, pid: u64, local: ProcessHandle, proxy: ProcessHandle, tag: i64) -> Result<(), Failure> {
        let peer = self.peer(target)?;
        if self.links_len() >= MAX_REMOTE_LINKS {
            return Err(Failure::new(UNREACHABLE, "too many links to remote processes"));
        }
        let key = (target, pid, local.id(), true);
        let proxy_id = proxy.id();
        // Kept first: the other end's death reported before the answer is not lost.
        self.keep_link(key, local.clone(), proxy, tag, peer.addr);
        let answer = within(self.timeout, self.request(peer.addr, &Request::Link { pid, from: local.id(), tag })).await;
        let mine = |n: &Node| lock(&n.links).get(&key).is_some_and(|l| l.proxy == proxy_id);
        match answer {
            Some(Ok(Response::Linking { alive: true })) => Ok(()),
            Some(Ok(Response::Linking { alive: false })) => {
                if mine(self) {
                    self.take_link(key);
                    local.signal(Signal::LinkDied { from: proxy_id, tag, failed: true });
                }
                Ok(())
            }
            other => {
                if mine(self) {
                    self.take_link(key);
                }
                let failure = Failure::new(UNREACHABLE, format!("node {target} did not take the link: {other:?}"));
                log::warn!(target: "lunatic::node", "{}", failure.message);
                Err(failure)
            }
        }
    }

    /// Removes the links between local process `me` and process `pid` on
    /// node `target` (either end may unlink) and tells that node. Returns
    /// the stand-ins to drop from the local process's link table.
    pub(crate) fn unlink(self: &Arc<Self>, target: u64, pid: u64, me: u64) -> Vec<u64> {
        let mut proxies = Vec::new();
        for linker in [true, false] {
            if let Some(link) = self.take_link((target, pid, me, linker)) {
                proxies.push(link.proxy);
                if let Ok(peer) = self.peer(target) {
                    self.tell(target, peer.addr, Request::Unlink { pid, from: me, linker: !linker });
                }
            }
        }
        proxies
    }

    /// A peer at `from` asks to link its process `remote` to local `pid`.
    pub(super) fn accept_link(self: &Arc<Self>, from: SocketAddr, pid: u64, remote: u64, tag: i64) -> Response {
        let Some(other) = self.member_at(from) else {
            return Response::Failed { code: 1, message: "not a member".into() };
        };
        if self.links_len() >= MAX_REMOTE_LINKS {
            return Response::Failed { code: UNREACHABLE as u32, message: "too many links to remote processes".into() };
        }
        let Some(target) = self.local.as_ref().and_then(|l| l.env().get(pid)) else {
            return Response::Linking { alive: false };
        };
        let proxy = local::proxy();
        if !target.signal(Signal::Link { from: proxy.clone(), tag }) {
            return Response::Linking { alive: false };
        }
        self.keep_link((other, remote, pid, false), target, proxy, tag, from);
        Response::Linking { alive: true }
    }

    /// A peer at `from` reports the end of its process `remote`, linked to
    /// local `pid` (`linker`: the local process called `link`), or that
    /// it unlinked (`died` None).
    pub(super) fn link_gone(&self, from: SocketAddr, pid: u64, remote: u64, linker: bool, died: Option<bool>) -> Response {
        let Some(other) = self.member_at(from) else {
            return Response::Failed { code: 1, message: "not a member".into() };
        };
        if let Some(link) = self.take_link((other, remote, pid, linker)) {
            match died {
                Some(failed) => link.local.signal(Signal::LinkDied { from: link.proxy, tag: link.tag, failed }),
                None => link.local.signal(Signal::Unlink { from: link.proxy }),
            };
        }
        Response::Done
    }

    /// Node `other` went down: every link to a process there dies, as
    /// failed (the other end may be alive, but nobody can tell).
    pub(super) fn links_down(&self, other: u64) {
        let gone: Vec<RemoteLink> = {
            let mut links = lock(&self.links);
            let keys: Vec<_> = links.keys().filter(|k| k.0 == other).copied().collect();
            keys.into_iter().filter_map(|k| links.remove(&k)).collect()
        };
        for link in gone {
            link.local.signal(Signal::LinkDied { from: link.proxy, tag: link.tag, failed: true });
        }
    }
}
