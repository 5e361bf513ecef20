//! Dyno sizes an operator grants per user (a paas extension in Heroku's style): every user may
//! use [`names::DEFAULT_GRANTED_SIZES`]; `Performance-M` (2 GiB) and larger need a grant.
//! `GET /users/{user}` shows the account with its `dyno_sizes`; `PATCH /users/{user}`
//! `{"dyno_sizes": ["Basic", "Performance-M"]}` (operators only) sets them, `null` resets them.
//! Scaling (`PATCH /apps/{app}/formation`) and one-off dynos (`POST /apps/{app}/dynos`) may use
//! the sizes the app's **owner** is granted; another size is a 422 naming those they may use.

use axum::Json;
use axum::extract::{Path, State};
use serde::Deserialize;

use super::extract::{ApiJson, CurrentUser};
use super::views::AccountView;
use super::{ApiError, AppState};
use crate::model::{App, User};
use crate::names;

/// The sizes `user` may use.
pub async fn granted(state: &AppState, user: &User) -> Result<Vec<String>, ApiError> {
    Ok(match state.ledger.dyno_sizes(user.id).await? {
        Some(sizes) => sizes,
        None => names::DEFAULT_GRANTED_SIZES.iter().map(|s| s.to_string()).collect(),
    })
}

/// Fails with 422 unless every size in `sizes` (canonical names) is granted to the app's owner;
/// an operator's request is not checked.
pub async fn check(state: &AppState, caller: &CurrentUser, app: &App, sizes: &[&str]) -> Result<(), ApiError> {
    if caller.user.operator || sizes.is_empty() {
        return Ok(());
    }
    let owner = state
        .ledger
        .find_user(&app.owner.id.to_string())
        .await?
        .ok_or_else(|| ApiError::internal(format!("the owner of {} is not in the ledger", app.name)))?;
    let allowed = granted(state, &owner).await?;
    match sizes.iter().find(|size| !allowed.iter().any(|a| a == *size)) {
        None => Ok(()),
        Some(size) => Err(ApiError::invalid(format!(
            "Size {size} is not granted to {} (the owner of {}): the sizes they may use are {}. \
             An operator grants more with `paas users:grant {} {}`.",
            owner.email,
            app.name,
            allowed.join(", "),
            owner.email,
            size.to_ascii_lowercase()
        ))),
    }
}

/// The user `who` (email or id) for an operator, or the caller themselves.
async fn user_for(state: &AppState, caller: &CurrentUser, who: &str) -> Result<User, ApiError> {
    let own = who == "~" || who.eq_ignore_ascii_case(&caller.user.email) || who == caller.user.id.to_string();
    if own {
        return Ok(caller.user.clone());
    }
    let not_found = || ApiError::not_found(format!("Couldn't find a user {who}."));
    if !caller.user.operator {
        return Err(not_found());
    }
    state.ledger.find_user(who).await?.ok_or_else(not_found)
}

/// The account view with the sizes the user may use.
async fn view(state: &AppState, user: &User) -> Result<AccountView, ApiError> {
    let mut view = AccountView::new(user);
    view.dyno_sizes = Some(granted(state, user).await?);
    Ok(view)
}

/// `GET /users/{user}`: an operator sees anyone, a user themselves (`~`, their email or id).
pub async fn info(State(state): State<AppState>, caller: CurrentUser, Path(who): Path<String>) -> Result<Json<AccountView>, ApiError> {
    let user = user_for(&state, &caller, &who).await?;
    Ok(Json(view(&state, &user).await?))
}

/// The body of `PATCH /users/{user}`.
#[derive(Debug, Deserialize)]
pub struct UserPatch {
    /// The sizes the user may use (any case); `null`: the default sizes. Absent: unchanged.
    #[serde(default, with = "serde_with_null")]
    dyno_sizes: Option<Option<Vec<String>>>,
}

/// Tells a `null` (`Some(None)`) from an absent field (`None`).
mod serde_with_null {
    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Vec<String>>>, D::Error> {
        Option::<Vec<String>>::deserialize(d).map(Some)
    }
}

/// `PATCH /users/{user}` `{"dyno_sizes": [...] | null}` (operators only): the sizes the user may use.
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(who): Path<String>,
    ApiJson(body): ApiJson<UserPatch>,
) -> Result<Json<AccountView>, ApiError> {
    if !caller.user.operator {
        return Err(ApiError::forbidden("Only an operator can change what a user may use."));
    }
    let user = user_for(&state, &caller, &who).await?;
    if let Some(sizes) = body.dyno_sizes {
        let sizes = match sizes {
            None => None,
            Some(sizes) if sizes.is_empty() => {
                return Err(ApiError::invalid("dyno_sizes is empty: grant at least one size, or null for the default."));
            }
            Some(sizes) => {
                let mut canonical: Vec<String> = Vec::new();
                for size in &sizes {
                    let size = names::canonical_size(size).map_err(ApiError::invalid)?.to_string();
                    if !canonical.contains(&size) {
                        canonical.push(size);
                    }
                }
                // In the order of the size list, smallest first.
                canonical.sort_by_key(|size| names::SIZES.iter().position(|s| s == size));
                Some(canonical)
            }
        };
        state.ledger.set_dyno_sizes(user.id, sizes).await?;
    }
    Ok(Json(view(&state, &user).await?))
}
