//! Distributed nodes are a desktop/server feature (quinn and rcgen need
//! `ring`, which does not cross-build for iOS and Android here): on those
//! targets every process is outside a cluster and `lunatic::distributed`
//! answers as in `lunatic run`.

use crate::engine::ModuleHandle;
use std::sync::Arc;

/// Status codes, as on other targets.
pub(crate) const UNREACHABLE: i32 = 9027;
pub(crate) const UNKNOWN_NODE: i32 = 1;
pub(crate) const UNKNOWN_MODULE: i32 = 2;

/// Never constructed on these targets.
pub(crate) enum Node {}

/// Why a remote spawn failed.
pub(crate) struct Failure {
    pub(crate) code: i32,
    pub(crate) message: String,
}

#[allow(clippy::unused_async)]
impl Node {
    pub(crate) fn id(&self) -> u64 {
        match *self {}
    }
    pub(crate) fn nodes(&self) -> Vec<u64> {
        match *self {}
    }
    pub(crate) fn module_id(&self, _: &ModuleHandle) -> u64 {
        match *self {}
    }
    pub(crate) async fn spawn(
        self: &Arc<Self>,
        _: u64,
        _: u64,
        _: String,
        _: Vec<u8>,
        _: local::RemoteConfig,
    ) -> Result<u64, Failure> {
        match **self {}
    }
    pub(crate) fn send(self: &Arc<Self>, _: u64, _: u64, _: i64, _: &[u8]) -> i32 {
        match **self {}
    }
    pub(crate) async fn monitor(self: &Arc<Self>, _: u64, _: u64, _: crate::protocol::ProcessHandle) -> Result<(), Failure> {
        match **self {}
    }
    pub(crate) fn forget_monitor(&self, _: u64, _: u64, _: u64) {
        match *self {}
    }
    pub(crate) async fn link(
        self: &Arc<Self>,
        _: u64,
        _: u64,
        _: crate::protocol::ProcessHandle,
        _: crate::protocol::ProcessHandle,
        _: i64,
    ) -> Result<(), Failure> {
        match **self {}
    }
    pub(crate) fn unlink(self: &Arc<Self>, _: u64, _: u64, _: u64) -> Vec<u64> {
        match **self {}
    }
    pub(crate) fn start_query(&self, _: &[(String, String)]) -> anyhow::Result<(u64, usize)> {
        match *self {}
    }
    pub(crate) fn take_query(&self, _: u64) -> Option<Vec<u64>> {
        match *self {}
    }
}

pub(crate) mod local {
    use super::Node;
    use crate::protocol::Environment;
    use crate::protocol::ProcessConfig;
    use std::sync::Arc;

    /// Nothing to ask of a node that does not exist.
    pub(crate) struct RemoteConfig;

    pub(crate) fn remote_config(_: &ProcessConfig) -> RemoteConfig {
        RemoteConfig
    }

    /// Never linked to anything on these targets.
    pub(crate) fn proxy() -> crate::protocol::ProcessHandle {
        crate::protocol::ProcessHandle::new(u64::MAX)
    }

    pub(crate) fn node_of(_: &Arc<Environment>) -> Option<Arc<Node>> {
        None
    }
}

pub(crate) mod certs {
    /// The CA helpers need `rcgen`/`ring`: not on these targets.
    pub(crate) mod guest_ca {
        const UNAVAILABLE: &str = "certificates cannot be made on this platform";
        pub(crate) fn test_root() -> anyhow::Result<(String, String)> {
            anyhow::bail!(UNAVAILABLE)
        }
        pub(crate) fn server_certificates(_: &str, _: &str) -> anyhow::Result<(String, String)> {
            anyhow::bail!(UNAVAILABLE)
        }
        pub(crate) fn sign_node(_: &str, _: &str, _: &str) -> anyhow::Result<String> {
            anyhow::bail!(UNAVAILABLE)
        }
    }
}
