//! `vmmigrate-sim`: a simulated Kubernetes v1.34 API server with KubeVirt v1.5 live-migration behaviour.
//!
//! - [`api`]: a generic Kubernetes API server (store, watch, discovery, patch, exec, logs, access reviews,
//!   faults, audit), knowing nothing of KubeVirt;
//! - [`kubevirt`]: KubeVirt's admission, the LiveMigratable condition, the migration controller and the
//!   virt-launcher memory-transfer model;
//! - [`net`]: the network model the emulated probe tools run against;
//! - [`openapi`]: validation of objects against the upstream Kubernetes/KubeVirt OpenAPI schemas;
//! - [`scenario`]: the built-in `haos` cluster, the scenario file format and a generator for large clusters.

pub mod api;
pub mod clock;
pub mod kubevirt;
pub mod net;
pub mod openapi;
pub mod scenario;
