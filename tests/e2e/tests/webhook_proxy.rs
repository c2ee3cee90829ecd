//! Outgoing webhooks ignore a proxy set in the environment: a proxy would
//! connect for us to addresses our resolver never checked. Its own test
//! binary, because it sets process-wide proxy variables.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use pitwall_testkit::{Backend, Options, StatusCode, TestApp};
use serde_json::json;

#[test]
fn webhooks_do_not_go_through_an_environment_proxy() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    // The "proxy" counts the connections made to it (a CONNECT for https
    // or a plain request for http, either way a connection).
    let listener = runtime
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("proxy listener");
    let proxy_url = format!("http://{}", listener.local_addr().expect("proxy address"));
    let connections = Arc::new(AtomicUsize::new(0));
    let seen = connections.clone();
    runtime.spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            seen.fetch_add(1, Ordering::SeqCst);
            drop(socket);
        }
    });
    // SAFETY: set while this binary's only test runs, before any thread
    // that could read the environment is started.
    unsafe {
        for var in [
            "HTTP_PROXY",
            "http_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "ALL_PROXY",
        ] {
            std::env::set_var(var, &proxy_url);
        }
        // The test's own client talks to the app on the loopback directly.
        std::env::set_var("NO_PROXY", "127.0.0.1,localhost");
        std::env::set_var("no_proxy", "127.0.0.1,localhost");
    }
    runtime.block_on(async {
        let Some(t) = TestApp::spawn_with(
            Backend::Sqlite,
            Options {
                workers: true,
                env: vec![("PITWALL_WEBHOOKS_ALLOW_PRIVATE".into(), String::new())],
                ..Default::default()
            },
        )
        .await
        else {
            return;
        };
        let (_, owner) = t.shop("proxy-hooks", "premium").await;
        let (s, hook) = t
            .post(
                "/api/v1/webhooks",
                &owner,
                json!({"url": "http://hooks.example.com/pitwall"}),
            )
            .await;
        // https only in production.
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{hook}");
        let (s, hook) = t
            .post(
                "/api/v1/webhooks",
                &owner,
                json!({"url": "https://hooks.example.com/pitwall"}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{hook}");
        let id = hook["id"].as_str().unwrap_or_default().to_owned();
        let (s, b) = t
            .post(&format!("/api/v1/webhooks/{id}/test"), &owner, json!({}))
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        // Whatever becomes of the delivery (no network here), every try is
        // made directly: the proxy sees none.
        let mut tries = 0;
        for _ in 0..100 {
            let (_, list) = t.get("/api/v1/webhooks", &owner).await;
            let d = list["items"][0]["deliveries"][0].clone();
            tries = d["attempts"].as_i64().unwrap_or(0);
            if tries >= 1 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(tries >= 1, "the delivery was tried");
        assert_eq!(
            connections.load(Ordering::SeqCst),
            0,
            "a webhook went through the proxy"
        );
        t.finish().await;
    });
}
