//! paas-sandbox's integration tests (one binary): network namespaces and their firewall, as root
//! with real `ip` and `nft`.

mod net;
