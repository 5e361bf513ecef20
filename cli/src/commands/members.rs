//! `paas members -t TEAM`: a team's members and their roles.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::credentials;
use crate::models::MemberView;
use crate::output;
use crate::team_arg::TeamArg;

/// List members of a team.
#[derive(Debug, Args)]
pub struct MembersCommand {
    #[command(flatten)]
    team: TeamArg,
    /// Only members with this role (admin, member, viewer).
    #[arg(short = 'r', long)]
    role: Option<String>,
    /// Print the members as JSON.
    #[arg(long)]
    json: bool,
}

impl MembersCommand {
    /// `GET /teams/{team}/members`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let values = api.get(&format!("/teams/{}/members", seg(&self.team.team))).await?;
        let values = match values {
            Value::Array(values) => values,
            other => vec![other],
        };
        let values: Vec<Value> =
            values.into_iter().filter(|m| self.role.as_deref().is_none_or(|role| m["role"] == role)).collect();
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let members: Vec<MemberView> = parse_all(values)?;
        print!("{}", render(&self.team.team, self.role.as_deref(), &members));
        Ok(())
    }
}

/// `email  role` rows by email, or Heroku's line for none.
fn render(team: &str, role: Option<&str>, members: &[MemberView]) -> String {
    if members.is_empty() {
        return match role {
            Some(role) => format!("No members in {team} with role {role}\n"),
            None => format!("No members in {team}\n"),
        };
    }
    let mut sorted: Vec<&MemberView> = members.iter().collect();
    sorted.sort_by(|a, b| a.email.cmp(&b.email));
    output::table(&sorted.iter().map(|m| vec![m.email.clone(), m.role.clone()]).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_members_by_email() {
        let members = [
            MemberView { email: "b@example.com".into(), role: "viewer".into(), ..MemberView::default() },
            MemberView { email: "a@example.com".into(), role: "admin".into(), ..MemberView::default() },
        ];
        assert_eq!(render("acme", None, &members), "a@example.com  admin\nb@example.com  viewer\n");
        assert_eq!(render("acme", Some("member"), &[]), "No members in acme with role member\n");
    }
}
