//! One container's network namespace and veth pair, made and removed with `ip`: the namespace
//! is a named one (`ip netns add`: `/run/netns/paas-<addr>`, which runc joins by path), the
//! node's end `paasv<hex>` keeps the /30's first address, the container's end is `eth0` with the
//! second and a default route through the first. IPv6 is off on the node's end (the container has
//! no IPv6 route out; the firewall drops any IPv6 from it too). Also the range's service address
//! on `lo`, where add-on servers listen.

use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

use super::range::{Link, address_of_netns, service_address, service_label};
use super::{NetError, tool};

/// Where `ip netns` keeps its named namespaces.
const NETNS_DIR: &str = "/run/netns";

/// The namespace file of `link` of the network `owner` (what the container's OCI spec names).
pub(crate) fn netns_path(link: &Link, owner: &str) -> PathBuf {
    Path::new(NETNS_DIR).join(link.netns(owner))
}

/// Makes the namespace and the veth pair of `link`; on failure nothing this call made is left.
/// A veth of the same name that was there before (veth names carry no owner: it may be another
/// live server's on the same range) is left alone.
pub(crate) fn create(link: &Link, owner: &str) -> Result<(), NetError> {
    let (netns, veth) = (link.netns(owner), link.veth());
    tool::run("ip", &["netns", "add", &netns], None)?;
    if let Err(e) = tool::run("ip", &["link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &netns], None) {
        delete_named(None, Some(&netns));
        return Err(e);
    }
    let made = (|| {
        let host = format!("addr add {}/30 dev {veth}\nlink set {veth} up\n", link.host);
        tool::run("ip", &["-batch", "-"], Some(&host))?;
        // No IPv6 on the node's end (no link-local address a dyno could reach the node by), and
        // strict reverse-path filtering (a packet claiming another source is dropped).
        sysctl(&format!("net/ipv6/conf/{veth}/disable_ipv6"), "1")?;
        sysctl(&format!("net/ipv4/conf/{veth}/rp_filter"), "1")?;
        let inside = format!(
            "link set lo up\naddr add {}/30 dev eth0\nlink set eth0 up\nroute add default via {}\n",
            link.dyno, link.host
        );
        tool::run("ip", &["-n", &netns, "-batch", "-"], Some(&inside)).map(drop)
    })();
    if made.is_err() {
        delete(link, owner);
    }
    made
}

/// Removes the veth pair and the namespace of `link` (what is already gone is skipped; a
/// failure is logged).
pub(crate) fn delete(link: &Link, owner: &str) {
    delete_named(Some(&link.veth()), Some(&link.netns(owner)));
}

fn delete_named(veth: Option<&str>, netns: Option<&str>) {
    if let Some(veth) = veth
        && Path::new("/sys/class/net").join(veth).exists()
        && let Err(e) = tool::run("ip", &["link", "del", veth], None)
    {
        tracing::warn!(veth, "cannot remove a container's veth pair: {e}");
    }
    if let Some(netns) = netns
        && Path::new(NETNS_DIR).join(netns).exists()
        && let Err(e) = tool::run("ip", &["netns", "del", netns], None)
    {
        tracing::warn!(netns, "cannot remove a container's network namespace: {e}");
    }
}

/// Removes `range`'s service address, and the namespaces in `range` named with `owner` (a
/// crashed server's, recorded in the range's lock file, which the caller now holds) with their
/// veth pairs; returns how many. A namespace of any other owner is left alone: it may be a live
/// server's (one whose lock file went missing). A veth is removed only when it is the peer of
/// such a namespace's `eth0` (veth names cannot carry the owner). `None`: no namespace.
pub(crate) fn remove_stale(range: Ipv4Net, owner: Option<&str>) -> usize {
    let mut removed = usize::from(has_service(range));
    remove_service(range);
    let Some(owner) = owner else { return removed };
    let Ok(entries) = std::fs::read_dir(NETNS_DIR) else { return removed };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some((of, address)) = address_of_netns(&name) else { continue };
        if of != owner || !range.contains(&address) {
            continue;
        }
        let veth = super::range::veth_of(address);
        let peer = peer_index(&name);
        let own_veth = peer.is_some() && std::fs::read_to_string(Path::new("/sys/class/net").join(&veth).join("ifindex")).ok().map(|i| i.trim().to_string()) == peer;
        delete_named(own_veth.then_some(veth.as_str()), Some(&name));
        removed += 1;
    }
    removed
}

/// The host-side interface index of the peer of `eth0` in namespace `netns` (`eth0@if<N>`).
fn peer_index(netns: &str) -> Option<String> {
    let out = tool::run("ip", &["-n", netns, "-o", "link", "show", "eth0"], None).ok()?;
    let after = out.split_once("eth0@if")?.1;
    Some(after.chars().take_while(char::is_ascii_digit).collect::<String>()).filter(|n| !n.is_empty())
}

/// Puts `range`'s service address on `lo` (a /32 labelled `lo:paas<hex>`: no route comes with
/// it; a `dummy` interface would be tidier, but hosts without its module exist: this one), in
/// place of one a crashed server left.
pub(crate) fn create_service(range: Ipv4Net) -> Result<(), NetError> {
    remove_service(range);
    let address = format!("{}/32", service_address(range));
    tool::run("ip", &["addr", "add", &address, "dev", "lo", "label", &service_label(range)], None).map(drop)
}

/// Whether `range`'s service address is on `lo`.
fn has_service(range: Ipv4Net) -> bool {
    let needle = format!(" {}/32 ", service_address(range));
    tool::run("ip", &["-o", "-4", "addr", "show", "dev", "lo"], None).is_ok_and(|out| out.contains(&needle))
}

/// Takes `range`'s service address off `lo`, if it is there (a failure is logged).
pub(crate) fn remove_service(range: Ipv4Net) {
    if has_service(range)
        && let Err(e) = tool::run("ip", &["addr", "del", &format!("{}/32", service_address(range)), "dev", "lo"], None)
    {
        tracing::warn!(%range, "cannot remove the add-on service address: {e}");
    }
}

/// Writes `value` to `/proc/sys/<key>`.
pub(crate) fn sysctl(key: &str, value: &str) -> Result<(), NetError> {
    let path = Path::new("/proc/sys").join(key);
    std::fs::write(&path, value).map_err(|source| NetError::Io { path, source })
}
