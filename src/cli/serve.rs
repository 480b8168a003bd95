//! `serve`: the Connect callback receiver's arguments.

use std::net::SocketAddr;

use super::{ApiOptions, ConnectAppOptions, DatabaseOptions, LimitOptions};

#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "TWILIO_EXPORT_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The public address Twilio uses to reach this server (needed to check signatures behind a proxy)
    /// [default: http://LISTEN]; the Authorize URL is {public-url}/connect/authorize and the
    /// Deauthorize URL {public-url}/connect/deauthorize
    #[arg(
        long,
        env = "TWILIO_EXPORT_PUBLIC_URL",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub public_url: Option<String>,
    /// Where the Connect button sends users ({base}/authorize/{CN…})
    #[arg(
        long,
        env = "TWILIO_CONNECT_BASE",
        hide_env_values = true,
        default_value = "https://www.twilio.com",
        value_name = "URL"
    )]
    pub connect_base: String,
    /// Also register the accounts a new grant can read (the user's parent account and its
    /// subaccounts), reached with the Connect account's credentials
    #[arg(
        long,
        env = "TWILIO_EXPORT_DISCOVER",
        default_value_t = true,
        action = clap::ArgAction::Set,
        value_name = "BOOL",
        value_parser = clap::builder::BoolishValueParser::new(),
        overrides_with = "no_discover"
    )]
    pub discover: bool,
    /// Same as --discover false (of the two, the one given last wins)
    #[arg(long, overrides_with = "discover")]
    pub no_discover: bool,
    /// Your own account's sid (AC…, the Connect App owner's, whose credential your Auth Token
    /// is): an authorization naming it or one of its subaccounts is refused, since the API
    /// accepts your token for them without any grant
    #[arg(long, env = "TWILIO_ACCOUNT_SID", value_name = "AC…")]
    pub owner_account_sid: Option<String>,
    #[command(flatten)]
    pub database: DatabaseOptions,
    #[command(flatten)]
    pub api: ApiOptions,
    #[command(flatten)]
    pub connect_app: ConnectAppOptions,
    #[command(flatten)]
    pub limits: LimitOptions,
}

impl ServeArgs {
    /// Whether new grants' other accounts are registered: `--discover` or `--no-discover`,
    /// whichever was given last (the environment's value when neither was).
    pub fn discovers(&self) -> bool {
        self.discover && !self.no_discover
    }
}
