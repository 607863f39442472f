//! Name resolution and DNS iterators (`resolve`, `resolve_next`,
//! `drop_dns_iterator`).
//!
//! Lookups run on the blocking pool (`getaddrinfo` blocks), never on an
//! executor thread. Before asking the system, a host name is looked up in
//! the runtime's override list ([`crate::RuntimeOptions::resolve`]) and then
//! in the `LUNATIC_RESOLVE` environment variable, `host=ip[,host=ip...]`
//! (e.g. `LUNATIC_RESOLVE=example.test=127.0.0.1,example.test=::1`): like
//! curl's `--resolve`, every listed address of a matching host is returned,
//! with the port of the lookup, and no system file is involved.

use super::{addr, check_out, guest, timer, wait_on, Outcome, M};
use crate::engine::HostFunctions;
use crate::protocol::{completion, ProcessState, TIMEOUT};
use crate::scheduler::Scheduler;
use std::collections::VecDeque;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, OnceLock};
use wasmi::{Caller, Error, Val};

/// The environment variable with extra host-name overrides.
pub(crate) const RESOLVE_ENV: &str = "LUNATIC_RESOLVE";

/// What `resolve_next` hands out, front first.
pub(crate) struct DnsIterator(VecDeque<SocketAddr>);

impl DnsIterator {
    pub(super) fn new(addrs: impl IntoIterator<Item = SocketAddr>) -> Self {
        Self(addrs.into_iter().collect())
    }
}

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "resolve", resolve);
    host.func(M, "drop_dns_iterator", |mut c: Caller<'_, ProcessState>, id: i64| {
        c.data_mut().contexts.resources().net.dns.remove(id as u64).map(drop)
    });
    host.func(M, "resolve_next", resolve_next);
}

fn resolve(
    mut caller: Caller<'_, ProcessState>,
    name_ptr: i32,
    name_len: i32,
    timeout_ms: i64,
    id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let name = super::host_name(memory, name_ptr as u32, name_len as u32)?;
    let id_ptr = id_ptr as u32;
    check_out(memory, id_ptr, 8)?;
    let name = match name {
        Ok(name) => name,
        Err(e) => return Outcome::Failed(e.into()).write(memory, state, id_ptr),
    };
    let overrides = overrides(state);
    let scheduler = state.runtime.scheduler_arc();
    let timer = timer(&*scheduler, timeout_ms as u64);
    let call = {
        let name = name.clone();
        move || crate::replay::Call::new("resolve").arg(name).arg(timeout_ms)
    };
    let lookup = lookup(scheduler, overrides, name);
    Err(wait_on(state, call, timer, lookup, move |result| {
        completion(move |ctx| {
            let (memory, state) = guest::memory_and_state(ctx)?;
            let status = match result {
                // The original writes 0 on timeout (abi.md §2.9).
                None => {
                    guest::write_u64(memory, id_ptr, 0)?;
                    TIMEOUT
                }
                Some(Ok(addrs)) => {
                    Outcome::Done(super::add_addrs(state, addrs)?).write(memory, state, id_ptr)?
                }
                Some(Err(e)) => Outcome::Failed(e.into()).write(memory, state, id_ptr)?,
            };
            Ok(vec![Val::I32(status)])
        })
    }))
}

fn resolve_next(
    mut caller: Caller<'_, ProcessState>,
    id: i64,
    addr_type_ptr: i32,
    addr_ptr: i32,
    port_ptr: i32,
    flow_info_ptr: i32,
    scope_id_ptr: i32,
) -> Result<i32, Error> {
    let (memory, state) = guest::memory_and_state(&mut caller)?;
    let iter = state.contexts.resources().net.dns.get_mut(id as u64)?;
    let Some(&next) = iter.0.front() else {
        return Ok(1);
    };
    let out = addr::Out {
        addr_type: addr_type_ptr as u32,
        addr: addr_ptr as u32,
        port: port_ptr as u32,
        flow_info: flow_info_ptr as u32,
        scope_id: scope_id_ptr as u32,
    };
    addr::write(memory, next, &out)?;
    iter.0.pop_front();
    Ok(0)
}

/// Host-name overrides in force for `state`'s runtime: the runtime option
/// first, then the environment variable.
pub(super) fn overrides(state: &ProcessState) -> Vec<(String, IpAddr)> {
    let mut list = state.runtime.resolve_overrides().to_vec();
    list.extend(env_overrides().iter().cloned());
    list
}

/// `LUNATIC_RESOLVE`, read and parsed once; an invalid value is reported
/// and ignored as a whole.
fn env_overrides() -> &'static [(String, IpAddr)] {
    static PARSED: OnceLock<Vec<(String, IpAddr)>> = OnceLock::new();
    PARSED.get_or_init(|| {
        let Ok(value) = std::env::var(RESOLVE_ENV) else {
            return Vec::new();
        };
        parse_resolve_list(&value).unwrap_or_else(|e| {
            log::warn!(target: "lunatic::networking", "ignoring {RESOLVE_ENV}: {e}");
            Vec::new()
        })
    })
}

/// Parses `host=ip[,host=ip...]` (the `LUNATIC_RESOLVE` format; an IPv6
/// address may be bracketed). Host names are normalised to lower case
/// without a trailing dot.
pub(crate) fn parse_resolve_list(text: &str) -> Result<Vec<(String, IpAddr)>, String> {
    let mut list = Vec::new();
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (host, ip) =
            entry.split_once('=').ok_or_else(|| format!("`{entry}` is not of the form host=ip"))?;
        let host = normalize(host.trim());
        if host.is_empty() {
            return Err(format!("`{entry}` names no host"));
        }
        let ip = ip.trim();
        let bare = ip.strip_prefix('[').and_then(|ip| ip.strip_suffix(']')).unwrap_or(ip);
        let ip: IpAddr =
            bare.parse().map_err(|_| format!("`{ip}` in `{entry}` is not an IP address"))?;
        list.push((host, ip));
    }
    Ok(list)
}

fn normalize(host: &str) -> String {
    host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase()
}

/// Resolves `host:port` (the form `resolve` takes; the port is required).
async fn lookup(
    scheduler: Arc<dyn Scheduler>,
    overrides: Vec<(String, IpAddr)>,
    name: String,
) -> io::Result<Vec<SocketAddr>> {
    if let Ok(addr) = name.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    let (host, port) = split_host_port(&name)?;
    lookup_host(scheduler, &overrides, host, port).await
}

/// Splits `host:port`; errors read like the standard library's.
fn split_host_port(name: &str) -> io::Result<(&str, u16)> {
    let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
    let (host, port) = name.rsplit_once(':').ok_or_else(|| invalid("invalid socket address"))?;
    let port = port.parse().map_err(|_| invalid("invalid port value"))?;
    Ok((host, port))
}

/// Resolves a host name (or IP literal, possibly bracketed) for `port`:
/// overrides first, then the system resolver on the blocking pool.
pub(super) async fn lookup_host(
    scheduler: Arc<dyn Scheduler>,
    overrides: &[(String, IpAddr)],
    host: &str,
    port: u16,
) -> io::Result<Vec<SocketAddr>> {
    let bare = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let wanted = normalize(bare);
    let hits: Vec<SocketAddr> = overrides
        .iter()
        .filter(|(name, _)| normalize(name) == wanted)
        .map(|&(_, ip)| SocketAddr::new(ip, port))
        .collect();
    if !hits.is_empty() {
        return Ok(hits);
    }
    let bare = bare.to_string();
    crate::scheduler::unblock(&*scheduler, move || {
        (bare.as_str(), port).to_socket_addrs().map(Iterator::collect)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_override_lists() {
        let list = parse_resolve_list(" Example.TEST.=127.0.0.1, b=[::1],,c = ::2 ").unwrap();
        assert_eq!(
            list,
            vec![
                ("example.test".to_string(), "127.0.0.1".parse().unwrap()),
                ("b".to_string(), "::1".parse().unwrap()),
                ("c".to_string(), "::2".parse().unwrap()),
            ]
        );
        assert_eq!(parse_resolve_list("").unwrap(), vec![]);
        assert!(parse_resolve_list("host").is_err());
        assert!(parse_resolve_list("=1.2.3.4").is_err());
        assert!(parse_resolve_list("h=not-an-ip").is_err());
    }

    #[test]
    fn splits_host_and_port() {
        assert_eq!(split_host_port("localhost:80").unwrap(), ("localhost", 80));
        assert_eq!(split_host_port("::1:80").unwrap(), ("::1", 80));
        assert!(split_host_port("localhost")
            .unwrap_err()
            .to_string()
            .contains("invalid socket address"));
        assert!(split_host_port("localhost:http")
            .unwrap_err()
            .to_string()
            .contains("invalid port value"));
        assert!(split_host_port("localhost:65536").is_err());
    }

    fn run<T>(f: impl std::future::Future<Output = T>) -> T {
        futures_lite::future::block_on(f)
    }

    #[test]
    fn overrides_win_over_the_system_and_keep_the_port() {
        let scheduler: Arc<dyn Scheduler> = Arc::new(crate::scheduler::Deterministic::new(0));
        let overrides = vec![
            ("Api.Example.Test".to_string(), "127.0.0.2".parse().unwrap()),
            ("api.example.test".to_string(), "::1".parse().unwrap()),
        ];
        let addrs =
            run(lookup(scheduler.clone(), overrides.clone(), "API.example.test.:8080".into()))
                .unwrap();
        assert_eq!(addrs, vec!["127.0.0.2:8080".parse().unwrap(), "[::1]:8080".parse().unwrap()]);
        // Literals never consult overrides or the system.
        assert_eq!(
            run(lookup(scheduler.clone(), overrides.clone(), "[::1]:9".into())).unwrap(),
            vec!["[::1]:9".parse().unwrap()]
        );
        assert_eq!(
            run(lookup_host(scheduler.clone(), &overrides, "[::1]", 9)).unwrap(),
            vec!["[::1]:9".parse().unwrap()]
        );
        assert!(run(lookup(scheduler, overrides, "no-port.test".into())).is_err());
    }

    #[test]
    fn localhost_resolves_through_the_system() {
        let scheduler: Arc<dyn Scheduler> = Arc::new(crate::scheduler::Deterministic::new(0));
        let addrs = run(lookup(scheduler, Vec::new(), "localhost:80".into())).unwrap();
        assert!(!addrs.is_empty());
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80), "{addrs:?}");
    }
}
