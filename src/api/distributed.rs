//! `lunatic::distributed`: processes on other nodes (abi.md §2.10). Outside
//! a cluster (`lunatic run`) queries answer "no nodes" and remote operations
//! trap, exactly as the original does outside distributed mode; on a node
//! (`lunatic node`) they go through `crate::node`.
//!
//! Beyond the original: a remote spawn answers 9027 when the node is down
//! or does not answer within the node's timeout (never hangs); a send to a
//! node that is down or unknown is dropped at once (returns 9027 / 1);
//! `send_receive_skip_search` starts looking for the reply before the
//! request leaves; lookups filter by the nodes' `--tag`s.

use super::fail_with;
use crate::protocol::guest;
use crate::engine::HostFunctions;
use crate::errors::{bail_trap, trap};
use crate::protocol::{completion, suspend, Pending, ProcessState};
use std::sync::Arc;
use wasmi::{Caller, Error, Val};

use crate::node::{self, Node};

const M: &str = "lunatic::distributed";
const NOT_DISTRIBUTED: &str = "Distributed is not initialized";

fn node_of(state: &ProcessState) -> Option<Arc<Node>> {
    node::local::node_of(&state.env)
}

fn the_node(state: &ProcessState) -> Result<Arc<Node>, Error> {
    node_of(state).ok_or_else(|| trap(NOT_DISTRIBUTED))
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "nodes_count", |c: Caller<'_, ProcessState>| -> i32 {
        node_of(c.data()).map_or(0, |n| n.nodes().len() as i32)
    });
    host.func(M, "get_nodes", get_nodes);
    host.func(M, "node_id", |c: Caller<'_, ProcessState>| -> i64 { node_of(c.data()).map_or(0, |n| n.id() as i64) });
    host.func(M, "module_id", module_id);
    host.func(M, "spawn", spawn);
    host.func(M, "send", send);
    host.func(M, "send_receive_skip_search", send_receive_skip_search);
    host.func(M, "exec_lookup_nodes", exec_lookup_nodes);
    host.func(M, "copy_lookup_nodes_results", copy_lookup_nodes_results);
    host.func(M, "test_root_cert", test_root_cert);
    host.func(M, "default_server_certificates", default_server_certificates);
    host.func(M, "sign_node", sign_node);
    host.func(EXT, "monitor", monitor);
    host.func(EXT, "stop_monitoring", stop_monitoring);
    host.func(EXT, "link", link);
    host.func(EXT, "unlink", unlink);
}

/// bincode 1.x of a `String`: u64 LE length, then the bytes.
fn bincode_string(out: &mut Vec<u8>, text: &str) {
    out.extend_from_slice(&(text.len() as u64).to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

/// `test_root_cert(len_ptr) -> ptr`: bincode `(cert_pem, key_pem)` of a test
/// CA, made once per runtime process (none is built in), host-allocated.
fn test_root_cert(mut caller: Caller<'_, ProcessState>, len_ptr: i32) -> Result<i32, Error> {
    let (cert, key) = node::certs::guest_ca::test_root().map_err(|e| trap(format!("{e:#}")))?;
    let mut out = Vec::new();
    bincode_string(&mut out, &cert);
    bincode_string(&mut out, &key);
    super::sqlite::host_alloc(&mut caller, &out, len_ptr)
}

/// `default_server_certificates(cert, key, len_ptr) -> ptr`: a control
/// server's certificate and key signed by the given CA; errors trap.
fn default_server_certificates(
    mut caller: Caller<'_, ProcessState>,
    cert_ptr: i32,
    cert_len: i32,
    key_ptr: i32,
    key_len: i32,
    len_ptr: i32,
) -> Result<i32, Error> {
    let (memory, _) = guest::memory_and_state(&mut caller)?;
    let cert = guest::str(memory, cert_ptr as u32, cert_len as u32)?.to_string();
    let key = guest::str(memory, key_ptr as u32, key_len as u32)?.to_string();
    let (cert, key) = node::certs::guest_ca::server_certificates(&cert, &key).map_err(|e| trap(format!("{e:#}")))?;
    let mut out = Vec::new();
    bincode_string(&mut out, &cert);
    bincode_string(&mut out, &key);
    super::sqlite::host_alloc(&mut caller, &out, len_ptr)
}

/// `sign_node(cert, key, csr, len_ptr) -> ptr`: the CSR signed by the
/// given CA, bincode `String`; errors trap.
#[allow(clippy::too_many_arguments)]
fn sign_node(
    mut caller: Caller<'_, ProcessState>,
    cert_ptr: i32,
    cert_len: i32,
    key_ptr: i32,
    key_len: i32,
    csr_ptr: i32,
    csr_len: i32,
    len_ptr: i32,
) -> Result<i32, Error> {
    let (memory, _) = guest::memory_and_state(&mut caller)?;
    let cert = guest::str(memory, cert_ptr as u32, cert_len as u32)?.to_string();
    let key = guest::str(memory, key_ptr as u32, key_len as u32)?.to_string();
    let csr = guest::str(memory, csr_ptr as u32, csr_len as u32)?.to_string();
    let signed = node::certs::guest_ca::sign_node(&cert, &key, &csr).map_err(|e| trap(format!("{e:#}")))?;
    let mut out = Vec::new();
    bincode_string(&mut out, &signed);
    super::sqlite::host_alloc(&mut caller, &out, len_ptr)
}

/// The ABI extension (not in the original; unchanged guests never import
/// it): monitors of processes on other nodes.
const EXT: &str = "lunatic::distributed_ext";

/// `monitor(node_id, process_id) -> i32`: like `lunatic::process::monitor`
/// for a process on any node: the caller gets a `ProcessDied` message
/// (kind 2, that process ID) when the process ends, when its node goes
/// down or leaves, or at once if it is not running. 0 when set; 1 unknown
/// node; 9027 node down or not answering within the node's timeout (then
/// no message comes). Outside a cluster, and for this node's own ID, it is
/// the local monitor.
fn monitor(mut caller: Caller<'_, ProcessState>, node_id: i64, pid: i64) -> Result<i32, Error> {
    let state = caller.data_mut();
    let node = node_of(state);
    if node.as_ref().is_none_or(|n| n.id() == node_id as u64) || node_id == 0 {
        if let Some(target) = state.env.get(pid as u64) {
            if target.signal(crate::protocol::Signal::Monitor { from: state.handle.clone() }) {
                state.monitoring.insert(target.id(), target);
            }
        }
        return Ok(0);
    }
    let node = the_node(state)?;
    let watcher = state.handle.clone();
    Err(suspend(
        state,
        Pending::Async(Box::pin(async move {
            let status = match node.monitor(node_id as u64, pid as u64, watcher).await {
                Ok(()) => 0,
                Err(failure) => failure.code,
            };
            crate::protocol::done(vec![Val::I32(status)])
        })),
    ))
}

/// `stop_monitoring(node_id, process_id)`: withdraws such a monitor.
fn stop_monitoring(mut caller: Caller<'_, ProcessState>, node_id: i64, pid: i64) {
    let state = caller.data_mut();
    match node_of(state) {
        Some(node) if node.id() != node_id as u64 && node_id != 0 => {
            node.forget_monitor(node_id as u64, pid as u64, state.id());
        }
        _ => {
            let target = state.monitoring.remove(&(pid as u64)).or_else(|| state.env.get(pid as u64));
            if let Some(target) = target {
                target.signal(crate::protocol::Signal::StopMonitoring { from: state.id() });
            }
        }
    }
}

/// `link(tag, node_id, process_id) -> i32`: like `lunatic::process::link`
/// for a process on any node: when either process ends the other gets a
/// link death with `tag` (failed if the ending was a failure, which ends
/// the other too unless it traps link deaths), and when the other node goes
/// down or leaves the caller gets a failed link death. A process that is
/// not running gives a failed link death at once. 0 when set; 1 unknown
/// node; 9027 node down or not answering within the node's timeout (then
/// there is no link and no link death comes). Outside a cluster, and for
/// this node's own ID, it is the local link.
fn link(mut caller: Caller<'_, ProcessState>, tag: i64, node_id: i64, pid: i64) -> Result<i32, Error> {
    let state = caller.data_mut();
    let node = node_of(state);
    if node.as_ref().is_none_or(|n| n.id() == node_id as u64) || node_id == 0 {
        super::process::link_local(state, tag, pid as u64);
        return Ok(0);
    }
    let node = the_node(state)?;
    let me = state.handle.clone();
    // In the link table before the request leaves: if the caller ends
    // meanwhile, the other end is still told.
    let proxy = node::local::proxy();
    let proxy_id = proxy.id();
    state.links.insert(proxy_id, crate::protocol::Link { tag, handle: proxy.clone() });
    Err(suspend(
        state,
        Pending::Async(Box::pin(async move {
            let result = node.link(node_id as u64, pid as u64, me, proxy, tag).await;
            completion(move |ctx| {
                Ok(vec![Val::I32(match result {
                    Ok(()) => 0,
                    Err(failure) => {
                        ctx.data_mut().links.remove(&proxy_id);
                        failure.code
                    }
                })])
            })
        })),
    ))
}

/// `unlink(node_id, process_id)`: withdraws links between the caller and
/// that process (made by either end); the other node is told.
fn unlink(mut caller: Caller<'_, ProcessState>, node_id: i64, pid: i64) {
    let state = caller.data_mut();
    match node_of(state) {
        Some(node) if node.id() != node_id as u64 && node_id != 0 => {
            for proxy in node.unlink(node_id as u64, pid as u64, state.id()) {
                state.links.remove(&proxy);
            }
        }
        _ => super::process::unlink_local(state, pid as u64),
    }
}

/// Writes up to `cap` u64 IDs at `ptr`; returns how many.
fn write_ids(memory: &mut [u8], ptr: i32, cap: i32, ids: &[u64]) -> Result<i32, Error> {
    let count = ids.len().min(cap.max(0) as usize);
    let bytes: Vec<u8> = ids.iter().take(count).flat_map(|id| id.to_le_bytes()).collect();
    guest::write(memory, ptr as u32, &bytes)?;
    Ok(count as i32)
}

fn get_nodes(mut caller: Caller<'_, ProcessState>, ptr: i32, cap: i32) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    match node_of(state) {
        Some(node) => write_ids(memory, ptr, cap, &node.nodes()),
        None => Ok(0),
    }
}

fn module_id(caller: Caller<'_, ProcessState>) -> i64 {
    let state = caller.data();
    node_of(state).map_or(0, |node| node.module_id(&state.module) as i64)
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    mut caller: Caller<'_, ProcessState>,
    node_id: i64,
    config_id: i64,
    module_id: i64,
    func_ptr: i32,
    func_len: i32,
    params_ptr: i32,
    params_len: i32,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let config = super::process::spawn_config(state, config_id)?;
    let node = the_node(state)?;
    {
        let config = node::local::remote_config(&config);
        let entry = guest::str(memory, func_ptr as u32, func_len as u32)?.to_string();
        let params = guest::bytes(memory, params_ptr as u32, params_len as u32)?.to_vec();
        let module = module_id as u64;
        let id_ptr = id_ptr as u32;
        Err(suspend(
            state,
            Pending::Async(Box::pin(async move {
                let result = node.spawn(node_id as u64, module, entry, params, config).await;
                completion(move |ctx| {
                    let (memory, state) = guest::memory_and_state(ctx)?;
                    match result {
                        Ok(pid) => {
                            guest::write_u64(memory, id_ptr, pid)?;
                            Ok(vec![Val::I32(0)])
                        }
                        Err(failure) if matches!(failure.code, node::UNKNOWN_NODE | node::UNKNOWN_MODULE | node::UNREACHABLE) => {
                            fail_with(memory, state, id_ptr, anyhow::anyhow!(failure.message))?;
                            Ok(vec![Val::I32(failure.code)])
                        }
                        Err(failure) => Err(trap(failure.message)),
                    }
                })
            })),
        ))
    }
}

/// Takes the scratch message for a remote send: data without resources only.
fn take_for_remote(state: &mut ProcessState) -> Result<(i64, Vec<u8>), Error> {
    match super::message::take_scratch(state)? {
        crate::protocol::Message::Data(data) => {
            if data.resources.iter().any(Option::is_some) {
                bail_trap!("a message with resources cannot be sent to another node");
            }
            Ok((data.tag, data.buffer))
        }
        _ => bail_trap!("only data messages can be sent to another node"),
    }
}

fn send(mut caller: Caller<'_, ProcessState>, node_id: i64, pid: i64) -> Result<i32, Error> {
    let state = caller.data_mut();
    let node = the_node(state)?;
    let (tag, payload) = take_for_remote(state)?;
    Ok(node.send(node_id as u64, pid as u64, tag, &payload))
}

fn send_receive_skip_search(
    mut caller: Caller<'_, ProcessState>,
    node_id: i64,
    pid: i64,
    wait_on_tag: i64,
    timeout_ms: i64,
) -> Result<i32, Error> {
    let state = caller.data_mut();
    let node = the_node(state)?;
    // The wait covers every message after this point, so a reply that
    // arrives before the request is even written out is still seen.
    let skip = state.mailbox.len();
    let (tag, payload) = take_for_remote(state)?;
    let status = node.send(node_id as u64, pid as u64, tag, &payload);
    if status != 0 {
        // The node is down or unknown: no reply will come.
        return Ok(crate::protocol::TIMEOUT);
    }
    let deadline = guest::deadline(state, timeout_ms);
    Err(suspend(state, Pending::Receive { tags: vec![wait_on_tag], deadline, skip }))
}

/// Parses a `k=v&k2=v2` tag query.
fn parse_query(query: &str) -> Result<Vec<(String, String)>, String> {
    query
        .split('&')
        .filter(|part| !part.is_empty())
        .map(|part| match part.split_once('=') {
            Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
            _ => Err(format!("bad tag query part '{part}': expected key=value")),
        })
        .collect()
}

fn exec_lookup_nodes(
    mut caller: Caller<'_, ProcessState>,
    query_ptr: i32,
    query_len: i32,
    query_id_ptr: i32,
    nodes_len_ptr: i32,
    error_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let node = the_node(state)?;
    let query = guest::str(memory, query_ptr as u32, query_len as u32)?.to_string();
    {
        let started = parse_query(&query).map_err(anyhow::Error::msg).and_then(|q| node.start_query(&q));
        match started {
            Ok((id, count)) => {
                guest::write_u64(memory, query_id_ptr as u32, id)?;
                // The guest reserves 4 bytes for the count (abi.md §7.3).
                guest::write_u32(memory, nodes_len_ptr as u32, count as u32)?;
                Ok(0)
            }
            Err(e) => fail_with(memory, state, error_ptr as u32, e),
        }
    }
}

fn copy_lookup_nodes_results(
    mut caller: Caller<'_, ProcessState>,
    query_id: i64,
    nodes_ptr: i32,
    nodes_cap: i32,
    error_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let node = the_node(state)?;
    match node.take_query(query_id as u64) {
        Some(ids) => write_ids(memory, nodes_ptr, nodes_cap, &ids),
        None => {
            fail_with(memory, state, error_ptr as u32, anyhow::anyhow!("unknown lookup {query_id}"))?;
            Ok(-1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::parse_query;

    #[test]
    fn tag_queries_parse() {
        assert_eq!(parse_query("").unwrap(), vec![]);
        assert_eq!(
            parse_query("a=b&c=").unwrap(),
            vec![("a".into(), "b".into()), ("c".into(), String::new())]
        );
        assert!(parse_query("novalue").is_err());
        assert!(parse_query("=x").is_err());
    }
}
