//! A Courrier instance for one test, on a free port, configured against the mail stack, and an HTTP
//! client that keeps cookies and does not follow redirects (tests look at them).

use courrier::app::{self, AppState};
use courrier::config::Config;
use reqwest::{Client, Response, StatusCode, redirect};

use super::mailstack::{Account, IMAP_PORT, stack};

pub struct TestApp {
    pub base: String,
    pub state: AppState,
    pub client: Client,
    /// The settings it was started with, for a restart.
    env: Vec<(String, String)>,
    /// Stops the server (the first browser of an instance holds it).
    stop: Option<(
        tokio::sync::oneshot::Sender<()>,
        tokio::task::JoinHandle<()>,
    )>,
}

/// The `COURRIER_*` settings of a test instance (IMAP STARTTLS against the stack, its CA, any free
/// port), with `extra` last so it wins.
pub fn test_env(extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let s = stack();
    let mut env: Vec<(String, String)> = vec![
        ("COURRIER_IMAP_HOST".into(), "127.0.0.1".into()),
        ("COURRIER_IMAP_PORT".into(), IMAP_PORT.to_string()),
        ("COURRIER_IMAP_SECURITY".into(), "starttls".into()),
        (
            "COURRIER_TLS_CA_FILE".into(),
            s.ca_file.display().to_string(),
        ),
        ("COURRIER_SERVER_LISTEN".into(), "127.0.0.1:0".into()),
        // Each instance its own data directory (its session store is held by one process).
        (
            "COURRIER_SERVER_DATA_DIR".into(),
            std::env::temp_dir()
                .join(format!("courrier-it-{}", rand::random::<u64>()))
                .display()
                .to_string(),
        ),
    ];
    env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    env
}

impl TestApp {
    /// Courrier with the default test configuration (IMAP STARTTLS with the stack's CA).
    pub async fn start() -> TestApp {
        Self::with(&[]).await
    }

    /// Courrier with extra `COURRIER_*` settings.
    pub async fn with(extra: &[(&str, &str)]) -> TestApp {
        Self::from_env(test_env(extra), client()).await
    }

    async fn from_env(env: Vec<(String, String)>, client: Client) -> TestApp {
        let config = Config::load(None, env.clone()).expect("test configuration");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = AppState::new(config).expect("test instance");
        let st = state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let served = tokio::spawn(async move {
            // Only `restart` stops it; a browser dropped at the end of a test does not.
            let stop = async {
                if rx.await.is_err() {
                    std::future::pending::<()>().await;
                }
            };
            app::serve(listener, st, stop).await.unwrap();
        });
        TestApp {
            base,
            state,
            client,
            env,
            stop: Some((tx, served)),
        }
    }

    /// Stops this instance, as an upgrade does (its memory and its IMAP connections are gone), and
    /// starts a new one on the same data directory and settings; the browser keeps its cookies.
    pub async fn restart(self) -> TestApp {
        self.restart_with(|| {}).await
    }

    /// A restart with `meanwhile` done while no instance runs (an operator's change).
    pub async fn restart_with(mut self, meanwhile: impl FnOnce()) -> TestApp {
        let (tx, served) = self.stop.take().expect("the instance's first browser");
        let _ = tx.send(());
        served.await.unwrap();
        let (env, client) = (self.env.clone(), self.client.clone());
        drop(self);
        meanwhile();
        Self::from_env(env, client).await
    }

    /// Courrier whose IMAP goes through `proxy` (plain, on loopback), to count or break commands.
    pub async fn behind(proxy: &super::proxy::FaultProxy) -> TestApp {
        let port = proxy.port.to_string();
        Self::with(&[
            ("COURRIER_IMAP_PORT", &port),
            ("COURRIER_IMAP_SECURITY", "none"),
        ])
        .await
    }

    /// Another browser on the same instance: its own cookies, so its own session.
    pub fn other_browser(&self) -> TestApp {
        TestApp {
            base: self.base.clone(),
            state: self.state.clone(),
            client: client(),
            env: self.env.clone(),
            stop: None,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .header("accept-language", "en")
            .send()
            .await
            .unwrap()
    }

    pub async fn get_lang(&self, path: &str, lang: &str) -> Response {
        self.client
            .get(format!("{}{}", self.base, path))
            .header("accept-language", lang)
            .send()
            .await
            .unwrap()
    }

    /// GET that must answer 200; returns the body.
    pub async fn page(&self, path: &str) -> String {
        let r = self.get(path).await;
        let status = r.status();
        let body = r.text().await.unwrap();
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    pub async fn post_form(&self, path: &str, form: &[(&str, &str)], lang: &str) -> Response {
        self.client
            .post(format!("{}{}", self.base, path))
            .header("accept-language", lang)
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Posts the login form as a browser does: the form's token comes from the login page.
    pub async fn post_login(&self, fields: &[(&str, &str)], lang: &str) -> Response {
        let page = self.get_lang("/login", lang).await.text().await.unwrap();
        let token = form_token(&page);
        let mut form = fields.to_vec();
        form.push(("csrf", &token));
        self.post_form("/login", &form, lang).await
    }

    /// Posts the login form with the account's address and password.
    pub async fn try_login(&self, account: &Account) -> Response {
        self.post_login(
            &[("email", &account.address), ("password", &account.password)],
            "en",
        )
        .await
    }

    /// Logs in and checks the redirect to the inbox.
    pub async fn login(&self, account: &Account) {
        let r = self.try_login(account).await;
        let status = r.status();
        let location = r
            .headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let body = r.text().await.unwrap();
        assert_eq!(status, StatusCode::SEE_OTHER, "login failed: {body}");
        assert_eq!(location.as_deref(), Some("/mail/INBOX"));
    }
}

/// The `courrier` session cookie a response sets, as `name=value`.
pub fn session_cookie(r: &Response) -> Option<String> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("courrier="))
        .map(|v| v.split(';').next().unwrap().to_owned())
}

/// Logs in through the form with a browser whose cookies the test handles itself: the cookie the
/// login page set (before logging in) and the session cookie of the logged-in session.
pub async fn login_by_cookie(app: &TestApp, acct: &Account) -> (String, String) {
    let client = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    let r = client
        .get(format!("{}/login", app.base))
        .send()
        .await
        .unwrap();
    let anonymous = session_cookie(&r).expect("the login page starts a session");
    let token = form_token(&r.text().await.unwrap());
    let r = client
        .post(format!("{}/login", app.base))
        .header("cookie", &anonymous)
        .form(&[
            ("email", acct.address.as_str()),
            ("password", acct.password.as_str()),
            ("csrf", token.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "logged in");
    (anonymous, session_cookie(&r).expect("a session cookie"))
}

/// The CSRF token of the first form of a page (the login form's, or a logged-in page's).
pub fn form_token(page: &str) -> String {
    let key = "name=\"csrf\" value=\"";
    let start = page.find(key).expect("a form with its token") + key.len();
    let end = start + page[start..].find('"').unwrap();
    page[start..end].to_owned()
}

/// A browser (cookies kept, redirects not followed) that logged in as `account` at `base`, a
/// Courrier started apart (a process, or behind a proxy); with the login's answer.
pub async fn browser_logged_in(base: &str, account: &Account) -> (Client, Response) {
    let browser = client();
    let r = log_in(&browser, base, &account.address, &account.password).await;
    (browser, r)
}

/// Posts the login form in `browser` at `base`, with the form's token from the login page.
pub async fn log_in(browser: &Client, base: &str, address: &str, password: &str) -> Response {
    let page = browser
        .get(format!("{base}/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    browser
        .post(format!("{base}/login"))
        .form(&[
            ("email", address),
            ("password", password),
            ("csrf", &form_token(&page)),
        ])
        .send()
        .await
        .unwrap()
}

fn client() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(redirect::Policy::none())
        .build()
        .unwrap()
}
