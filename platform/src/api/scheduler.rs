//! `/apps/{app}/scheduled-jobs` (a paas extension: Heroku's Scheduler is an add-on with no
//! Platform API): list (with each job's next run), add `{"schedule": "*/10 * * * *", "command"}`
//! and remove (by id, or a prefix of it that names one job). Schedules are cron, in UTC
//! ([`crate::scheduler::cron`]); the scheduler in `paas server` runs them as one-off dynos.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use serde::Deserialize;

use super::extract::{ApiJson, AppAccess, CurrentUser, visible_app};
use super::views::ScheduledJobView;
use super::{ApiError, AppState};
use crate::model::{App, MAX_SCHEDULED_COMMAND, ScheduledJob};
use crate::scheduler::cron::Schedule;

/// A job as the API shows it, with when it runs next.
fn view(job: &ScheduledJob, app: &App) -> ScheduledJobView {
    let next_run = Schedule::parse(&job.schedule).ok().and_then(|s| s.next_after(Utc::now()));
    ScheduledJobView::new(job, app, next_run)
}

/// `GET /apps/{app}/scheduled-jobs`: oldest first.
pub async fn list(State(state): State<AppState>, AppAccess { app, .. }: AppAccess) -> Result<Json<Vec<ScheduledJobView>>, ApiError> {
    let jobs = state.ledger.list_scheduled_jobs(app.id).await?;
    Ok(Json(jobs.iter().map(|j| view(j, &app)).collect()))
}

/// The body of `POST /apps/{app}/scheduled-jobs`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateBody {
    schedule: String,
    command: String,
}

/// `POST /apps/{app}/scheduled-jobs` `{"schedule", "command"}` → 201; a bad schedule or an
/// empty or too long command is a 422 saying what to send.
pub async fn create(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(app): Path<String>,
    ApiJson(body): ApiJson<CreateBody>,
) -> Result<(StatusCode, Json<ScheduledJobView>), ApiError> {
    let app = visible_app(&state, &caller, &app).await?;
    let schedule = Schedule::parse(&body.schedule).map_err(|e| ApiError::invalid(e.to_string()))?;
    let command = body.command.trim();
    if command.is_empty() {
        return Err(ApiError::invalid("The command is empty: give the command the job runs."));
    }
    if command.len() > MAX_SCHEDULED_COMMAND {
        return Err(ApiError::invalid(format!(
            "The command is {} bytes long; a scheduled job's command may be at most {MAX_SCHEDULED_COMMAND}.",
            command.len()
        )));
    }
    let job = state.ledger.add_scheduled_job(app.id, schedule.as_str(), command).await?;
    state.logs.api_event(
        &app.name,
        &format!("Add scheduled job {} \"{}\" ({}) by {}", job.id, job.schedule, job.command, caller.user.email),
    );
    Ok((StatusCode::CREATED, Json(view(&job, &app))))
}

/// `GET /apps/{app}/scheduled-jobs/{id}`.
pub async fn info(
    State(state): State<AppState>,
    AppAccess { app, .. }: AppAccess,
    Path((_, which)): Path<(String, String)>,
) -> Result<Json<ScheduledJobView>, ApiError> {
    let job = find(&state, &app, &which).await?;
    Ok(Json(view(&job, &app)))
}

/// `DELETE /apps/{app}/scheduled-jobs/{id}`: the job runs no more (a run already started
/// goes on).
pub async fn remove(
    State(state): State<AppState>,
    AppAccess { app, caller }: AppAccess,
    Path((_, which)): Path<(String, String)>,
) -> Result<Json<ScheduledJobView>, ApiError> {
    let job = find(&state, &app, &which).await?;
    let job = state.ledger.remove_scheduled_job(app.id, job.id).await?;
    state.logs.api_event(&app.name, &format!("Remove scheduled job {} ({}) by {}", job.id, job.command, caller.user.email));
    Ok(Json(view(&job, &app)))
}

/// The app's job whose id is `which` or starts with it (one job only).
async fn find(state: &AppState, app: &App, which: &str) -> Result<ScheduledJob, ApiError> {
    let which = which.trim().to_ascii_lowercase();
    let jobs = state.ledger.list_scheduled_jobs(app.id).await?;
    let mut found = jobs.into_iter().filter(|j| !which.is_empty() && j.id.to_string().starts_with(&which));
    match (found.next(), found.next()) {
        (Some(job), None) => Ok(job),
        (None, _) => Err(ApiError::not_found(format!(
            "Couldn't find scheduled job {which} (paas scheduler lists the app's jobs)."
        ))),
        (Some(_), Some(_)) => Err(ApiError::invalid(format!("{which} names more than one scheduled job: give more of its id."))),
    }
}
