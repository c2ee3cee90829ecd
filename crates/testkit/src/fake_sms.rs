//! A local SMS provider speaking Twilio's wire format, so tests run
//! Pitwall's real client: form-encoded `POST
//! /2010-04-01/Accounts/{sid}/Messages.json` with basic auth, the message
//! resource or a Twilio error in JSON, and `GET` of the same path to list
//! messages (what Pitwall asks after an interrupted send). It counts every
//! message it accepts, and plays the provider's webhooks back to Pitwall
//! with a real `X-Twilio-Signature`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use poem::http::StatusCode;
use poem::listener::{Acceptor, Listener, TcpListener};
use poem::web::{Data, Form, Json, Path, Query};
use poem::{EndpointExt, IntoResponse, Request, Response, Route, Server, get, handler};
use serde_json::json;

pub const ACCOUNT_SID: &str = "ACfake0000000000000000000000000000";
pub const AUTH_TOKEN: &str = "fake-auth-token-for-tests";

#[derive(Debug, Clone)]
pub struct FakeMessage {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub body: String,
    pub status_callback: Option<String>,
    pub received_at: Instant,
    pub date_created: chrono::DateTime<chrono::Utc>,
}

#[derive(Default)]
struct State {
    messages: Vec<FakeMessage>,
    /// Answer 500 to this many requests before accepting again.
    fail_next: usize,
    /// Numbers answered with this Twilio error code (HTTP 400).
    refused: HashMap<String, u32>,
}

#[derive(Clone)]
pub struct FakeSms {
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    http: reqwest::Client,
}

fn twilio_error(status: StatusCode, code: u32, message: &str) -> Response {
    (
        status,
        Json(json!({"code": code, "message": message, "more_info": "https://www.twilio.com/docs/errors", "status": status.as_u16()})),
    )
        .into_response()
}

fn authorised(req: &Request, sid: &str) -> bool {
    use base64::Engine;
    let expected = base64::engine::general_purpose::STANDARD.encode(format!("{sid}:{AUTH_TOKEN}"));
    req.header("authorization") == Some(&format!("Basic {expected}")) && sid == ACCOUNT_SID
}

fn resource(m: &FakeMessage, status: &str) -> serde_json::Value {
    json!({
        "sid": m.sid, "account_sid": ACCOUNT_SID, "to": m.to, "from": m.from, "body": m.body,
        "status": status, "num_segments": "1", "direction": "outbound-api",
        "date_created": m.date_created.to_rfc2822(), "error_code": null, "error_message": null,
    })
}

#[handler]
fn create(
    req: &Request,
    Path(sid): Path<String>,
    Form(form): Form<HashMap<String, String>>,
    state: Data<&Arc<Mutex<State>>>,
) -> Response {
    let mut s = match state.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if !authorised(req, &sid) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    if s.fail_next > 0 {
        s.fail_next -= 1;
        return twilio_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            20500,
            "Internal Server Error",
        );
    }
    let (Some(to), Some(body)) = (form.get("To"), form.get("Body")) else {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21604,
            "A 'To' phone number is required.",
        );
    };
    let from = form
        .get("From")
        .or_else(|| form.get("MessagingServiceSid"))
        .cloned()
        .unwrap_or_default();
    if from.is_empty() {
        return twilio_error(
            StatusCode::BAD_REQUEST,
            21603,
            "A 'From' phone number is required.",
        );
    }
    if let Some(code) = s.refused.get(to) {
        let text = match code {
            21610 => "Attempt to send to unsubscribed recipient",
            _ => "The 'To' number is not a valid phone number.",
        };
        return twilio_error(StatusCode::BAD_REQUEST, *code, text);
    }
    let m = FakeMessage {
        sid: format!("SM{}", uuid::Uuid::new_v4().simple()),
        to: to.clone(),
        from,
        body: body.clone(),
        status_callback: form.get("StatusCallback").cloned(),
        received_at: Instant::now(),
        date_created: chrono::Utc::now(),
    };
    let answer = resource(&m, "queued");
    s.messages.push(m);
    (StatusCode::CREATED, Json(answer)).into_response()
}

#[handler]
fn list(
    req: &Request,
    Path(sid): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    state: Data<&Arc<Mutex<State>>>,
) -> Response {
    let s = match state.lock() {
        Ok(s) => s,
        Err(p) => p.into_inner(),
    };
    if !authorised(req, &sid) {
        return twilio_error(StatusCode::UNAUTHORIZED, 20003, "Authenticate");
    }
    let matching: Vec<&FakeMessage> = s
        .messages
        .iter()
        .rev()
        .filter(|m| q.get("To").is_none_or(|t| *t == m.to))
        .filter(|m| q.get("From").is_none_or(|f| *f == m.from))
        .collect();
    let size: usize = q
        .get("PageSize")
        .and_then(|p| p.parse().ok())
        .unwrap_or(50)
        .clamp(1, 1000);
    let page: usize = q.get("Page").and_then(|p| p.parse().ok()).unwrap_or(0);
    let items: Vec<serde_json::Value> = matching
        .iter()
        .skip(page * size)
        .take(size)
        .map(|m| resource(m, "sent"))
        .collect();
    let next = ((page + 1) * size < matching.len()).then(|| {
        let mut next = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in &q {
            if k != "Page" {
                next.append_pair(k, v);
            }
        }
        next.append_pair("Page", &(page + 1).to_string());
        format!("/2010-04-01/Accounts/{sid}/Messages.json?{}", next.finish())
    });
    Json(json!({"messages": items, "page": page, "page_size": size, "next_page_uri": next}))
        .into_response()
}

impl FakeSms {
    pub async fn start() -> anyhow::Result<Self> {
        let state = Arc::new(Mutex::new(State::default()));
        let acceptor = TcpListener::bind("127.0.0.1:0").into_acceptor().await?;
        let addr = acceptor
            .local_addr()
            .first()
            .and_then(|a| a.as_socket_addr().copied())
            .ok_or_else(|| anyhow::anyhow!("fake SMS provider has no address"))?;
        let app = Route::new()
            .at(
                "/2010-04-01/Accounts/:sid/Messages.json",
                get(list).post(create),
            )
            .data(state.clone());
        tokio::spawn(async move {
            let _ = Server::new_with_acceptor(acceptor).run(app).await;
        });
        Ok(Self {
            addr,
            state,
            http: reqwest::Client::new(),
        })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The settings that point Pitwall at this provider.
    pub fn env(&self, from: &str) -> Vec<(String, String)> {
        vec![
            ("TWILIO_ACCOUNT_SID".into(), ACCOUNT_SID.into()),
            ("TWILIO_AUTH_TOKEN".into(), AUTH_TOKEN.into()),
            ("TWILIO_API_BASE".into(), self.url()),
            ("TWILIO_FROM".into(), from.into()),
        ]
    }

    fn with<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let mut s = match self.state.lock() {
            Ok(s) => s,
            Err(p) => p.into_inner(),
        };
        f(&mut s)
    }

    pub fn messages(&self) -> Vec<FakeMessage> {
        self.with(|s| s.messages.clone())
    }

    pub fn fail_next(&self, n: usize) {
        self.with(|s| s.fail_next = n);
    }

    /// Answer texts to `number` with Twilio error `code` (21211 invalid
    /// number, 21610 unsubscribed).
    pub fn refuse(&self, number: &str, code: u32) {
        self.with(|s| s.refused.insert(number.to_owned(), code));
    }

    /// Waits until `n` messages have arrived; fails the test when they have
    /// not within `secs` (a caller must never go on with fewer).
    pub async fn wait_for(&self, n: usize, secs: u64) -> Vec<FakeMessage> {
        let until = Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            if Instant::now() > until {
                let bodies: Vec<&str> = m.iter().map(|x| x.body.as_str()).collect();
                panic!(
                    "{n} texts expected at the provider within {secs} s, {} arrived: {bodies:?}",
                    m.len()
                );
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Posts a signed webhook to Pitwall as the provider would.
    pub async fn post_signed(
        &self,
        url: &str,
        params: &[(&str, &str)],
    ) -> anyhow::Result<(StatusCode, String)> {
        let owned: Vec<(String, String)> = params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let sig = pitwall_jobs::sms::signature(AUTH_TOKEN, url, &owned);
        let r = self
            .http
            .post(url)
            .header("X-Twilio-Signature", sig)
            .form(&owned)
            .send()
            .await?;
        let status = StatusCode::from_u16(r.status().as_u16())?;
        Ok((status, r.text().await?))
    }

    /// The delivery receipt for a message it took.
    pub async fn report(
        &self,
        m: &FakeMessage,
        status: &str,
        error_code: Option<&str>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let url = m
            .status_callback
            .clone()
            .ok_or_else(|| anyhow::anyhow!("the message had no StatusCallback"))?;
        let mut params = vec![
            ("AccountSid", ACCOUNT_SID),
            ("MessageSid", m.sid.as_str()),
            ("MessageStatus", status),
            ("To", m.to.as_str()),
            ("From", m.from.as_str()),
        ];
        if let Some(c) = error_code {
            params.push(("ErrorCode", c));
        }
        self.post_signed(&url, &params).await
    }

    /// A text from a customer to `to`, delivered to Pitwall's inbound
    /// webhook at `base_url`.
    pub async fn text_in(
        &self,
        base_url: &str,
        from: &str,
        to: &str,
        body: &str,
    ) -> anyhow::Result<(StatusCode, String)> {
        let sid = format!("SM{}", uuid::Uuid::new_v4().simple());
        self.post_signed(
            &format!("{base_url}/webhooks/twilio/inbound"),
            &[
                ("AccountSid", ACCOUNT_SID),
                ("MessageSid", &sid),
                ("From", from),
                ("To", to),
                ("Body", body),
                ("NumMedia", "0"),
            ],
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    /// A test waiting for texts that never come fails there, instead of
    /// going on with fewer.
    #[tokio::test]
    #[should_panic(expected = "1 texts expected at the provider within 0 s, 0 arrived")]
    async fn wait_for_fails_when_the_texts_do_not_come() {
        let fake = super::FakeSms::start().await.expect("fake provider");
        fake.wait_for(1, 0).await;
    }
}
