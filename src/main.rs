fn main() {
    // The CLI is wired in by the foundation work (cli.rs, cluster.rs, exit.rs).
    std::process::exit(kubectl_vmmigrate_main());
}

fn kubectl_vmmigrate_main() -> i32 {
    0
}
