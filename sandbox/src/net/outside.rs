//! [`OutsideHost`], for tests: a stand-in for a host on the internet, so that egress is shown
//! working without leaving the machine. It is a network namespace of its own with a veth pair to
//! the node, at a public-looking TEST-NET-2 address (`198.51.100.x`, never denied), routed
//! through the node like any remote address; it serves TCP with a line naming the peer's address.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::Ipv4Addr;
use std::process::{Child, Command, Stdio};

use super::{NetError, link, range::Link, tool};

/// A Python 3 program, for tests: connects to each `HOST:PORT` argument (2 s each; `gateway` is
/// the default route's address, read from `/proc/net/route`) and prints one line per argument:
/// `HOST:PORT OK <the first line the peer sent>` or `HOST:PORT ERR <exception name>`.
pub const PROBE_PY: &str = r#"import socket, struct, sys
def gateway():
    for line in open("/proc/net/route").read().splitlines()[1:]:
        f = line.split()
        if f[1] == "00000000":
            return socket.inet_ntoa(struct.pack("<I", int(f[2], 16)))
for target in sys.argv[1:]:
    host, port = target.rsplit(":", 1)
    host = gateway() if host == "gateway" else host
    try:
        c = socket.create_connection((host, int(port)), timeout=2)
        print(target, "OK", c.makefile().readline().strip(), flush=True)
    except Exception as e:
        print(target, "ERR", type(e).__name__, flush=True)
"#;

/// The node's address on its uplink (the source of its default route: eth0's), for tests that
/// show a container cannot reach it. Looks the route up (`ip route get`); sends nothing.
pub fn uplink_address() -> Option<Ipv4Addr> {
    let out = tool::run("ip", &["-4", "-o", "route", "get", "192.0.2.254"], None).ok()?;
    let mut words = out.split_whitespace();
    words.by_ref().find(|w| *w == "src")?;
    words.next()?.parse().ok()
}

/// How many outside hosts may exist at once on one machine (one /30 of 198.51.100.0/24 each).
const SLOTS: u32 = 64;

/// A host "outside" the node, reached through its routing table. Everything goes on drop.
#[derive(Debug)]
pub struct OutsideHost {
    link: Link,
    server: Option<Child>,
    port: u16,
    _lock: File,
}

impl OutsideHost {
    /// Makes the namespace `paas-outside-<n>` and its veth pair (`paaso<n>` on the node), and
    /// starts its server: each connection gets one line, the peer's address as the outside host
    /// sees it (after the node's masquerade), then the connection closes.
    pub fn start() -> Result<OutsideHost, NetError> {
        let range: ipnet::Ipv4Net = "198.51.100.0/24".parse().map_err(|_| NetError::Tool {
            program: "outside host",
            detail: "bad range".into(),
        })?;
        let (slot, lock) = (0..SLOTS)
            .find_map(|n| {
                let dir = std::path::Path::new("/run/paas/net");
                std::fs::create_dir_all(dir).ok()?;
                let file = File::create(dir.join(format!("outside-{n}.lock"))).ok()?;
                file.try_lock().ok().map(|()| (n, file))
            })
            .ok_or(NetError::Full { range, links: SLOTS })?;
        // The node's end is .2 and the outside host .1 of its /30 (Link's dyno/host swapped).
        let link = Link::of(range, slot);
        let (netns, veth) = (format!("paas-outside-{slot}"), format!("paaso{slot}"));
        let _ = tool::run("ip", &["link", "del", &veth], None);
        let _ = tool::run("ip", &["netns", "del", &netns], None);
        tool::run("ip", &["netns", "add", &netns], None)?;
        let mut host = OutsideHost { link, server: None, port: 0, _lock: lock };
        tool::run(
            "ip",
            &["-batch", "-"],
            Some(&format!(
                "link add {veth} type veth peer name eth0 netns {netns}\naddr add {}/30 dev {veth}\nlink set {veth} up\n",
                link.dyno
            )),
        )?;
        link::sysctl(&format!("net/ipv6/conf/{veth}/disable_ipv6"), "1")?;
        tool::run(
            "ip",
            &["-n", &netns, "-batch", "-"],
            Some(&format!(
                "link set lo up\naddr add {}/30 dev eth0\nlink set eth0 up\nroute add default via {}\n",
                link.host, link.dyno
            )),
        )?;
        let script = "import socket\ns = socket.socket()\ns.bind(('0.0.0.0', 0))\ns.listen(64)\nprint(s.getsockname()[1], flush=True)\nwhile True:\n    c, peer = s.accept()\n    c.sendall((peer[0] + '\\n').encode())\n    c.close()\n";
        let mut child = Command::new("ip")
            .args(["netns", "exec", &netns, "python3", "-c", script])
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| NetError::Tool { program: "python3", detail: e.to_string() })?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = BufReader::new(out).read_line(&mut line);
        }
        host.server = Some(child);
        host.port = line.trim().parse().map_err(|_| NetError::Command {
            command: "python3 (the outside host's server)".into(),
            detail: format!("printed {line:?} instead of its port"),
        })?;
        Ok(host)
    }

    /// Its address (public-looking, routed through the node).
    pub fn address(&self) -> Ipv4Addr {
        self.link.host
    }

    /// The port its server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The node's address on the link to it (a node address: containers may not reach it).
    pub fn node_address(&self) -> Ipv4Addr {
        self.link.dyno
    }

    /// The namespace's name (`ip netns exec NAME ...` runs a command "outside").
    pub fn netns(&self) -> String {
        format!("paas-outside-{}", self.link.slot)
    }
}

impl Drop for OutsideHost {
    fn drop(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = tool::run("ip", &["link", "del", &format!("paaso{}", self.link.slot)], None);
        let _ = tool::run("ip", &["netns", "del", &self.netns()], None);
    }
}
