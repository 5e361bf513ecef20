//! The JSON shapes of Heroku's Platform API for add-on services, plans, add-ons and
//! attachments. An add-on's `addon_service` and `plan` are always expanded (what the heroku
//! CLI asks for with `Accept-Expansion: addon_service,plan`); they keep `id` and `name`.

use serde_json::{Value, json};

use super::views::time;
use crate::addons::catalog::{self, Plan, Service};
use crate::addons::{Addon, AddonAttachment};

/// When the catalog was written (its entries never change at run time).
const CATALOG_TIME: &str = "2026-01-01T00:00:00Z";

/// An add-on service.
pub fn service(service: &Service) -> Value {
    json!({
        "id": service.id(),
        "name": service.name,
        "human_name": service.human_name,
        "cli_plugin_name": service.name,
        "state": "ga",
        "supports_multiple_installations": true,
        "supports_sharing": true,
        "created_at": CATALOG_TIME,
        "updated_at": CATALOG_TIME,
    })
}

/// A plan of a service.
pub fn plan(service: &Service, plan: &Plan) -> Value {
    json!({
        "id": catalog::plan_id(service, plan),
        "name": format!("{}:{}", service.name, plan.name),
        "human_name": plan.human_name,
        "description": format!("{} {}: {}", service.human_name, plan.human_name, catalog::plan_description(service, plan)),
        "addon_service": {"id": service.id(), "name": service.name},
        "default": std::ptr::eq(plan, &service.plans[0]),
        "price": {"cents": plan.cents, "contract": false, "unit": "month"},
        "state": "public",
        "visible": true,
        "compliance": null,
        "installable_inside_private_network": false,
        "installable_outside_private_network": true,
        "space_default": false,
        "created_at": CATALOG_TIME,
        "updated_at": CATALOG_TIME,
    })
}

/// The catalog's entries for an add-on's service and plan (`None` if they left the catalog).
fn catalog_of(addon: &Addon) -> Option<(&'static Service, &'static Plan)> {
    catalog::resolve_plan(&addon.plan_name()).ok()
}

/// An add-on (never its credentials).
pub fn addon(addon: &Addon) -> Value {
    let (service_json, plan_json, price) = match catalog_of(addon) {
        Some((s, p)) => (service(s), plan(s, p), json!({"cents": p.cents, "contract": false, "unit": "month"})),
        None => (
            json!({"id": null, "name": addon.service}),
            json!({"id": null, "name": addon.plan_name()}),
            json!({"cents": 0, "contract": false, "unit": "month"}),
        ),
    };
    json!({
        "id": addon.id,
        "name": addon.name,
        "app": {"id": addon.app_id, "name": addon.app_name},
        "billing_entity": {"id": addon.app_id, "name": addon.app_name, "type": "app"},
        "addon_service": service_json,
        "plan": plan_json,
        "billed_price": price,
        "config_vars": addon.config_vars,
        "provider_id": addon.provider_id,
        "state": "provisioned",
        "provision_message": null,
        "actions": [],
        "web_url": null,
        "created_at": time(addon.created_at),
        "updated_at": time(addon.updated_at),
    })
}

/// A destroyed add-on: state `deprovisioned` (what the heroku CLI waits for after a DELETE).
pub fn destroyed(destroyed: &Addon) -> Value {
    let mut value = addon(destroyed);
    value["state"] = json!("deprovisioned");
    value
}

/// An attachment of an add-on to an app; its `addon` includes the plan (what the heroku CLI
/// asks for with `Accept-Inclusion: addon:plan`, and `pg:psql` reads).
pub fn attachment(attachment: &AddonAttachment) -> Value {
    let plan_name = format!("{}:{}", attachment.addon_service, attachment.addon_plan);
    let (service_json, plan_json) = match catalog::resolve_plan(&plan_name) {
        Ok((s, p)) => (json!({"id": s.id(), "name": s.name}), json!({"id": catalog::plan_id(s, p), "name": plan_name})),
        Err(_) => (json!({"id": null, "name": attachment.addon_service}), json!({"id": null, "name": plan_name})),
    };
    json!({
        "id": attachment.id,
        "name": attachment.name,
        "addon": {
            "id": attachment.addon_id,
            "name": attachment.addon_name,
            "app": {"id": attachment.addon_app_id, "name": attachment.addon_app_name},
            "addon_service": service_json,
            "plan": plan_json,
        },
        "app": {"id": attachment.app_id, "name": attachment.app_name},
        "config_vars": attachment.config_vars,
        "namespace": null,
        "log_input_url": null,
        "web_url": null,
        "created_at": time(attachment.created_at),
        "updated_at": time(attachment.updated_at),
    })
}
