//! The add-on services and plans this platform offers, as Heroku names them. Ids are stable
//! (UUID v5 of the name), so clients may keep them.

use uuid::Uuid;

/// Heroku Postgres.
pub const POSTGRES: &str = "heroku-postgresql";

/// Heroku Redis.
pub const REDIS: &str = "heroku-redis";

/// An add-on service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Service {
    /// `heroku-postgresql`.
    pub name: &'static str,
    /// `Heroku Postgres`.
    pub human_name: &'static str,
    /// The prefix of its add-ons' names (`postgresql-calm-12345`).
    pub addon_prefix: &'static str,
    /// Its plans; the first is the default.
    pub plans: &'static [Plan],
}

/// A plan of a service, with the limits its server enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// `essential-0` (the API's name is `service:plan`).
    pub name: &'static str,
    /// `Essential 0`.
    pub human_name: &'static str,
    /// Price in cents per month (shown, never billed).
    pub cents: u32,
    /// Connections at once: PostgreSQL's `CONNECTION LIMIT` on the add-on's role; Redis's
    /// `maxclients`.
    pub connection_limit: u32,
    /// Storage in MiB: a Heroku Postgres database past it loses write access
    /// ([`super::storage`]); a Heroku Redis server's `maxmemory` (writes past it get Redis's OOM
    /// error: `maxmemory-policy noeviction`).
    pub storage_mib: u64,
}

/// Every service, in the order listings show them.
pub const SERVICES: &[Service] = &[Service {
    name: POSTGRES,
    human_name: "Heroku Postgres",
    addon_prefix: "postgresql",
    plans: &[
        Plan { name: "essential-0", human_name: "Essential 0", cents: 500, connection_limit: 20, storage_mib: 1024 },
        Plan { name: "essential-1", human_name: "Essential 1", cents: 900, connection_limit: 20, storage_mib: 10 * 1024 },
        Plan { name: "essential-2", human_name: "Essential 2", cents: 2000, connection_limit: 40, storage_mib: 32 * 1024 },
    ],
}, Service {
    name: REDIS,
    human_name: "Heroku Redis",
    addon_prefix: "redis",
    plans: &[
        Plan { name: "mini", human_name: "Mini", cents: 300, connection_limit: 20, storage_mib: 25 },
        Plan { name: "premium-0", human_name: "Premium 0", cents: 1500, connection_limit: 40, storage_mib: 50 },
        Plan { name: "premium-1", human_name: "Premium 1", cents: 3000, connection_limit: 80, storage_mib: 100 },
        Plan { name: "premium-2", human_name: "Premium 2", cents: 6000, connection_limit: 200, storage_mib: 250 },
        Plan { name: "premium-3", human_name: "Premium 3", cents: 12000, connection_limit: 400, storage_mib: 500 },
    ],
}];

/// A stable id for a catalog name: a version 8 UUID from the SHA-256 of `paas-addon:<name>`.
pub fn stable_id(name: &str) -> Uuid {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("paas-addon:{name}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    uuid::Builder::from_custom_bytes(bytes).into_uuid()
}

impl Service {
    /// Its id.
    pub fn id(&self) -> Uuid {
        stable_id(self.name)
    }
    /// One of its plans by name (`essential-0`).
    pub fn plan(&self, name: &str) -> Option<&'static Plan> {
        self.plans.iter().find(|plan| plan.name.eq_ignore_ascii_case(name))
    }
}

/// What a plan offers, in words: `20 connections, 1 GB storage`; `20 clients, 25 MB memory`.
pub fn plan_description(service: &Service, plan: &Plan) -> String {
    match service.name {
        REDIS => format!("{} clients, {} MB memory", plan.connection_limit, plan.storage_mib),
        _ => format!("{} connections, {} GB storage", plan.connection_limit, plan.storage_mib / 1024),
    }
}

/// A plan's id.
pub fn plan_id(service: &Service, plan: &Plan) -> Uuid {
    stable_id(&format!("{}:{}", service.name, plan.name))
}

/// A service by name or id.
pub fn service(name_or_id: &str) -> Option<&'static Service> {
    SERVICES.iter().find(|s| s.name.eq_ignore_ascii_case(name_or_id) || s.id().to_string() == name_or_id)
}

/// A plan [`resolve_plan`] cannot find (the text as given, trimmed); the message names what
/// there is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnknownPlan {
    /// Neither a service's name nor a plan's id.
    #[error(
        "Couldn't find either the add-on service or the add-on plan of {0:?}. Available services: {services}.",
        services = SERVICES.iter().map(|s| s.name).collect::<Vec<_>>().join(", ")
    )]
    Service(String),
    /// The service is known; the plan is not one of its.
    #[error(
        "Couldn't find add-on plan {text:?}. Available plans of {}: {}.",
        .service.name,
        .service.plans.iter().map(|p| format!("{}:{}", .service.name, p.name)).collect::<Vec<_>>().join(", ")
    )]
    Plan {
        /// What was asked for.
        text: String,
        /// The service it names.
        service: &'static Service,
    },
}

/// An attachment name that breaks the rules (as given); the text is the message to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "Attachment name {0:?} is invalid: use letters, digits and underscores, starting with a letter \
     (at most 64 characters)."
)]
pub struct InvalidAttachmentName(pub String);

/// A service and plan from `service`, `service:plan` or a plan's id; no plan: the default.
/// Unknown ones are an error naming what there is.
pub fn resolve_plan(text: &str) -> Result<(&'static Service, &'static Plan), UnknownPlan> {
    let text = text.trim();
    for service in SERVICES {
        if let Some(plan) = service.plans.iter().find(|plan| plan_id(service, plan).to_string() == text) {
            return Ok((service, plan));
        }
    }
    let (service_name, plan_name) = text.split_once(':').map_or((text, None), |(s, p)| (s, Some(p)));
    let Some(service) = service(service_name) else {
        return Err(UnknownPlan::Service(text.to_string()));
    };
    match plan_name {
        None => Ok((service, &service.plans[0])),
        Some(name) => {
            service.plan(name).map(|plan| (service, plan)).ok_or_else(|| UnknownPlan::Plan { text: text.to_string(), service })
        }
    }
}

/// A fresh add-on name such as `postgresql-calm-48213`.
pub fn generate_addon_name(service: &Service) -> String {
    let app_like = crate::names::generate_app_name();
    let mut parts = app_like.split('-');
    let adjective = parts.next().unwrap_or("calm");
    let number = parts.next_back().unwrap_or("00000");
    format!("{}-{adjective}-{number}", service.addon_prefix)
}

/// Heroku's colours for a second (third, …) database: `HEROKU_POSTGRESQL_AMBER`.
const COLORS: &[&str] = &[
    "AMBER", "AQUA", "BLACK", "BLUE", "BRONZE", "BROWN", "CHARCOAL", "COBALT", "COPPER", "CRIMSON", "CYAN",
    "GOLD", "GRAY", "GREEN", "IVORY", "JADE", "LIME", "MAROON", "MAUVE", "NAVY", "OLIVE", "ONYX", "ORANGE",
    "PINK", "PUCE", "PURPLE", "RED", "ROSE", "SILVER", "TEAL", "VIOLET", "WHITE", "YELLOW",
];

/// The names a new add-on of `service` may take on an app, in order of preference: `DATABASE`,
/// then `HEROKU_POSTGRESQL_<COLOR>`; `REDIS`, then `HEROKU_REDIS_<COLOR>` (the ledger takes the
/// first that is free there).
pub fn default_attachment_names(service: &Service) -> Vec<String> {
    match service.name {
        POSTGRES => std::iter::once("DATABASE".to_string())
            .chain(COLORS.iter().map(|color| format!("HEROKU_POSTGRESQL_{color}")))
            .collect(),
        // Heroku: REDIS_URL, then HEROKU_REDIS_<COLOR>_URL for another one.
        REDIS => std::iter::once("REDIS".to_string())
            .chain(COLORS.iter().map(|color| format!("HEROKU_REDIS_{color}")))
            .collect(),
        other => vec![other.to_uppercase().replace('-', "_")],
    }
}

/// Checks an attachment name given with `--as`: upper-case letters, digits and `_`, starting
/// with a letter, at most 64 bytes (it becomes a config var's name).
pub fn validate_attachment_name(name: &str) -> Result<(), InvalidAttachmentName> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(())
    } else {
        Err(InvalidAttachmentName(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_resolve_by_name_default_and_id() {
        let (service, plan) = resolve_plan("heroku-postgresql:essential-1").unwrap();
        assert_eq!((service.name, plan.name), (POSTGRES, "essential-1"));
        assert_eq!(resolve_plan("heroku-postgresql").unwrap().1.name, "essential-0");
        let id = plan_id(service, plan).to_string();
        assert_eq!(resolve_plan(&id).unwrap().1.name, "essential-1");
        let unknown = resolve_plan("heroku-mongo:big").unwrap_err().to_string();
        assert!(unknown.contains("heroku-postgresql"), "{unknown}");
        assert_eq!(
            unknown,
            "Couldn't find either the add-on service or the add-on plan of \"heroku-mongo:big\". Available services: heroku-postgresql, heroku-redis."
        );
        let bad_plan = resolve_plan("heroku-postgresql:huge").unwrap_err().to_string();
        assert!(bad_plan.contains("heroku-postgresql:essential-0"), "{bad_plan}");
    }

    #[test]
    fn heroku_redis_plans_have_herokus_names_and_limits() {
        let (service, plan) = resolve_plan("heroku-redis").unwrap();
        assert_eq!((service.name, plan.name, plan.storage_mib, plan.connection_limit), (REDIS, "mini", 25, 20));
        assert_eq!(resolve_plan("heroku-redis:premium-0").unwrap().1.storage_mib, 50);
        assert_eq!(plan_description(service, plan), "20 clients, 25 MB memory");
        let bad = resolve_plan("heroku-redis:huge").unwrap_err().to_string();
        assert!(bad.contains("heroku-redis:mini, heroku-redis:premium-0"), "{bad}");
        assert!(bad.starts_with("Couldn't find add-on plan \"heroku-redis:huge\". Available plans of heroku-redis: heroku-redis:mini, "), "{bad}");
        assert!(bad.ends_with('.'), "{bad}");
        assert!(resolve_plan("heroku-mongo").unwrap_err().to_string().contains("heroku-postgresql, heroku-redis"));
        assert_eq!(default_attachment_names(service)[..2], ["REDIS", "HEROKU_REDIS_AMBER"]);
    }

    #[test]
    fn attachment_names() {
        assert!(validate_attachment_name("ANALYTICS_DB").is_ok());
        assert!(validate_attachment_name("1X").is_err());
        assert_eq!(
            validate_attachment_name("A;DROP").unwrap_err().to_string(),
            "Attachment name \"A;DROP\" is invalid: use letters, digits and underscores, starting with a letter (at most 64 characters)."
        );
        let names = default_attachment_names(&SERVICES[0]);
        assert_eq!(names[..2], ["DATABASE", "HEROKU_POSTGRESQL_AMBER"]);
    }
}
