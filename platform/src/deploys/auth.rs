//! Who may push to or clone an app's repository: the holder of an API key with the permission
//! the permission table's git rows ask (`deploy`, for push and fetch alike; see
//! [`crate::api::permissions::GIT`]). Git sends the key as the Basic password, any user name.

use paas_builder::{Access, Decision, GitAuth};

use super::Service;
use crate::access::permissions_of;
use crate::api::permissions::{GIT, Need};

#[async_trait::async_trait]
impl GitAuth for Service {
    async fn authorize(&self, app: &str, api_key: &str, access: Access) -> Decision {
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
        let relation = match self.ledger.relation(&app, user.id).await {
            Ok(relation) => relation,
            Err(e) => {
                tracing::error!("git auth: {e}");
                return Decision::Forbidden;
            }
        };
        let held = permissions_of(&user, &app, relation);
        let row = match access {
            Access::Write => GIT[0],
            Access::Read => GIT[1],
        };
        let Need::App(needed) = row.2 else { return Decision::Forbidden };
        if held.contains(needed) { Decision::Allow { user: user.email } } else { Decision::Forbidden }
    }
}
