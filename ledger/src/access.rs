//! Who may do what to an app: Heroku's four app permissions ([`Permission`]), team roles
//! ([`TeamRole`]), teams and their members, and [`permissions_of`], the one rule that turns a
//! user's relation to an app (owner, operator, team role, collaborator grant) into the set of
//! permissions they hold. What each API route needs is in `api::permissions`.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::model::{App, User, UserRef};

/// One of Heroku's app permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    /// Read the app: its settings, config vars, releases, builds, dynos, logs, access list.
    View,
    /// Ship code: `git push`, builds, releases, rollbacks, config var changes.
    Deploy,
    /// Run it: scale, restart and stop dynos, one-off dynos, scheduled jobs.
    Operate,
    /// Own it: collaborators, domains, add-ons, drains, features, rename, transfer, destroy.
    Manage,
}

impl Permission {
    /// All four, in Heroku's order.
    pub const ALL: [Permission; 4] = [Permission::View, Permission::Deploy, Permission::Operate, Permission::Manage];

    /// The wire name: `view`, `deploy`, `operate`, `manage`.
    pub fn name(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Deploy => "deploy",
            Permission::Operate => "operate",
            Permission::Manage => "manage",
        }
    }

    /// What it allows, as `GET /team-app-permissions` describes it.
    pub fn description(self) -> &'static str {
        match self {
            Permission::View => "View the app: settings, config vars, releases, builds, dynos, logs and access.",
            Permission::Deploy => "Deploy the app: git push, builds, releases, rollbacks and config var changes.",
            Permission::Operate => "Operate the app: scale, restart and stop dynos, run one-off dynos, scheduled jobs.",
            Permission::Manage => {
                "Manage the app: collaborators, domains, add-ons, log drains, features, rename, transfer, destroy."
            }
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A permission's name that is none of the four (as given, untrimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown permission {0:?}: use view, deploy, operate or manage.")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;
    fn from_str(text: &str) -> Result<Permission, UnknownPermission> {
        Permission::ALL
            .into_iter()
            .find(|p| p.name() == text.trim())
            .ok_or_else(|| UnknownPermission(text.to_string()))
    }
}

/// A set of permissions (a bit set), printed in Heroku's order.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Permissions(u8);

impl Permissions {
    /// No permission: the user cannot even see the app.
    pub const NONE: Permissions = Permissions(0);
    /// All four: owners, team admins, operators, and collaborators given no narrower set.
    pub const ALL: Permissions = Permissions(0b1111);

    /// Just `one`.
    pub fn only(one: Permission) -> Permissions {
        Permissions(1 << one as u8)
    }
    /// Whether the set holds `permission`.
    pub fn contains(self, permission: Permission) -> bool {
        self.0 & (1 << permission as u8) != 0
    }
    /// The union.
    pub fn with(self, other: Permissions) -> Permissions {
        Permissions(self.0 | other.0)
    }
    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// The permissions, in Heroku's order.
    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.into_iter().filter(move |p| self.contains(*p))
    }
    /// Parses names (a list, or comma-separated); `view` is always added, as Heroku does (every
    /// collaborator can see the app). Unknown names are an error naming them.
    pub fn parse<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<Permissions, UnknownPermission> {
        let mut set = Permissions::only(Permission::View);
        for name in names.into_iter().flat_map(|n| n.split(',')).filter(|n| !n.trim().is_empty()) {
            set = set.with(Permissions::only(name.parse()?));
        }
        Ok(set)
    }
    /// How the ledger stores it: `view,deploy`.
    pub fn to_csv(self) -> String {
        self.iter().map(Permission::name).collect::<Vec<_>>().join(",")
    }
}

impl FromIterator<Permission> for Permissions {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Permissions {
        iter.into_iter().fold(Permissions::NONE, |set, p| set.with(Permissions::only(p)))
    }
}

/// A member's role in a team, from least to most.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TeamRole {
    /// Sees the team, its members and its unlocked apps (`view`); changes nothing.
    Viewer,
    /// A viewer who may also create apps in the team (and gets all four permissions on them).
    Member,
    /// All four permissions on every team app; manages members, apps and the team.
    Admin,
}

impl TeamRole {
    /// The wire name.
    pub fn name(self) -> &'static str {
        match self {
            TeamRole::Viewer => "viewer",
            TeamRole::Member => "member",
            TeamRole::Admin => "admin",
        }
    }
}

impl fmt::Display for TeamRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A team role's name that is none of the three (trimmed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Unknown role {0:?}: use admin, member or viewer.")]
pub struct UnknownRole(pub String);

impl FromStr for TeamRole {
    type Err = UnknownRole;
    fn from_str(text: &str) -> Result<TeamRole, UnknownRole> {
        match text.trim() {
            "viewer" => Ok(TeamRole::Viewer),
            "member" => Ok(TeamRole::Member),
            "admin" => Ok(TeamRole::Admin),
            other => Err(UnknownRole(other.to_string())),
        }
    }
}

/// A team: a group of users that owns apps together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Team {
    /// The team's id.
    pub id: Uuid,
    /// Its name, unique (the rules of app names).
    pub name: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was last changed.
    pub updated_at: DateTime<Utc>,
}

/// Enough of a [`Team`] to render an app it owns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRef {
    /// The team's id.
    pub id: Uuid,
    /// The team's name.
    pub name: String,
}

/// A user's membership of a team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamMember {
    /// The membership's id.
    pub id: Uuid,
    /// The team.
    pub team_id: Uuid,
    /// The member.
    pub user: UserRef,
    /// Their role.
    pub role: TeamRole,
    /// When they joined.
    pub created_at: DateTime<Utc>,
    /// When their role last changed.
    pub updated_at: DateTime<Utc>,
}

/// Who receives an app in a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppOwner {
    /// A user: the app leaves its team, and its collaborators are removed (as Heroku warns).
    User(Uuid),
    /// A team: the former owner stays on as a collaborator with all four permissions.
    Team(Uuid),
}

/// What the ledger knows of a user's relation to one app, for [`permissions_of`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Relation {
    /// Their role in the app's team, if the app has a team and they are in it.
    pub team_role: Option<TeamRole>,
    /// Their collaborator grant on the app, if any.
    pub collaborator: Option<Permissions>,
}

/// The permissions `user` holds on `app`. Operators hold all four. A personal app: its owner
/// holds all four, a collaborator their grant. A team app: team admins hold all four; members
/// and viewers hold `view` unless the app is locked; a collaborator grant adds to that.
pub fn permissions_of(user: &User, app: &App, relation: Relation) -> Permissions {
    if user.operator {
        return Permissions::ALL;
    }
    let granted = relation.collaborator.unwrap_or(Permissions::NONE);
    match &app.team {
        None if app.owner.id == user.id => Permissions::ALL,
        None => granted,
        Some(_) => match relation.team_role {
            Some(TeamRole::Admin) => Permissions::ALL,
            Some(_) if !app.locked => granted.with(Permissions::only(Permission::View)),
            _ => granted,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(operator: bool) -> User {
        User { id: Uuid::new_v4(), email: "u@example.com".into(), operator, created_at: Utc::now(), updated_at: Utc::now() }
    }

    fn app(owner: &User, team: bool, locked: bool) -> App {
        App {
            id: Uuid::new_v4(),
            name: "app".into(),
            owner: UserRef { id: owner.id, email: owner.email.clone() },
            team: team.then(|| TeamRef { id: Uuid::new_v4(), name: "t".into() }),
            locked,
            maintenance: false,
            created_at: Utc::now(),
            updated_at: Utc::now(),
            released_at: None,
        }
    }

    #[test]
    fn permission_sets_parse_print_and_always_hold_view() {
        let set = Permissions::parse(["deploy,operate"]).unwrap();
        assert_eq!(set.to_csv(), "view,deploy,operate");
        assert_eq!(Permissions::parse(["manage", "view"]).unwrap().to_csv(), "view,manage");
        assert_eq!(Permissions::ALL.to_csv(), "view,deploy,operate,manage");
        assert!(Permissions::parse(["deploy", "root"]).unwrap_err().to_string().contains("\"root\""));
        assert_eq!(
            Permissions::parse([" root"]).unwrap_err().to_string(),
            "Unknown permission \" root\": use view, deploy, operate or manage."
        );
        assert_eq!(" owner ".parse::<TeamRole>().unwrap_err().to_string(), "Unknown role \"owner\": use admin, member or viewer.");
    }

    #[test]
    fn relations_give_herokus_permissions() {
        let (owner, other, operator) = (user(false), user(false), user(true));
        let personal = app(&owner, false, false);
        let viewer = Relation { collaborator: Some(Permissions::only(Permission::View)), team_role: None };
        assert_eq!(permissions_of(&owner, &personal, Relation::default()), Permissions::ALL);
        assert_eq!(permissions_of(&operator, &personal, Relation::default()), Permissions::ALL);
        assert_eq!(permissions_of(&other, &personal, Relation::default()), Permissions::NONE);
        assert_eq!(permissions_of(&other, &personal, viewer), Permissions::only(Permission::View));

        let team_app = app(&owner, true, false);
        let locked = app(&owner, true, true);
        let role = |r| Relation { team_role: Some(r), collaborator: None };
        // The creator of a team app holds what their role and grant give, not ownership.
        assert_eq!(permissions_of(&owner, &team_app, Relation::default()), Permissions::NONE);
        assert_eq!(permissions_of(&other, &team_app, role(TeamRole::Admin)), Permissions::ALL);
        assert_eq!(permissions_of(&other, &locked, role(TeamRole::Admin)), Permissions::ALL);
        assert_eq!(permissions_of(&other, &team_app, role(TeamRole::Member)), Permissions::only(Permission::View));
        assert_eq!(permissions_of(&other, &team_app, role(TeamRole::Viewer)), Permissions::only(Permission::View));
        assert_eq!(permissions_of(&other, &locked, role(TeamRole::Member)), Permissions::NONE);
        let deployer = Relation { team_role: Some(TeamRole::Member), collaborator: Some(Permissions::parse(["deploy"]).unwrap()) };
        assert_eq!(permissions_of(&other, &locked, deployer).to_csv(), "view,deploy");
    }
}
