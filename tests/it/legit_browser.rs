//! Safety must not wreck ordinary mail: the legitimate corpus (`tests/fixtures/legit/`: receipts,
//! newsletters, notifications, replies from desktop clients, right-to-left text) opened in headless
//! Chromium through the real message page. In the body frame, every expected text is shown, the
//! colours, alignments, borders and paddings that make each mail look right are computed as the
//! sender meant them, inline images load at their size, remote images stay blocked and links keep
//! their targets. A screenshot of each page is written for a person to look at.

use std::path::PathBuf;

use serde_json::Value;
use thirtyfour::prelude::*;

use crate::support::browser::Browser;
use crate::support::imap_probe::Probe;
use crate::support::{TestApp, new_account};

fn legit_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/legit")
}

/// Runs inside the body frame: what the reader sees, for the checks of `expect.json`.
const PROBE: &str = r#"
const want = arguments[0];
const text = document.body.innerText.replace(/\s+/g, ' ');
const out = [];
for (const t of want.texts) {
  if (!text.includes(t.replace(/\s+/g, ' '))) out.push('text not shown: ' + JSON.stringify(t));
}
for (const s of want.styles) {
  const el = document.querySelector(s.selector);
  if (!el) { out.push('no element for ' + s.selector + ' (' + s.why + ')'); continue; }
  const got = getComputedStyle(el).getPropertyValue(s.property);
  if (got !== s.value) out.push(s.why + ': ' + s.property + ' is ' + got + ', not ' + s.value);
}
const imgs = [...document.images];
for (const i of want.images) {
  const el = imgs.find(e => e.alt === i.alt);
  if (!el) { out.push('inline image missing: ' + i.alt); continue; }
  if (!el.complete || el.naturalWidth !== i.width || el.naturalHeight !== i.height)
    out.push('inline image ' + i.alt + ' not loaded at ' + i.width + 'x' + i.height +
             ' (' + el.naturalWidth + 'x' + el.naturalHeight + ')');
}
for (const alt of want.remote_images) {
  const el = imgs.find(e => e.alt === alt);
  if (el && el.naturalWidth > 0) out.push('remote image loaded without consent: ' + alt);
}
const anchors = [...document.querySelectorAll('a[href]')];
for (const l of want.links) {
  const a = anchors.find(e => e.textContent.trim() === l.text);
  if (!a) { out.push('link missing: ' + l.text); continue; }
  if (a.href !== new URL(l.href).href) out.push('link ' + l.text + ' goes to ' + a.href);
  if (a.target !== '_blank' || !/noopener/.test(a.rel)) out.push('link ' + l.text + ' opens in place');
}
return out;
"#;

#[tokio::test]
async fn ordinary_html_mail_looks_as_its_sender_meant() {
    let expect: serde_json::Map<String, Value> =
        serde_json::from_slice(&std::fs::read(legit_dir().join("expect.json")).unwrap()).unwrap();
    let mut names: Vec<&String> = expect.keys().collect();
    names.sort();
    assert!(names.len() >= 10, "the legitimate corpus: {}", names.len());

    let app = TestApp::start().await;
    let acct = new_account("legit-browser");
    let mut probe = Probe::connect(&acct).await;
    for name in &names {
        probe
            .append("INBOX", "", &std::fs::read(legit_dir().join(name)).unwrap())
            .await;
    }
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("legit-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let browser = Browser::start_with(&["--window-size=1280,1800".to_owned()]).await;
    browser
        .login(&app.base, &acct.address, &acct.password)
        .await;
    let d = &browser.driver;
    let mut problems = Vec::new();
    for (i, name) in names.iter().enumerate() {
        d.goto(format!("{}/mail/INBOX/{}", app.base, i + 1))
            .await
            .unwrap();
        let frame = d
            .query(By::Css("iframe.body-frame"))
            .first()
            .await
            .unwrap_or_else(|e| panic!("{name}: no body frame: {e}"));
        frame.clone().enter_frame().await.unwrap();
        // The frame's document is loaded once its body holds something.
        let mut found = Vec::new();
        for _ in 0..50 {
            let ret = d
                .execute(PROBE, vec![expect[name.as_str()].clone()])
                .await
                .unwrap_or_else(|e| panic!("{name}: the probe did not run: {e}"));
            found = serde_json::from_value::<Vec<String>>(ret.json().clone()).unwrap();
            if found.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        problems.extend(found.into_iter().map(|p| format!("{name}: {p}")));
        d.enter_default_frame().await.unwrap();
        d.screenshot(&shots.join(name.replace(".eml", ".png")))
            .await
            .unwrap();
        for line in browser.console().await {
            if line.starts_with("SEVERE") {
                problems.push(format!("{name}: console {line}"));
            }
        }
    }
    browser.quit().await;
    eprintln!("screenshots: {}", shots.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
