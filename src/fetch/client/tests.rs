use super::*;

#[test]
fn builds_first_page_with_encoded_operator_names() {
    let uri = PageUri::build(
        "/2010-04-01/Accounts/AC1/Calls.json",
        &[
            ("StartTime>", "2026-03-01".into()),
            ("StartTime<", "2026-03-02".into()),
            ("PageSize", "1000".into()),
        ],
    );
    assert_eq!(
        uri.as_str(),
        "/2010-04-01/Accounts/AC1/Calls.json?StartTime%3E=2026-03-01&StartTime%3C=2026-03-02&PageSize=1000"
    );
}

#[test]
fn links_are_only_ever_requested_from_the_api_base() {
    let base = Url::parse("https://api.twilio.com").unwrap();
    assert!(PageUri::from_link("/2010-04-01/x.json?Page=1", &base).is_ok());
    assert!(PageUri::from_link("https://api.twilio.com/2010-04-01/x.json", &base).is_ok());
    // Another host's API link is requested from our base, never from that host.
    let local = Url::parse("http://127.0.0.1:4010").unwrap();
    assert_eq!(
        PageUri::from_link("https://api.twilio.com/2010-04-01/x.json?Page=1", &local)
            .unwrap()
            .as_str(),
        "/2010-04-01/x.json?Page=1"
    );
    for bad in [
        "https://evil.example/elsewhere/x.json",
        "ftp://api.twilio.com/2010-04-01/x.json",
        "//evil.example/x",
        "x.json",
        "",
    ] {
        assert!(PageUri::from_link(bad, &base).is_err(), "{bad}");
    }
}

#[test]
fn decoding_lets_the_runtime_run_other_tasks() {
    // One worker: while a task decodes, only `off_runtime` lets another task run.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let decoding = rt
        .spawn(async move { off_runtime(|| rx.recv_timeout(std::time::Duration::from_secs(60))) });
    let other = rt.spawn(async move { tx.send(()).unwrap() });
    rt.block_on(async {
        assert_eq!(decoding.await.unwrap(), Ok(()), "the other task never ran");
        other.await.unwrap();
    });
}
