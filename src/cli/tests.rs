//! The `--help` text of each command and the typed arguments' messages.

use super::*;
use crate::domain::Resource;

/// The long options a command's `--help` lists, under each heading.
fn help(path: &[&str]) -> String {
    let mut command = Cli::command();
    command.build();
    let mut sub = &mut command;
    for name in path {
        sub = sub.find_subcommand_mut(name).expect(name);
    }
    sub.render_long_help().to_string()
}

const LIMITS: [&str; 4] = [
    "--rate-limit",
    "--max-in-flight",
    "--global-rate-limit",
    "--retry-budget",
];

const EXPORTER: [&str; 5] = [
    "--database-url",
    "--output",
    "--api-base",
    "--auth-token",
    "--auth-token-file",
];
const LIMITS_USED_BY: [&str; 6] = ["backfill", "run", "schedule", "serve", "add", "demo"];

/// `path --help` lists `shown` (and the global options, last), not `hidden`, and the
/// request limits only where the command uses them.
fn assert_help_lists(path: &[&str], shown: &[&str], hidden: &[&str]) {
    let text = help(path);
    let listed =
        |flag: &str| text.contains(&format!("{flag} <")) || text.contains(&format!("{flag}\n"));
    for flag in shown.iter().chain(["--config", "--log-format"].iter()) {
        assert!(listed(flag), "{path:?} --help lacks {flag}: {text}");
    }
    for flag in hidden {
        assert!(!listed(flag), "{path:?} --help lists {flag}: {text}");
    }
    let uses_limits = LIMITS_USED_BY.contains(path.last().unwrap());
    for flag in LIMITS {
        assert_eq!(
            listed(flag),
            uses_limits,
            "{path:?} --help and {flag}: {text}"
        );
    }
    // Global options come last, under their own heading.
    let global = text
        .find("Global options:")
        .expect("a Global options heading");
    assert!(text.find("--config <").unwrap() > global, "{text}");
}

#[test]
fn exporting_commands_list_the_options_they_use_and_no_others() {
    let with_jobs = [&EXPORTER[..], &["--jobs-dir"]].concat();
    assert_help_lists(
        &["backfill"],
        &EXPORTER,
        &["--jobs-dir", "--connect-app-sid"],
    );
    assert_help_lists(&["run"], &with_jobs, &["--connect-app-sid"]);
    assert_help_lists(&["schedule"], &with_jobs, &["--connect-app-sid"]);
    assert_help_lists(
        &["demo"],
        &["--output", "--days"],
        &["--database-url", "--api-base", "--auth-token"],
    );
    assert_help_lists(
        &["serve"],
        &[
            "--database-url",
            "--api-base",
            "--auth-token",
            "--connect-app-sid",
        ],
        &["--output", "--jobs-dir"],
    );
    assert_help_lists(
        &["accounts", "add"],
        &["--database-url", "--api-base", "--auth-token"],
        &["--output", "--jobs-dir"],
    );
}

#[test]
fn other_commands_list_the_options_they_use_and_no_others() {
    let registry_only = ["--output", "--api-base", "--auth-token"];
    assert_help_lists(
        &["schema"],
        &["--output", "--format"],
        &["--database-url", "--api-base", "--auth-token", "--jobs-dir"],
    );
    assert_help_lists(
        &["sim"],
        &["--seed", "--limit-in-flight", "--limit-per-second"],
        &[&EXPORTER[..4], &["--jobs-dir", "--connect-app-sid"]].concat(),
    );
    assert_help_lists(
        &["sim", "deauthorize"],
        &["--url", "--sim-auth-token"],
        &["--database-url", "--output", "--auth-token"],
    );
    assert_help_lists(
        &["status"],
        &["--database-url", "--jobs-dir"],
        &registry_only,
    );
    assert_help_lists(&["accounts", "list"], &["--database-url"], &registry_only);
    assert_help_lists(&["accounts", "remove"], &["--database-url"], &registry_only);
}

#[test]
fn the_simulator_lists_its_own_options_first_and_faults_apart() {
    let text = help(&["sim"]);
    let at = |s: &str| text.find(s).unwrap_or_else(|| panic!("no {s}: {text}"));
    assert!(at("--seed <") < at("Faults:"), "{text}");
    assert!(at("--subaccounts <") < at("Faults:"), "{text}");
    assert!(at("Faults:") < at("--limit-in-flight <"), "{text}");
    assert!(at("--limit-in-flight <") < at("Global options:"), "{text}");
}

/// The file's keys are the long flags: one definition drives both.
#[test]
fn every_file_key_is_a_flag_with_an_env_variable_and_every_shared_flag_a_key() {
    let mut command = Cli::command();
    command.build();
    let mut flags = std::collections::BTreeMap::new();
    let mut stack = vec![&command];
    while let Some(c) = stack.pop() {
        for arg in c.get_arguments() {
            if let (Some(long), Some(heading)) = (arg.get_long(), arg.get_help_heading()) {
                flags.insert(
                    long.replace('-', "_"),
                    (heading.to_owned(), arg.get_env().is_some()),
                );
            }
        }
        stack.extend(c.get_subcommands());
    }
    let keys = Settings::keys();
    for key in &keys {
        let (_, env) = flags
            .get(*key)
            .unwrap_or_else(|| panic!("no flag for {key}"));
        assert!(env, "{key} has no env variable");
    }
    for (flag, (heading, _)) in &flags {
        if heading != "Faults" && flag != "config" {
            assert!(
                keys.contains(&flag.as_str()),
                "--{flag} ({heading}) is not a file key"
            );
        }
    }
}

/// Typed arguments are refused by clap (exit 2), naming the option and what it expects,
/// and quoting the value once.
#[test]
fn bad_typed_arguments_name_the_option() {
    let backfill = |resource: &str, to: &str, extra: &[&str]| -> Vec<String> {
        let args = [
            "x",
            "backfill",
            "--resource",
            resource,
            "--from",
            "2026-03-01",
        ];
        [&args[..], &["--to", to], extra]
            .concat()
            .into_iter()
            .map(String::from)
            .collect()
    };
    let words = |args: &[&str]| -> Vec<String> { args.iter().map(|s| s.to_string()).collect() };
    let sid = "CA3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80";
    let cases: Vec<(Vec<String>, &str, &str)> = vec![
        (
            backfill("calls", "2026-02-30", &[]),
            "2026-02-30",
            "'--to <DATE>': not a date",
        ),
        (
            backfill("messages", "2026-03-01", &[]),
            "messages",
            "'--resource <RESOURCE>': unknown resource",
        ),
        (
            backfill("calls", "2026-03-01", &["--account", "AC1"]),
            "AC1",
            "'--account <AC…>': not a valid account sid",
        ),
        (
            words(&["x", "schema", "--format", "xml"]),
            "xml",
            "'--format <FORMAT>': expected json, arrow",
        ),
        (
            words(&["x", "run", "--shard", "4/4"]),
            "4/4",
            "'--shard <I/N>': not a shard",
        ),
        (
            words(&["x", "accounts", "remove", sid]),
            sid,
            "not a valid account sid",
        ),
    ];
    for (args, value, message) in cases {
        let err = Cli::parse_from_args(&args).unwrap_err();
        assert_eq!(err.exit_code(), 2, "{args:?}");
        let text = err.to_string();
        assert!(text.contains(message), "{args:?}: {text}");
        assert_eq!(text.matches(value).count(), 1, "{text}");
    }
    let padded = " AC3f9c2b7e8d1a4c5f9e0b6a7d2c1e4f80 ";
    let cli =
        Cli::parse_from_args(backfill("calls", "2026-03-01", &["--account", padded])).unwrap();
    let Command::Backfill(args) = cli.command else {
        panic!("not backfill")
    };
    assert_eq!(args.resource, Resource::Calls);
    assert_eq!(args.accounts[0].as_str(), padded.trim());
}

#[test]
fn the_token_on_the_command_line_is_noticed_in_the_subcommand() {
    let cli = Cli::parse_from_args(["x", "accounts", "verify", "--auth-token", "t"]).unwrap();
    assert!(cli.global.auth_token_in_argv);
    let cli = Cli::parse_from_args(["x", "--config", "c.toml", "status"]).unwrap();
    assert!(!cli.global.auth_token_in_argv);
    let cli = Cli::parse_from_args(["x", "run", "--pseudonym-key", "k"]).unwrap();
    assert!(cli.global.pseudonym_key_in_argv && !cli.global.auth_token_in_argv);
}

#[test]
fn of_discover_and_no_discover_the_last_given_wins() {
    let discovers = |flags: &[&str]| {
        let mut args = vec!["x", "serve", "--listen", "127.0.0.1:0"];
        args.extend(flags);
        match Cli::parse_from_args(args).unwrap().command {
            Command::Serve(a) => a.discovers(),
            _ => unreachable!(),
        }
    };
    assert!(discovers(&[]));
    assert!(!discovers(&["--no-discover"]));
    assert!(discovers(&["--no-discover", "--discover", "true"]));
    assert!(!discovers(&["--discover", "true", "--no-discover"]));
    assert!(!discovers(&["--discover", "false"]));
    // Read as --pseudonymize is: 0/1, yes/no, on/off too (TWILIO_EXPORT_DISCOVER=0 works).
    assert!(!discovers(&["--discover", "0"]));
    assert!(discovers(&["--discover", "yes"]));
}
