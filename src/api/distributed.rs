//! `lunatic::distributed` on a single node: this runtime is not part of a
//! cluster, so queries answer "no nodes" and remote operations trap, exactly
//! as the original does outside distributed mode (abi.md §2.10). Every
//! spawning guest imports these, so they must exist.

use crate::engine::HostFunctions;
use crate::errors::bail_trap;
use crate::protocol::ProcessState;
use wasmi::{Caller, Error};

const M: &str = "lunatic::distributed";
const NOT_DISTRIBUTED: &str = "Distributed is not initialized";

pub(super) fn register(host: &mut HostFunctions<ProcessState>) {
    host.func(M, "nodes_count", |_: Caller<'_, ProcessState>| -> i32 { 0 });
    host.func(M, "get_nodes", |_: Caller<'_, ProcessState>, _ptr: i32, _cap: i32| -> i32 { 0 });
    host.func(M, "node_id", |_: Caller<'_, ProcessState>| -> i64 { 0 });
    host.func(M, "module_id", |_: Caller<'_, ProcessState>| -> i64 { 0 });
    host.func(M, "spawn", spawn);
    host.func(M, "send", |_c: Caller<'_, ProcessState>, _node: i64, _pid: i64| -> Result<i32, Error> {
        bail_trap!("{NOT_DISTRIBUTED}")
    });
    host.func(
        M,
        "send_receive_skip_search",
        |_c: Caller<'_, ProcessState>, _node: i64, _pid: i64, _tag: i64, _timeout: i64| -> Result<i32, Error> {
            bail_trap!("{NOT_DISTRIBUTED}")
        },
    );
    host.func(
        M,
        "exec_lookup_nodes",
        |_c: Caller<'_, ProcessState>, _qp: i32, _ql: i32, _id: i32, _len: i32, _err: i32| -> Result<i32, Error> {
            bail_trap!("{NOT_DISTRIBUTED}")
        },
    );
    host.func(
        M,
        "copy_lookup_nodes_results",
        |_c: Caller<'_, ProcessState>, _q: i64, _p: i32, _cap: i32, _err: i32| -> Result<i32, Error> {
            bail_trap!("{NOT_DISTRIBUTED}")
        },
    );
}

#[allow(clippy::too_many_arguments)]
fn spawn(
    caller: Caller<'_, ProcessState>,
    _node_id: i64,
    _config_id: i64,
    _module_id: i64,
    _func_ptr: i32,
    _func_len: i32,
    _params_ptr: i32,
    _params_len: i32,
    _id_ptr: i32,
) -> Result<i32, Error> {
    if !caller.data().config.can_spawn_processes {
        bail_trap!("this process is not allowed to spawn processes");
    }
    bail_trap!("{NOT_DISTRIBUTED}")
}
