//! A real browser for the behaviours that live in JavaScript: Debian's headless Chromium driven by
//! chromedriver (both installed by scripts/test), one chromedriver per test on a free port.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use thirtyfour::prelude::*;

pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
}

impl Browser {
    pub async fn start() -> Browser {
        Self::start_with(&[]).await
    }

    /// A browser started with extra Chromium switches (a proxy, say).
    pub async fn start_with(extra: &[String]) -> Browser {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let chromedriver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver (apt-get install chromium-driver; scripts/test does it)");
        let mut caps = DesiredCapabilities::chrome();
        caps.set_binary("/usr/bin/chromium").unwrap();
        for arg in [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1200,900",
        ] {
            caps.add_arg(arg).unwrap();
        }
        for arg in extra {
            caps.add_arg(arg).unwrap();
        }
        // Console output of every frame, for tests that look for script that ran.
        caps.set_browser_log_level(thirtyfour::LoggingPrefsLogLevel::All)
            .unwrap();
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..50 {
            match WebDriver::new(&url, caps.clone()).await {
                Ok(driver) => {
                    return Browser {
                        driver,
                        chromedriver,
                    };
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            }
        }
        panic!("chromedriver did not start: {last:?}");
    }

    /// Logs in through the real form.
    pub async fn login(&self, base: &str, address: &str, password: &str) {
        self.driver.goto(format!("{base}/login")).await.unwrap();
        self.driver
            .find(By::Id("email"))
            .await
            .unwrap()
            .send_keys(address)
            .await
            .unwrap();
        self.driver
            .find(By::Id("password"))
            .await
            .unwrap()
            .send_keys(password)
            .await
            .unwrap();
        self.driver
            .find(By::Css("form button[type=submit]"))
            .await
            .unwrap()
            .click()
            .await
            .unwrap();
        self.driver
            .query(By::Css("table.messages, p.empty"))
            .first()
            .await
            .expect("the inbox after login");
    }

    /// Console messages and page errors since the last call, as `LEVEL message`.
    pub async fn console(&self) -> Vec<String> {
        self.driver
            .browser_log()
            .await
            .expect("the browser log (goog:loggingPrefs)")
            .into_iter()
            .map(|e| format!("{} {}", e.level, e.message))
            .collect()
    }

    pub async fn quit(self) {
        let _ = self.driver.clone().quit().await;
    }
}

impl Drop for Browser {
    // Also on a failed assertion: no chromedriver (and its Chromium) left behind.
    fn drop(&mut self) {
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}
