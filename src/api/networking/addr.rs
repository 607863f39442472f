//! Socket addresses across the guest boundary (abi.md §2.9).
//!
//! In: an address type (4 or 6, anything else traps), 4 or 16 raw address
//! bytes in network order, a port truncated to 16 bits and, for v6 only,
//! flow info and scope ID. Out (`resolve_next`): the type as a u32, the
//! address bytes, the port as a little-endian u16 and, for v6 only, flow
//! info and scope ID as u32.

use crate::protocol::guest;
use crate::errors::bail_trap;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use wasmi::Error;

/// Reads a socket address given as host-function arguments.
pub(super) fn read(
    memory: &[u8],
    addr_type: i32,
    addr_ptr: i32,
    port: i32,
    flow_info: i32,
    scope_id: i32,
) -> Result<SocketAddr, Error> {
    let port = port as u16;
    match addr_type {
        4 => {
            let octets: [u8; 4] =
                guest::bytes(memory, addr_ptr as u32, 4)?.try_into().expect("4 bytes");
            Ok(SocketAddrV4::new(Ipv4Addr::from(octets), port).into())
        }
        6 => {
            let octets: [u8; 16] =
                guest::bytes(memory, addr_ptr as u32, 16)?.try_into().expect("16 bytes");
            Ok(SocketAddrV6::new(Ipv6Addr::from(octets), port, flow_info as u32, scope_id as u32)
                .into())
        }
        other => bail_trap!("unsupported address type {other} (only 4 and 6 exist)"),
    }
}

/// Where `resolve_next` writes the parts of an address.
pub(super) struct Out {
    pub(super) addr_type: u32,
    pub(super) addr: u32,
    pub(super) port: u32,
    pub(super) flow_info: u32,
    pub(super) scope_id: u32,
}

/// Writes `addr` to the guest. All target ranges are checked before the
/// first byte is written.
pub(super) fn write(memory: &mut [u8], addr: SocketAddr, out: &Out) -> Result<(), Error> {
    match addr {
        SocketAddr::V4(v4) => {
            for (ptr, len) in [(out.addr_type, 4), (out.addr, 4), (out.port, 2)] {
                guest::range(memory, ptr, len)?;
            }
            guest::write_u32(memory, out.addr_type, 4)?;
            guest::write(memory, out.addr, &v4.ip().octets())?;
            guest::write(memory, out.port, &v4.port().to_le_bytes())?;
        }
        SocketAddr::V6(v6) => {
            for (ptr, len) in [
                (out.addr_type, 4),
                (out.addr, 16),
                (out.port, 2),
                (out.flow_info, 4),
                (out.scope_id, 4),
            ] {
                guest::range(memory, ptr, len)?;
            }
            guest::write_u32(memory, out.addr_type, 6)?;
            guest::write(memory, out.addr, &v6.ip().octets())?;
            guest::write(memory, out.port, &v6.port().to_le_bytes())?;
            guest::write_u32(memory, out.flow_info, v6.flowinfo())?;
            guest::write_u32(memory, out.scope_id, v6.scope_id())?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_v4_and_v6() {
        let mut memory = vec![0u8; 64];
        memory[8..12].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(read(&memory, 4, 8, 8080, 9, 9).unwrap(), "127.0.0.1:8080".parse().unwrap());
        // The port is truncated to 16 bits.
        assert_eq!(read(&memory, 4, 8, 0x1_0050, 0, 0).unwrap().port(), 80);
        memory[16..32].copy_from_slice(&Ipv6Addr::LOCALHOST.octets());
        let v6 = read(&memory, 6, 16, 443, 7, 3).unwrap();
        assert_eq!(v6, SocketAddrV6::new(Ipv6Addr::LOCALHOST, 443, 7, 3).into());
    }

    #[test]
    fn bad_types_and_pointers_trap() {
        let memory = vec![0u8; 64];
        for bad in [0, 5, -1, 46] {
            let err = read(&memory, bad, 0, 1, 0, 0).unwrap_err();
            assert!(err.to_string().contains("unsupported address type"), "{err}");
        }
        assert!(read(&memory, 4, 61, 1, 0, 0).is_err());
        assert!(read(&memory, 6, 49, 1, 0, 0).is_err());
        assert!(read(&memory, 4, -1, 1, 0, 0).is_err());
    }

    fn out() -> Out {
        Out { addr_type: 0, addr: 4, port: 20, flow_info: 24, scope_id: 28 }
    }

    #[test]
    fn writes_v4_without_touching_v6_fields() {
        let mut memory = vec![0xAAu8; 32];
        write(&mut memory, "10.1.2.3:258".parse().unwrap(), &out()).unwrap();
        assert_eq!(&memory[0..4], &4u32.to_le_bytes());
        assert_eq!(&memory[4..8], &[10, 1, 2, 3]);
        assert_eq!(&memory[20..22], &[2, 1], "port is a little-endian u16");
        assert_eq!(&memory[22..32], &[0xAA; 10], "nothing else is written");
    }

    #[test]
    fn writes_v6_with_flow_info_and_scope() {
        let mut memory = vec![0u8; 32];
        let addr = SocketAddrV6::new("fe80::1".parse().unwrap(), 8443, 0x0102_0304, 5);
        write(&mut memory, addr.into(), &out()).unwrap();
        assert_eq!(&memory[0..4], &6u32.to_le_bytes());
        assert_eq!(&memory[4..20], &addr.ip().octets());
        assert_eq!(&memory[20..22], &8443u16.to_le_bytes());
        assert_eq!(&memory[24..28], &0x0102_0304u32.to_le_bytes());
        assert_eq!(&memory[28..32], &5u32.to_le_bytes());
    }

    #[test]
    fn a_bad_out_pointer_traps_before_anything_is_written() {
        let mut memory = vec![0u8; 32];
        let bad = Out { scope_id: 30, ..out() };
        let addr = SocketAddrV6::new(Ipv6Addr::LOCALHOST, 1, 0, 0);
        assert!(write(&mut memory, addr.into(), &bad).is_err());
        assert_eq!(memory, vec![0u8; 32]);
        // The v6-only pointers do not matter for v4.
        write(&mut memory, "1.2.3.4:5".parse().unwrap(), &bad).unwrap();
    }
}
