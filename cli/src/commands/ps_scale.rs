//! `paas ps:scale TYPE=N[:SIZE]...`: sets how many dynos of each process type run (and their
//! size); without arguments, prints the formation.

use anyhow::Result;
use clap::Args;
use serde_json::{Value, json};

use crate::api::{parse_all, seg};
use crate::app_arg::AppArg;
use crate::credentials;
use crate::models::{FormationView, size_label};
use crate::output::{self, Action};

/// Scale dyno quantities (and sizes) of process types, e.g. `web=2 worker=1:standard-1x`.
#[derive(Debug, Args)]
pub struct PsScaleCommand {
    /// Each TYPE=QUANTITY[:SIZE], or TYPE+N / TYPE-N to change a quantity [default: print the current formation]
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
    quantity: Quantity,
    size: Option<String>,
}

/// A new quantity, or a change to the current one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Quantity {
    /// `web=2`: sent as the number 2.
    Set(u32),
    /// `web+1` / `web-1`: sent as the string `"+1"` / `"-1"`, as Heroku's CLI does.
    Change(String),
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
            let mut formation: Vec<FormationView> = parse_all(values)?;
            formation.sort_by(|a, b| a.process_type.cmp(&b.process_type));
            let parts: Vec<String> = formation.iter().map(|f| format!("{}={}", f.process_type, at(f))).collect();
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
                let quantity = match &change.quantity {
                    Quantity::Set(n) => json!(n),
                    Quantity::Change(delta) => json!(delta),
                };
                let mut update = json!({ "type": change.kind, "quantity": quantity });
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
        let formation: Vec<FormationView> = parse_all(values)?;
        let running: Vec<String> = self
            .changes
            .iter()
            .filter_map(|change| formation.iter().find(|f| f.process_type == change.kind))
            .map(|f| format!("{} at {}", f.process_type, at(f)))
            .collect();
        action.done_with(&format!("now running {}", running.join(", ")));
        Ok(())
    }
}

/// `2:Basic`.
fn at(formation: &FormationView) -> String {
    format!("{}:{}", formation.quantity, size_label(&formation.size))
}

/// Parses `web=2`, `web=2:standard`, or a change relative to the current quantity: `web+1`,
/// `worker-2` (process types may contain dashes: `my-worker-1` is `my-worker` less one).
fn parse_change(text: &str) -> Result<Change, String> {
    let example = "e.g. `paas ps:scale web=2 worker=1:standard-1x` or `paas ps:scale web+1`";
    let (spec, size) = match text.rsplit_once(':') {
        Some((spec, size)) if !size.is_empty() => (spec, Some(size.to_string())),
        Some(_) => return Err(format!("the size is missing after `:`, {example}")),
        None => (text, None),
    };
    let change = |kind: &str, quantity| {
        if kind.is_empty() {
            Err(format!("the process type is missing, {example}"))
        } else {
            Ok(Change { kind: kind.to_string(), quantity, size: size.clone() })
        }
    };
    if let Some((kind, quantity)) = spec.split_once('=') {
        if quantity.starts_with('-') {
            return Err(format!("the quantity {quantity} is negative: it must be 0 or more, {example}"));
        }
        return match quantity.parse::<u32>() {
            Ok(n) if quantity.chars().all(|c| c.is_ascii_digit()) => change(kind, Quantity::Set(n)),
            _ => Err(format!("the quantity {quantity:?} is not a whole number, {example}")),
        };
    }
    if let Some(at) = spec.rfind(['+', '-']) {
        let (kind, delta) = (&spec[..at], &spec[at + 1..]);
        if !delta.is_empty() && delta.chars().all(|c| c.is_ascii_digit()) {
            return match delta.parse::<u32>() {
                Ok(_) => change(kind, Quantity::Change(spec[at..].to_string())),
                Err(_) => Err(format!("the change {delta:?} is too large, {example}")),
            };
        }
    }
    Err(format!("expected TYPE=QUANTITY[:SIZE] or TYPE+N / TYPE-N, {example}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(kind: &str, quantity: Quantity, size: Option<&str>) -> Result<Change, String> {
        Ok(Change { kind: kind.into(), quantity, size: size.map(str::to_string) })
    }

    #[test]
    fn parse_change_reads_type_quantity_and_size() {
        assert_eq!(parse_change("web=2"), change("web", Quantity::Set(2), None));
        assert_eq!(parse_change("worker=0:standard-1x"), change("worker", Quantity::Set(0), Some("standard-1x")));
    }

    #[test]
    fn parse_change_reads_relative_changes() {
        assert_eq!(parse_change("web+1"), change("web", Quantity::Change("+1".into()), None));
        assert_eq!(parse_change("my-worker-2"), change("my-worker", Quantity::Change("-2".into()), None));
        assert_eq!(parse_change("web+3:basic"), change("web", Quantity::Change("+3".into()), Some("basic")));
    }

    #[test]
    fn parse_change_rejects_negative_and_malformed_quantities() {
        assert!(parse_change("web=-1").unwrap_err().contains("negative"));
        assert!(parse_change("web").unwrap_err().contains("TYPE=QUANTITY"));
        assert!(parse_change("web=two").unwrap_err().contains("not a whole number"));
        assert!(parse_change("web=+2").unwrap_err().contains("not a whole number"));
        assert!(parse_change("=2").is_err());
        assert!(parse_change("+2").is_err());
        assert!(parse_change("web=2:").is_err());
        assert!(parse_change("web=").is_err());
        assert!(parse_change("web+").is_err());
    }
}
