//! The network model: reachability of IPs over time, and the probe tools emulated against it.
//!
//! - [`model`]: which addresses exist (from the store) and when they answer (outage windows at the switchovers of
//!   KubeVirt migrations, RTT with jitter); [`NetModel`] binds it to a store and KubeVirt's switchovers;
//! - [`program`]: an emulated process as a pure timeline of output on simulated time;
//! - [`ping`]: iputils and BusyBox `ping`, byte for byte;
//! - [`scripts`]: the plugin's HTTP probe and tool-check `sh -c` scripts;
//! - [`tools`]: [`NetExec`], the sim's exec handler (emulation, image tools, missing tools, process count);
//! - [`realexec`]: [`RealExec`], commands run for real on the host.

pub mod model;
pub mod ping;
pub mod program;
pub mod realexec;
pub mod scripts;
pub mod tools;

pub use model::{NetModel, Owner, SwitchoverSource};
pub use realexec::RealExec;
pub use tools::{HOST_EXEC_IMAGE, NetExec};
