//! Where add-on servers that `paas server` runs itself listen, and what their URLs name: one
//! place for every service (the PostgreSQL cluster, redis-servers).
//!
//! With a dyno network (root and runc), servers listen on 127.0.0.1 and on the network's
//! [service address](paas_sandbox::net::service_address), the node's end of the range's last
//! /30 (never a container's); URLs name the service address. Dynos reach it only where they are
//! granted an endpoint: native dynos through their namespace's grants in the network's nftables
//! table, wasm dynos through `NetworkPolicy::services`; both are the endpoints of the add-ons
//! attached to their app. Without a dyno network, servers listen on 127.0.0.1 and URLs name it.
//!
//! The service address is derived from the range alone, so add-on URLs stay true across restarts.
//! It changes only when the operator changes `--dyno-network` or runs without one: then the URLs
//! stored before (and those of add-ons made before this address existed: 127.0.0.1) name another
//! address: at start, [`rehost_urls`] gives each add-on of a server paas runs itself the current
//! host, in its config and, by a release, in the config vars of each app it is attached to.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use paas_sandbox::egress::IpNet;

/// Where add-on servers listen and what their URLs name (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddonHost {
    /// The dyno network's range and its service address, if there is a dyno network.
    service: Option<(IpNet, Ipv4Addr)>,
}

impl Default for AddonHost {
    fn default() -> Self {
        AddonHost::loopback()
    }
}

impl AddonHost {
    /// No dyno network: 127.0.0.1 only.
    pub fn loopback() -> AddonHost {
        AddonHost { service: None }
    }

    /// On `network`'s service address (and 127.0.0.1), or on 127.0.0.1 alone without a network.
    pub fn of(network: Option<&paas_sandbox::net::Network>) -> AddonHost {
        AddonHost { service: network.map(|n| (IpNet::V4(n.range()), n.service_address())) }
    }

    /// The address add-on URLs name: the service address, else 127.0.0.1.
    pub fn url_host(&self) -> IpAddr {
        IpAddr::V4(self.service.map_or(Ipv4Addr::LOCALHOST, |(_, address)| address))
    }

    /// `url_host():port`: what an app attached to a server on `port` is granted.
    pub fn endpoint(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.url_host(), port)
    }

    /// The addresses a server binds: 127.0.0.1 (the admin, `heroku pg:psql` on the node), and the
    /// service address.
    pub fn listen(&self) -> Vec<IpAddr> {
        let mut listen = vec![IpAddr::V4(Ipv4Addr::LOCALHOST)];
        listen.extend(self.service.map(|(_, address)| IpAddr::V4(address)));
        listen
    }

    /// Where clients may come from (a server's password rules, such as pg_hba's, name these):
    /// loopback, the service address itself (wasm dynos: the node connecting to its own address)
    /// and the dyno network (native dynos; the network's table lets through only granted ones).
    pub fn clients(&self) -> Vec<IpNet> {
        let mut clients = vec![IpNet::from(IpAddr::V4(Ipv4Addr::LOCALHOST)), IpNet::from(IpAddr::from(std::net::Ipv6Addr::LOCALHOST))];
        if let Some((range, address)) = self.service {
            clients.push(IpNet::from(IpAddr::V4(address)));
            clients.push(range);
        }
        clients
    }
}

/// Gives each add-on of `services` (those whose servers paas runs itself, where this host says)
/// whose URLs name another host the current one: its config, and a release on each app it is
/// attached to (by the operator). Returns how many add-ons changed.
pub async fn rehost_urls(
    ledger: &dyn crate::Ledger,
    host: &AddonHost,
    services: &[&str],
) -> Result<usize, crate::ledger::LedgerError> {
    let Some(operator) = ledger.find_operator().await? else { return Ok(0) };
    let mut changed = 0;
    for addon in ledger.list_addons(super::AddonFilter::All).await? {
        if !services.contains(&addon.service.as_str()) {
            continue;
        }
        let config: std::collections::BTreeMap<String, String> = addon
            .config
            .iter()
            .map(|(key, value)| (key.clone(), with_host(value, host.url_host()).unwrap_or_else(|| value.clone())))
            .collect();
        if config != addon.config {
            ledger.update_addon_config(addon.id, config, operator.id).await?;
            tracing::info!(addon = %addon.name, "the add-on's URL now names {} (where its server listens)", host.url_host());
            changed += 1;
        }
    }
    Ok(changed)
}

/// `url` naming `ip` as its host (user, password, port, path and query kept), if it names an IP
/// address now; `None` for anything else (a name, not a URL).
fn with_host(url: &str, ip: IpAddr) -> Option<String> {
    let endpoint = endpoint_of_url(url)?;
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let userinfo = authority.rsplit_once('@').map_or(String::new(), |(u, _)| format!("{u}@"));
    Some(format!("{scheme}://{userinfo}{}{tail}", SocketAddr::new(ip, endpoint.port())))
}

/// The endpoint a service URL names (`postgres://u:p@10.199.255.253:5432/db` →
/// `10.199.255.253:5432`; `redis://:p@[::1]:6379`): the host must be an IP address (names are not
/// resolved: a grant is for an address), the port is the scheme's default when missing.
pub fn endpoint_of_url(url: &str) -> Option<SocketAddr> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if let Ok(endpoint) = host_port.parse::<SocketAddr>() {
        return Some(endpoint);
    }
    let default = match scheme {
        "postgres" | "postgresql" => 5432,
        "redis" | "rediss" => 6379,
        _ => return None,
    };
    let host = host_port.strip_prefix('[').and_then(|h| h.strip_suffix(']')).unwrap_or(host_port);
    host.parse::<IpAddr>().ok().map(|ip| SocketAddr::new(ip, default))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_service_address_with_a_network_and_loopback_without() {
        let loopback = AddonHost::loopback();
        assert_eq!(loopback.endpoint(5432).to_string(), "127.0.0.1:5432");
        assert_eq!(loopback.listen(), vec![IpAddr::V4(Ipv4Addr::LOCALHOST)]);
        assert_eq!(loopback.clients().len(), 2);
        let range = paas_sandbox::net::parse_range("10.199.0.0/16").unwrap();
        let host = AddonHost { service: Some((IpNet::V4(range), paas_sandbox::net::service_address(range))) };
        assert_eq!(host.endpoint(5432).to_string(), "10.199.255.253:5432");
        assert_eq!(host.listen().iter().map(ToString::to_string).collect::<Vec<_>>(), ["127.0.0.1", "10.199.255.253"]);
        let clients: Vec<String> = host.clients().iter().map(ToString::to_string).collect();
        assert_eq!(clients, ["127.0.0.1/32", "::1/128", "10.199.255.253/32", "10.199.0.0/16"]);
    }

    #[test]
    fn urls_are_given_another_host_with_everything_else_kept() {
        let service = IpAddr::V4(Ipv4Addr::new(10, 199, 255, 253));
        assert_eq!(
            with_host("postgres://addon_1:s3cret@127.0.0.1:40123/addon_1?sslmode=require", service).as_deref(),
            Some("postgres://addon_1:s3cret@10.199.255.253:40123/addon_1?sslmode=require")
        );
        assert_eq!(with_host("redis://:p@10.1.0.1:6380", service).as_deref(), Some("redis://:p@10.199.255.253:6380"));
        assert_eq!(with_host("postgres://u:p@db.example.com:5432/db", service), None);
    }

    #[test]
    fn endpoints_are_read_from_service_urls_with_ip_hosts_only() {
        let read = |url: &str| endpoint_of_url(url).map(|e| e.to_string());
        assert_eq!(read("postgres://addon_1:secret@10.199.255.253:40123/addon_1").as_deref(), Some("10.199.255.253:40123"));
        assert_eq!(read("postgres://u:p@127.0.0.1/db?sslmode=require").as_deref(), Some("127.0.0.1:5432"));
        assert_eq!(read("redis://:p%40ss@[::1]:6380").as_deref(), Some("[::1]:6380"));
        assert_eq!(read("redis://h:p@10.0.0.5").as_deref(), Some("10.0.0.5:6379"));
        assert_eq!(read("postgres://u:p@db.example.com:5432/db"), None, "a name is not resolved");
        assert_eq!(read("not a url"), None);
        assert_eq!(read("http://10.0.0.1/"), None);
    }
}
