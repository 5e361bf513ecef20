//! `/addon-services` and `/plans`: the catalog of add-on services and their plans.

use axum::Json;
use axum::extract::Path;
use serde_json::Value;

use super::addon_views;
use super::{ApiError, CurrentUser};
use crate::addons::catalog;

fn service_or_404(name_or_id: &str) -> Result<&'static catalog::Service, ApiError> {
    catalog::service(name_or_id).ok_or_else(|| {
        let names: Vec<&str> = catalog::SERVICES.iter().map(|s| s.name).collect();
        ApiError::not_found(format!(
            "Couldn't find that add-on service. Available services: {}.",
            names.join(", ")
        ))
    })
}

/// `GET /addon-services`.
pub async fn list(_: CurrentUser) -> Json<Value> {
    Json(catalog::SERVICES.iter().map(addon_views::service).collect())
}

/// `GET /addon-services/{service}`.
pub async fn info(_: CurrentUser, Path(service): Path<String>) -> Result<Json<Value>, ApiError> {
    Ok(Json(addon_views::service(service_or_404(&service)?)))
}

/// `GET /addon-services/{service}/plans`.
pub async fn plans(_: CurrentUser, Path(service): Path<String>) -> Result<Json<Value>, ApiError> {
    let service = service_or_404(&service)?;
    Ok(Json(service.plans.iter().map(|plan| addon_views::plan(service, plan)).collect()))
}

/// `GET /addon-services/{service}/plans/{plan}` (`essential-0`, `heroku-postgresql:essential-0`
/// or the plan's id).
pub async fn plan_info(_: CurrentUser, Path((service, plan)): Path<(String, String)>) -> Result<Json<Value>, ApiError> {
    let service = service_or_404(&service)?;
    let short = plan.rsplit(':').next().unwrap_or(&plan);
    let found = service
        .plans
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(short) || catalog::plan_id(service, p).to_string() == plan)
        .ok_or_else(|| ApiError::not_found(catalog::resolve_plan(&format!("{}:{short}", service.name)).err().unwrap_or_default()))?;
    Ok(Json(addon_views::plan(service, found)))
}

/// `GET /plans`: every plan of every service.
pub async fn all_plans(_: CurrentUser) -> Json<Value> {
    Json(
        catalog::SERVICES
            .iter()
            .flat_map(|service| service.plans.iter().map(move |plan| addon_views::plan(service, plan)))
            .collect(),
    )
}
