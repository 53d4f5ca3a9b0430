//! Typed accessors on the plan: each kind's resource by name, so that the runtime never
//! spells a resource id (`format!("features.{v}")`) itself. The id scheme lives here and in
//! the lowering only.

use crate::{Column, Plan, Resource, Spec};

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
