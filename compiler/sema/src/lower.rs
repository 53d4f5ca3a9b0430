//! `hir_to_plan`: turns checked declarations into the plan IR's DAG (one resource per
//! declaration and per feature, edges pointing downstream).

use crate::hir::Hir;
use mlp_diagnostics::SourceMap;
use mlp_ir::{Origin, Plan, Resource};
use rayon::prelude::*;

/// Builds the plan of a checked project. `root` is the project folder's display prefix,
/// stripped from file names so that origins are relative to the project.
pub fn hir_to_plan(hir: &Hir, map: &SourceMap, root: &str) -> Plan {
    let mut plan = Plan::new(hir.project.clone(), hir.env.clone());
    // Hashing every spec is the costly part; it runs on all cores, in declaration order.
    let resources: Vec<Resource> = hir
        .decls
        .par_iter()
        .map(|d| {
            let origin = map
                .get(d.span.file)
                .map(|f| {
                    let lc = f.line_col(d.span.start as usize);
                    let file = f
                        .name
                        .strip_prefix(root)
                        .unwrap_or(&f.name)
                        .trim_start_matches('/')
                        .to_string();
                    Origin {
                        file,
                        line: lc.line,
                        column: lc.column,
                        start: d.span.start as usize,
                        end: d.span.end as usize,
                    }
                })
                .unwrap_or_default();
            Resource::new(
                d.id.clone(),
                d.name.clone(),
                d.spec.clone(),
                d.doc.clone(),
                origin,
            )
        })
        .collect();
    for r in resources {
        plan.add(r);
    }
    for d in &hir.decls {
        for (dep, kind) in &d.deps {
            plan.connect(dep, &d.id, *kind);
        }
    }
    plan
}
