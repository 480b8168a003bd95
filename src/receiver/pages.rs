//! The receiver's HTML: the Connect page, the outcome pages and the error page.
//!
//! Plain server-rendered HTML with one inline style sheet and no script; every dynamic value
//! is escaped. Links are relative so that the pages work under any path prefix a proxy adds.
//! No page ever shows an account sid or the auth token. This module renders; it decides nothing.

const STYLE: &str = "\
:root{color-scheme:light dark;--fg:#1b1f24;--bg:#fff;--muted:#4a5360;--accent:#b3122e;--card:#f5f6f8}\
@media (prefers-color-scheme:dark){:root{--fg:#e8eaed;--bg:#15171a;--muted:#b3bac4;--accent:#ff6b81;--card:#20242a}}\
*{box-sizing:border-box}\
body{margin:0;font:1.0625rem/1.55 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:var(--fg);background:var(--bg)}\
main{max-width:36rem;margin:4rem auto;padding:2rem;background:var(--card);border-radius:12px}\
h1{font-size:1.6rem;line-height:1.25;margin:0 0 1rem}\
p{margin:0 0 1rem}.muted{color:var(--muted);font-size:.95rem}\
a{color:var(--accent)}\
.button{display:inline-block;padding:.75rem 1.5rem;border-radius:8px;background:var(--accent);color:#fff;\
font-weight:600;text-decoration:none}\
.button:hover{filter:brightness(1.1)}\
a:focus-visible,.button:focus-visible{outline:3px solid var(--fg);outline-offset:3px}";

/// A complete page around `body` (already HTML).
fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · twilio-export</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <main>\n{body}\n</main>\n</body>\n</html>\n",
        escape(title)
    )
}

/// `GET /`: explains what connecting does and links to Twilio's consent page.
pub fn connect(authorize_href: &str) -> String {
    page(
        "Connect your Twilio account",
        &format!(
            "<h1>Connect your Twilio account</h1>\n\
             <p>Connecting lets us export your call logs and usage records. We only read your \
             data; you can disconnect at any time from your Twilio Console \
             (Authorized Connect Apps).</p>\n\
             <p><a id=\"connect\" class=\"button\" href=\"{}\">Connect with Twilio</a></p>\n\
             <p class=\"muted\">You will be asked by Twilio to authorize access, then brought \
             back here.</p>",
            escape(authorize_href)
        ),
    )
}

/// The page after a stored authorization. `accounts` counts the accounts now exported.
pub fn connected(accounts: Option<u64>) -> String {
    let detail = match accounts {
        Some(n) if n > 1 => format!("<p>{n} accounts will be exported.</p>\n"),
        _ => String::new(),
    };
    page(
        "Connected",
        &format!(
            "<h1 id=\"outcome\">Your Twilio account is connected</h1>\n\
             {detail}<p>Your call logs and usage records will be exported from now on. To stop, \
             revoke the app in your Twilio Console.</p>\n\
             <p><a href=\"../\">Back to the start page</a></p>"
        ),
    )
}

/// The page after the user declined on Twilio's side.
pub fn not_connected() -> String {
    page(
        "Not connected",
        "<h1 id=\"outcome\">Your Twilio account was not connected</h1>\n\
         <p>You declined the authorization on Twilio, so nothing was connected and nothing \
         will be exported.</p>\n\
         <p><a class=\"button\" href=\"../\">Try again</a></p>",
    )
}

/// An error page; `message` is the public explanation (never an internal cause).
pub fn error(title: &str, message: &str, home: bool) -> String {
    let link = if home {
        "\n<p><a href=\"../\">Start again</a></p>"
    } else {
        ""
    };
    page(
        title,
        &format!(
            "<h1 id=\"outcome\">{}</h1>\n<p>{}</p>{link}",
            escape(title),
            escape(message)
        ),
    )
}

/// Escapes text for HTML content and double-quoted attributes.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn connect_page_links_to_the_escaped_url() {
        let html = connect("https://www.twilio.com/authorize/CN1?state=a&b");
        assert!(html.contains("href=\"https://www.twilio.com/authorize/CN1?state=a&amp;b\""));
        assert!(html.starts_with("<!doctype html>"));
        assert!(html.contains("<html lang=\"en\">"));
    }
}
