//! An app's domains, SNI endpoints and collaborators, and permissions as Heroku lists them.

use serde::{Deserialize, Serialize};

use super::{NameRef, app_ref, nullable, time};
use crate::access::Permissions;
use crate::api::PlatformConfig;
use crate::certs::details;
use crate::model::{App, Collaborator, Domain, SniEndpoint};

/// A domain of an app (`GET /apps/{app}/domains`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DomainView {
    /// Automated certificate management's status (not offered).
    pub acm_status: Option<String>,
    /// Why ACM is in that status.
    pub acm_status_reason: Option<String>,
    /// Its app.
    pub app: NameRef,
    /// Where a custom domain's CNAME record should point (`<app>.<domain>`).
    pub cname: Option<String>,
    /// When it was added.
    pub created_at: String,
    /// The hostname.
    pub hostname: String,
    /// Its id.
    pub id: String,
    /// `heroku` for the app's own domain, `custom` for one its owner added.
    pub kind: String,
    /// The SNI endpoint (custom certificate) it is served with.
    pub sni_endpoint: Option<NameRef>,
    /// Heroku's DNS check (not made: `none`).
    pub status: String,
    /// When it was last changed.
    pub updated_at: String,
}

impl DomainView {
    /// The app's built-in domain, `<app>.<domain>` (`kind: heroku`).
    pub fn default_domain(app: &App, config: &PlatformConfig) -> DomainView {
        DomainView {
            app: app_ref(app),
            created_at: time(app.created_at),
            hostname: config.hostname(&app.name),
            id: app.id.to_string(),
            kind: "heroku".into(),
            status: "none".into(),
            updated_at: time(app.created_at),
            ..DomainView::default()
        }
    }

    /// A custom domain (`kind: custom`): point a CNAME at `<app>.<domain>`.
    pub fn custom(domain: &Domain, app: &App, config: &PlatformConfig) -> DomainView {
        DomainView {
            app: app_ref(app),
            cname: Some(config.hostname(&app.name)),
            created_at: time(domain.created_at),
            hostname: domain.hostname.clone(),
            id: domain.id.to_string(),
            kind: "custom".into(),
            sni_endpoint: domain.sni_endpoint.as_ref().map(|e| NameRef { id: e.id.to_string(), name: e.name.clone() }),
            status: "none".into(),
            updated_at: time(domain.updated_at),
            ..DomainView::default()
        }
    }
}

/// A collaborator on an app (`GET /apps/{app}/collaborators`); the owner is listed too, with
/// role `owner`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollaboratorView {
    /// Its app.
    pub app: NameRef,
    /// When they were added.
    pub created_at: String,
    /// The collaboration's id (the owner's: the owner's user id).
    pub id: String,
    /// What they may do: there on a team app (Heroku's team-app collaborator) or when the grant
    /// is narrower than all four; a personal app's full collaborator has Heroku's plain shape
    /// (the heroku CLI then shows no permissions column).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<PermissionView>>,
    /// `owner` or `collaborator`.
    #[serde(deserialize_with = "nullable")]
    pub role: String,
    /// When it was last changed.
    pub updated_at: String,
    /// The user.
    #[serde(deserialize_with = "nullable")]
    pub user: CollaboratorUser,
}

/// The user of a collaboration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CollaboratorUser {
    /// Their email.
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    /// Whether they sign in through an identity provider (never).
    pub federated: bool,
    /// Their id.
    pub id: String,
}

impl CollaboratorView {
    /// `collaborator` on `app`.
    pub fn new(collaborator: &Collaborator, app: &App) -> CollaboratorView {
        let narrowed = app.team.is_some() || collaborator.permissions != Permissions::ALL;
        CollaboratorView {
            app: app_ref(app),
            created_at: time(collaborator.created_at),
            id: collaborator.id.to_string(),
            permissions: narrowed.then(|| PermissionView::list(collaborator.permissions)),
            role: "collaborator".into(),
            updated_at: time(collaborator.updated_at),
            user: CollaboratorUser {
                email: collaborator.user.email.clone(),
                federated: false,
                id: collaborator.user.id.to_string(),
            },
        }
    }

    /// The owner, in a collaborator listing.
    pub fn owner(app: &App) -> CollaboratorView {
        CollaboratorView {
            app: app_ref(app),
            created_at: time(app.created_at),
            id: app.owner.id.to_string(),
            permissions: None,
            role: "owner".into(),
            updated_at: time(app.created_at),
            user: CollaboratorUser { email: app.owner.email.clone(), federated: false, id: app.owner.id.to_string() },
        }
    }
}

/// A permission as Heroku lists it (`GET /teams/permissions`, a collaborator's `permissions`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct PermissionView {
    /// What it allows.
    pub description: String,
    /// `view`, `deploy`, `operate` or `manage`.
    pub name: String,
}

impl PermissionView {
    /// The permissions of `set`, in Heroku's order.
    pub fn list(set: Permissions) -> Vec<PermissionView> {
        set.iter().map(|p| PermissionView { description: p.description().into(), name: p.name().into() }).collect()
    }
}

/// An app's custom certificate (Heroku's SNI endpoint, `GET /apps/{app}/sni-endpoints`): never
/// its private key.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SniEndpointView {
    /// Its app.
    pub app: NameRef,
    /// The certificate chain, PEM, leaf first.
    pub certificate_chain: String,
    /// When it was added.
    pub created_at: String,
    /// Heroku's display name (none).
    pub display_name: Option<String>,
    /// The ids of the app's domains set to it.
    pub domains: Vec<String>,
    /// Its id.
    pub id: String,
    /// Its name, unique on the server.
    pub name: String,
    /// What the leaf certificate says (none when it cannot be read).
    pub ssl_cert: Option<SslCertView>,
    /// When its certificate was last replaced.
    pub updated_at: String,
}

/// The leaf certificate of an SNI endpoint.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct SslCertView {
    /// Whether ACM made it (never).
    pub acm: bool,
    /// Whether a known CA signed it (not checked: false).
    #[serde(rename = "ca_signed?")]
    pub ca_signed: bool,
    /// The names it is valid for.
    pub cert_domains: Vec<String>,
    /// When it expires.
    pub expires_at: String,
    /// The endpoint's id.
    pub id: String,
    /// Its issuer.
    pub issuer: String,
    /// Whether it signed itself.
    #[serde(rename = "self_signed?")]
    pub self_signed: bool,
    /// When it becomes valid.
    pub starts_at: String,
    /// Its subject.
    pub subject: String,
}

impl SniEndpointView {
    /// `endpoint` of `app`, its leaf certificate read.
    pub fn new(endpoint: &SniEndpoint, app: &App) -> SniEndpointView {
        let first = rustls::pki_types::pem::PemObject::pem_slice_iter(endpoint.certificate_chain.as_bytes())
            .next()
            .and_then(Result::ok);
        let ssl_cert = match first.as_ref().map(details) {
            Some(Ok(d)) => Some(SslCertView {
                acm: false,
                ca_signed: false,
                cert_domains: d.cert_domains,
                expires_at: time(d.expires_at),
                id: endpoint.id.to_string(),
                issuer: d.issuer,
                self_signed: d.self_signed,
                starts_at: time(d.starts_at),
                subject: d.subject,
            }),
            _ => None,
        };
        SniEndpointView {
            app: app_ref(app),
            certificate_chain: endpoint.certificate_chain.clone(),
            created_at: time(endpoint.created_at),
            display_name: None,
            domains: endpoint.domains.iter().map(ToString::to_string).collect(),
            id: endpoint.id.to_string(),
            name: endpoint.name.clone(),
            ssl_cert,
            updated_at: time(endpoint.updated_at),
        }
    }
}
