//! The nftables table of one dyno network (`inet paas-10.199.0.0-16`): generated from the egress
//! policy's [`DENIED_RANGES`](crate::egress::DENIED_RANGES) and the operator's allowed ranges,
//! replaced whole at start (a stale table of a crashed server goes in the same transaction) and
//! deleted when the network is dropped. The table of a range whose server is gone is deleted by
//! the next server that starts on any range (every packet of the host goes through each table's
//! hooks).
//!
//! ```text
//! input       from the range to the node itself: replies (the router's connections), the
//!             router's own listeners (app-to-app calls through it), the resolvers on port 53
//!             and allowed ranges pass, never the veths' own addresses; the rest is refused
//!             (API, git, PostgreSQL on any node address); a container's grants (its app's
//!             add-ons: container address . endpoint address . port in the set `grants`) pass
//!             first, the service address's included
//! forward     dyno → dyno refused; new connections into the range dropped (outside → dyno);
//!             IPv6 from a dyno dropped; past FLOWS_PER_CONTAINER open connections of one
//!             container refused; a container's grants, the resolvers on 53 and allowed ranges
//!             pass; to a denied
//!             range refused (TCP reset, else ICMP admin-prohibited)
//! postrouting from the range to anywhere else: masquerade
//! ```

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use ipnet::{IpNet, Ipv4Net};

use super::{NetError, range::VETH_PREFIX, tool};
use crate::egress::DENIED_RANGES;

/// How many connections one container may have open through the node at once (each is a
/// conntrack entry, and the node's table is shared: 262,144 by default); past it a new one is
/// refused.
pub const FLOWS_PER_CONTAINER: u32 = 4096;

/// What the table is generated from.
#[derive(Debug, Clone)]
pub(crate) struct Rules {
    /// The dyno network.
    pub range: Ipv4Net,
    /// The operator's allowed ranges (`--egress-allow`; IPv6 ones do not apply: dynos have no
    /// IPv6 route).
    pub allowed: Vec<IpNet>,
    /// The resolvers of the containers' `resolv.conf`, reachable on port 53.
    pub resolvers: Vec<Ipv4Addr>,
    /// The router's listeners, reachable on the node (TCP).
    pub router: Vec<SocketAddr>,
}

impl Rules {
    /// The table's name: one per dyno network, so that two servers of one host (tests) keep apart.
    pub fn table(&self) -> String {
        table_of(self.range)
    }

    /// The `nft -f` script that replaces the table (a missing one included) in one transaction.
    pub fn script(&self) -> String {
        let table = self.table();
        let range = self.range;
        let denied = v4_set(DENIED_RANGES.iter().map(|r| r.net));
        let allowed = v4_set(self.allowed.iter().copied());
        let resolvers = self.resolvers.iter().map(Ipv4Addr::to_string).collect::<Vec<_>>().join(", ");
        let router: String = self
            .router
            .iter()
            .filter_map(|listen| match listen.ip() {
                IpAddr::V4(ip) if ip.is_unspecified() => Some(format!("    tcp dport {} accept\n", listen.port())),
                IpAddr::V4(ip) if !ip.is_loopback() => Some(format!("    ip daddr {ip} tcp dport {} accept\n", listen.port())),
                _ => None,
            })
            .collect();
        let mut s = String::new();
        let _ = writeln!(s, "table inet {table} {{}}\ndelete table inet {table}\ntable inet {table} {{");
        let _ = writeln!(s, "  set denied {{ type ipv4_addr; flags interval; auto-merge;{} }}", elements(&denied));
        let _ = writeln!(s, "  set allowed {{ type ipv4_addr; flags interval; auto-merge;{} }}", elements(&allowed));
        let _ = writeln!(s, "  set resolvers {{ type ipv4_addr;{} }}", elements(&resolvers));
        let _ = writeln!(s, "  set flows {{ type ipv4_addr; size 65535; flags dynamic; }}");
        let _ = writeln!(s, "  set grants {{ type ipv4_addr . ipv4_addr . inet_service; }}");
        let _ = write!(
            s,
            r#"  chain refuse {{
    meta l4proto tcp reject with tcp reset
    reject with icmpx admin-prohibited
  }}
  chain open {{
    ip daddr @resolvers udp dport 53 accept
    ip daddr @resolvers tcp dport 53 accept
    ip daddr @allowed accept
  }}
  chain input {{
    type filter hook input priority filter; policy accept;
    iifname "{VETH_PREFIX}*" meta nfproto ipv6 drop
    ip saddr {range} iifname != "lo" jump to_node
  }}
  chain to_node {{
    ct state established,related accept
    ip saddr . ip daddr . tcp dport @grants accept
    ip daddr {range} jump refuse
{router}    jump open
    jump refuse
  }}
  chain forward {{
    type filter hook forward priority filter; policy accept;
    iifname "{VETH_PREFIX}*" meta nfproto ipv6 drop
    ip saddr {range} ip daddr {range} jump refuse
    ip daddr {range} ct state != {{ established, related }} drop
    ip saddr {range} ct state new add @flows {{ ip saddr ct count over {FLOWS_PER_CONTAINER} }} jump refuse
    ip saddr . ip daddr . tcp dport @grants accept
    ip saddr {range} jump open
    ip saddr {range} ip daddr @denied jump refuse
  }}
  chain postrouting {{
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr {range} ip daddr != {range} masquerade
  }}
}}
"#
        );
        s
    }
}

/// The table of the dyno network `range` (`paas-10.199.0.0-16`).
pub(crate) fn table_of(range: Ipv4Net) -> String {
    format!("paas-{}-{}", range.network(), range.prefix_len())
}

/// The ranges whose table is on this host, live servers' and gone ones' alike.
pub(crate) fn ranges_with_a_table() -> Result<Vec<Ipv4Net>, NetError> {
    let out = tool::run("nft", &["list", "tables", "inet"], None)?;
    Ok(out.lines().filter_map(range_of_table_line).collect())
}

/// `table inet paas-10.199.0.0-16` → 10.199.0.0/16.
fn range_of_table_line(line: &str) -> Option<Ipv4Net> {
    let name = line.trim().strip_prefix("table inet paas-")?;
    let (network, prefix) = name.rsplit_once('-')?;
    let range = Ipv4Net::new(network.parse().ok()?, prefix.parse().ok()?).ok()?;
    (table_of(range) == format!("paas-{name}")).then_some(range)
}

/// Replaces the table (or creates it).
pub(crate) fn install(rules: &Rules) -> Result<(), NetError> {
    tool::run("nft", &["-f", "-"], Some(&rules.script())).map(drop)
}

/// Lets `container` open TCP connections to each of `endpoints` (IPv6 ones are left out: containers
/// have no IPv6), in the set `grants` of `table`.
pub(crate) fn grant(table: &str, container: Ipv4Addr, endpoints: &[SocketAddr]) -> Result<(), NetError> {
    match grant_elements(container, endpoints) {
        Some(elements) => tool::run("nft", &["-f", "-"], Some(&format!("add element inet {table} grants {{ {elements} }}\n"))).map(drop),
        None => Ok(()),
    }
}

/// Takes back what [`grant`] gave (a failure is logged: the table may be gone with its network).
pub(crate) fn revoke(table: &str, container: Ipv4Addr, endpoints: &[SocketAddr]) {
    let Some(elements) = grant_elements(container, endpoints) else { return };
    if let Err(e) = tool::run("nft", &["-f", "-"], Some(&format!("delete element inet {table} grants {{ {elements} }}\n"))) {
        tracing::warn!(table, %container, "cannot take back a container's add-on grants: {e}");
    }
}

/// `10.199.0.2 . 10.199.255.253 . 5432, …` for the IPv4 endpoints, without repeats; `None` for none.
fn grant_elements(container: Ipv4Addr, endpoints: &[SocketAddr]) -> Option<String> {
    let mut v4: Vec<String> = endpoints
        .iter()
        .filter_map(|e| match e {
            SocketAddr::V4(e) => Some(format!("{container} . {} . {}", e.ip(), e.port())),
            SocketAddr::V6(_) => None,
        })
        .collect();
    v4.sort();
    v4.dedup();
    (!v4.is_empty()).then(|| v4.join(", "))
}

/// Deletes the table, if it is there.
pub(crate) fn remove(table: &str) -> Result<(), NetError> {
    tool::run("nft", &["-f", "-"], Some(&format!("table inet {table} {{}}\ndelete table inet {table}\n"))).map(drop)
}

/// The IPv4 ranges among `nets`, written for an interval set.
fn v4_set(nets: impl Iterator<Item = IpNet>) -> String {
    let v4: Vec<Ipv4Net> = nets.filter_map(|n| if let IpNet::V4(n) = n { Some(n) } else { None }).collect();
    // A range inside another is left out (auto-merge needs no help, but the script reads better).
    let kept: Vec<String> = v4
        .iter()
        .filter(|n| !v4.iter().any(|m| m != *n && m.contains(*n)))
        .map(|n| if n.prefix_len() == 32 { n.addr().to_string() } else { n.to_string() })
        .collect();
    kept.join(", ")
}

fn elements(list: &str) -> String {
    if list.is_empty() { String::new() } else { format!(" elements = {{ {list} }};") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_denies_every_v4_range_of_the_egress_policy_and_allows_the_operators() {
        let rules = Rules {
            range: "10.199.0.0/16".parse().unwrap(),
            allowed: vec!["10.5.0.0/16".parse().unwrap(), "fd00::/8".parse().unwrap()],
            resolvers: vec![Ipv4Addr::new(10, 255, 255, 53)],
            router: ["0.0.0.0:80", "192.0.2.2:443", "127.0.0.1:8080"].map(|a| a.parse().unwrap()).to_vec(),
        };
        let script = rules.script();
        assert!(script.starts_with("table inet paas-10.199.0.0-16 {}\ndelete table inet paas-10.199.0.0-16\n"));
        assert!(script.contains("elements = { 10.255.255.53 }"), "{script}");
        assert!(script.contains("set allowed { type ipv4_addr; flags interval; auto-merge; elements = { 10.5.0.0/16 }; }"));
        for range in ["127.0.0.0/8", "10.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "172.16.0.0/12", "192.168.0.0/16"] {
            assert!(script.contains(range), "{range} is denied: {script}");
        }
        // 0.0.0.0/32 is inside 0.0.0.0/8; test-nets are not denied.
        assert!(!script.contains("0.0.0.0,") && !script.contains("198.51.100"), "{script}");
        assert!(script.contains("ip saddr 10.199.0.0/16 ip daddr != 10.199.0.0/16 masquerade"));
        // The router on every address, on one, and on loopback (out of reach anyway).
        assert!(script.contains("    tcp dport 80 accept\n    ip daddr 192.0.2.2 tcp dport 443 accept\n    jump open"), "{script}");
        assert!(!script.contains("8080"));
        assert!(script.contains("add @flows { ip saddr ct count over 4096 } jump refuse"), "{script}");
        // Grants pass before the refusals of both chains: the node (service address) and forward.
        assert_eq!(script.matches("ip saddr . ip daddr . tcp dport @grants accept").count(), 2, "{script}");
        assert!(script.find("@grants accept").unwrap() < script.find("ip daddr 10.199.0.0/16 jump refuse").unwrap());
    }

    #[test]
    fn a_table_line_gives_its_range_and_nothing_else_does() {
        assert_eq!(range_of_table_line("table inet paas-10.199.0.0-16"), Some("10.199.0.0/16".parse().unwrap()));
        assert_eq!(range_of_table_line("table inet paas-10.240.7.0-24\n"), Some("10.240.7.0/24".parse().unwrap()));
        for line in ["table inet filter", "table ip paas-10.199.0.0-16", "table inet paas-10.199.0.1-16", "table inet paas-10.199.0.0-33", "table inet paas-x-16", "table inet paas-10.199.0.0"] {
            assert_eq!(range_of_table_line(line), None, "{line}");
        }
    }

    #[test]
    fn grant_elements_name_each_ipv4_endpoint_once() {
        let container = Ipv4Addr::new(10, 199, 0, 2);
        let endpoints: Vec<SocketAddr> =
            ["10.199.255.253:5432", "[::1]:6379", "10.199.255.253:5432", "192.0.2.9:6379"].map(|e| e.parse().unwrap()).into();
        assert_eq!(
            grant_elements(container, &endpoints).as_deref(),
            Some("10.199.0.2 . 10.199.255.253 . 5432, 10.199.0.2 . 192.0.2.9 . 6379")
        );
        assert_eq!(grant_elements(container, &endpoints[1..2]), None);
    }
}
