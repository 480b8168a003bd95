//! The `twilio-export` binary: parse the command line, start logging, run the command, and
//! turn its outcome into an exit code (0 done, 1 partly failed, 2 bad usage or configuration).

use std::process::ExitCode;

use twilio_export::cli::Cli;
use twilio_export::commands::{self, stdout, Exit};
use twilio_export::config;
use twilio_export::telemetry::{self, Level};

#[tokio::main]
async fn main() -> ExitCode {
    limit_malloc_arenas();
    let cli = match Cli::parse_args() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() && json_logs_asked() => {
            telemetry::init(telemetry::LogFormat::Json);
            telemetry::say(Level::ERROR, e.render().to_string().trim_end());
            return ExitCode::from(2);
        }
        Err(e) => {
            let _ = e.print();
            // --help and --version are not errors.
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    telemetry::init(config::peek_log_format(&cli.global));
    if cli.global.auth_token_in_argv {
        tracing::warn!(
            "--auth-token on the command line can be read by every local user (ps, /proc/PID/cmdline); \
             give the token as TWILIO_AUTH_TOKEN or in a file (--auth-token-file, TWILIO_AUTH_TOKEN_FILE)"
        );
    }
    if cli.global.pseudonym_key_in_argv {
        tracing::warn!(
            "--pseudonym-key on the command line can be read by every local user (ps, /proc/PID/cmdline); \
             give the key as TWILIO_EXPORT_PSEUDONYM_KEY or in a file (--pseudonym-key-file, TWILIO_EXPORT_PSEUDONYM_KEY_FILE)"
        );
    }
    if !cli.global.ignored_leading.is_empty() {
        tracing::warn!(
            options = %cli.global.ignored_leading.join(" "),
            "Options before the command that it does not use were ignored"
        );
    }
    let code = match commands::dispatch(cli).await {
        Ok(Exit::Success) => 0,
        Ok(Exit::Failed) => 1,
        Err(e) => {
            telemetry::say(
                Level::ERROR,
                format_args!("error: {}", commands::report::error(&e)),
            );
            if e.downcast_ref::<commands::PartlyDone>().is_some() {
                1
            } else {
                2
            }
        }
    };
    // Output that could not be written (other than to a reader that left) is a failure.
    ExitCode::from(if stdout::failed() { code.max(1) } else { code })
}

/// Whether the command line (`--log-format json`, the last given) or the environment asks
/// for JSON logs, read from them as they are: for an error in the command line itself, which
/// leaves no option parsed.
fn json_logs_asked() -> bool {
    let args: Vec<String> = std::env::args().collect();
    let flag = args
        .iter()
        .enumerate()
        .rev()
        .find_map(|(i, a)| match a.as_str() {
            "--log-format" => args.get(i + 1).cloned(),
            _ => a.strip_prefix("--log-format=").map(str::to_owned),
        });
    flag.or_else(|| std::env::var("TWILIO_EXPORT_LOG_FORMAT").ok())
        .is_some_and(|f| f == "json")
}

/// glibc gives threads that allocate at once arenas of their own, up to eight per core, and
/// memory freed in one arena is not reused by another: with windows on every worker thread and
/// Parquet encoding on the blocking pool, that multiplies the peak memory of an export. Two
/// arenas keep it near what is in use.
///
/// glibc also maps each block above a threshold on its own and unmaps it when freed, so the
/// next one is faulted in again page by page; the threshold rises by itself to the largest
/// block freed, and with it what glibc keeps. Fixed at 4 MiB (a page of JSON, a column's
/// Parquet page, a batch's text column when it is not reused), with up to 64 MiB kept free
/// before memory is given back, a day of a million calls took half the page faults and 5–8 %
/// less CPU at the same peak memory (BENCHMARKS.md).
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `mallopt` only changes an allocator setting; called before the export starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 4 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 << 20);
    }
}
