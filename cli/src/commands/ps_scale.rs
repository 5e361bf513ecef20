//! `paas ps:scale TYPE=N[:SIZE]...`: sets how many dynos of each process type run (and their
//! size); without arguments, prints the formation.

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{Formation, size_label};
use crate::output::{self, Action};

/// Scale dyno quantities (and sizes) of process types, e.g. `web=2 worker=1:standard`.
#[derive(Debug, Args)]
pub struct PsScaleCommand {
    /// Each TYPE=QUANTITY or TYPE=QUANTITY:SIZE [default: print the current formation]
    #[arg(value_name = "TYPE=QUANTITY[:SIZE]", value_parser = parse_change)]
    changes: Vec<Change>,
    #[command(flatten)]
    app: AppArg,
    /// Print the resulting formation as JSON.
    #[arg(long)]
    json: bool,
}

/// One process type's requested quantity and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    kind: String,
    quantity: u32,
    size: Option<String>,
}

impl PsScaleCommand {
    /// `GET /apps/{app}/formation`, or `PATCH` it with `{"updates": [...]}`.
    pub async fn run(self) -> Result<()> {
        let name = self.app.resolve()?;
        let api = credentials::connect()?;
        let path = format!("/apps/{}/formation", seg(&name));
        if self.changes.is_empty() {
            let values = api.list(&path, None).await?;
            if self.json {
                output::json(&Value::Array(values));
                return Ok(());
            }
            let mut formation: Vec<Formation> = parse_all(values)?;
            formation.sort_by(|a, b| a.kind.cmp(&b.kind));
            let parts: Vec<String> = formation.iter().map(|f| format!("{}={}", f.kind, at(f))).collect();
            if parts.is_empty() {
                println!("No process types on {} yet: `git push` an app with a Procfile first", output::app(&name));
            } else {
                println!("{}", parts.join(" "));
            }
            return Ok(());
        }
        let updates: Vec<Value> = self
            .changes
            .iter()
            .map(|change| {
                let mut update = json!({ "type": change.kind, "quantity": change.quantity });
                if let Some(size) = &change.size {
                    update["size"] = json!(size);
                }
                update
            })
            .collect();
        let action = Action::start("Scaling dynos");
        let answer = api.patch(&path, &json!({ "updates": updates })).await?;
        let values = match answer {
            Value::Array(values) => values,
            other => vec![other],
        };
        if self.json {
            action.done();
            output::json(&Value::Array(values));
            return Ok(());
        }
        let formation: Vec<Formation> = parse_all(values)?;
        let running: Vec<String> = self
            .changes
            .iter()
            .filter_map(|change| formation.iter().find(|f| f.kind == change.kind))
            .map(|f| format!("{} at {}", f.kind, at(f)))
            .collect();
        action.done_with(&format!("now running {}", running.join(", ")));
        Ok(())
    }
}

/// `2:Basic`.
fn at(formation: &Formation) -> String {
    format!("{}:{}", formation.quantity, size_label(formation.size.as_deref()))
}

/// Parses `web=2` or `web=2:standard`.
fn parse_change(text: &str) -> Result<Change, String> {
    let example = "e.g. `paas ps:scale web=2 worker=1:standard`";
    let Some((kind, rest)) = text.split_once('=') else {
        return Err(format!("expected TYPE=QUANTITY[:SIZE], {example}"));
    };
    if kind.is_empty() {
        return Err(format!("the process type is missing before `=`, {example}"));
    }
    let (quantity, size) = match rest.split_once(':') {
        Some((quantity, size)) if !size.is_empty() => (quantity, Some(size.to_string())),
        Some(_) => return Err(format!("the size is missing after `:`, {example}")),
        None => (rest, None),
    };
    if quantity.starts_with('-') {
        return Err(format!("the quantity {quantity} is negative: it must be 0 or more, {example}"));
    }
    let quantity = quantity
        .parse::<u32>()
        .map_err(|_| format!("the quantity {quantity:?} is not a whole number, {example}"))?;
    Ok(Change { kind: kind.to_string(), quantity, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_change_reads_type_quantity_and_size() {
        assert_eq!(parse_change("web=2"), Ok(Change { kind: "web".into(), quantity: 2, size: None }));
        assert_eq!(
            parse_change("worker=0:standard"),
            Ok(Change { kind: "worker".into(), quantity: 0, size: Some("standard".into()) })
        );
    }

    #[test]
    fn parse_change_rejects_negative_and_malformed_quantities() {
        assert!(parse_change("web=-1").unwrap_err().contains("negative"));
        assert!(parse_change("web").unwrap_err().contains("TYPE=QUANTITY"));
        assert!(parse_change("web=two").unwrap_err().contains("not a whole number"));
        assert!(parse_change("=2").is_err());
        assert!(parse_change("web=2:").is_err());
        assert!(parse_change("web=").is_err());
    }
}
