//! Membership and failure detection: foca's SWIM, sans-IO. Its packets go
//! as QUIC datagrams between nodes (so only members with a cluster
//! certificate take part), its timers run on [`Node::after`], and its
//! notifications update the node's view of who is up.

use super::Node;
use foca::{AccumulatingRuntime, Config, Foca, NoCustomBroadcast, OwnedNotification, PostcardCodec, Timer};
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroUsize};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Who a member is: its node ID (new for every start), where it serves,
/// whether it is a control server, its tags, when it started (the newer of
/// two members on one address wins), and whether it grants remote callers
/// their environment (`--allow-remote-env`; callers leave it out of spawn
/// requests to nodes that would drop it).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Ident {
    pub id: u64,
    pub addr: SocketAddr,
    pub control: bool,
    pub tags: Vec<(String, String)>,
    pub started_ms: u64,
    pub takes_env: bool,
}

impl Ident {
    pub(crate) fn new(id: u64, addr: SocketAddr, control: bool, tags: Vec<(String, String)>, takes_env: bool) -> Self {
        let started_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        Self { id, addr, control, tags, started_ms, takes_env }
    }

    /// An identity to announce to when only the address is known (foca
    /// accepts an announce addressed to any identity at its address).
    fn at(addr: SocketAddr) -> Self {
        Self { id: 0, addr, control: false, tags: Vec::new(), started_ms: 0, takes_env: false }
    }
}

impl foca::Identity for Ident {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        None
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        (self.started_ms, self.id) > (adversary.started_ms, adversary.id)
    }
}

type Swim = Foca<Ident, PostcardCodec, rand::rngs::StdRng, NoCustomBroadcast>;

/// The foca instance of a node.
pub(crate) struct Membership {
    foca: Mutex<Swim>,
}

/// SWIM timing: a probe every 500 ms answered within 250 ms, a suspect
/// declared down 1.5 s later: a crashed node leaves `nodes()` about 2-3 s
/// after its last answer on a LAN.
fn config() -> Config {
    let mut config = Config::new_lan(NonZeroU32::new(16).unwrap_or(NonZeroU32::MIN));
    config.probe_period = Duration::from_millis(500);
    config.probe_rtt = Duration::from_millis(250);
    config.suspect_to_down_after = Duration::from_millis(1500);
    // A QUIC datagram holds ~1 150 bytes on the smallest path MTU.
    config.max_packet_size = NonZeroUsize::new(1000).unwrap_or(NonZeroUsize::MIN);
    // No TurnUndead: with it, after a partition heals, whichever side
    // hears from the other first tells it that it is down, and both sides
    // can end up stopping. `Node::reunite` settles it instead: the smaller
    // side stops.
    config.notify_down_members = false;
    config.periodic_announce_to_down_members = None;
    config.periodic_announce = Some(foca::PeriodicParams {
        frequency: Duration::from_secs(5),
        num_members: NonZeroUsize::MIN,
    });
    config
}

impl Membership {
    pub(crate) fn new(ident: Ident) -> anyhow::Result<Self> {
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|e| anyhow::anyhow!("no random bytes: {e}"))?;
        let rng = rand::rngs::StdRng::from_seed(seed);
        Ok(Self { foca: Mutex::new(Foca::new(ident, config(), rng, PostcardCodec)) })
    }

    /// Runs one foca step, then carries out what it asked for: packets to
    /// send, timers to set. Notifications are applied under the lock, so
    /// they reach the node in the order foca made them.
    fn step(&self, node: &Arc<Node>, work: impl FnOnce(&mut Swim, &mut AccumulatingRuntime<Ident>) -> Result<(), foca::Error>) {
        let mut runtime = AccumulatingRuntime::new();
        {
            let mut foca = self.foca.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Err(e) = work(&mut foca, &mut runtime) {
                log::debug!(target: "lunatic::node", "membership: {e}");
            }
            while let Some(notification) = runtime.to_notify() {
                match notification {
                    OwnedNotification::MemberUp(ident) => node.member_up(&ident),
                    OwnedNotification::MemberDown(ident) => node.member_down(&ident),
                    OwnedNotification::Rename(old, new) => {
                        node.member_down(&old);
                        node.member_up(&new);
                    }
                    OwnedNotification::Defunct => node.defunct(),
                    _ => {}
                }
            }
        }
        while let Some((to, packet)) = runtime.to_send() {
            node.send_packet(to.addr, packet);
        }
        while let Some((delay, timer)) = runtime.to_schedule() {
            self.schedule(node, delay, timer);
        }
    }

    fn schedule(&self, node: &Arc<Node>, delay: Duration, timer: Timer<Ident>) {
        node.after(delay, move |node| node.membership.step(node, |foca, rt| foca.handle_timer(timer, rt)));
    }

    /// Starts probing (nothing to probe until someone joins).
    pub(crate) fn start(&self, node: &Arc<Node>) {
        self.step(node, |_, _| Ok(()));
    }

    /// Asks the member at `addr` to let this node in.
    pub(crate) fn announce(&self, node: &Arc<Node>, addr: SocketAddr) {
        self.step(node, |foca, rt| foca.announce(Ident::at(addr), rt));
    }

    /// Tells the members this node leaves (they drop it at once).
    pub(crate) fn leave(&self, node: &Arc<Node>) {
        self.step(node, |foca, rt| foca.leave_cluster(rt));
    }

    /// A packet from a peer.
    pub(crate) fn handle_packet(&self, node: &Arc<Node>, packet: &[u8]) {
        self.step(node, |foca, rt| foca.handle_data(packet, rt));
    }
}
