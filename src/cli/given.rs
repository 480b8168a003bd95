//! Which option groups each command takes, as the [`Settings`] it was given.

use super::{
    AccountsCommand, ApiOptions, Command, ConnectAppOptions, DatabaseOptions, ExportOptions,
    JobsOptions, LimitOptions, MetricsOptions, OutputOptions, Settings,
};

/// The option groups of [`Settings`] a command takes; the others stay unset (the file or the
/// defaults fill them).
#[derive(Default)]
struct Given<'a> {
    database: Option<&'a DatabaseOptions>,
    output: Option<&'a OutputOptions>,
    api: Option<&'a ApiOptions>,
    connect_app: Option<&'a ConnectAppOptions>,
    jobs: Option<&'a JobsOptions>,
    limits: Option<&'a LimitOptions>,
    metrics: Option<&'a MetricsOptions>,
}

impl<'a> Given<'a> {
    fn export(e: &'a ExportOptions) -> Self {
        Given {
            database: Some(&e.database),
            output: Some(&e.output),
            api: Some(&e.api),
            limits: Some(&e.limits),
            ..Given::default()
        }
    }

    fn settings(self) -> Settings {
        Settings {
            database: self.database.cloned().unwrap_or_default(),
            output: self.output.cloned().unwrap_or_default(),
            api: self.api.cloned().unwrap_or_default(),
            connect_app: self.connect_app.cloned().unwrap_or_default(),
            jobs: self.jobs.cloned().unwrap_or_default(),
            limits: self.limits.cloned().unwrap_or_default(),
            metrics: self.metrics.cloned().unwrap_or_default(),
            log: Default::default(),
        }
    }
}

impl Command {
    /// The options this command was given on the command line or in the environment.
    pub fn settings(&self) -> Settings {
        let given = match self {
            Command::Serve(a) => Given {
                database: Some(&a.database),
                api: Some(&a.api),
                connect_app: Some(&a.connect_app),
                limits: Some(&a.limits),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::Add { api, .. })
            | Command::Accounts(AccountsCommand::Verify { api, .. }) => Given {
                database: Some(&api.database),
                api: Some(&api.api),
                limits: Some(&api.limits),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::List(a)) => Given {
                database: Some(&a.database),
                ..Given::default()
            },
            Command::Accounts(AccountsCommand::Remove { database, .. }) => Given {
                database: Some(database),
                ..Given::default()
            },
            Command::Run(a) => Given {
                jobs: Some(&a.jobs_dir),
                metrics: Some(&a.metrics),
                ..Given::export(&a.export)
            },
            Command::Schedule(a) => Given {
                jobs: Some(&a.jobs_dir),
                ..Given::export(&a.export)
            },
            Command::Backfill(a) => Given {
                metrics: Some(&a.metrics),
                ..Given::export(&a.export)
            },
            Command::Status(a) => Given {
                database: Some(&a.database),
                jobs: Some(&a.jobs_dir),
                ..Given::default()
            },
            Command::Schema(a) => Given {
                output: Some(&a.output),
                ..Given::default()
            },
            Command::Demo(a) => Given {
                output: Some(&a.output),
                limits: Some(&a.limits),
                metrics: Some(&a.metrics),
                ..Given::default()
            },
            Command::Sim(_) => Given::default(),
        };
        given.settings()
    }
}
