//! Add-on services, their plans, add-ons and attachments. An add-on's `addon_service` and `plan`
//! are always expanded (what the heroku CLI asks for with `Accept-Expansion: addon_service,plan`);
//! they keep `id` and `name`.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{NameRef, time};
use crate::addons::catalog::{self, Plan, Service};
use crate::addons::{Addon, AddonAttachment};

/// When the catalog was written (its entries never change at run time).
const CATALOG_TIME: &str = "2026-01-01T00:00:00Z";

/// An add-on service (`GET /addon-services`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddonServiceView {
    /// The heroku CLI plugin that manages it (its name).
    pub cli_plugin_name: String,
    /// When the catalog was written.
    pub created_at: String,
    /// `Heroku Postgres`.
    pub human_name: String,
    /// Its id (the same on every server).
    pub id: String,
    /// `heroku-postgresql`.
    pub name: String,
    /// Always `ga`.
    pub state: String,
    /// Whether an app may have several (yes).
    pub supports_multiple_installations: bool,
    /// Whether an add-on may be attached to other apps (yes).
    pub supports_sharing: bool,
    /// When the catalog was written.
    pub updated_at: String,
}

impl AddonServiceView {
    /// `service` of the catalog.
    pub fn new(service: &Service) -> AddonServiceView {
        AddonServiceView {
            cli_plugin_name: service.name.into(),
            created_at: CATALOG_TIME.into(),
            human_name: service.human_name.into(),
            id: service.id().to_string(),
            name: service.name.into(),
            state: "ga".into(),
            supports_multiple_installations: true,
            supports_sharing: true,
            updated_at: CATALOG_TIME.into(),
        }
    }
}

/// A plan of a service (`GET /addon-services/{service}/plans`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PlanView {
    /// Its service.
    pub addon_service: NameRef,
    /// The compliance it meets (none claimed).
    pub compliance: Option<Vec<String>>,
    /// When the catalog was written.
    pub created_at: String,
    /// Whether it is its service's default (the first).
    pub default: bool,
    /// What it gives.
    pub description: String,
    /// `Essential 0`.
    pub human_name: String,
    /// Its id (the same on every server).
    pub id: String,
    /// Whether it installs in a private space (no).
    pub installable_inside_private_network: bool,
    /// Whether it installs outside one (yes).
    pub installable_outside_private_network: bool,
    /// `heroku-postgresql:essential-0`.
    pub name: String,
    /// Its price (shown, never billed).
    pub price: Price,
    /// Whether it is a space's default (no).
    pub space_default: bool,
    /// Always `public`.
    pub state: String,
    /// When the catalog was written.
    pub updated_at: String,
    /// Whether it is listed (yes).
    pub visible: bool,
}

/// A monthly price.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Price {
    /// Cents per month.
    pub cents: u32,
    /// Whether it is a contract price (no).
    pub contract: bool,
    /// Always `month`.
    pub unit: String,
}

impl Price {
    /// `cents` a month.
    fn monthly(cents: u32) -> Price {
        Price { cents, contract: false, unit: "month".into() }
    }
}

impl PlanView {
    /// `plan` of `service`.
    pub fn new(service: &Service, plan: &Plan) -> PlanView {
        PlanView {
            addon_service: NameRef { id: service.id().to_string(), name: service.name.into() },
            compliance: None,
            created_at: CATALOG_TIME.into(),
            default: std::ptr::eq(plan, &service.plans[0]),
            description: format!("{} {}: {}", service.human_name, plan.human_name, catalog::plan_description(service, plan)),
            human_name: plan.human_name.into(),
            id: catalog::plan_id(service, plan).to_string(),
            installable_inside_private_network: false,
            installable_outside_private_network: true,
            name: format!("{}:{}", service.name, plan.name),
            price: Price::monthly(plan.cents),
            space_default: false,
            state: "public".into(),
            updated_at: CATALOG_TIME.into(),
            visible: true,
        }
    }
}

/// A service or plan as an add-on shows it: expanded from the catalog, or only its name once it
/// left the catalog.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Catalogued<T> {
    /// In the catalog: all of it.
    Listed(T),
    /// No longer in the catalog: `{id: null, name}`.
    Unlisted(CatalogRef),
}

impl<T> Default for Catalogued<T> {
    fn default() -> Self {
        Catalogued::Unlisted(CatalogRef::default())
    }
}

impl Catalogued<PlanView> {
    /// The plan's name (`service:plan`), in the catalog or not.
    pub fn name(&self) -> &str {
        match self {
            Catalogued::Listed(plan) => &plan.name,
            Catalogued::Unlisted(plan) => &plan.name,
        }
    }
}

/// `{id, name}` of a service or plan; `id` is `null` for one no longer in the catalog.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogRef {
    /// Its id, while it is in the catalog.
    pub id: Option<String>,
    /// Its name (a plan's: `service:plan`).
    pub name: String,
}

/// An add-on (`GET /apps/{app}/addons`), never its credentials.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AddonView {
    /// Heroku's provider actions (none).
    pub actions: Vec<Value>,
    /// Its service.
    pub addon_service: Catalogued<AddonServiceView>,
    /// The app that owns it.
    pub app: NameRef,
    /// Its plan's price.
    pub billed_price: Price,
    /// Who pays for it: the owning app.
    pub billing_entity: BillingEntity,
    /// The config vars its attachments set on the owning app.
    pub config_vars: Vec<String>,
    /// When it was created.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Its name, unique on the platform.
    pub name: String,
    /// Its plan.
    pub plan: Catalogued<PlanView>,
    /// The resource's name on the service's server.
    pub provider_id: String,
    /// What provisioning said (nothing).
    pub provision_message: Option<String>,
    /// `provisioned`, or `deprovisioned` once destroyed.
    pub state: String,
    /// When it last changed.
    pub updated_at: String,
    /// Its dashboard (none).
    pub web_url: Option<String>,
}

/// Who pays for an add-on: `{id, name, type: "app"}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct BillingEntity {
    /// The app's id.
    pub id: String,
    /// The app's name.
    pub name: String,
    /// Always `app`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl AddonView {
    /// `addon`, provisioned.
    pub fn new(addon: &Addon) -> AddonView {
        let (addon_service, plan, cents) = match catalog::resolve_plan(&addon.plan_name()) {
            Ok((s, p)) => (Catalogued::Listed(AddonServiceView::new(s)), Catalogued::Listed(PlanView::new(s, p)), p.cents),
            Err(_) => (
                Catalogued::Unlisted(CatalogRef { id: None, name: addon.service.clone() }),
                Catalogued::Unlisted(CatalogRef { id: None, name: addon.plan_name() }),
                0,
            ),
        };
        let app = NameRef { id: addon.app_id.to_string(), name: addon.app_name.clone() };
        AddonView {
            actions: Vec::new(),
            addon_service,
            billed_price: Price::monthly(cents),
            billing_entity: BillingEntity { id: app.id.clone(), name: app.name.clone(), kind: "app".into() },
            app,
            config_vars: addon.config_vars.clone(),
            created_at: time(addon.created_at),
            id: addon.id.to_string(),
            name: addon.name.clone(),
            plan,
            provider_id: addon.provider_id.clone(),
            provision_message: None,
            state: "provisioned".into(),
            updated_at: time(addon.updated_at),
            web_url: None,
        }
    }

    /// A destroyed add-on: state `deprovisioned` (what the heroku CLI waits for after a DELETE).
    pub fn destroyed(addon: &Addon) -> AddonView {
        AddonView { state: "deprovisioned".into(), ..AddonView::new(addon) }
    }
}

/// An attachment of an add-on to an app (`GET /apps/{app}/addon-attachments`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachmentView {
    /// The add-on, with its plan (what the heroku CLI asks for with `Accept-Inclusion:
    /// addon:plan`, and `pg:psql` reads).
    pub addon: AttachedAddon,
    /// The app it is attached to.
    pub app: NameRef,
    /// The config vars it sets.
    pub config_vars: Vec<String>,
    /// When it was made.
    pub created_at: String,
    /// Its id.
    pub id: String,
    /// Where its add-on's logs come in (none).
    pub log_input_url: Option<String>,
    /// Its name on the app (`DATABASE`).
    pub name: String,
    /// Heroku's attachment namespace (none).
    pub namespace: Option<String>,
    /// When it last changed.
    pub updated_at: String,
    /// Its dashboard (none).
    pub web_url: Option<String>,
}

/// The add-on of an attachment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AttachedAddon {
    /// Its service.
    pub addon_service: CatalogRef,
    /// The app that owns it.
    pub app: NameRef,
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Its plan.
    pub plan: CatalogRef,
}

impl AttachmentView {
    /// `attachment`.
    pub fn new(attachment: &AddonAttachment) -> AttachmentView {
        let plan_name = format!("{}:{}", attachment.addon_service, attachment.addon_plan);
        let (addon_service, plan_id) = match catalog::resolve_plan(&plan_name) {
            Ok((s, p)) => (CatalogRef { id: Some(s.id().to_string()), name: s.name.into() }, Some(catalog::plan_id(s, p).to_string())),
            Err(_) => (CatalogRef { id: None, name: attachment.addon_service.clone() }, None),
        };
        AttachmentView {
            addon: AttachedAddon {
                addon_service,
                app: NameRef { id: attachment.addon_app_id.to_string(), name: attachment.addon_app_name.clone() },
                id: attachment.addon_id.to_string(),
                name: attachment.addon_name.clone(),
                plan: CatalogRef { id: plan_id, name: plan_name },
            },
            app: NameRef { id: attachment.app_id.to_string(), name: attachment.app_name.clone() },
            config_vars: attachment.config_vars.clone(),
            created_at: time(attachment.created_at),
            id: attachment.id.to_string(),
            log_input_url: None,
            name: attachment.name.clone(),
            namespace: None,
            updated_at: time(attachment.updated_at),
            web_url: None,
        }
    }
}
