//! `/addon-services` and `/plans`: the catalog of add-on services and their plans.

use axum::Json;
use axum::extract::Path;

use super::views::{AddonServiceView, PlanView};
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
pub async fn list(_: CurrentUser) -> Json<Vec<AddonServiceView>> {
    Json(catalog::SERVICES.iter().map(AddonServiceView::new).collect())
}

/// `GET /addon-services/{service}`.
pub async fn info(_: CurrentUser, Path(service): Path<String>) -> Result<Json<AddonServiceView>, ApiError> {
    Ok(Json(AddonServiceView::new(service_or_404(&service)?)))
}

/// `GET /addon-services/{service}/plans`.
pub async fn plans(_: CurrentUser, Path(service): Path<String>) -> Result<Json<Vec<PlanView>>, ApiError> {
    let service = service_or_404(&service)?;
    Ok(Json(service.plans.iter().map(|plan| PlanView::new(service, plan)).collect()))
}

/// `GET /addon-services/{service}/plans/{plan}` (`essential-0`, `heroku-postgresql:essential-0`
/// or the plan's id).
pub async fn plan_info(_: CurrentUser, Path((service, plan)): Path<(String, String)>) -> Result<Json<PlanView>, ApiError> {
    let service = service_or_404(&service)?;
    let short = plan.rsplit(':').next().unwrap_or(&plan);
    let found = service
        .plans
        .iter()
        .find(|p| p.name.eq_ignore_ascii_case(short) || catalog::plan_id(service, p).to_string() == plan)
        .ok_or_else(|| ApiError::not_found(catalog::resolve_plan(&format!("{}:{short}", service.name)).err().map(|e| e.to_string()).unwrap_or_default()))?;
    Ok(Json(PlanView::new(service, found)))
}

/// `GET /plans`: every plan of every service.
pub async fn all_plans(_: CurrentUser) -> Json<Vec<PlanView>> {
    Json(
        catalog::SERVICES
            .iter()
            .flat_map(|service| service.plans.iter().map(move |plan| PlanView::new(service, plan)))
            .collect(),
    )
}
