//! KubeVirt v1.5 behaviour: admission, LiveMigratable, the migration controller, launcher logs.
pub mod behaviour;
