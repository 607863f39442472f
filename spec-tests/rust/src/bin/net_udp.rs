//! UDP with the `lunatic` crate between two sockets on loopback.

use lunatic::net::UdpSocket;

fn main() {
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    println!("unconnected peer_addr fails: {}", b.peer_addr().is_err());
    a.send_to(b"ping", b_addr).unwrap();
    let mut buf = [0u8; 16];
    let (n, from) = b.recv_from(&mut buf).unwrap();
    println!("b got {:?} from a: {}", String::from_utf8_lossy(&buf[..n]), from == a_addr);
    b.connect(a_addr).unwrap();
    println!("b's peer is a: {}", b.peer_addr().unwrap() == a_addr);
    b.send(b"pong").unwrap();
    let (n, from) = a.recv_from(&mut buf).unwrap();
    println!("a got {:?} from b: {}", String::from_utf8_lossy(&buf[..n]), from == b_addr);
    a.connect(b_addr).unwrap();
    let clone = a.try_clone().unwrap();
    b.send(b"for the clone").unwrap();
    let n = clone.recv(&mut buf).unwrap();
    println!("clone got {:?}", String::from_utf8_lossy(&buf[..n]));
    b.send(&[7u8; 100]).unwrap();
    println!("a 100-byte datagram into 16 bytes: {}", a.recv(&mut buf).unwrap());
    a.set_ttl(42).unwrap();
    println!("ttl: {}", a.ttl().unwrap());
    a.set_broadcast(true).unwrap();
    println!("broadcast: {}", a.broadcast().unwrap());
}
