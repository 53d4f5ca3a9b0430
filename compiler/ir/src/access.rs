//! Typed accessors on the plan: each kind's resource by name, so that the runtime never
//! spells a resource id (`format!("features.{v}")`) itself. The id scheme lives here and in
//! the lowering only.

use crate::{Column, InputRef, IrExpr, Plan, Resource, Spec, TensorInput};
use std::collections::BTreeMap;

/// A model block's interface, borrowed from the plan.
#[derive(Debug, Clone, Copy)]
pub struct ModelBlock<'p> {
    /// Inputs in order (every tensor's, in tensor order).
    pub inputs: &'p [InputRef],
    /// Outputs in order: those `forward` returns, side by side, then the derived ones.
    pub outputs: &'p [Column],
    /// The declared input tensors (empty for a plain input list: one float32 tensor).
    pub tensors: &'p [TensorInput],
    /// Derived outputs by name, computed from the returned ones.
    pub derived: &'p BTreeMap<String, IrExpr>,
}

impl<'p> ModelBlock<'p> {
    /// The outputs `forward` returns, in order (the derived ones are computed after it).
    pub fn returned(&self) -> Vec<&'p Column> {
        crate::returned_outputs(self.outputs, self.derived)
    }
}

impl Plan {
    fn by(&self, kind: &str, name: &str) -> Option<&Resource> {
        self.get(&format!("{kind}.{name}"))
    }

    /// The project block (there is one in a checked plan).
    pub fn project(&self) -> Option<&Resource> {
        self.resources()
            .find(|r| matches!(r.spec, Spec::Project { .. }))
    }

    /// Entity `name`.
    pub fn entity(&self, name: &str) -> Option<&Resource> {
        self.by("entity", name)
    }

    /// The key columns of entity `name`.
    pub fn entity_keys(&self, name: &str) -> Option<&[Column]> {
        match &self.entity(name)?.spec {
            Spec::Entity { keys } => Some(keys),
            _ => None,
        }
    }

    /// Source `name`.
    pub fn source(&self, name: &str) -> Option<&Resource> {
        self.by("source", name)
    }

    /// Feature view `name` (a `features` block).
    pub fn view(&self, name: &str) -> Option<&Resource> {
        self.by("features", name)
    }

    /// The entity feature view `name` is keyed by (`None` for on-demand views).
    pub fn view_entity(&self, name: &str) -> Option<&str> {
        match &self.view(name)?.spec {
            Spec::FeatureView { entity, .. } => entity.as_deref(),
            _ => None,
        }
    }

    /// Feature `feature` of view `view`.
    pub fn feature(&self, view: &str, feature: &str) -> Option<&Resource> {
        self.get(&format!("feature.{view}.{feature}"))
    }

    /// A feature by its dotted path, `view.feature`.
    pub fn feature_at(&self, path: &str) -> Option<&Resource> {
        let (view, feature) = path.split_once('.')?;
        self.feature(view, feature)
    }

    /// Request block `name`.
    pub fn request(&self, name: &str) -> Option<&Resource> {
        self.by("request", name)
    }

    /// The fields of request block `name`.
    pub fn request_fields(&self, name: &str) -> Option<&[Column]> {
        match &self.request(name)?.spec {
            Spec::Request { fields } => Some(fields),
            _ => None,
        }
    }

    /// Model block `name`.
    pub fn model(&self, name: &str) -> Option<&Resource> {
        self.by("model", name)
    }

    /// The interface of model block `name`: inputs, outputs, tensors and derived outputs.
    pub fn model_block(&self, name: &str) -> Option<ModelBlock<'_>> {
        match &self.model(name)?.spec {
            Spec::Model {
                inputs,
                outputs,
                tensors,
                derived,
                ..
            } => Some(ModelBlock {
                inputs,
                outputs,
                tensors,
                derived,
            }),
            _ => None,
        }
    }

    /// Pipeline `name`.
    pub fn pipeline(&self, name: &str) -> Option<&Resource> {
        self.by("pipeline", name)
    }

    /// Deployment `name`.
    pub fn deployment(&self, name: &str) -> Option<&Resource> {
        self.by("deployment", name)
    }

    /// Monitor `name`.
    pub fn monitor(&self, name: &str) -> Option<&Resource> {
        self.by("monitor", name)
    }

    /// Consumer `name`.
    pub fn consumer(&self, name: &str) -> Option<&Resource> {
        self.by("consumer", name)
    }
}
