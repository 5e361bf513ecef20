//! Who may push to or clone an app's repository: the holder of an API key who owns the app,
//! collaborates on it, or is an operator (git sends the key as the Basic password; any user name).

use paas_builder::{Access, Decision, GitAuth};

use super::Service;

#[async_trait::async_trait]
impl GitAuth for Service {
    async fn authorize(&self, app: &str, api_key: &str, _access: Access) -> Decision {
        let user = match self.ledger.authenticate_key(api_key).await {
            Ok(Some((user, _))) => user,
            Ok(None) => return Decision::Unauthenticated,
            Err(e) => {
                tracing::error!("git auth: {e}");
                return Decision::Unauthenticated;
            }
        };
        let app = match self.ledger.find_app(app).await {
            Ok(Some(app)) => app,
            Ok(None) => return Decision::NoSuchApp,
            Err(e) => {
                tracing::error!("git auth: {e}");
                return Decision::NoSuchApp;
            }
        };
        let allowed = user.operator
            || app.owner.id == user.id
            || self.ledger.can_access(app.id, user.id).await.unwrap_or_else(|e| {
                tracing::error!("git auth: {e}");
                false
            });
        if allowed { Decision::Allow { user: user.email } } else { Decision::Forbidden }
    }
}
