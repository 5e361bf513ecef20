//! The coordinator: one node at a time (the holder of the leader row's lease, whose `term`
//! fences its writes) fences the nodes whose lease expired and writes the placement
//! [`plan`] makes of the formations, the live nodes and the assignments still valid. Every node
//! runs this loop; only the leader's does anything.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::placement::{DynoKey, NodeCapacity, Placement, plan};
use crate::ledger::{Ledger, Result};

/// How often the coordinator looks, at most (a formation change pokes it sooner).
pub const TICK: Duration = Duration::from_secs(1);

/// The coordinator loop of one node.
pub struct Coordinator {
    ledger: Arc<dyn Ledger>,
    node_id: Uuid,
    lease: Duration,
    poke: Arc<Notify>,
    /// Told after each write (this node's assignment follower reads at once).
    written: Arc<Notify>,
    /// What it last wrote and said, so that it logs only changes.
    last_unplaced: std::sync::Mutex<usize>,
}

impl Coordinator {
    /// A coordinator for `node_id`, leading for `lease` at a time once it leads; `poke` wakes
    /// it, and it tells `written` after each write.
    pub fn new(ledger: Arc<dyn Ledger>, node_id: Uuid, lease: Duration, poke: Arc<Notify>, written: Arc<Notify>) -> Coordinator {
        Coordinator { ledger, node_id, lease, poke, written, last_unplaced: Default::default() }
    }

    /// Places every [`TICK`] and whenever poked, forever.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.round().await {
                tracing::warn!("the coordinator could not place dynos: {e}");
            }
            tokio::select! {
                () = tokio::time::sleep(TICK) => {}
                () = self.poke.notified() => {}
            }
        }
    }

    /// One round: leads (or returns), fences expired nodes, plans, writes what changed. Gives
    /// back the placement it wrote, if it led.
    pub async fn round(&self) -> Result<Option<Placement>> {
        let Some(leadership) = self.ledger.acquire_leadership(self.node_id, self.lease).await? else { return Ok(None) };
        for id in self.ledger.fence_expired_nodes().await? {
            tracing::warn!(node = %id, "node lost its lease: fenced, its dynos are placed elsewhere");
        }
        let nodes: Vec<_> = self.ledger.list_nodes().await?.into_iter().filter(|n| n.up).collect();
        let epochs: HashMap<Uuid, i64> = nodes.iter().map(|n| (n.id, n.epoch)).collect();
        let capacities: Vec<NodeCapacity> = nodes
            .iter()
            .map(|n| NodeCapacity {
                id: n.id,
                memory_mib: n.capacity.memory_mib,
                millicores: n.capacity.millicores,
                wasm: n.capacity.wasm,
                native: n.capacity.native,
                // Which slugs each node holds is not tracked yet (slugs travel: issue 21, point 3).
                slugs: HashSet::new(),
            })
            .collect();
        let demands = self.ledger.formation_demands().await?;
        let recorded = self.ledger.list_assignments().await?;
        // Assignments of a node's earlier epoch are void: that node was fenced since.
        let current: BTreeMap<DynoKey, Uuid> = recorded
            .iter()
            .filter(|a| epochs.get(&a.node_id) == Some(&a.epoch))
            .map(|a| (a.dyno.clone(), a.node_id))
            .collect();
        let placement = plan(&demands, &capacities, &current);
        let unchanged = recorded.len() == placement.assignments.len()
            && recorded.iter().all(|a| {
                placement.assignments.get(&a.dyno) == Some(&a.node_id) && epochs.get(&a.node_id) == Some(&a.epoch)
            });
        if !unchanged {
            if !self.ledger.write_assignments(self.node_id, leadership.term, &placement.assignments).await? {
                tracing::warn!(term = leadership.term, "lost the coordinator's lease while placing: nothing written");
                return Ok(None);
            }
            self.written.notify_one();
            if placement.moved > 0 {
                tracing::info!(moved = placement.moved, "dynos placed on other nodes");
            }
        }
        let mut last = self.last_unplaced.lock().unwrap_or_else(|e| e.into_inner());
        if *last != placement.unplaced.len() {
            *last = placement.unplaced.len();
            if let Some((dyno, why)) = placement.unplaced.first() {
                tracing::warn!(unplaced = placement.unplaced.len(), first = %dyno.name(), ?why, "dynos no node can run now");
            }
        }
        drop(last);
        Ok(Some(placement))
    }
}
