//! The dyno network's addresses: an IPv4 range the operator sets (`--dyno-network`), cut into
//! /30 links (one per container: `.1` the node's end of the veth pair, `.2` the container's), the
//! last of which is never a container's: its `.1` is the [service address](service_address)
//! add-on servers listen on. The names derived from a link's address and the network's owner
//! (an id each network draws at start), and the lock file that gives one `paas server` a range
//! of its own on a host and records its owner id: the next holder of the range removes only the
//! namespaces named with the id it finds there (its crashed predecessor's), never another live
//! server's, even if the lock file went missing meanwhile.

use std::collections::BTreeSet;
use std::fs::{File, TryLockError};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;

use super::NetError;

/// The range used unless the operator sets one (`paas server --dyno-network`).
pub const DEFAULT_RANGE: &str = "10.199.0.0/16";

/// Where a network of its own is drawn from (a free /24, [`Network::on_free_range`]) by what runs
/// without a server's network: a builder on its own and the tests' many servers. Apart from
/// [`DEFAULT_RANGE`], so that they never collide with a `paas server` on its default.
///
/// [`Network::on_free_range`]: super::Network::on_free_range
pub const STANDALONE_RANGE: &str = "10.240.0.0/12";

/// Where the lock files of the ranges in use live (a tmpfs: they go with a reboot, as the
/// namespaces do).
const LOCK_DIR: &str = "/run/paas/net";

/// The prefix of the node's end of each veth pair (`paasv` + the container address in hex: 13
/// characters, under the kernel's 15).
pub(crate) const VETH_PREFIX: &str = "paasv";

/// The prefix of each named network namespace (`/run/netns/paas-<owner>-10.199.0.2`).
pub(crate) const NETNS_PREFIX: &str = "paas-";

/// Parses a `--dyno-network` value: an IPv4 range between /8 and /29, not loopback, link-local,
/// multicast or reserved (host bits are cleared).
pub fn parse_range(text: &str) -> Result<Ipv4Net, NetError> {
    let invalid = |why: &str| NetError::InvalidRange { range: text.to_string(), why: why.to_string() };
    let net: Ipv4Net = text.trim().parse().map_err(|_| invalid("expected an IPv4 range such as 10.199.0.0/16, or `host`"))?;
    let net = net.trunc();
    // A /30 would be the service address's link alone: no container would fit.
    if !(8..=29).contains(&net.prefix_len()) {
        return Err(invalid("the prefix must be between /8 and /29 (or `host`)"));
    }
    let first = net.network();
    if first.is_loopback() || first.is_link_local() || first.is_multicast() || first.octets()[0] == 0 || first.octets()[0] >= 240
    {
        return Err(invalid("loopback, link-local, multicast and reserved ranges cannot hold dynos"));
    }
    Ok(net)
}

/// A `--dyno-network` value: a range for the containers' namespaces, or `host` (no namespaces:
/// every container shares the host's network; single-tenant only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DynoNetwork {
    /// The host's network.
    Host,
    /// Namespaces with addresses from this range.
    Range(Ipv4Net),
}

impl std::str::FromStr for DynoNetwork {
    type Err = NetError;

    fn from_str(text: &str) -> Result<Self, NetError> {
        if text.trim() == "host" { Ok(DynoNetwork::Host) } else { parse_range(text).map(DynoNetwork::Range) }
    }
}

/// One container's link: the node's end and the container's end of a /30.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Link {
    /// Its index in the range.
    pub slot: u32,
    /// The node's address (the container's gateway).
    pub host: Ipv4Addr,
    /// The container's address.
    pub dyno: Ipv4Addr,
}

impl Link {
    /// The `slot`-th /30 of `range`.
    pub fn of(range: Ipv4Net, slot: u32) -> Link {
        let base = u32::from(range.network()) + slot * 4;
        Link { slot, host: Ipv4Addr::from(base + 1), dyno: Ipv4Addr::from(base + 2) }
    }

    /// The node's end of the veth pair.
    pub fn veth(&self) -> String {
        veth_of(self.dyno)
    }

    /// The named network namespace of this link of the network `owner` (see [`new_owner`]).
    pub fn netns(&self, owner: &str) -> String {
        format!("{NETNS_PREFIX}{owner}-{}", self.dyno)
    }
}

/// The label of a range's service address on `lo` (`lo:paas` + the range's first address in hex:
/// 15 characters, the kernel's limit). One range per label: two ranges of a host never overlap
/// (see [`lock`]), so they never share a first address.
pub(crate) const SERVICE_LABEL_PREFIX: &str = "lo:paas";

/// The service address of `range`: the node's end of its last /30, which [`Slots`] never hands
/// to a container. Add-on servers listen on it; a container reaches it only where its lease grants
/// the endpoint. Derived from the range alone, so it is the same at every start of a server on it.
pub fn service_address(range: Ipv4Net) -> Ipv4Addr {
    Link::of(range, links(range) - 1).host
}

/// The label of `range`'s service address on `lo`.
pub(crate) fn service_label(range: Ipv4Net) -> String {
    format!("{SERVICE_LABEL_PREFIX}{:08x}", u32::from(range.network()))
}

/// How many /30 links `range` holds (the service address's included).
fn links(range: Ipv4Net) -> u32 {
    1 << (30 - u32::from(range.prefix_len().min(30)))
}

/// The node's end of the veth pair of the container address `dyno`.
pub(crate) fn veth_of(dyno: Ipv4Addr) -> String {
    format!("{VETH_PREFIX}{:08x}", u32::from(dyno))
}

/// The owner and the address a namespace's name carries ([`Link::netns`]).
pub(crate) fn address_of_netns(name: &str) -> Option<(&str, Ipv4Addr)> {
    let (owner, address) = name.strip_prefix(NETNS_PREFIX)?.split_once('-')?;
    Some((owner, address.parse().ok()?))
}

/// A new owner id for a network: 8 hex digits, from the process id and the time (two servers
/// of a host never draw the same one at once; the lock file records it).
pub(crate) fn new_owner() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    format!("{:08x}", h.finish() as u32)
}

/// Records `owner` in a range's lock file (held) and answers the owner recorded before, if any:
/// the server that held the range last and did not remove its namespaces (it crashed).
pub(crate) fn take_over(lock: &mut File, owner: &str) -> Result<Option<String>, NetError> {
    use std::io::{Seek, Write};
    let io = |source| NetError::Io { path: LOCK_DIR.into(), source };
    let previous = recorded_owner(lock);
    lock.set_len(0).map_err(io)?;
    lock.seek(std::io::SeekFrom::Start(0)).map_err(io)?;
    lock.write_all(owner.as_bytes()).map_err(io)?;
    Ok(previous)
}

/// The owner id a range's lock file records, if it holds one.
pub(crate) fn recorded_owner(lock: &mut File) -> Option<String> {
    use std::io::{Read, Seek};
    let mut text = String::new();
    lock.seek(std::io::SeekFrom::Start(0)).ok()?;
    lock.take(64).read_to_string(&mut text).ok()?;
    let text = text.trim();
    (text.len() == 8 && text.bytes().all(|b| b.is_ascii_hexdigit())).then(|| text.to_string())
}

/// Takes `range` when its server is gone: its lock file is there and no process holds it. `None`
/// when a process holds it, and when the file is missing: a live server's lock file may have gone
/// missing, and its range is then left alone.
pub(crate) fn lock_abandoned(range: Ipv4Net) -> Option<File> {
    let file = File::options().read(true).write(true).open(lock_path(range)).ok()?;
    file.try_lock().ok()?;
    Some(file)
}

/// The links of a range in use.
#[derive(Debug)]
pub(crate) struct Slots {
    range: Ipv4Net,
    taken: BTreeSet<u32>,
}

impl Slots {
    pub fn new(range: Ipv4Net) -> Slots {
        Slots { range, taken: BTreeSet::new() }
    }

    /// How many links the range holds for containers (all but the service address's).
    pub fn capacity(&self) -> u32 {
        links(self.range).saturating_sub(1)
    }

    /// A free link, or `None` when all are taken.
    pub fn take(&mut self) -> Option<Link> {
        let slot = (0..self.capacity()).find(|s| !self.taken.contains(s))?;
        self.taken.insert(slot);
        Some(Link::of(self.range, slot))
    }

    pub fn give_back(&mut self, slot: u32) {
        self.taken.remove(&slot);
    }
}

/// The lock file of `range` (`/run/paas/net/10.199.0.0-16.lock`).
fn lock_path(range: Ipv4Net) -> PathBuf {
    Path::new(LOCK_DIR).join(format!("{}-{}.lock", range.network(), range.prefix_len()))
}

/// How long [`lock`] waits for a range another process holds: a server starting clears a gone
/// server's range under its lock ([`lock_abandoned`]) for a moment, and the gone server's
/// successor may come back on that range just then.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(3);

/// Takes `range` for this process (held while the returned file is open), or
/// [`NetError::InUse`] when another `paas server` holds it (and still does after
/// [`LOCK_PATIENCE`]).
pub(crate) fn lock(range: Ipv4Net) -> Result<File, NetError> {
    let path = lock_path(range);
    std::fs::create_dir_all(LOCK_DIR).map_err(|source| NetError::Io { path: LOCK_DIR.into(), source })?;
    let file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| NetError::Io { path: path.clone(), source })?;
    let deadline = std::time::Instant::now() + LOCK_PATIENCE;
    loop {
        match file.try_lock() {
            Ok(()) => break,
            Err(TryLockError::WouldBlock) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(TryLockError::WouldBlock) => return Err(NetError::InUse { range }),
            Err(TryLockError::Error(source)) => return Err(NetError::Io { path, source }),
        }
    }
    // A range overlapping another held one would share its addresses (and its stale entries).
    if let Some(other) = held_overlapping(range) {
        return Err(NetError::InUse { range: other });
    }
    Ok(file)
}

/// Another range held by a live process of this host that overlaps `range` (its lock file is
/// locked; an unlocked file is a stale one).
fn held_overlapping(range: Ipv4Net) -> Option<Ipv4Net> {
    let entries = std::fs::read_dir(LOCK_DIR).ok()?;
    entries.flatten().find_map(|entry| {
        let name = entry.file_name().to_string_lossy().into_owned();
        let (net, len) = name.strip_suffix(".lock")?.rsplit_once('-')?;
        let other = Ipv4Net::new(net.parse().ok()?, len.parse().ok()?).ok()?;
        let overlaps = other != range && (other.contains(&range.network()) || range.contains(&other.network()));
        let held = || File::open(entry.path()).is_ok_and(|f| matches!(f.try_lock(), Err(TryLockError::WouldBlock)));
        (overlaps && held()).then_some(other)
    })
}

/// A `prefix`-sized range inside `within` that no `paas server` of this host holds now and
/// that holds none of the host's addresses (for tests, which start many servers at once). Another
/// process may still take it first: [`Network::new`](super::Network::new) then says
/// [`NetError::InUse`] and the caller asks again.
pub fn free_range(within: Ipv4Net, prefix: u8) -> Option<Ipv4Net> {
    let ranges: Vec<Ipv4Net> = within.subnets(prefix).ok()?.collect();
    let node = crate::egress::read_node_addresses().unwrap_or_default();
    // Start at a different place in each process and each call, so that concurrent callers
    // rarely pick the same range.
    let start = {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        h.finish() as usize
    };
    (0..ranges.len()).map(|i| ranges[(start + i) % ranges.len()]).find(|range| {
        !node.iter().any(|a| matches!(a, std::net::IpAddr::V4(v4) if range.contains(v4))) && lock(*range).is_ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_parsed_and_unusable_ones_refused() {
        assert_eq!(parse_range("10.199.3.4/16").unwrap().to_string(), "10.199.0.0/16");
        assert_eq!(parse_range(DEFAULT_RANGE).unwrap().to_string(), DEFAULT_RANGE);
        assert_eq!("host".parse::<DynoNetwork>().unwrap(), DynoNetwork::Host);
        assert_eq!("10.9.0.0/16".parse::<DynoNetwork>().unwrap(), DynoNetwork::Range(parse_range("10.9.0.0/16").unwrap()));
        for bad in ["", "10.0.0.0", "10.0.0.0/31", "10.0.0.0/30", "10.0.0.0/7", "127.0.0.0/16", "169.254.0.0/16", "224.0.0.0/8", "fd00::/64", "x"]
        {
            let err = parse_range(bad).unwrap_err().to_string();
            assert!(err.contains("--dyno-network"), "{bad}: {err}");
        }
    }

    #[test]
    fn links_are_slash_30s_named_after_the_container_address() {
        let range = parse_range("10.199.0.0/16").unwrap();
        let link = Link::of(range, 1);
        assert_eq!((link.host, link.dyno), (Ipv4Addr::new(10, 199, 0, 5), Ipv4Addr::new(10, 199, 0, 6)));
        assert_eq!(link.veth(), "paasv0ac70006");
        assert!(link.veth().len() <= 15);
        assert_eq!(link.netns("0badf00d"), "paas-0badf00d-10.199.0.6");
        assert_eq!(address_of_netns(&link.netns("0badf00d")), Some(("0badf00d", link.dyno)));
        assert_eq!(address_of_netns("paas-10.199.0.6"), None, "an unowned name is nobody's to remove");
        assert_eq!(new_owner().len(), 8);
        let small = parse_range("10.1.2.0/28").unwrap();
        let mut slots = Slots::new(small);
        assert_eq!(slots.capacity(), 3);
        let (a, b, c) = (slots.take().unwrap(), slots.take().unwrap(), slots.take().unwrap());
        assert_eq!((a.slot, b.slot, b.dyno), (0, 1, Ipv4Addr::new(10, 1, 2, 6)));
        // The last link is the service address's: never a container's.
        assert_eq!((c.slot, slots.take()), (2, None));
        assert_eq!(service_address(small), Ipv4Addr::new(10, 1, 2, 13));
        assert_eq!(service_address(range), Ipv4Addr::new(10, 199, 255, 253));
        assert_eq!(service_label(range), "lo:paas0ac70000");
        slots.give_back(0);
        assert_eq!(slots.take().map(|l| l.slot), Some(0));
    }
}
