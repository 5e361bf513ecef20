//! Placement: which node runs which dyno. [`plan`] is a pure function from the formations, the
//! live nodes and the current placement to the desired placement:
//!
//! - a dyno placed on a live node that can still hold it stays there (no move, no restart);
//! - dynos of nodes that are gone (not among `nodes`), or that can no longer run them, are
//!   placed again;
//! - a new dyno goes to the node holding the fewest dynos of its process type, then of its app
//!   (anti-affinity: an app's `web=3` lands on three nodes when there are three), then one that
//!   already holds the app's slug, then the emptiest (most free memory);
//! - capacity is respected: a node's memory and CPU share, and whether it runs wasm and native
//!   dynos; what fits nowhere is listed in [`Placement::unplaced`] with the reason.
//!
//! Larger dynos are placed first (first-fit decreasing), so small ones fill the gaps.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use uuid::Uuid;

pub use paas_ledger::grid::{Demand, DynoKey, FormationDemand};

/// What a process type runs on: nodes say which of these they can run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DynoKind {
    /// A WebAssembly component (wasmtime).
    Wasm,
    /// A native command in an OCI container (runc).
    Native,
}

impl DynoKind {
    /// What a slug of `stack` runs as: the WASI stack is components only; any other needs a
    /// container runtime.
    pub fn of_stack(stack: &str) -> DynoKind {
        if stack == paas_builder::manifest::WASI_STACK { DynoKind::Wasm } else { DynoKind::Native }
    }
}

/// A live node as placement sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeCapacity {
    /// The node's id.
    pub id: Uuid,
    /// Memory it offers to dynos, MiB.
    pub memory_mib: u64,
    /// CPU it offers to dynos, thousandths of a core.
    pub millicores: u64,
    /// Whether it runs wasm dynos.
    pub wasm: bool,
    /// Whether it runs native dynos (a container runtime).
    pub native: bool,
    /// Checksums of the slugs it holds.
    pub slugs: HashSet<String>,
}

impl NodeCapacity {
    fn runs(&self, kind: DynoKind) -> bool {
        match kind {
            DynoKind::Wasm => self.wasm,
            DynoKind::Native => self.native,
        }
    }
}

/// Why a dyno has no node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unplaceable {
    /// No live node runs its kind (native without a container runtime anywhere).
    NoNodeRunsKind,
    /// Nodes run its kind, but none has the memory and CPU left.
    NoCapacity,
}

/// The desired placement.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Placement {
    /// Each placed dyno's node.
    pub assignments: BTreeMap<DynoKey, Uuid>,
    /// Dynos no node can hold now, and why.
    pub unplaced: Vec<(DynoKey, Unplaceable)>,
    /// How many dynos were placed on another node than before (or newly placed after being on
    /// a node that is gone).
    pub moved: usize,
}

impl Placement {
    /// The dynos placed on `node`.
    pub fn on(&self, node: Uuid) -> impl Iterator<Item = &DynoKey> {
        self.assignments.iter().filter(move |(_, n)| **n == node).map(|(dyno, _)| dyno)
    }
}

/// How well a node suits a dyno; lower is better: dynos of the same process type there, of the
/// same app, the slug missing, free memory (inverted), dynos there.
type Score = (u32, u32, bool, u64, u32);

/// Free capacity while planning.
struct Free {
    memory_mib: u64,
    millicores: u64,
    /// Dynos placed here, all apps.
    dynos: u32,
}

impl Free {
    fn fits(&self, demand: Demand) -> bool {
        self.memory_mib >= demand.memory_mib && self.millicores >= demand.millicores
    }
    fn take(&mut self, demand: Demand) {
        self.memory_mib -= demand.memory_mib;
        self.millicores -= demand.millicores;
        self.dynos += 1;
    }
}

/// The desired placement of every dyno of `formations` on `nodes` (the live ones), keeping
/// what `current` has where it is still valid. See the module docs.
pub fn plan(formations: &[FormationDemand], nodes: &[NodeCapacity], current: &BTreeMap<DynoKey, Uuid>) -> Placement {
    let node_index: HashMap<Uuid, usize> = nodes.iter().enumerate().map(|(i, n)| (n.id, i)).collect();
    let mut free: Vec<Free> =
        nodes.iter().map(|n| Free { memory_mib: n.memory_mib, millicores: n.millicores, dynos: 0 }).collect();
    // The spread's counters, sparse: (node, dynos there) per formation and per app.
    let mut per_formation: HashMap<usize, Vec<(usize, u32)>> = HashMap::new();
    let mut per_app: HashMap<Uuid, Vec<(usize, u32)>> = HashMap::new();
    let mut placement = Placement::default();
    let mut pending: Vec<(usize, u32)> = Vec::new();

    // Keep what is still valid, in a fixed order so that a node short of room keeps the same ones.
    let mut order: Vec<usize> = (0..formations.len()).collect();
    order.sort_by(|&a, &b| {
        let (fa, fb) = (&formations[a], &formations[b]);
        (fb.demand.memory_mib, fb.demand.millicores, fa.app, &fa.process_type)
            .cmp(&(fa.demand.memory_mib, fa.demand.millicores, fb.app, &fb.process_type))
    });
    for &f in &order {
        let formation = &formations[f];
        let kind = DynoKind::of_stack(&formation.stack);
        for index in 1..=formation.quantity {
            let key = DynoKey { app: formation.app, process_type: formation.process_type.clone(), index };
            let kept = current
                .get(&key)
                .and_then(|node| node_index.get(node))
                .copied()
                .filter(|&n| nodes[n].runs(kind) && free[n].fits(formation.demand));
            match kept {
                Some(n) => {
                    free[n].take(formation.demand);
                    bump(per_formation.entry(f).or_default(), n);
                    bump(per_app.entry(formation.app).or_default(), n);
                    placement.assignments.insert(key, nodes[n].id);
                }
                None => pending.push((f, index)),
            }
        }
    }

    // Place the rest, largest first (the order above). Pending dynos come grouped by formation:
    // each group spreads its counters over dense rows (one slot per node) while it is placed.
    let mut same_type = vec![0u32; nodes.len()];
    let mut same_app = vec![0u32; nodes.len()];
    let mut has_slug = vec![false; nodes.len()];
    let mut group = None;
    for (f, index) in pending {
        let formation = &formations[f];
        if group != Some(f) {
            if let Some(done) = group {
                clear(&mut same_type, per_formation.get(&done));
                clear(&mut same_app, per_app.get(&formations[done].app));
            }
            group = Some(f);
            spread_into(&mut same_type, per_formation.get(&f));
            spread_into(&mut same_app, per_app.get(&formation.app));
            for (n, node) in nodes.iter().enumerate() {
                has_slug[n] = formation.slug.as_ref().is_some_and(|s| node.slugs.contains(s));
            }
        }
        let key = DynoKey { app: formation.app, process_type: formation.process_type.clone(), index };
        let kind = DynoKind::of_stack(&formation.stack);
        let mut best: Option<(usize, Score)> = None;
        let mut any_runs = false;
        for (n, node) in nodes.iter().enumerate() {
            if !node.runs(kind) {
                continue;
            }
            any_runs = true;
            if !free[n].fits(formation.demand) {
                continue;
            }
            let score = (
                same_type[n],
                same_app[n],
                !has_slug[n],
                u64::MAX - free[n].memory_mib,
                free[n].dynos,
            );
            if best.as_ref().is_none_or(|(_, b)| score < *b) {
                best = Some((n, score));
            }
        }
        match best {
            Some((n, _)) => {
                free[n].take(formation.demand);
                bump(per_formation.entry(f).or_default(), n);
                bump(per_app.entry(formation.app).or_default(), n);
                same_type[n] += 1;
                same_app[n] += 1;
                if current.get(&key).is_some_and(|before| *before != nodes[n].id) {
                    placement.moved += 1;
                }
                placement.assignments.insert(key, nodes[n].id);
            }
            None => {
                let why = if any_runs { Unplaceable::NoCapacity } else { Unplaceable::NoNodeRunsKind };
                placement.unplaced.push((key, why));
            }
        }
    }
    placement.unplaced.sort();
    placement
}

/// One more dyno on node `n` in a sparse counter.
fn bump(counts: &mut Vec<(usize, u32)>, n: usize) {
    match counts.iter_mut().find(|(node, _)| *node == n) {
        Some((_, count)) => *count += 1,
        None => counts.push((n, 1)),
    }
}

/// A sparse counter into a dense row of zeros.
fn spread_into(row: &mut [u32], counts: Option<&Vec<(usize, u32)>>) {
    for &(n, count) in counts.into_iter().flatten() {
        row[n] = count;
    }
}

/// Back to zeros where a sparse counter was spread.
fn clear(row: &mut [u32], counts: Option<&Vec<(usize, u32)>>) {
    for &(n, _) in counts.into_iter().flatten() {
        row[n] = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(n: u128, memory_mib: u64) -> NodeCapacity {
        NodeCapacity {
            id: Uuid::from_u128(n),
            memory_mib,
            millicores: 16_000,
            wasm: true,
            native: true,
            slugs: HashSet::new(),
        }
    }

    fn formation(app: u128, process_type: &str, quantity: u32, size: &str) -> FormationDemand {
        FormationDemand {
            app: Uuid::from_u128(app),
            process_type: process_type.into(),
            quantity,
            demand: Demand::for_size(size),
            stack: paas_builder::manifest::WASI_STACK.into(),
            slug: None,
        }
    }

    fn key(app: u128, process_type: &str, index: u32) -> DynoKey {
        DynoKey { app: Uuid::from_u128(app), process_type: process_type.into(), index }
    }

    /// How many of the app's dynos each node holds.
    fn spread(placement: &Placement, app: u128) -> BTreeMap<Uuid, usize> {
        let mut counts = BTreeMap::new();
        for (dyno, node) in &placement.assignments {
            if dyno.app == Uuid::from_u128(app) {
                *counts.entry(*node).or_default() += 1;
            }
        }
        counts
    }

    #[test]
    fn an_apps_dynos_spread_over_the_nodes() {
        let nodes = [node(1, 8192), node(2, 8192), node(3, 8192)];
        let placement = plan(&[formation(10, "web", 3, "Basic")], &nodes, &BTreeMap::new());
        assert_eq!(placement.assignments.len(), 3);
        assert!(spread(&placement, 10).values().all(|&n| n == 1), "{:?}", placement.assignments);
        // Six: two on each.
        let placement = plan(&[formation(10, "web", 6, "Basic")], &nodes, &BTreeMap::new());
        assert!(spread(&placement, 10).values().all(|&n| n == 2), "{:?}", placement.assignments);
        // Two apps of one dyno each: not on the same node.
        let placement = plan(&[formation(10, "web", 1, "Basic"), formation(11, "web", 1, "Basic")], &nodes, &BTreeMap::new());
        let used: HashSet<_> = placement.assignments.values().collect();
        assert_eq!(used.len(), 2);
        assert_eq!(placement.moved, 0);
    }

    #[test]
    fn web_and_worker_of_one_app_are_each_spread() {
        let nodes = [node(1, 8192), node(2, 8192)];
        let placement = plan(&[formation(10, "web", 2, "Basic"), formation(10, "worker", 2, "Basic")], &nodes, &BTreeMap::new());
        for process_type in ["web", "worker"] {
            let on: HashSet<_> =
                placement.assignments.iter().filter(|(d, _)| d.process_type == process_type).map(|(_, n)| n).collect();
            assert_eq!(on.len(), 2, "{process_type} on both nodes: {:?}", placement.assignments);
        }
    }

    #[test]
    fn capacity_is_respected_and_what_does_not_fit_is_listed() {
        // 1 GiB nodes: 8 Basic (128 MiB) dynos each, or 2 Standard (512 MiB).
        let nodes = [node(1, 1024), node(2, 1024)];
        let placement = plan(&[formation(10, "web", 20, "Basic")], &nodes, &BTreeMap::new());
        assert_eq!(placement.assignments.len(), 16);
        assert_eq!(placement.unplaced.len(), 4);
        assert!(placement.unplaced.iter().all(|(_, why)| *why == Unplaceable::NoCapacity));
        // The unplaced are the highest numbers: web.1..16 run.
        assert_eq!(placement.unplaced[0].0, key(10, "web", 17));
        // CPU counts too: two cores hold 16 Basic dynos (an eighth each), not 17.
        let mut small_cpu = node(3, 1 << 20);
        small_cpu.millicores = 2000;
        let placement = plan(&[formation(10, "web", 17, "Basic")], &[small_cpu], &BTreeMap::new());
        assert_eq!((placement.assignments.len(), placement.unplaced.len()), (16, 1));
    }

    #[test]
    fn large_dynos_are_placed_first_so_small_ones_fill_the_gaps() {
        // Two nodes of 2.5 GiB: a Performance dyno (2 GiB) and four Basic ones (512 MiB) fit
        // only when the large one is placed first.
        let nodes = [node(1, 2560), node(2, 2560)];
        let formations = [formation(10, "web", 8, "Basic"), formation(11, "web", 2, "Performance-M")];
        let placement = plan(&formations, &nodes, &BTreeMap::new());
        assert!(placement.unplaced.is_empty(), "{:?}", placement.unplaced);
        assert_eq!(placement.assignments.len(), 10);
    }

    #[test]
    fn native_dynos_go_only_to_nodes_with_a_container_runtime() {
        let mut wasm_only = node(1, 8192);
        wasm_only.native = false;
        let mut native = formation(10, "web", 2, "Basic");
        native.stack = paas_builder::manifest::NATIVE_STACK.into();
        let placement = plan(&[native.clone()], &[wasm_only.clone(), node(2, 8192)], &BTreeMap::new());
        assert!(placement.assignments.values().all(|n| *n == Uuid::from_u128(2)));
        let placement = plan(&[native], &[wasm_only], &BTreeMap::new());
        assert_eq!(placement.unplaced.len(), 2);
        assert!(placement.unplaced.iter().all(|(_, why)| *why == Unplaceable::NoNodeRunsKind));
    }

    #[test]
    fn valid_placements_stay_where_they_are() {
        let nodes = [node(1, 8192), node(2, 8192), node(3, 8192)];
        let formations = [formation(10, "web", 3, "Basic"), formation(11, "worker", 2, "Standard-1X")];
        let first = plan(&formations, &nodes, &BTreeMap::new());
        let again = plan(&formations, &nodes, &first.assignments);
        assert_eq!(again.assignments, first.assignments);
        assert_eq!(again.moved, 0);
        // All on node 1 (from before the others joined): kept, not rebalanced (no restarts).
        let stacked: BTreeMap<_, _> = first.assignments.keys().map(|k| (k.clone(), Uuid::from_u128(1))).collect();
        let kept = plan(&formations, &nodes, &stacked);
        assert_eq!(kept.assignments, stacked);
        // Scaling up adds dynos beside the kept ones, on the nodes with fewest of the type.
        let more = plan(&[formation(10, "web", 5, "Basic"), formations[1].clone()], &nodes, &first.assignments);
        for (dyno, node) in &first.assignments {
            assert_eq!(more.assignments[dyno], *node, "{dyno:?} stayed");
        }
        assert_eq!(more.assignments.len(), 7);
        let web = spread(&more, 10);
        assert!(web.values().all(|&n| (1..=2).contains(&n)), "{web:?}");
        // Scaling down drops the highest numbers.
        let fewer = plan(&[formation(10, "web", 1, "Basic")], &nodes, &first.assignments);
        assert_eq!(fewer.assignments.keys().cloned().collect::<Vec<_>>(), vec![key(10, "web", 1)]);
        assert_eq!(fewer.assignments[&key(10, "web", 1)], first.assignments[&key(10, "web", 1)]);
    }

    #[test]
    fn a_lost_nodes_dynos_are_placed_on_the_others() {
        let nodes = [node(1, 8192), node(2, 8192), node(3, 8192)];
        let formations = [formation(10, "web", 3, "Basic"), formation(11, "web", 6, "Basic")];
        let before = plan(&formations, &nodes, &BTreeMap::new());
        let lost = Uuid::from_u128(2);
        let after = plan(&formations, &[nodes[0].clone(), nodes[2].clone()], &before.assignments);
        assert_eq!(after.assignments.len(), 9);
        assert!(after.assignments.values().all(|n| *n != lost));
        let was_on_lost = before.assignments.values().filter(|n| **n == lost).count();
        assert_eq!(after.moved, was_on_lost);
        // The others did not move.
        for (dyno, node) in &before.assignments {
            if *node != lost {
                assert_eq!(after.assignments[dyno], *node);
            }
        }
        // Still spread: app 10's web=3 is on both survivors.
        assert_eq!(spread(&after, 10).len(), 2);
    }

    #[test]
    fn a_node_that_shrank_sheds_dynos_but_keeps_what_fits() {
        let current: BTreeMap<_, _> = (1..=4).map(|i| (key(10, "web", i), Uuid::from_u128(1))).collect();
        // Node 1 now offers room for two Basic dynos.
        let placement = plan(&[formation(10, "web", 4, "Basic")], &[node(1, 256), node(2, 8192)], &current);
        assert_eq!(placement.on(Uuid::from_u128(1)).count(), 2);
        assert_eq!(placement.on(Uuid::from_u128(2)).count(), 2);
        assert_eq!(placement.moved, 2);
    }

    #[test]
    fn nodes_holding_the_slug_are_preferred_among_equals() {
        let mut with_slug = node(2, 8192);
        with_slug.slugs.insert("abc".into());
        let mut web = formation(10, "web", 1, "Basic");
        web.slug = Some("abc".into());
        let placement = plan(&[web.clone()], &[node(1, 8192), with_slug.clone(), node(3, 8192)], &BTreeMap::new());
        assert_eq!(placement.assignments[&key(10, "web", 1)], Uuid::from_u128(2));
        // Spread still comes first: the second dyno goes elsewhere.
        web.quantity = 2;
        let placement = plan(&[web], &[node(1, 8192), with_slug, node(3, 8192)], &BTreeMap::new());
        assert_eq!(spread(&placement, 10).len(), 2);
    }

    #[test]
    fn no_nodes_leaves_everything_unplaced() {
        let placement = plan(&[formation(10, "web", 2, "Basic")], &[], &BTreeMap::new());
        assert!(placement.assignments.is_empty());
        assert_eq!(placement.unplaced.len(), 2);
    }

    #[test]
    fn the_plan_is_deterministic() {
        let nodes: Vec<_> = (1..=5).map(|n| node(n, 4096)).collect();
        let formations: Vec<_> = (0..20).map(|a| formation(100 + a, "web", (a % 4 + 1) as u32, "Basic")).collect();
        assert_eq!(plan(&formations, &nodes, &BTreeMap::new()), plan(&formations, &nodes, &BTreeMap::new()));
    }

    /// `cargo test -p paas-platform --lib -- --ignored --nocapture plan_of_10000_dynos`
    /// (bench/placement.sh): 10,000 dynos of 2,500 apps on 100 nodes, placed from nothing, then
    /// again after losing a node.
    #[test]
    #[ignore = "a benchmark: bench/placement.sh"]
    fn plan_of_10000_dynos_on_100_nodes() {
        let nodes: Vec<_> = (1..=100).map(|n| node(n, 64 * 1024)).collect();
        let formations: Vec<_> = (0..2500u128)
            .flat_map(|a| [formation(1000 + a, "web", 3, "Basic"), formation(1000 + a, "worker", 1, "Standard-1X")])
            .collect();
        let runs = 10;
        let started = std::time::Instant::now();
        let mut placement = Placement::default();
        for _ in 0..runs {
            placement = plan(&formations, &nodes, &BTreeMap::new());
        }
        let fresh = started.elapsed() / runs;
        assert_eq!((placement.assignments.len(), placement.unplaced.len()), (10_000, 0));
        let survivors = &nodes[1..];
        let started = std::time::Instant::now();
        let mut after = Placement::default();
        for _ in 0..runs {
            after = plan(&formations, survivors, &placement.assignments);
        }
        let replan = started.elapsed() / runs;
        assert_eq!(after.assignments.len(), 10_000);
        println!(
            "plan(): 10,000 dynos on 100 nodes from nothing: {:.1} ms; after losing a node ({} dynos moved): {:.1} ms",
            fresh.as_secs_f64() * 1000.0,
            after.moved,
            replan.as_secs_f64() * 1000.0
        );
    }
}
