//! Container networks without a container: namespaces from [`Network::attach`] probed with
//! `ip netns exec … python3`, to show the nftables table's boundaries (the node, other
//! containers, the outside into the range) and that egress to a public-looking host works,
//! masqueraded. Skipped unless root with `ip` and `nft` (under CI=true that fails instead).

use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::io::{BufRead, BufReader};

use paas_sandbox::egress::EgressPolicy;
use paas_sandbox::net::{FLOWS_PER_CONTAINER, NetLease, Network, NetworkConfig, OutsideHost, PROBE_PY, uplink_address};

/// A network on a range of its own, or `None` (skipped) when this is not root with ip and nft.
pub fn network() -> Option<Network> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let root = std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0")));
    let tools = ["ip", "nft"].iter().all(|t| Command::new(t).arg("-V").output().is_ok_and(|o| o.status.success()));
    if !(root && tools) {
        assert!(!ci, "network tests need root, ip and nft (CI=true)");
        eprintln!("skipped: container networks need root, ip and nft");
        return None;
    }
    Some(Network::on_free_range(paas_sandbox::net::STANDALONE_RANGE.parse().unwrap(), 24, EgressPolicy::default()).expect("network"))
}

/// The namespace name of a lease (`/run/netns/NAME`).
fn ns(lease: &NetLease) -> String {
    lease.namespace_path().unwrap().file_name().unwrap().to_string_lossy().into_owned()
}

/// Connects from namespace `netns` to `addr:port` (2 s): the first line read, or the error's name.
fn connect(netns: &str, addr: impl std::fmt::Display, port: u16) -> Result<String, String> {
    let target = format!("{addr}:{port}");
    let out = Command::new("ip").args(["netns", "exec", netns, "python3", "-c", PROBE_PY, &target]).output().expect("ip netns exec");
    let out = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match out.strip_prefix(&format!("{target} ")).and_then(|r| r.split_once(' ')) {
        Some(("OK", line)) => Ok(line.to_string()),
        Some(("ERR", name)) => Err(format!("ERR {name}")),
        _ => Err(out),
    }
}

/// A server in namespace `netns` on 0.0.0.0 that greets with `hello`: (its port, the process).
fn serve_in(netns: &str) -> (u16, KillOnDrop) {
    let script = "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen(8)\nprint(s.getsockname()[1], flush=True)\nwhile True:\n    c, _ = s.accept()\n    c.sendall(b'hello\\n')\n    c.close()\n";
    let mut child = Command::new("ip")
        .args(["netns", "exec", netns, "python3", "-c", script])
        .stdout(Stdio::piped())
        .spawn()
        .expect("server");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    (line.trim().parse().expect("port"), KillOnDrop(child))
}

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_container_reaches_the_outside_masqueraded_and_nothing_of_the_node_nor_another_container() {
    let Some(network) = network() else { return };
    let (a, b) = (network.attach("a").expect("lease a"), network.attach("b").expect("lease b"));
    let outside = OutsideHost::start().expect("outside host");
    // Egress to a public-looking host works, from the node's address on that link (masquerade).
    assert_eq!(connect(&ns(&a), outside.address(), outside.port()), Ok(outside.node_address().to_string()));
    // The node: a listener on every address of it is out of reach from a container.
    let node = TcpListener::bind("0.0.0.0:0").expect("node listener");
    let port = node.local_addr().unwrap().port();
    let gateway = Ipv4Addr::from(u32::from(a.address().unwrap()) - 1);
    for addr in [gateway, uplink_address().expect("the node's uplink address"), outside.node_address(), Ipv4Addr::LOCALHOST] {
        assert_eq!(connect(&ns(&a), addr, port), Err("ERR ConnectionRefusedError".into()), "{addr}");
    }
    // Another container: refused from a container, open from the node (the router's way), closed
    // from outside (the connection times out: new connections into the range are dropped).
    let (b_port, _server) = serve_in(&ns(&b));
    let b_addr = b.address().unwrap();
    assert_eq!(connect(&ns(&a), b_addr, b_port), Err("ERR ConnectionRefusedError".into()));
    let mut from_node = String::new();
    let stream = std::net::TcpStream::connect((b_addr, b_port)).expect("the node reaches a container");
    BufReader::new(stream).read_line(&mut from_node).unwrap();
    assert_eq!(from_node, "hello\n");
    assert_eq!(connect(&outside.netns(), b_addr, b_port), Err("ERR TimeoutError".into()));
}

/// A listener on every address of the node that greets with `node`: its port.
fn node_service() -> u16 {
    node_service_on(Ipv4Addr::UNSPECIFIED)
}

/// A listener on `ip` of the node that greets with `node`: its port.
fn node_service_on(ip: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = std::io::Write::write_all(&mut stream, b"node\n");
        }
    });
    port
}

#[test]
fn the_routers_listener_is_the_node_port_a_container_reaches_and_no_allowed_range_opens_the_veths() {
    if network().is_none() {
        return;
    }
    let (router, other) = (node_service(), node_service());
    let within = paas_sandbox::net::STANDALONE_RANGE.parse().unwrap();
    let range = paas_sandbox::net::free_range(within, 24).expect("a free range");
    let egress = EgressPolicy::new(vec!["10.0.0.0/8".parse().unwrap()], Vec::new());
    let router_listen = format!("0.0.0.0:{router}").parse().unwrap();
    let network = Network::new(NetworkConfig { range, egress, router: vec![router_listen] }).expect("network");
    let lease = network.attach("x").expect("lease");
    let gateway = Ipv4Addr::from(u32::from(lease.address().unwrap()) - 1);
    let uplink = uplink_address().expect("the node's uplink address");
    assert_eq!(connect(&ns(&lease), uplink, router), Ok("node".into()), "the router, on the node's address");
    assert_eq!(connect(&ns(&lease), uplink, other), Err("ERR ConnectionRefusedError".into()));
    // 10.0.0.0/8 is allowed, and the veth's own address (in it) stays closed, router included.
    assert_eq!(connect(&ns(&lease), gateway, other), Err("ERR ConnectionRefusedError".into()));
    assert_eq!(connect(&ns(&lease), gateway, router), Err("ERR ConnectionRefusedError".into()));
}

#[test]
fn a_grant_opens_exactly_its_endpoint_on_the_service_address_to_its_container_until_the_lease_drops() {
    let Some(network) = network() else { return };
    let service = network.service_address();
    assert!(network.range().contains(&service));
    let (granted, other_port) = (node_service_on(service), node_service_on(service));
    let endpoint = std::net::SocketAddr::from((service, granted));
    let mut a = network.attach("a").expect("lease a");
    let b = network.attach("b").expect("lease b");
    assert_ne!(a.address(), Some(service), "the service address is never a container's");
    // Before the grant: refused like any node address.
    assert_eq!(connect(&ns(&a), service, granted), Err("ERR ConnectionRefusedError".into()));
    a.grant(&[endpoint]).expect("grant");
    assert_eq!(connect(&ns(&a), service, granted), Ok("node".into()), "the granted endpoint");
    assert_eq!(connect(&ns(&a), service, other_port), Err("ERR ConnectionRefusedError".into()), "another port of it");
    assert_eq!(connect(&ns(&b), service, granted), Err("ERR ConnectionRefusedError".into()), "another container");
    // The grant goes with the lease: the next container on the same address has none.
    let address = a.address();
    drop(a);
    let (c, _d) = (network.attach("c").expect("lease c"), network.attach("d").expect("lease d"));
    let again = if c.address() == address { c } else { _d };
    assert_eq!(again.address(), address, "a freed address is handed out again");
    assert_eq!(connect(&ns(&again), service, granted), Err("ERR ConnectionRefusedError".into()));
}

#[test]
fn one_container_cannot_hold_more_than_its_share_of_the_nodes_connection_table() {
    let Some(network) = network() else { return };
    let lease = network.attach("flood").expect("lease");
    let outside = OutsideHost::start().expect("outside host");
    let over = 50;
    let script = format!(
        "import resource, socket\nresource.setrlimit(resource.RLIMIT_NOFILE, (20000, 20000))\nopen_, refused = [], 0\nfor _ in range({}):\n    try:\n        open_.append(socket.create_connection(('{}', {}), timeout=2))\n    except OSError:\n        refused += 1\nprint(len(open_), refused)\n",
        FLOWS_PER_CONTAINER + over,
        outside.address(),
        outside.port()
    );
    let out = Command::new("ip").args(["netns", "exec", &ns(&lease), "python3", "-c", &script]).output().expect("flood");
    let counts = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert_eq!(counts, format!("{FLOWS_PER_CONTAINER} {over}"), "{}", String::from_utf8_lossy(&out.stderr));
    // Another container still connects.
    let other = network.attach("other").expect("lease");
    assert_eq!(connect(&ns(&other), outside.address(), outside.port()), Ok(outside.node_address().to_string()));
}

#[test]
fn a_second_server_cannot_take_a_range_in_use_and_a_crashed_ones_leftovers_are_removed() {
    let Some(network) = network() else { return };
    let range = network.range();
    let err = Network::new(NetworkConfig { range, egress: EgressPolicy::default(), router: Vec::new() }).unwrap_err();
    assert!(err.to_string().contains("in use by another paas server"), "{err}");
    // Nor one that overlaps it (they would share addresses).
    let wider = ipnet::Ipv4Net::new(range.network(), 20).unwrap().trunc();
    let err = Network::new(NetworkConfig { range: wider, egress: EgressPolicy::default(), router: Vec::new() }).unwrap_err();
    assert_eq!(err.to_string(), format!("the dyno network {range} is in use by another paas server on this host (pass another --dyno-network)"));
    let table = network.table().to_string();
    let lease = network.attach("x").expect("lease");
    let path = lease.namespace_path().unwrap().to_path_buf();
    drop(lease);
    assert!(!path.exists(), "the namespace goes with its lease");
    // What a crashed server leaves: its owner id in the range's lock file, a namespace named
    // with it (its eth0's veth peer on the node), its table. Beside it, a namespace and veth
    // pair of another owner in the same range (another live server whose lock file went
    // missing): never removed (review: a server swept every namespace in its range).
    let (stale, others) = (Ipv4Addr::from(u32::from(range.network()) + 2), Ipv4Addr::from(u32::from(range.network()) + 6));
    let (crashed, live) = ("c0ffee00", "0badf00d");
    let stale_ns = format!("paas-{crashed}-{stale}");
    let stale_veth = format!("paasv{:08x}", u32::from(stale));
    let live_ns = format!("paas-{live}-{others}");
    let live_veth = format!("paasv{:08x}", u32::from(others));
    let service = network.service_address();
    assert!(lo_addresses().contains(&format!(" {service}/32 ")), "the service address is on lo");
    drop(network);
    assert!(!nft_tables().contains(&table), "the table goes with the network");
    assert!(!lo_addresses().contains(&format!(" {service}/32 ")), "the service address goes with the network");
    // A crashed server's service address (a node address inside the range) does not stop the next.
    assert!(Command::new("ip").args(["addr", "add", &format!("{service}/32"), "dev", "lo"]).status().unwrap().success());
    for (ns, veth) in [(&stale_ns, &stale_veth), (&live_ns, &live_veth)] {
        for args in [vec!["netns", "add", ns.as_str()], vec!["link", "add", veth.as_str(), "type", "veth", "peer", "name", "eth0", "netns", ns.as_str()]] {
            assert!(Command::new("ip").args(&args).status().unwrap().success(), "{args:?}");
        }
    }
    std::fs::write(format!("/run/paas/net/{}-{}.lock", range.network(), range.prefix_len()), crashed).unwrap();
    assert!(Command::new("nft").args(["add", "table", "inet", &table]).status().unwrap().success());
    let network = Network::new(NetworkConfig { range, egress: EgressPolicy::default(), router: Vec::new() }).expect("same range again");
    assert!(!std::path::Path::new("/run/netns").join(&stale_ns).exists(), "stale namespace removed");
    assert!(!std::path::Path::new("/sys/class/net").join(&stale_veth).exists(), "stale veth removed");
    let kept = std::path::Path::new("/run/netns").join(&live_ns).exists() && std::path::Path::new("/sys/class/net").join(&live_veth).exists();
    for args in [vec!["link", "del", live_veth.as_str()], vec!["netns", "del", live_ns.as_str()]] {
        let _ = Command::new("ip").args(&args).status();
    }
    assert!(kept, "another owner's namespace and veth in the range are left alone");
    assert!(nft_tables().contains(&table));
    assert!(lo_addresses().contains(&format!(" {service}/32 ")));
    drop(network);
}

#[test]
fn a_server_starting_removes_what_servers_that_are_gone_left_on_other_ranges() {
    let Some(live) = network() else { return };
    // Leftovers on two ranges of their own (no test server draws from 10.236.0.0/16): one whose
    // server is gone (its lock file there, unheld, naming its owner; its table, its service
    // address, a namespace of that owner), one with a table but no lock file (a live server's file
    // may have gone missing: left alone).
    let within: ipnet::Ipv4Net = "10.236.0.0/16".parse().unwrap();
    let gone = paas_sandbox::net::free_range(within, 24).expect("a free range");
    let unknown = ipnet::Ipv4Net::new(Ipv4Addr::from(u32::from(gone.network()) ^ 0x100), 24).unwrap();
    let table = |range: ipnet::Ipv4Net| format!("paas-{}-{}", range.network(), range.prefix_len());
    let owner = "c0ffee01";
    let namespace = format!("paas-{owner}-{}", Ipv4Addr::from(u32::from(gone.network()) + 2));
    let service = paas_sandbox::net::service_address(gone);
    std::fs::write(format!("/run/paas/net/{}-{}.lock", gone.network(), gone.prefix_len()), owner).unwrap();
    let _ = std::fs::remove_file(format!("/run/paas/net/{}-{}.lock", unknown.network(), unknown.prefix_len()));
    for args in [
        vec!["nft", "add", "table", "inet", &table(gone)],
        vec!["nft", "add", "table", "inet", &table(unknown)],
        vec!["ip", "addr", "add", &format!("{service}/32"), "dev", "lo"],
        vec!["ip", "netns", "add", &namespace],
    ] {
        assert!(Command::new(args[0]).args(&args[1..]).status().unwrap().success(), "{args:?}");
    }
    let next = network().expect("another network");
    let tables = nft_tables();
    let _ = Command::new("nft").args(["delete", "table", "inet", &table(unknown)]).status();
    assert!(!tables.contains(&format!("{}\n", table(gone))), "the gone server's table is removed: {tables}");
    assert!(!lo_addresses().contains(&format!(" {service}/32 ")), "its service address too");
    assert!(!std::path::Path::new("/run/netns").join(&namespace).exists(), "and its namespace");
    assert!(tables.contains(&format!("{}\n", table(unknown))), "a table without a lock file is left alone");
    assert!(tables.contains(&format!("{}\n", live.table())) && tables.contains(&format!("{}\n", next.table())), "live servers' tables stay");
}

#[test]
fn a_server_waits_a_moment_for_its_range_while_another_clears_it() {
    let Some(_live) = network() else { return };
    // A server starting holds a gone server's range while it clears it; the gone server's
    // successor, coming back on that range just then, waits rather than fails.
    let range = paas_sandbox::net::free_range("10.236.0.0/16".parse().unwrap(), 24).expect("a free range");
    let path = format!("/run/paas/net/{}-{}.lock", range.network(), range.prefix_len());
    let held = std::fs::File::options().create(true).truncate(false).read(true).write(true).open(&path).unwrap();
    held.try_lock().expect("the range's lock");
    let clearing = std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_millis(500));
        drop(held);
    });
    let started = std::time::Instant::now();
    let network = Network::new(NetworkConfig { range, egress: EgressPolicy::default(), router: Vec::new() }).expect("the range, once cleared");
    assert!(started.elapsed() >= std::time::Duration::from_millis(400), "it waited for the lock");
    clearing.join().unwrap();
    drop(network);
}

fn lo_addresses() -> String {
    String::from_utf8_lossy(&Command::new("ip").args(["-o", "-4", "addr", "show", "dev", "lo"]).output().unwrap().stdout).into_owned()
}

fn nft_tables() -> String {
    String::from_utf8_lossy(&Command::new("nft").args(["list", "tables"]).output().unwrap().stdout).into_owned()
}

#[test]
fn a_failed_link_leaves_a_veth_it_did_not_make() {
    // Another server on the same range (its lock file went missing) has a dyno on slot 0: its
    // veth holds the name this server's first link needs. The attach fails, and that veth (with
    // its namespace) stays up (review 4b F6: the failure path deleted the veth by its name).
    let Some(network) = network() else { return };
    let first = Ipv4Addr::from(u32::from(network.range().network()) + 2);
    let (theirs, veth) = (format!("paas-0badf00d-{first}"), format!("paasv{:08x}", u32::from(first)));
    for args in [vec!["netns", "add", theirs.as_str()], vec!["link", "add", veth.as_str(), "type", "veth", "peer", "name", "eth0", "netns", theirs.as_str()]] {
        assert!(Command::new("ip").args(&args).status().unwrap().success(), "{args:?}");
    }
    // The attach moves on to slot 1; slot 0 is left out from then on (a second attach takes
    // slot 2 without trying it again).
    let attached = network.attach("x");
    let again = network.attach("y");
    let kept = std::path::Path::new("/sys/class/net").join(&veth).exists() && std::path::Path::new("/run/netns").join(&theirs).exists();
    let ours_on_slot_0 = std::fs::read_dir("/run/netns").unwrap().flatten().any(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        name.ends_with(&format!("-{first}")) && name != theirs
    });
    let addresses: Vec<String> = [&attached, &again]
        .iter()
        .map(|lease| match lease {
            Ok(lease) => lease.address().map(|a| a.to_string()).unwrap_or_default(),
            Err(e) => format!("error: {e}"),
        })
        .collect();
    drop((attached, again));
    for args in [vec!["link", "del", veth.as_str()], vec!["netns", "del", theirs.as_str()]] {
        let _ = Command::new("ip").args(&args).status();
    }
    assert!(kept, "the other server's veth pair is left alone");
    assert!(!ours_on_slot_0, "no namespace of this server on slot 0");
    let second = Ipv4Addr::from(u32::from(first) + 4);
    let third = Ipv4Addr::from(u32::from(first) + 8);
    assert_eq!(addresses, [second.to_string(), third.to_string()]);
}
