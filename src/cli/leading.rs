//! Options written before the command: `twilio-export --database-url URL accounts list`.
//!
//! Each command takes the option groups it uses (so its `--help` lists only those), which clap
//! accepts after the command's name. Scripts and cron lines often put shared options first, as
//! with most tools, so [`hoist`] moves options given before the command to just after it.
//! An option some other command takes but this one does not (`--rate-limit` before `status`) is
//! dropped and named in [`Hoisted::ignored`], so one set of shared flags works with every
//! command; a name no command knows is left where it is, for clap to refuse.

use std::ffi::OsString;

use clap::Command;

/// The arguments with the leading options moved, and the options this command does not take.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Hoisted {
    pub args: Vec<OsString>,
    pub ignored: Vec<String>,
}

/// Moves the options between the program name and the first command name to after the
/// (innermost) command: `prog --a 1 accounts add AC…` becomes `prog accounts add --a 1 AC…`.
pub fn hoist(args: Vec<OsString>, root: &Command) -> Hoisted {
    let (leading, start) = leading_options(&args, root);
    let Some(chain_end) = (!leading.is_empty()).then(|| command_chain_end(&args, start, root))
    else {
        return Hoisted {
            args,
            ignored: Vec::new(),
        };
    };
    let target = innermost(&args[start..chain_end], root);
    let mut out: Vec<OsString> = args[..1].to_vec();
    out.extend_from_slice(&args[start..chain_end]);
    let mut ignored = Vec::new();
    for group in &leading {
        let name = long_name(&group[0]);
        if takes(target, &name) {
            out.extend(group.iter().cloned());
        } else {
            ignored.push(format!("--{name}"));
        }
    }
    out.extend_from_slice(&args[chain_end..]);
    Hoisted { args: out, ignored }
}

/// The options (each with its value, if separate) before the first command name, and where
/// that name is. Stops at the first token that is not an option some command knows.
fn leading_options(args: &[OsString], root: &Command) -> (Vec<Vec<OsString>>, usize) {
    let mut groups = Vec::new();
    let mut i = 1;
    while let Some(token) = args.get(i).and_then(|t| t.to_str()) {
        if !token.starts_with("--") || token == "--" {
            break;
        }
        let name = long_name(&args[i]);
        let Some(value) = known(root, &name) else {
            break;
        };
        // An optional value (`--pseudonymize [BOOL]`) is the next token unless that is an
        // option or a command.
        let next_is_value = || {
            args.get(i + 1)
                .and_then(|t| t.to_str())
                .is_some_and(|t| !t.starts_with("--") && root.find_subcommand(t).is_none())
        };
        let separate_value = !token.contains('=')
            && match value {
                Value::None => false,
                Value::Required => true,
                Value::Optional => next_is_value(),
            };
        let len = if separate_value { 2 } else { 1 };
        if i + len > args.len() {
            break;
        }
        groups.push(args[i..i + len].to_vec());
        i += len;
    }
    if args.get(i).is_none() {
        // Only options (`prog --help`, or a command missing): leave it all to clap.
        return (Vec::new(), 1);
    }
    (groups, i)
}

/// Where the chain of command names that starts at `start` ends.
fn command_chain_end(args: &[OsString], start: usize, root: &Command) -> usize {
    let mut cmd = root;
    let mut i = start;
    while let Some(sub) = args
        .get(i)
        .and_then(|t| t.to_str())
        .and_then(|t| cmd.find_subcommand(t))
    {
        cmd = sub;
        i += 1;
    }
    i
}

fn innermost<'c>(names: &[OsString], root: &'c Command) -> &'c Command {
    names.iter().fold(root, |cmd, name| {
        name.to_str()
            .and_then(|n| cmd.find_subcommand(n))
            .unwrap_or(cmd)
    })
}

/// `--name=value` or `--name` → `name`.
fn long_name(token: &OsString) -> String {
    let text = token.to_string_lossy();
    let name = text.trim_start_matches("--");
    name.split('=').next().unwrap_or(name).to_owned()
}

/// Whether `cmd` itself takes `--name` (global options are propagated to every command).
fn takes(cmd: &Command, name: &str) -> bool {
    cmd.get_arguments().any(|a| a.get_long() == Some(name))
}

/// Whether an option takes a value.
#[derive(Clone, Copy)]
enum Value {
    None,
    Required,
    Optional,
}

/// Whether some command takes `--name`, and if so whether it takes a value.
fn known(cmd: &Command, name: &str) -> Option<Value> {
    if let Some(arg) = cmd.get_arguments().find(|a| a.get_long() == Some(name)) {
        let optional = arg.get_num_args().is_some_and(|n| n.min_values() == 0);
        return Some(match (arg.get_action().takes_values(), optional) {
            (false, _) => Value::None,
            (true, false) => Value::Required,
            (true, true) => Value::Optional,
        });
    }
    cmd.get_subcommands().find_map(|sub| known(sub, name))
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    fn hoisted(line: &str) -> (String, Vec<String>) {
        let mut root = Cli::command();
        root.build();
        let args = line.split(' ').map(OsString::from).collect();
        let h = hoist(args, &root);
        let text: Vec<String> = h
            .args
            .iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect();
        (text.join(" "), h.ignored)
    }

    #[test]
    fn options_before_the_command_move_after_it() {
        assert_eq!(
            hoisted("p --database-url sqlite://x.db accounts add AC1 --no-verify").0,
            "p accounts add --database-url sqlite://x.db AC1 --no-verify"
        );
        assert_eq!(
            hoisted("p --rate-limit=3 --output /o backfill --resource calls").0,
            "p backfill --rate-limit=3 --output /o --resource calls"
        );
        // An optional value is taken only when it is not the command or another option.
        for (line, moved) in [
            (
                "p --pseudonymize run --job j",
                "p run --pseudonymize --job j",
            ),
            (
                "p --pseudonymize --output /o run",
                "p run --pseudonymize --output /o",
            ),
            ("p --pseudonymize false run", "p run --pseudonymize false"),
        ] {
            assert_eq!(hoisted(line).0, moved);
        }
    }

    #[test]
    fn options_this_command_does_not_take_are_ignored_and_named() {
        let (line, ignored) = hoisted("p --rate-limit 3 --database-url sqlite://x.db status");
        assert_eq!(line, "p status --database-url sqlite://x.db");
        assert_eq!(ignored, ["--rate-limit"]);
    }

    #[test]
    fn unknown_options_help_and_plain_lines_are_left_to_clap() {
        for line in [
            "p --no-such-flag status",
            "p --help",
            "p status --json",
            "p --config f.toml",
        ] {
            assert_eq!(hoisted(line), (line.to_owned(), Vec::new()), "{line}");
        }
    }
}
