//! The name-service files a networked container gets: `resolv.conf` naming the node's resolvers
//! that a container can reach (a loopback one, such as systemd-resolved's 127.0.0.53, is not
//! reachable from another namespace: its upstream list is used instead), and an `/etc/hosts` of
//! its own (localhost and its hostname; nothing of the node's).

use std::net::{IpAddr, Ipv4Addr};

/// The resolver configuration of the node.
const RESOLV_CONF: &str = "/etc/resolv.conf";
/// systemd-resolved's list of upstream servers (used when `/etc/resolv.conf` names only its stub).
const RESOLVED_UPSTREAM: &str = "/run/systemd/resolve/resolv.conf";

/// A container's `resolv.conf` and the IPv4 resolvers it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolv {
    /// The file's text.
    pub text: String,
    /// Its IPv4 `nameserver`s.
    pub servers: Vec<Ipv4Addr>,
}

/// The node's resolver configuration without loopback servers (and systemd-resolved's upstream
/// list when the node's file names only loopback ones).
pub(crate) fn resolv() -> Resolv {
    let node = std::fs::read_to_string(RESOLV_CONF).unwrap_or_default();
    let usable = without_loopback(&node);
    if usable.servers.is_empty()
        && let Ok(upstream) = std::fs::read_to_string(RESOLVED_UPSTREAM)
    {
        return without_loopback(&upstream);
    }
    if usable.servers.is_empty() {
        tracing::warn!("{RESOLV_CONF} names no resolver a container can reach: dynos and builds cannot resolve names");
    }
    usable
}

/// `text` without its loopback `nameserver` lines (and IPv6 ones: containers have IPv4 only).
fn without_loopback(text: &str) -> Resolv {
    let mut out = Resolv::default();
    for line in text.lines() {
        let server = line.strip_prefix("nameserver").map(|s| s.trim().parse::<IpAddr>());
        match server {
            Some(Ok(IpAddr::V4(a))) if !a.is_loopback() && !a.is_unspecified() => out.servers.push(a),
            Some(_) => continue,
            None => {}
        }
        out.text.push_str(line);
        out.text.push('\n');
    }
    out
}

/// A container's `/etc/hosts`: localhost, and its hostname on loopback.
pub(crate) fn hosts(hostname: &str) -> String {
    format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.0.1\t{hostname}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_ipv6_resolvers_are_left_out() {
        let r = without_loopback("# x\nnameserver 127.0.0.53\nnameserver 10.255.255.53\nnameserver fd00::1\nsearch lan\n");
        assert_eq!(r.servers, vec![Ipv4Addr::new(10, 255, 255, 53)]);
        assert_eq!(r.text, "# x\nnameserver 10.255.255.53\nsearch lan\n");
        assert_eq!(hosts("web-1").lines().last(), Some("127.0.0.1\tweb-1"));
    }
}
