//! The kubeconfig a client uses to reach the sim.

/// The dummy bearer token of the kubeconfig (the sim authenticates everyone as one user).
const TOKEN: &str = "vmmigrate-sim-dummy-token";

/// A kubeconfig with cluster, user and context `vmmigrate-sim` (the current context) for `url`, with the
/// context's namespace when given.
pub fn kubeconfig(url: &str, namespace: Option<&str>) -> String {
    let ns = namespace.map(|n| format!("    namespace: {n}\n")).unwrap_or_default();
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: vmmigrate-sim
  cluster:
    server: {url}
users:
- name: vmmigrate-sim
  user:
    token: {TOKEN}
contexts:
- name: vmmigrate-sim
  context:
    cluster: vmmigrate-sim
    user: vmmigrate-sim
{ns}current-context: vmmigrate-sim
preferences: {{}}
"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubeconfig_names_the_context_and_namespace() {
        let k = kubeconfig("http://127.0.0.1:1234", Some("tenant-root"));
        assert!(k.contains("server: http://127.0.0.1:1234\n"));
        assert!(k.contains("    user: vmmigrate-sim\n    namespace: tenant-root\ncurrent-context"));
        assert!(k.contains("current-context: vmmigrate-sim\n"));
        assert!(!kubeconfig("http://x", None).contains("namespace:"));
    }
}
