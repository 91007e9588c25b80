//! `kubectl vmmigrate <TAB>`: kubectl's plugin completion protocol (kubectl >= 1.26).
//!
//! kubectl runs an executable `kubectl_complete-vmmigrate` from `PATH` with the words typed after the plugin
//! name, the last being the word under the cursor (empty for a new word), and reads one candidate per line
//! (`value<TAB>description`) followed by `:<directive>` (cobra's ShellCompDirective: 0 default file completion,
//! 4 no file completion). The shim is
//!
//! ```sh
//! #!/bin/sh
//! exec kubectl-vmmigrate __complete "$@"
//! ```
//!
//! [`complete`] is the pure part: it walks the clap command tree over the typed words and returns static
//! candidates (subcommands, flags, possible values) or a [`Dynamic`] request that the caller answers from the
//! kubeconfig (contexts, clusters, users) or the cluster (namespaces, VM names).

use std::path::PathBuf;

use clap::{Arg, Command, ValueHint};

use crate::cli::GlobalArgs;

/// The hidden argument that switches the binary into completion mode (must be the first argument).
pub const COMPLETE_ARG: &str = "__complete";

/// Cobra directive: no file completion.
pub const NO_FILE_COMP: u8 = 4;
/// Cobra directive: default (file) completion.
pub const FILE_COMP: u8 = 0;

/// Candidates that need the kubeconfig or the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dynamic {
    Contexts,
    Clusters,
    Users,
    Namespaces,
    VirtualMachines,
}

/// The answer to one completion request.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Completion {
    /// `(value, description)` pairs, already filtered by the typed prefix.
    pub candidates: Vec<(String, String)>,
    pub directive: u8,
    /// Candidates still to be looked up (and filtered by [`Completion::prefix`]).
    pub dynamic: Option<Dynamic>,
    /// The word under the cursor (the part after `=` for `--flag=`).
    pub prefix: String,
    /// Prepended to every candidate (`--flag=` when completing `--flag=val`).
    pub value_prefix: String,
    /// The connection flags typed so far, for dynamic lookups.
    pub global: GlobalArgs,
}

impl Completion {
    /// Adds looked-up values (filtered by the prefix).
    pub fn add_values(&mut self, values: impl IntoIterator<Item = String>) {
        let prefix = self.prefix.clone();
        self.candidates.extend(values.into_iter().filter(|v| v.starts_with(&prefix)).map(|v| (v, String::new())));
    }

    /// The protocol output: candidate lines, then `:<directive>`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for (value, description) in &self.candidates {
            let value = format!("{}{value}", self.value_prefix);
            let description = description.lines().next().unwrap_or("");
            if description.is_empty() {
                out.push_str(&format!("{value}\n"));
            } else {
                out.push_str(&format!("{value}\t{description}\n"));
            }
        }
        out.push_str(&format!(":{}\n", self.directive));
        out
    }
}

/// Completes `words` (the last one is the word under the cursor) against the command tree `root`.
pub fn complete(root: &Command, words: &[String]) -> Completion {
    let mut root = root.clone();
    root.build();
    let (typed, current) = match words.split_last() {
        Some((last, rest)) => (rest, last.as_str()),
        None => (&[][..], ""),
    };
    let mut cmd = &root;
    let mut pending: Option<Arg> = None;
    let mut positionals = 0usize;
    let mut global = GlobalArgs::default();
    let mut only_positionals = false;
    for word in typed {
        if let Some(arg) = pending.take() {
            record_global(&mut global, &arg, word);
            continue;
        }
        if !only_positionals && word == "--" {
            only_positionals = true;
        } else if !only_positionals && word.starts_with("--") {
            let (name, value) = match word[2..].split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (&word[2..], None),
            };
            if let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(name)) {
                match value {
                    Some(v) => record_global(&mut global, arg, v),
                    None if expects_separate_value(arg) => pending = Some(arg.clone()),
                    None => {}
                }
            }
        } else if !only_positionals && word.starts_with('-') && word.len() > 1 {
            let flags = &word[1..];
            for (i, c) in flags.char_indices() {
                let Some(arg) = cmd.get_arguments().find(|a| a.get_short() == Some(c)) else { break };
                if expects_separate_value(arg) {
                    let rest = flags[i + c.len_utf8()..].trim_start_matches('=');
                    if rest.is_empty() {
                        pending = Some(arg.clone());
                    } else {
                        record_global(&mut global, arg, rest);
                    }
                    break;
                }
            }
        } else if let Some(sub) = cmd.find_subcommand(word).filter(|_| positionals == 0) {
            cmd = sub;
        } else {
            positionals += 1;
        }
    }

    let mut out = Completion { directive: NO_FILE_COMP, prefix: current.to_string(), global, ..Default::default() };
    if let Some(arg) = pending {
        complete_value(&mut out, &arg);
        return out;
    }
    if let Some(flag) = current.strip_prefix("--")
        && let Some((name, value)) = flag.split_once('=')
    {
        if let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(name)) {
            out.prefix = value.to_string();
            out.value_prefix = format!("--{name}=");
            complete_value(&mut out, arg);
        }
        return out;
    }
    if current.starts_with('-') {
        for arg in cmd.get_arguments().filter(|a| !a.is_hide_set() && !a.is_positional()) {
            if let Some(long) = arg.get_long() {
                push_if_prefixed(&mut out, format!("--{long}"), help_of(arg));
            }
        }
        return out;
    }
    let subcommands: Vec<&Command> = cmd.get_subcommands().filter(|s| !s.is_hide_set()).collect();
    if !subcommands.is_empty() && positionals == 0 {
        for sub in subcommands.into_iter().filter(|s| s.get_name() != "help") {
            let about = sub.get_about().map(|a| a.to_string()).unwrap_or_default();
            push_if_prefixed(&mut out, sub.get_name().to_string(), about);
        }
        return out;
    }
    if let Some(arg) = cmd.get_positionals().nth(positionals).or_else(|| cmd.get_positionals().last()) {
        complete_value(&mut out, arg);
    }
    out
}

/// Whether the flag takes its value as the next word (`--context NAME`), not only as `--flag=value`.
fn expects_separate_value(arg: &Arg) -> bool {
    arg.get_action().takes_values() && !arg.is_require_equals_set()
}

fn help_of(arg: &Arg) -> String {
    arg.get_help().map(|h| h.to_string()).unwrap_or_default()
}

fn push_if_prefixed(out: &mut Completion, value: String, description: String) {
    if value.starts_with(&out.prefix) {
        out.candidates.push((value, description));
    }
}

/// Candidates for the value of `arg`.
fn complete_value(out: &mut Completion, arg: &Arg) {
    let possible = arg.get_possible_values();
    if !possible.is_empty() {
        for value in possible.iter().filter(|v| !v.is_hide_set()) {
            let help = value.get_help().map(|h| h.to_string()).unwrap_or_default();
            push_if_prefixed(out, value.get_name().to_string(), help);
        }
        return;
    }
    out.dynamic = match arg.get_id().as_str() {
        "context" => Some(Dynamic::Contexts),
        "cluster" => Some(Dynamic::Clusters),
        "user" => Some(Dynamic::Users),
        "namespace" => Some(Dynamic::Namespaces),
        "vm" | "vms" => Some(Dynamic::VirtualMachines),
        _ => None,
    };
    if matches!(arg.get_value_hint(), ValueHint::FilePath | ValueHint::AnyPath | ValueHint::DirPath) {
        out.directive = FILE_COMP;
    }
}

/// Records the connection flags that dynamic lookups need.
fn record_global(global: &mut GlobalArgs, arg: &Arg, value: &str) {
    let value = value.to_string();
    match arg.get_id().as_str() {
        "kubeconfig" => global.kubeconfig = Some(PathBuf::from(value)),
        "context" => global.context = Some(value),
        "cluster" => global.cluster = Some(value),
        "user" => global.user = Some(value),
        "namespace" => global.namespace = Some(value),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Cli;
    use clap::CommandFactory;

    fn run(words: &[&str]) -> Completion {
        complete(&Cli::command(), &words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    fn values(c: &Completion) -> Vec<&str> {
        c.candidates.iter().map(|(v, _)| v.as_str()).collect()
    }

    #[test]
    fn subcommands_at_the_start() {
        let c = run(&[""]);
        assert_eq!(values(&c), ["check", "run", "cancel", "status", "probe", "completion"]);
        assert_eq!(c.directive, NO_FILE_COMP);
        assert_eq!(values(&run(&["c"])), ["check", "cancel", "completion"]);
        assert_eq!(values(&run(&["-n", "ns1", "ru"])), ["run"], "flags before the subcommand are skipped");
    }

    #[test]
    fn flags_of_the_subcommand_including_globals() {
        let c = run(&["run", "vm1", "--probe-i"]);
        assert_eq!(values(&c), ["--probe-image", "--probe-interval"]);
        let c = run(&["check", "--"]);
        assert!(values(&c).contains(&"--strict") && values(&c).contains(&"--kubeconfig"));
        assert!(!values(&c).contains(&"--target-node"));
    }

    #[test]
    fn flag_values() {
        assert_eq!(values(&run(&["status", "-o", ""])), ["table", "wide", "json", "yaml"]);
        assert_eq!(values(&run(&["completion", "f"])), ["fish"]);
        let c = run(&["run", "vm1", "--report-format=j"]);
        assert_eq!(c.render(), "--report-format=json\n--report-format=junit\n:4\n");
        let c = run(&["--kubeconfig", ""]);
        assert_eq!((c.directive, c.candidates.len()), (FILE_COMP, 0));
    }

    #[test]
    fn dynamic_requests_carry_the_connection_flags() {
        let c = run(&["--kubeconfig", "/k", "status", "-nprod", "--context=c1", "v"]);
        assert_eq!(c.dynamic, Some(Dynamic::VirtualMachines));
        assert_eq!(c.prefix, "v");
        assert_eq!(c.global.kubeconfig, Some(PathBuf::from("/k")));
        assert_eq!(c.global.namespace.as_deref(), Some("prod"));
        assert_eq!(c.global.context.as_deref(), Some("c1"));
        assert_eq!(run(&["check", "--context", ""]).dynamic, Some(Dynamic::Contexts));
        assert_eq!(run(&["check", "-n", ""]).dynamic, Some(Dynamic::Namespaces));
        let mut c = run(&["status", "vm"]);
        c.add_values(["vm-a".to_string(), "other".to_string()]);
        assert_eq!(c.render(), "vm-a\n:4\n");
    }
}
