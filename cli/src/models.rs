//! The API's resources as the client reads them: the server's own wire structs
//! (`paas_platform::api::views`), whose fields are all defaulted, so a server that leaves one
//! out still works; `--json` prints the raw answer instead of these. Here too: how the client
//! words some of their fields.

pub use paas_platform::api::views::{
    AccountView, AddonView, AppView, AttachmentView, BuildView, CollaboratorView, DomainView, DynoView, FeatureView,
    FormationView, LogDrainView, LogSessionView, MemberView, NewUserView, ReleaseView, ScheduledJobView, TeamView,
};

/// A release's description, with a status other than `succeeded` after it (none given reads as
/// `succeeded`).
pub fn description_with_status(release: &ReleaseView) -> String {
    match release.status.as_str() {
        "" | "succeeded" => release.description.clone(),
        status => format!("{} ({status})", release.description),
    }
}

/// The label Heroku's CLI gives a size: `basic` → `Basic`, `standard-1x` → `Standard-1X`.
pub fn size_label(size: &str) -> String {
    let size = if size.is_empty() { "basic" } else { size };
    let mut label = String::with_capacity(size.len());
    let mut previous: Option<char> = None;
    for c in size.chars() {
        let upper = previous.is_none() || (c == 'x' && previous.is_some_and(|p| p.is_ascii_digit()));
        label.push(if upper { c.to_ascii_uppercase() } else { c });
        previous = Some(c);
    }
    label
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_label_capitalises_like_heroku() {
        assert_eq!(size_label("basic"), "Basic");
        assert_eq!(size_label("Basic"), "Basic");
        assert_eq!(size_label("standard-1x"), "Standard-1X");
        assert_eq!(size_label(""), "Basic");
    }

    #[test]
    fn a_release_reads_from_heroku_fields_and_tolerates_missing_ones() {
        let release: ReleaseView = serde_json::from_value(serde_json::json!({
            "id": "r1", "version": 3, "description": "Set FOO config vars",
            "user": {"id": "u1", "email": "alice@example.com"}, "current": true,
            "status": "succeeded", "slug": null, "extra": 1
        }))
        .unwrap();
        assert_eq!((release.version, release.user.email.as_str(), release.current), (3, "alice@example.com", true));
        assert_eq!(description_with_status(&release), "Set FOO config vars");
        let pending: ReleaseView = serde_json::from_value(serde_json::json!({"version": 4, "description": "Deploy", "status": "pending"})).unwrap();
        assert_eq!(description_with_status(&pending), "Deploy (pending)");
    }
}
