//! Tests that run whole programs through the top layer (the runner, the
//! runtime facade) while checking a lower layer's behaviour; they live here
//! so that no lower layer imports a higher one, even in tests.

mod environment;
mod hot;
pub(crate) mod host_panic;
mod replay;
mod spawn_in_task;
mod wasi;
