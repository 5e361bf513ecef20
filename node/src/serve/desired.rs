//! The ledger's view of an app translated into the supervisor's [`AppSpec`]: the current
//! release's slug (unpacked once per node), its process types and config vars, the formation's
//! quantities and sizes, custom domains, maintenance mode, the `sleep` and `preboot` features, and
//! the endpoints of the add-ons attached to it (what its dynos may connect to).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use paas_builder::{ProcessKind, SlugManifest, SlugStore};
use paas_platform::Ledger;
use paas_platform::addons::AddonFilter;
use paas_platform::addons::host::endpoint_of_url;
use paas_platform::grid::slugs::PeerSlugs;
use paas_platform::model::App;
use paas_platform::names::SizeClass;
use paas_runtime::DynoSize;

use crate::error::ServeError;
use crate::supervisor::{AppSpec, ProcessSpec, Program};

/// Reads desired states from the ledger and the slug store.
pub struct Desired {
    /// The ledger.
    pub ledger: Arc<dyn Ledger>,
    /// The slug store (`<data-dir>/slugs`).
    pub slugs: SlugStore,
    /// Where slugs are unpacked for dynos (`<data-dir>/runtime/slugs`).
    pub unpacked: PathBuf,
    /// The dynos this node runs (all, or those placed on it).
    pub placements: paas_platform::grid::agent::Placements,
    /// Where a slug missing here is fetched from: the other nodes of the grid.
    pub peers: Option<Arc<PeerSlugs>>,
}

impl Desired {
    /// The desired state of `app`. An app with no release (or no slug) runs no dyno but is
    /// routed (H14), with its domains and maintenance mode.
    pub async fn of(&self, app: &App) -> Result<AppSpec, ServeError> {
        let domains = self.ledger.list_domains(app.id).await?.into_iter().map(|d| d.hostname).collect();
        // Feature `sleep`: web dynos sleep when idle whatever their size. Feature `preboot`:
        // new web dynos take traffic before old ones stop. Both off unless set, as on Heroku.
        let features = self.ledger.list_app_features(app.id).await?;
        let enabled = |name: &str| features.iter().any(|f| f.name == name && f.enabled);
        let mut spec = AppSpec {
            app: app.name.clone(),
            release: 0,
            app_dir: PathBuf::new(),
            env: Default::default(),
            processes: Default::default(),
            maintenance: app.maintenance,
            domains,
            sleeps: enabled("sleep"),
            preboot: enabled("preboot"),
            services: attached_endpoints(self.ledger.as_ref(), app).await?,
            placed: self.placements.current().map(|all| all.get(&app.id).cloned().unwrap_or_default()),
        };
        let Some(release) = self.ledger.current_release(app.id).await? else { return Ok(spec) };
        spec.release = release.version;
        spec.env = release.config_vars.clone();
        let Some(slug_id) = release.slug_id else { return Ok(spec) };
        let slug = self.ledger.find_slug(app.id, slug_id).await?.ok_or(ServeError::SlugMissing)?;
        let dir = unpacked_slug(&self.slugs, self.peers.as_deref(), &slug.checksum, &self.unpacked).await?;
        let manifest = read_manifest(&dir)?;
        spec.app_dir = dir.join("app");
        for formation in self.ledger.list_formation(app.id).await? {
            // Eco web dynos sleep when idle, as Heroku's do.
            if formation.process_type == "web" && formation.size.eq_ignore_ascii_case("eco") {
                spec.sleeps = true;
            }
            let Some(kind) = manifest.processes.get(&formation.process_type) else { continue };
            let program = match kind {
                // The component is preferred; its native command runs when it cannot.
                ProcessKind::Wasm { component, reuse, args, native } => Program::Wasm {
                    component: spec.app_dir.join(component),
                    reuse: *reuse,
                    args: args.clone(),
                    native_fallback: native.clone(),
                },
                ProcessKind::Native { command } => Program::Native { command: command.clone() },
            };
            spec.processes.insert(
                formation.process_type.clone(),
                ProcessSpec {
                    program,
                    command: formation.command.clone(),
                    quantity: u32::try_from(formation.quantity.max(0)).unwrap_or(u32::MAX),
                    size: dyno_size(&formation.size),
                },
            );
        }
        Ok(spec)
    }
}

/// The slug `checksum` unpacked below `root` (as `root/<checksum>`). A slug built on another node
/// of the grid is fetched first from a node that has it, and kept only when its content hashes to
/// `checksum`.
pub async fn unpacked_slug(
    slugs: &SlugStore,
    peers: Option<&PeerSlugs>,
    checksum: &str,
    root: &Path,
) -> Result<PathBuf, ServeError> {
    let checksum_of = || checksum.to_string();
    if let Some(peers) = peers {
        peers.ensure(checksum).await.map_err(|source| ServeError::FetchSlug { checksum: checksum_of(), source })?;
    }
    let (store, root, id) = (slugs.clone(), root.to_path_buf(), checksum.to_string());
    tokio::task::spawn_blocking(move || store.unpacked(&id, &root))
        .await
        .map_err(|source| ServeError::Unpacking { checksum: checksum_of(), source })?
        .map_err(|source| ServeError::UnpackSlug { checksum: checksum_of(), source })
}

/// The endpoints of the add-ons attached to `app` (sorted, without repeats): the host and port of
/// each URL in their config. A URL whose host is a name, not an address, grants nothing (the
/// operator's `--addons-postgres-url` should name an address for dynos to reach it).
pub async fn attached_endpoints(ledger: &dyn Ledger, app: &App) -> Result<Vec<SocketAddr>, ServeError> {
    let attached: Vec<_> =
        ledger.list_attachments(AddonFilter::App(app.id)).await?.into_iter().map(|a| a.addon_id).collect();
    if attached.is_empty() {
        return Ok(Vec::new());
    }
    let mut endpoints: Vec<SocketAddr> = ledger
        .list_addons(AddonFilter::App(app.id))
        .await?
        .iter()
        .filter(|addon| attached.contains(&addon.id))
        .flat_map(|addon| addon.config.values().filter_map(|value| endpoint_of_url(value)))
        .collect();
    endpoints.sort();
    endpoints.dedup();
    Ok(endpoints)
}

/// The manifest of the slug unpacked in `dir`.
fn read_manifest(dir: &Path) -> Result<SlugManifest, ServeError> {
    paas_builder::slug::read_unpacked_manifest(dir)
        .map_err(|source| ServeError::Manifest { dir: dir.display().to_string(), source })
}

/// Heroku's size names (`Basic`, `Standard-2X`, `Performance-M`, …) to the runtime's sizes.
pub fn dyno_size(size: &str) -> DynoSize {
    match SizeClass::of(size) {
        SizeClass::Basic => DynoSize::Basic,
        SizeClass::Standard => DynoSize::Standard,
        SizeClass::Performance => DynoSize::Performance,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heroku_sizes_map_to_runtime_sizes() {
        assert_eq!(dyno_size("Eco"), DynoSize::Basic);
        assert_eq!(dyno_size("Basic"), DynoSize::Basic);
        assert_eq!(dyno_size("Standard-2X"), DynoSize::Standard);
        assert_eq!(dyno_size("Performance-L"), DynoSize::Performance);
    }

    /// A single node's `Desired` over a fresh SQLite ledger in a temporary folder.
    async fn single_node() -> (tempfile::TempDir, Arc<dyn Ledger>, Desired) {
        let dir = tempfile::tempdir().unwrap();
        let ledger = paas_platform::ledger::open(&paas_platform::ledger::sqlite_url(dir.path())).await.unwrap();
        let desired = Desired {
            ledger: ledger.clone(),
            slugs: SlugStore::new(dir.path()).unwrap(),
            unpacked: dir.path().join("u"),
            placements: paas_platform::grid::agent::Placements::everything(),
            peers: None,
        };
        (dir, ledger, desired)
    }

    #[tokio::test]
    async fn the_sleep_and_preboot_features_reach_the_spec() {
        let (_dir, ledger, desired) = single_node().await;
        let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
        let app = ledger.create_app("sleepy", owner.id).await.unwrap();
        assert!(!desired.of(&app).await.unwrap().sleeps);
        ledger.set_app_feature(app.id, "sleep", true).await.unwrap();
        assert!(desired.of(&app).await.unwrap().sleeps);
        assert!(!desired.of(&app).await.unwrap().preboot, "preboot is off by default, as on Heroku");
        ledger.set_app_feature(app.id, "preboot", true).await.unwrap();
        ledger.set_app_feature(app.id, "sleep", false).await.unwrap();
        let spec = desired.of(&app).await.unwrap();
        assert!(!spec.sleeps && spec.preboot);
    }

    #[tokio::test]
    async fn the_endpoints_of_the_attached_add_ons_reach_the_spec_and_no_others() {
        use paas_platform::addons::NewAddon;
        let (_dir, ledger, desired) = single_node().await;
        let (owner, _) = ledger.create_user("owner@example.com", None, false).await.unwrap();
        let (app, other) = (ledger.create_app("shop", owner.id).await.unwrap(), ledger.create_app("other", owner.id).await.unwrap());
        let addon = |app_id, name: &str, url: &str, as_: &str| NewAddon {
            app_id,
            name: name.into(),
            service: "heroku-postgresql".into(),
            plan: "essential-0".into(),
            provider_id: format!("addon_{name}"),
            config: [("URL".to_string(), url.to_string())].into(),
            attachment_names: vec![as_.into()],
        };
        assert!(desired.of(&app).await.unwrap().services.is_empty());
        let (mine, _, _) = ledger.create_addon(owner.id, addon(app.id, "pg-1", "postgres://a:p@10.199.255.253:40001/a", "DATABASE")).await.unwrap();
        ledger.create_addon(owner.id, addon(app.id, "pg-2", "postgres://b:p@db.example.com:5432/b", "NAMED")).await.unwrap();
        ledger.create_addon(owner.id, addon(other.id, "pg-3", "postgres://c:p@10.199.255.253:40003/c", "DATABASE")).await.unwrap();
        let granted = |spec: AppSpec| spec.services.iter().map(ToString::to_string).collect::<Vec<_>>();
        assert_eq!(granted(desired.of(&app).await.unwrap()), ["10.199.255.253:40001"], "a name grants nothing; another app's add-on is not this app's");
        assert_eq!(granted(desired.of(&other).await.unwrap()), ["10.199.255.253:40003"]);
        ledger.attach_addon(mine.id, other.id, owner.id, vec!["SHOP".into()]).await.unwrap();
        assert_eq!(granted(desired.of(&other).await.unwrap()), ["10.199.255.253:40001", "10.199.255.253:40003"]);
        let (spare, _, _) = ledger.create_addon(owner.id, addon(app.id, "pg-4", "postgres://d:p@127.0.0.1:40004/d", "SPARE")).await.unwrap();
        assert_eq!(desired.of(&app).await.unwrap().services.len(), 2);
        ledger.destroy_addon(spare.id, owner.id).await.unwrap();
        assert_eq!(granted(desired.of(&app).await.unwrap()), ["10.199.255.253:40001"], "a destroyed add-on grants nothing");
    }
}
