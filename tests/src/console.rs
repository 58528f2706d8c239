//! The web console seen over HTTP, as a browser without scripts would: a
//! session cookie from signing in, and the CSRF token its pages carry.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, HeaderMap, HeaderValue, ORIGIN};

use crate::TestServer;

/// A signed-in console session.
pub struct ConsoleSession {
    pub cookie: String,
    pub csrf: String,
    client: reqwest::Client,
    base: String,
}

/// The `Set-Cookie` of a sign-in, and the answer's status.
pub async fn sign_in_answer(
    server: &TestServer,
    api_key: &str,
) -> (StatusCode, Option<String>, String) {
    let client = no_redirects();
    let response = client
        .post(server.url("/console/sign-in"))
        .header(ORIGIN, &server.base)
        .form(&[("api_key", api_key)])
        .send()
        .await
        .unwrap_or_else(|e| panic!("sign in: {e}"));
    let status = response.status();
    let cookie = response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (status, cookie, response.text().await.unwrap_or_default())
}

fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

impl ConsoleSession {
    pub async fn sign_in(server: &TestServer, api_key: &str) -> Self {
        let (status, cookie, body) = sign_in_answer(server, api_key).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        let cookie = cookie.unwrap_or_else(|| panic!("no session cookie"));
        let pair = cookie.split(';').next().unwrap_or_default().to_owned();
        let mut session = Self {
            cookie: pair,
            csrf: String::new(),
            client: no_redirects(),
            base: server.base.clone(),
        };
        let (status, page) = session.get("/console/overview").await;
        assert_eq!(status, StatusCode::OK, "{page}");
        session.csrf = csrf_of(&page).unwrap_or_else(|| panic!("no CSRF token in {page}"));
        session
    }

    /// A page: its status and HTML.
    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let response = self.request(path).await;
        let status = response.status();
        (status, response.text().await.unwrap_or_default())
    }

    /// The answer to a GET of `path` with the signed-in cookie.
    async fn request(&self, path: &str) -> reqwest::Response {
        self.client
            .get(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"))
    }

    /// A write as htmx sends it: same origin, the CSRF token in its header.
    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, HeaderMap, String) {
        self.post_with(path, form, Some(&self.csrf), Some(&self.base))
            .await
    }

    /// A write with the CSRF token and `Origin` given (or left out).
    pub async fn post_with(
        &self,
        path: &str,
        form: &[(&str, &str)],
        csrf: Option<&str>,
        origin: Option<&str>,
    ) -> (StatusCode, HeaderMap, String) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header(COOKIE, &self.cookie)
            .header("HX-Request", "true")
            .form(form);
        if let Some(csrf) = csrf {
            request = request.header(
                "X-CSRF-Token",
                HeaderValue::from_str(csrf).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        if let Some(origin) = origin {
            request = request.header(ORIGIN, origin);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        let status = response.status();
        let headers = response.headers().clone();
        (status, headers, response.text().await.unwrap_or_default())
    }
}

impl ConsoleSession {
    /// A live part of a page (`sse-connect`), as the browser reads it.
    pub async fn stream(
        &self,
        path: &str,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = eventsource_stream::Event> + Send>> {
        use eventsource_stream::Eventsource;
        use futures::StreamExt;
        let response = self.request(path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        Box::pin(
            response
                .bytes_stream()
                .eventsource()
                .map(|e| e.unwrap_or_else(|e| panic!("malformed SSE: {e}"))),
        )
    }
}

/// The value of the first `attribute="…"` on a page.
pub fn attribute_of(page: &str, attribute: &str) -> Option<String> {
    let marker = format!("{attribute}=\"");
    let start = page.find(&marker)? + marker.len();
    let rest = &page[start..];
    Some(rest[..rest.find('"')?].replace("&amp;", "&"))
}

/// The CSRF token a page carries in its `hx-headers`.
pub fn csrf_of(page: &str) -> Option<String> {
    let start = page.find("\"X-CSRF-Token\": \"")? + "\"X-CSRF-Token\": \"".len();
    let rest = &page[start..];
    Some(rest[..rest.find('"')?].to_owned())
}
