//! Errors of `run`, `cancel` and `status` (everything that is not a migration outcome).

/// An error before or around a migration; [`MigrateError::exit_code`] maps it to the plugin's exit codes.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("VirtualMachineInstance {namespace}/{vm} not found: the VM is not running")]
    VmiNotFound { namespace: String, vm: String },

    #[error(
        "migration {name} is already in flight for {namespace}/{vm} (phase {phase}); use --attach to follow it, or \
         `kubectl vmmigrate cancel {vm} -n {namespace}` to cancel it"
    )]
    InFlight { namespace: String, vm: String, name: String, phase: String },

    /// KubeVirt's admission webhook refused the migration (its message, verbatim).
    #[error("{namespace}/{vm} is not migratable: {message}")]
    NotMigratable { namespace: String, vm: String, message: String },

    #[error(
        "--target-node needs KubeVirt v1.6 or newer (VirtualMachineInstanceMigration spec.addedNodeSelector); this \
         cluster runs KubeVirt {version}, whose migrations cannot choose a target node: KubeVirt v1.5 lets the \
         scheduler pick among the nodes that fit. To steer it, restrict the VM's own placement \
         (spec.template.spec.nodeSelector/affinity, applied live with vmRolloutStrategy LiveUpdate) or cordon the \
         other candidates, then run without --target-node"
    )]
    TargetNodeUnsupported { version: String },

    #[error("cannot tell whether this cluster's KubeVirt supports --target-node: {0}")]
    KubeVirtVersionUnknown(String),

    #[error("found no migration in flight for VM {namespace}/{vm}")]
    NoMigrationInFlight { namespace: String, vm: String },

    #[error("found no migration for VM {namespace}/{vm}")]
    NoMigration { namespace: String, vm: String },

    #[error("the API server kept refusing to create the migration ({attempts} attempts): {last}")]
    CreateRetriesExhausted { attempts: u32, last: String },

    #[error("watching the migration: {0}")]
    Watch(String),

    #[error("{action}: {source}")]
    Api {
        action: String,
        #[source]
        source: kube::Error,
    },
}

impl MigrateError {
    /// 3 for "not migratable" (including a migration already in flight), 1 for every other error.
    pub fn exit_code(&self) -> i32 {
        match self {
            MigrateError::NotMigratable { .. } | MigrateError::InFlight { .. } => 3,
            _ => 1,
        }
    }

    pub(crate) fn api(action: impl Into<String>, source: kube::Error) -> Self {
        MigrateError::Api { action: action.into(), source }
    }
}

/// The message of an API error in words (the `Status` message for API errors).
pub(crate) fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(s) if !s.message.is_empty() => format!("{} ({})", s.message, s.code),
        other => other.to_string(),
    }
}
