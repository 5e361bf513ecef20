//! `paas teams`: the teams you are a member of, with your role.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::parse_all;
use crate::credentials;
use crate::models::TeamView;
use crate::output;

/// List the teams that you are a member of.
#[derive(Debug, Args)]
pub struct TeamsCommand {
    /// Print the teams as JSON.
    #[arg(long)]
    json: bool,
}

impl TeamsCommand {
    /// `GET /teams`.
    pub async fn run(self) -> Result<()> {
        let api = credentials::connect()?;
        let values = api.list("/teams", None).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        let teams: Vec<TeamView> = parse_all(values)?;
        print!("{}", render(&teams));
        Ok(())
    }
}

/// `Team  Role` rows by name, or a line saying there are none.
fn render(teams: &[TeamView]) -> String {
    if teams.is_empty() {
        return "You are not a member of any team.\n".to_string();
    }
    let mut rows = vec![vec!["Team".to_string(), "Role".to_string()]];
    let mut sorted: Vec<&TeamView> = teams.iter().collect();
    sorted.sort_by(|a, b| a.name.cmp(&b.name));
    rows.extend(sorted.iter().map(|team| vec![team.name.clone(), team.role.clone()]));
    output::table(&rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_lists_teams_by_name_with_roles() {
        let team = |name: &str, role: &str| TeamView { name: name.into(), role: role.into(), ..TeamView::default() };
        let teams = [team("zeta", "viewer"), team("acme", "admin")];
        assert_eq!(render(&teams), "Team  Role\nacme  admin\nzeta  viewer\n");
        assert_eq!(render(&[]), "You are not a member of any team.\n");
    }
}
