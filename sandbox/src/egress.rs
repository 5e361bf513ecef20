//! Egress policy: which destination addresses a tenant (wasm dyno, native dyno, build, log drain)
//! may reach. Loopback, the node's own addresses, link-local (cloud metadata), private, CGNAT,
//! ULA, multicast, broadcast and reserved ranges are denied, as are the IPv4-mapped, -compatible,
//! NAT64 and 6to4 forms of a denied IPv4 address, unless the operator allows a range
//! (`paas server --egress-allow CIDR`). The documentation ranges (TEST-NET-1/2/3, 2001:db8::/32)
//! are *not* denied. Callers resolve a name once with [`EgressPolicy::resolve`], then connect to
//! the addresses it checked (never resolve again: that would let DNS rebinding through).

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

pub use ipnet::IpNet;
use ipnet::{Ipv4Net, Ipv6Net};
use tokio::net::TcpStream;

/// Why an address is denied: one word or two, shown to the tenant
/// (`outbound request to 127.0.0.1:5000 denied (loopback)`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DenyReason {
    /// 127.0.0.0/8, ::1.
    Loopback,
    /// 0.0.0.0, :: (connecting there reaches the node itself).
    Unspecified,
    /// One of the node's own interface addresses (its public address included).
    NodeAddress,
    /// 169.254.0.0/16 (cloud metadata at 169.254.169.254), fe80::/10.
    LinkLocal,
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), ULA fc00::/7, site-local fec0::/10, local NAT64.
    Private,
    /// Carrier-grade NAT shared address space 100.64.0.0/10.
    Cgnat,
    /// 224.0.0.0/4, ff00::/8.
    Multicast,
    /// 255.255.255.255.
    Broadcast,
    /// "This network" 0/8, IETF protocol assignments 192.0.0.0/24, benchmarking 198.18/15,
    /// 240/4, the IPv6 discard prefix 100::/64.
    Reserved,
}

impl DenyReason {
    /// The reason as written in log lines and API errors.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Loopback => "loopback",
            Self::Unspecified => "unspecified",
            Self::NodeAddress => "node address",
            Self::LinkLocal => "link-local",
            Self::Private => "private",
            Self::Cgnat => "cgnat",
            Self::Multicast => "multicast",
            Self::Broadcast => "broadcast",
            Self::Reserved => "reserved",
        }
    }
}

impl fmt::Display for DenyReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A range that tenants may not reach unless the operator allows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DeniedRange {
    /// The range.
    pub net: IpNet,
    /// Why it is denied.
    pub reason: DenyReason,
}

const fn v4(a: u8, b: u8, c: u8, d: u8, len: u8, reason: DenyReason) -> DeniedRange {
    DeniedRange {
        net: IpNet::V4(Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), len)),
        reason,
    }
}

const fn v6(segments: [u16; 8], len: u8, reason: DenyReason) -> DeniedRange {
    let [a, b, c, d, e, f, g, h] = segments;
    DeniedRange {
        net: IpNet::V6(Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), len)),
        reason,
    }
}

use DenyReason::*;

/// Every range denied to tenants, as data (the nftables rules of native dynos and builds are
/// generated from it). The node's own addresses come on top ([`EgressPolicy::node_addresses`]),
/// and the embedded-IPv4 forms (`::ffff:a.b.c.d`, `::a.b.c.d`, `64:ff9b::a.b.c.d`, 6to4
/// `2002:aabb:ccdd::`) of a denied IPv4 address are denied by [`EgressPolicy::check`]; on the wire
/// a firewall may simply drop `::ffff:0:0/96` and `::/96`, which are never routed.
/// TEST-NET-1/2/3 (192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24) and 2001:db8::/32 are
/// deliberately absent: package registries resolve there on some networks.
pub const DENIED_RANGES: &[DeniedRange] = &[
    v4(0, 0, 0, 0, 32, Unspecified),
    v4(0, 0, 0, 0, 8, Reserved),
    v4(127, 0, 0, 0, 8, Loopback),
    v4(10, 0, 0, 0, 8, Private),
    v4(172, 16, 0, 0, 12, Private),
    v4(192, 168, 0, 0, 16, Private),
    v4(100, 64, 0, 0, 10, Cgnat),
    v4(169, 254, 0, 0, 16, LinkLocal),
    v4(192, 0, 0, 0, 24, Reserved),
    v4(198, 18, 0, 0, 15, Reserved),
    v4(224, 0, 0, 0, 4, Multicast),
    v4(255, 255, 255, 255, 32, Broadcast),
    v4(240, 0, 0, 0, 4, Reserved),
    v6([0, 0, 0, 0, 0, 0, 0, 0], 128, Unspecified),
    v6([0, 0, 0, 0, 0, 0, 0, 1], 128, Loopback),
    v6([0xfe80, 0, 0, 0, 0, 0, 0, 0], 10, LinkLocal),
    v6([0xfc00, 0, 0, 0, 0, 0, 0, 0], 7, Private),
    v6([0xfec0, 0, 0, 0, 0, 0, 0, 0], 10, Private),
    v6([0x64, 0xff9b, 1, 0, 0, 0, 0, 0], 48, Private),
    v6([0xff00, 0, 0, 0, 0, 0, 0, 0], 8, Multicast),
    v6([0x100, 0, 0, 0, 0, 0, 0, 0], 64, Reserved),
];

/// A destination refused by the policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{addr} denied ({reason})")]
pub struct Denied {
    /// The address as asked for (not the embedded IPv4 one).
    pub addr: IpAddr,
    /// Why.
    pub reason: DenyReason,
}

/// Errors of resolving, checking and connecting.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// A resolved (or literal) address is denied.
    #[error("{host}:{port} resolves to {denied}")]
    Denied {
        /// The host as asked for.
        host: String,
        /// The port.
        port: u16,
        /// The first denied address and why.
        denied: Denied,
    },
    /// The name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Resolve {
        /// The host as asked for.
        host: String,
        /// What the resolver said.
        source: io::Error,
    },
    /// The name resolved to no address.
    #[error("{host} resolves to no address")]
    NoAddress {
        /// The host as asked for.
        host: String,
    },
    /// No checked address accepted the connection.
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// The host as asked for.
        host: String,
        /// The port.
        port: u16,
        /// The last connect error.
        source: io::Error,
    },
    /// An `--egress-allow` value is not a CIDR range or an address.
    #[error("invalid egress range {0:?}: expected a CIDR range (10.1.0.0/16) or an address")]
    InvalidRange(String),
    /// The node's interface addresses could not be read.
    #[error("cannot read the node's addresses from {path}: {source}")]
    NodeAddresses {
        /// The /proc file.
        path: &'static str,
        /// Why.
        source: io::Error,
    },
}

impl EgressError {
    /// The denial, when the error is one.
    pub fn denied(&self) -> Option<Denied> {
        match self {
            Self::Denied { denied, .. } => Some(*denied),
            _ => None,
        }
    }
}

/// Parses an `--egress-allow` value: a CIDR range or a single address (host bits are cleared).
pub fn parse_allow(s: &str) -> Result<IpNet, EgressError> {
    let s = s.trim();
    if let Ok(net) = IpNet::from_str(s) {
        return Ok(net.trunc());
    }
    IpAddr::from_str(s)
        .map(IpNet::from)
        .map_err(|_| EgressError::InvalidRange(s.to_owned()))
}

/// Which destinations tenants may reach: [`DENIED_RANGES`] plus the node's own addresses,
/// minus the ranges the operator allows. Cheap to clone behind an `Arc`; checks are a linear
/// scan of ~25 ranges.
#[derive(Clone, Debug, Default)]
pub struct EgressPolicy {
    allowed: Vec<IpNet>,
    node: Vec<IpAddr>,
}

impl EgressPolicy {
    /// A policy with the operator's allowed ranges and the given node addresses.
    pub fn new(allowed: Vec<IpNet>, node_addresses: Vec<IpAddr>) -> Self {
        Self {
            allowed,
            node: node_addresses,
        }
    }

    /// A policy with the operator's allowed ranges and this node's interface addresses, read
    /// once now from /proc/net (an address added later is not known).
    pub fn for_node(allowed: Vec<IpNet>) -> Result<Self, EgressError> {
        Ok(Self::new(allowed, read_node_addresses()?))
    }

    /// The ranges the operator allows.
    pub fn allowed(&self) -> &[IpNet] {
        &self.allowed
    }

    /// The node's own addresses, denied as `node address`.
    pub fn node_addresses(&self) -> &[IpAddr] {
        &self.node
    }

    /// Whether a tenant may reach `addr`.
    pub fn check(&self, addr: IpAddr) -> Result<(), Denied> {
        let embedded = match addr {
            IpAddr::V6(v6) => embedded_v4(v6).map(IpAddr::V4),
            IpAddr::V4(_) => None,
        };
        let candidates = [Some(addr), embedded];
        let candidates = candidates.iter().flatten().copied();
        if candidates.clone().any(|a| self.allowed.iter().any(|n| n.contains(&a))) {
            return Ok(());
        }
        for a in candidates {
            if let Some(range) = DENIED_RANGES.iter().find(|r| r.net.contains(&a)) {
                return Err(Denied {
                    addr,
                    reason: range.reason,
                });
            }
            if self.node.contains(&a) {
                return Err(Denied {
                    addr,
                    reason: NodeAddress,
                });
            }
        }
        Ok(())
    }

    /// Resolves `host` once (a literal address is not resolved) and checks every address: one
    /// denied address denies the name. Connect only to the addresses returned.
    pub async fn resolve(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, EgressError> {
        let bare = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let addrs: Vec<SocketAddr> = match IpAddr::from_str(bare) {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((bare, port))
                .await
                .map_err(|source| EgressError::Resolve {
                    host: host.to_owned(),
                    source,
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(EgressError::NoAddress {
                host: host.to_owned(),
            });
        }
        for a in &addrs {
            self.check(a.ip()).map_err(|denied| EgressError::Denied {
                host: host.to_owned(),
                port,
                denied,
            })?;
        }
        Ok(addrs)
    }

    /// Resolves and checks as [`Self::resolve`], then connects to the first checked address
    /// that accepts.
    pub async fn connect(&self, host: &str, port: u16) -> Result<TcpStream, EgressError> {
        let addrs = self.resolve(host, port).await?;
        connect_any(host, port, &addrs).await
    }
}

/// Connects to the first of `addrs` (already checked) that accepts.
pub async fn connect_any(
    host: &str,
    port: u16,
    addrs: &[SocketAddr],
) -> Result<TcpStream, EgressError> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(EgressError::Connect {
        host: host.to_owned(),
        port,
        source: last,
    })
}

/// The IPv4 address embedded in an IPv4-mapped (`::ffff:a.b.c.d`), IPv4-compatible
/// (`::a.b.c.d`), NAT64 well-known-prefix (`64:ff9b::a.b.c.d`) or 6to4 (`2002:aabb:ccdd::/48`)
/// address.
fn embedded_v4(addr: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = addr.segments();
    let low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] | [0, 0, 0, 0, 0, 0, _, _] => Some(low()),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low()),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

const FIB_TRIE: &str = "/proc/net/fib_trie";
const IF_INET6: &str = "/proc/net/if_inet6";

/// The addresses of this network namespace's interfaces: IPv4 from the local routing table
/// (`/proc/net/fib_trie`), IPv6 from `/proc/net/if_inet6` (absent when IPv6 is off).
pub fn read_node_addresses() -> Result<Vec<IpAddr>, EgressError> {
    let fib = std::fs::read_to_string(FIB_TRIE).map_err(|source| EgressError::NodeAddresses {
        path: FIB_TRIE,
        source,
    })?;
    let mut addrs = parse_fib_trie(&fib);
    match std::fs::read_to_string(IF_INET6) {
        Ok(text) => addrs.extend(parse_if_inet6(&text)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(EgressError::NodeAddresses {
                path: IF_INET6,
                source,
            });
        }
    }
    addrs.sort();
    addrs.dedup();
    Ok(addrs)
}

/// The `/32 host LOCAL` leaves of `/proc/net/fib_trie`: the node's IPv4 addresses.
fn parse_fib_trie(text: &str) -> Vec<IpAddr> {
    let mut last = None;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(addr) = line.strip_prefix("|-- ") {
            last = Ipv4Addr::from_str(addr).ok();
        } else if line.starts_with("/32 host LOCAL")
            && let Some(a) = last
        {
            out.push(IpAddr::V4(a));
        }
    }
    out
}

/// The addresses of `/proc/net/if_inet6` (32 hex digits, then index, prefix, scope, flags, name).
fn parse_if_inet6(text: &str) -> Vec<IpAddr> {
    text.lines()
        .filter_map(|line| line.split_whitespace().next())
        .filter_map(|hex| u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32))
        .map(|bits| IpAddr::V6(Ipv6Addr::from(bits)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(allowed: &[&str]) -> EgressPolicy {
        EgressPolicy::new(
            allowed.iter().map(|s| parse_allow(s).unwrap()).collect(),
            vec!["192.0.2.2".parse().unwrap(), "2001:db8::2".parse().unwrap()],
        )
    }

    #[test]
    fn denies_and_allows_by_table() {
        let p = policy(&[]);
        let table: &[(&str, Option<&str>)] = &[
            ("127.0.0.1", Some("loopback")),
            ("127.255.0.9", Some("loopback")),
            ("::1", Some("loopback")),
            ("0.0.0.0", Some("unspecified")),
            ("::", Some("unspecified")),
            ("0.1.2.3", Some("reserved")),
            ("192.0.2.2", Some("node address")),
            ("2001:db8::2", Some("node address")),
            ("169.254.169.254", Some("link-local")),
            ("169.254.0.1", Some("link-local")),
            ("fe80::1", Some("link-local")),
            ("febf::1", Some("link-local")),
            ("10.0.0.1", Some("private")),
            ("10.255.255.53", Some("private")),
            ("172.16.0.1", Some("private")),
            ("172.31.255.255", Some("private")),
            ("192.168.1.1", Some("private")),
            ("fd00::1", Some("private")),
            ("fc00::1", Some("private")),
            ("fec0::1", Some("private")),
            ("64:ff9b:1::a00:1", Some("private")),
            ("100.64.0.1", Some("cgnat")),
            ("100.127.255.254", Some("cgnat")),
            ("224.0.0.1", Some("multicast")),
            ("239.255.255.250", Some("multicast")),
            ("ff02::1", Some("multicast")),
            ("255.255.255.255", Some("broadcast")),
            ("240.0.0.1", Some("reserved")),
            ("192.0.0.8", Some("reserved")),
            ("198.18.0.1", Some("reserved")),
            ("100::1", Some("reserved")),
            // Embedded forms of denied IPv4 addresses.
            ("::ffff:127.0.0.1", Some("loopback")),
            ("::ffff:169.254.169.254", Some("link-local")),
            ("::ffff:10.0.0.1", Some("private")),
            ("::ffff:192.0.2.2", Some("node address")),
            ("::127.0.0.1", Some("loopback")),
            ("::10.1.2.3", Some("private")),
            ("64:ff9b::7f00:1", Some("loopback")),
            ("64:ff9b::a9fe:a9fe", Some("link-local")),
            ("2002:7f00:1::", Some("loopback")),
            ("2002:c0a8:101::1", Some("private")),
            // Allowed: public and documentation ranges (registries resolve there here).
            ("1.1.1.1", None),
            ("8.8.8.8", None),
            ("172.32.0.1", None),
            ("100.128.0.1", None),
            ("169.253.255.255", None),
            ("192.0.2.1", None),
            ("192.0.2.3", None),
            ("198.51.100.7", None),
            ("203.0.113.10", None),
            ("2001:db8::1", None),
            ("2606:4700::1111", None),
            ("::ffff:8.8.8.8", None),
            ("64:ff9b::808:808", None),
            ("2002:808:808::1", None),
        ];
        for (addr, want) in table {
            let got = p.check(addr.parse().unwrap()).err().map(|d| d.reason.as_str());
            assert_eq!(got, *want, "{addr}");
        }
    }

    #[test]
    fn operator_allowed_ranges_win() {
        let p = policy(&["10.1.0.0/16", "127.0.0.1", "fd00:1::/32", "192.0.2.2/32"]);
        let table: &[(&str, bool)] = &[
            ("10.1.2.3", true),
            ("10.2.0.1", false),
            ("::ffff:10.1.0.9", true),
            ("127.0.0.1", true),
            ("127.0.0.2", false),
            ("fd00:1::5", true),
            ("fd00:2::5", false),
            ("192.0.2.2", true),
            ("169.254.169.254", false),
        ];
        for (addr, ok) in table {
            assert_eq!(p.check(addr.parse().unwrap()).is_ok(), *ok, "{addr}");
        }
    }

    #[test]
    fn parse_allow_accepts_ranges_and_addresses_only() {
        assert_eq!(parse_allow("10.1.2.3/16").unwrap().to_string(), "10.1.0.0/16");
        assert_eq!(parse_allow("10.1.2.3").unwrap().to_string(), "10.1.2.3/32");
        assert_eq!(parse_allow("fd00::1").unwrap().to_string(), "fd00::1/128");
        for bad in ["", "10.0.0.0/33", "example.com", "10.0.0.0/8/8", "/8"] {
            let err = parse_allow(bad).unwrap_err().to_string();
            assert!(err.contains("invalid egress range"), "{bad}: {err}");
        }
    }

    #[test]
    fn reads_node_addresses_from_proc() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n\
                   Local:\n  +-- 0.0.0.0/0 3 0 5\n     +-- 127.0.0.0/8 2 0 2\n        \
                   |-- 127.0.0.0\n           /8 host LOCAL\n        |-- 127.0.0.1\n           \
                   /32 host LOCAL\n     |-- 192.0.2.2\n        /32 host LOCAL\n     \
                   |-- 192.0.2.255\n        /32 link BROADCAST\n";
        assert_eq!(
            parse_fib_trie(fib),
            vec![IpAddr::from([127, 0, 0, 1]), IpAddr::from([192, 0, 2, 2])]
        );
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\n\
                     fe800000000000000000000000000001 02 40 20 80     eth0\n\
                     garbage\n";
        assert_eq!(
            parse_if_inet6(inet6),
            vec![
                IpAddr::from(Ipv6Addr::LOCALHOST),
                "fe80::1".parse::<IpAddr>().unwrap()
            ]
        );
        // The real files of this machine parse, and loopback is among them.
        let real = read_node_addresses().unwrap();
        assert!(real.contains(&IpAddr::from([127, 0, 0, 1])), "{real:?}");
    }

    #[tokio::test]
    async fn resolve_checks_every_address_and_literals_skip_dns() {
        let p = policy(&[]);
        let err = p.resolve("127.0.0.1", 80).await.unwrap_err();
        assert_eq!(err.denied().unwrap().reason, Loopback);
        assert_eq!(err.to_string(), "127.0.0.1:80 resolves to 127.0.0.1 denied (loopback)");
        let err = p.resolve("[::1]", 80).await.unwrap_err();
        assert_eq!(err.denied().unwrap().reason, Loopback);
        // `localhost` resolves through /etc/hosts, no network needed.
        let err = p.resolve("localhost", 80).await.unwrap_err();
        assert_eq!(err.denied().unwrap().reason, Loopback);
        assert_eq!(
            p.resolve("198.51.100.7", 443).await.unwrap(),
            vec!["198.51.100.7:443".parse().unwrap()]
        );
        let allowed = policy(&["127.0.0.0/8", "::1"]);
        assert!(allowed.resolve("localhost", 80).await.is_ok());
    }

    #[tokio::test]
    async fn connect_reaches_an_allowed_listener_only() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let err = policy(&[]).connect("127.0.0.1", port).await.unwrap_err();
        assert!(err.denied().is_some(), "{err}");
        let accept = tokio::spawn(async move { listener.accept().await.map(|_| ()) });
        policy(&["127.0.0.1/32"]).connect("127.0.0.1", port).await.unwrap();
        accept.await.unwrap().unwrap();
    }
}
