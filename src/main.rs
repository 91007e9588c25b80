//! `kubectl-vmmigrate`: parse, set up logging, run, print the error line, exit with the documented code.

use kubectl_vmmigrate::cli::{Cli, tracing_filter};
use kubectl_vmmigrate::exit::{ExitCode, exit_code, render_error};
use kubectl_vmmigrate::{app, term::Term};

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if args.get(1).is_some_and(|a| a == kubectl_vmmigrate::complete::COMPLETE_ARG) {
        let words: Vec<String> = args[2..].iter().map(|w| w.to_string_lossy().into_owned()).collect();
        // A closed pipe is not an error for the shell; nothing else can fail here.
        let _ = kubectl_vmmigrate::term::write_stdout(&app::complete(&words));
        return;
    }
    let cli = match Cli::try_parse_args(args) {
        Ok(cli) => cli,
        // Prints help/version (exit 0) or the usage error (exit 2).
        Err(e) => e.exit(),
    };
    let term = Term::detect(&cli.global);
    init_tracing(cli.global.verbosity, term.color_stderr);
    std::panic::set_hook(Box::new(|info| eprintln!("{}", panic_line(info))));
    // A bug must still end as one error line and exit code 1; the hook above printed the line.
    let Ok(result) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| app::run(cli, term))) else {
        std::process::exit(ExitCode::Error.code());
    };
    if let Err(err) = &result {
        eprintln!("{}", render_error(err));
    }
    std::process::exit(exit_code(&result).code());
}

/// One line for a panic (a bug): its message and location, without a backtrace.
fn panic_line(info: &std::panic::PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    let location = info.location().map(|l| format!(" at {}:{}", l.file(), l.line())).unwrap_or_default();
    let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("error: internal error (a bug in kubectl-vmmigrate, please report it): {message}{location}")
}

/// Logs to stderr at the level `-v` selects (see `cli::tracing_filter`).
fn init_tracing(verbosity: u8, ansi: bool) {
    let filter = tracing_subscriber::EnvFilter::new(tracing_filter(verbosity));
    tracing_subscriber::fmt().with_writer(std::io::stderr).with_ansi(ansi).with_env_filter(filter).init();
}
