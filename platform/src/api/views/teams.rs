//! Teams and their members.

use serde::{Deserialize, Serialize};

use super::{NameRef, nullable, time};
use crate::access::{Team, TeamMember, TeamRole};

/// A team, as one of its members sees it (`GET /teams`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TeamView {
    /// When it was created.
    pub created_at: String,
    /// Whether it collects credit cards (never).
    pub credit_card_collections: bool,
    /// Whether it is the caller's default team.
    pub default: bool,
    /// Its enterprise account (none).
    pub enterprise_account: Option<NameRef>,
    /// Its id.
    pub id: String,
    /// Its identity provider (none).
    pub identity_provider: Option<NameRef>,
    /// How many members it may have (no limit).
    pub membership_limit: Option<i64>,
    /// Its name.
    #[serde(deserialize_with = "nullable")]
    pub name: String,
    /// Whether it has licenses (never).
    pub provisioned_licenses: bool,
    /// The caller's role: `admin`, `member` or `viewer`.
    #[serde(deserialize_with = "nullable")]
    pub role: String,
    /// Always `team`.
    #[serde(rename = "type")]
    pub kind: String,
    /// When it was last changed.
    pub updated_at: String,
}

impl TeamView {
    /// `team`, seen by a member with `role`; `default` if it is their default team.
    pub fn new(team: &Team, role: TeamRole, default: bool) -> TeamView {
        TeamView {
            created_at: time(team.created_at),
            credit_card_collections: false,
            default,
            enterprise_account: None,
            id: team.id.to_string(),
            identity_provider: None,
            membership_limit: None,
            name: team.name.clone(),
            provisioned_licenses: false,
            role: role.name().into(),
            kind: "team".into(),
            updated_at: time(team.updated_at),
        }
    }
}

/// A team member (`GET /teams/{team}/members`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberView {
    /// When they joined.
    pub created_at: String,
    /// Their email.
    #[serde(deserialize_with = "nullable")]
    pub email: String,
    /// Whether they sign in through an identity provider (never).
    pub federated: bool,
    /// The membership's id.
    pub id: String,
    /// Their role.
    #[serde(deserialize_with = "nullable")]
    pub role: String,
    /// Whether they use two-factor authentication (never).
    pub two_factor_authentication: bool,
    /// When their role last changed.
    pub updated_at: String,
    /// The user.
    pub user: MemberUser,
}

/// The user of a team membership.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MemberUser {
    /// Their email.
    pub email: String,
    /// Their id.
    pub id: String,
    /// Their full name (not kept).
    pub name: Option<String>,
}

impl MemberView {
    /// `member`.
    pub fn new(member: &TeamMember) -> MemberView {
        MemberView {
            created_at: time(member.created_at),
            email: member.user.email.clone(),
            federated: false,
            id: member.id.to_string(),
            role: member.role.name().into(),
            two_factor_authentication: false,
            updated_at: time(member.updated_at),
            user: MemberUser { email: member.user.email.clone(), id: member.user.id.to_string(), name: None },
        }
    }
}
