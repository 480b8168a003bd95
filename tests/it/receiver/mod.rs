//! The Connect receiver (issue 4): the browser round trip through the simulator's consent
//! page, the Authorize URL's checks (state, API-proven grant, malformed input), discovery of
//! the user's accounts, signed deauthorize callbacks, metrics, and the real `serve` binary.
//! The harness (an in-process receiver, the consent page, WebDriver) is in `support`.

mod connect;
mod deauthorize;
mod serve;
