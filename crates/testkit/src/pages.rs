//! Driving the server-rendered pages as a browser would, without one:
//! a cookie jar, the sign-in form, and the CSRF token of a form.

use crate::{PASSWORD, StatusCode, TestApp};

/// A browser-like client with its own cookie jar, not following redirects
/// (tests look at where a form sends them).
pub fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("a reqwest client")
}

/// Signs `email` in through the login form (the test password); the
/// session cookie lands in `c`'s jar. Answers the login response.
pub async fn sign_in(t: &TestApp, c: &reqwest::Client, email: &str) -> reqwest::Response {
    let r = c
        .post(t.url("/login"))
        .form(&[("email", email), ("password", PASSWORD)])
        .send()
        .await
        .expect("the login form answers");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "sign-in of {email}");
    r
}

/// GET `path`: its status and body.
pub async fn page(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c.get(t.url(path)).send().await.expect("the page answers");
    (r.status(), r.text().await.unwrap_or_default())
}

/// GET `path` as the live script re-reads a region (`x-fragment: 1`): its
/// status and body.
pub async fn fragment(t: &TestApp, c: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let r = c
        .get(t.url(path))
        .header("x-fragment", "1")
        .send()
        .await
        .expect("the fragment answers");
    (r.status(), r.text().await.unwrap_or_default())
}

/// The CSRF token of the (first) form in `html`.
pub fn csrf_of(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token");
    html[at + 19..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
