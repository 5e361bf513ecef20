//! `paas domains`: lists an app's own domain and the custom domains added to it.

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::DomainView;
use crate::output;

/// List an app's domains.
#[derive(Debug, Args)]
pub struct DomainsCommand {
    #[command(flatten)]
    app: AppArg,
    /// Print the domains as JSON.
    #[arg(long)]
    json: bool,
}

impl DomainsCommand {
    /// `GET /apps/{app}/domains` (all pages).
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let path = format!("/apps/{}/domains", seg(&name));
        let values = credentials::connect()?.list(&path, Some("id ..; max=1000")).await?;
        if self.json {
            output::json(&Value::Array(values));
            return Ok(());
        }
        print!("{}", render(&name, &parse_all(values)?));
        Ok(())
    }
}

/// `=== app Heroku Domain` with the app's own domain, then `=== app Custom Domains` as a table.
fn render(app: &str, domains: &[DomainView]) -> String {
    let mut out = String::new();
    let (own, custom): (Vec<&DomainView>, Vec<&DomainView>) = domains.iter().partition(|d| d.kind == "heroku");
    if !own.is_empty() {
        out.push_str(&format!("=== {app} Heroku Domain\n\n"));
        for domain in &own {
            out.push_str(&format!("{}\n", domain.hostname));
        }
    }
    if !custom.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(&format!("=== {app} Custom Domains\n\n"));
        let mut rows = vec![vec!["Domain Name".to_string(), "DNS Record Type".to_string(), "DNS Target".to_string()]];
        for domain in &custom {
            rows.push(vec![domain.hostname.clone(), "CNAME".to_string(), domain.cname.clone().unwrap_or_default()]);
        }
        out.push_str(&output::table(&rows));
    }
    if out.is_empty() {
        out = format!("No domains on {}\n", output::app(app));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_separates_the_apps_own_domain_from_custom_ones() {
        let domains: Vec<DomainView> = serde_json::from_value(serde_json::json!([
            {"hostname": "myapp.localhost", "kind": "heroku", "cname": null},
            {"hostname": "www.example.com", "kind": "custom", "cname": "myapp.localhost"}
        ]))
        .unwrap();
        assert_eq!(
            render("myapp", &domains),
            "=== myapp Heroku Domain\n\nmyapp.localhost\n\n=== myapp Custom Domains\n\n\
             Domain Name      DNS Record Type  DNS Target\nwww.example.com  CNAME            myapp.localhost\n"
        );
    }
}
