//! Job files that cannot mean what they say are refused before any work (exit 2, nothing
//! written): calls jobs in different pseudonym modes, an empty `accounts` list.

use crate::pseudonymize::KEY;
use crate::support::*;

/// A calls job file named `name`, ending with `extra`.
fn calls(name: &str, extra: &str) -> String {
    format!("name = \"{name}\"\nresource = \"calls\"\nschedule = \"0 0 * * * *\"\nlookback_days = 1\n{extra}")
}

/// One calls job pseudonymized by its own key, another following `--pseudonymize` (off): one
/// export of calls would be written in two modes. Both files are named and nothing is done;
/// with `--pseudonymize` on, the two agree and the run goes through.
#[tokio::test]
async fn calls_jobs_of_different_pseudonym_modes_are_refused_naming_both_files() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(
        &app,
        &[
            ("a.toml", &calls("calls-a", "pseudonymize = true\n")),
            ("b.toml", &calls("calls-b", "")),
        ],
    );
    let key = [("TWILIO_EXPORT_PSEUDONYM_KEY", KEY)];

    let out = at_sim_now_with(&app, &jobs, &["run"], &key).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("b.toml: pseudonymize: this job writes calls in clear but ")
            && err.contains("a.toml writes it pseudonymized"),
        "{err}"
    );
    assert!(files_below(&app.output()).is_empty());

    let on = [key[0], ("TWILIO_EXPORT_PSEUDONYMIZE", "true")];
    assert_success(&at_sim_now_with(&app, &jobs, &["run"], &on).await);
}

/// `accounts = []` would read as "every account" to the scheduler: refused, file and key named.
#[tokio::test]
async fn an_empty_accounts_list_is_refused() {
    let app = spawn_app(small_sim()).await;
    app.add_all_accounts().await;
    let jobs = write_jobs(&app, &[("only.toml", &calls("only", "accounts = []\n"))]);

    let out = at_sim_now(&app, &jobs, &["run"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("only.toml: accounts: the list is empty"),
        "{}",
        stderr(&out)
    );
    assert!(files_below(&app.output()).is_empty());
}
