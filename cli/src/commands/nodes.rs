//! `paas nodes`: the grid's nodes (operator only): state, epoch, addresses, free memory and CPU,
//! and the dynos placed on each (`GET /nodes`, a paas extension).

use anyhow::Result;
use clap::Args;
use serde_json::Value;

use crate::credentials;
use crate::output;

/// List the nodes of the grid with their dynos and free capacity (operator only).
#[derive(Debug, Args)]
pub struct NodesCommand {
    /// Print the nodes as JSON.
    #[arg(long)]
    json: bool,
}

impl NodesCommand {
    /// `GET /nodes`.
    pub async fn run(self) -> Result<()> {
        let value = credentials::connect()?.get("/nodes").await?;
        if self.json {
            output::json(&value);
            return Ok(());
        }
        output::header("Nodes");
        print!("{}", output::table(&rows(&value)));
        Ok(())
    }
}

/// The table: a header, then one row per node.
fn rows(nodes: &Value) -> Vec<Vec<String>> {
    let mut rows = vec![["Name", "State", "Epoch", "Router", "Memory free", "CPU free", "Dynos"].map(String::from).to_vec()];
    for node in nodes.as_array().into_iter().flatten() {
        let text = |key: &str| node[key].as_str().unwrap_or_default().to_string();
        let number = |path: [&str; 2]| node[path[0]][path[1]].as_u64().unwrap_or(0);
        let dynos: Vec<String> = node["dynos"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|d| format!("{}/{}", d["app"].as_str().unwrap_or("?"), d["name"].as_str().unwrap_or("?")))
            .collect();
        let kinds = match (node["capacity"]["wasm"].as_bool(), node["capacity"]["native"].as_bool()) {
            (_, Some(true)) => "",
            _ => " (wasm only)",
        };
        rows.push(vec![
            text("name"),
            text("state"),
            node["epoch"].as_i64().unwrap_or(0).to_string(),
            text("router_url"),
            format!("{} / {} MiB", number(["free", "memory_mib"]), number(["capacity", "memory_mib"])),
            format!(
                "{:.2} / {:.0} cores{kinds}",
                number(["free", "millicores"]) as f64 / 1000.0,
                number(["capacity", "millicores"]) as f64 / 1000.0
            ),
            if dynos.is_empty() { "-".to_string() } else { format!("{}: {}", dynos.len(), dynos.join(", ")) },
        ]);
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_show_state_capacity_and_dynos() {
        let nodes = serde_json::json!([{
            "name": "a", "state": "up", "epoch": 3, "router_url": "http://10.0.0.1:8080",
            "capacity": {"memory_mib": 8192, "millicores": 4000, "wasm": true, "native": false},
            "free": {"memory_mib": 7936, "millicores": 3750},
            "dynos": [{"app": "shop", "name": "web.1"}, {"app": "shop", "name": "web.3"}]
        }]);
        let table = output::table(&rows(&nodes));
        assert!(table.contains("a     up     3      http://10.0.0.1:8080  7936 / 8192 MiB  3.75 / 4 cores (wasm only)  2: shop/web.1, shop/web.3"), "{table}");
    }
}
