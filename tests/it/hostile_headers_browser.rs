//! Issue "Every header a person reads is hostile", in a real browser: the key header fixtures
//! (Mailsploit, a name that is another address, an invalid address, a homograph domain, a
//! right-to-left override in an attachment name, and legitimate Arabic and Hebrew names) opened in
//! headless Chromium, in English and in French, list and message page.
//!
//! What the reader sees is read from the laid-out DOM, not the HTML: the sender's `innerText` holds
//! the real address or domain (never an impersonated address alone), its tooltip is the real
//! address, the marker or warning is displayed with a size and in the page's language, attachment
//! names and addresses are drawn left to right character by character (no override survived), and a
//! right-to-left name stays inside its isolate instead of reordering the address after it. The
//! console must stay empty: no error and no Content Security Policy violation. A screenshot of each
//! page is written for a person to look at.

use std::path::PathBuf;

use serde_json::{Value, json};
use thirtyfour::prelude::*;

use crate::hostile_headers::{Expect, LIST_TEXT, Lang, PAGE_TEXT, cut, expectations, warning};
use crate::support::browser::Browser;
use crate::support::imap_probe::Probe;
use crate::support::{TestApp, new_account};

/// The fixtures opened in the browser, by number.
const KEY: &[&str] = &["133", "140", "141", "150", "151", "153", "155"];

/// What the probes need to know of one fixture, in one language.
fn want(e: &Expect, uid: usize, lang: Lang) -> Value {
    // What the row's sender must show: for a suspicious sender its real domain (or, invalid, the
    // text as sent); otherwise its name, or its address when it has none.
    let row_shows = if !e.sender.valid {
        e.sender.shown(LIST_TEXT)
    } else if e.flag {
        e.domain().to_owned()
    } else {
        match &e.sender.name {
            Some(n) => cut(n, LIST_TEXT),
            None => e.sender.shown(LIST_TEXT),
        }
    };
    json!({
        "file": e.file,
        "uid": uid,
        "address": e.sender.address,
        "address_list": e.sender.shown(LIST_TEXT),
        "address_page": e.sender.shown(PAGE_TEXT),
        "valid": e.sender.valid,
        "flag": e.flag,
        "row_shows": row_shows,
        "row_warning": warning(lang, &e.sender, LIST_TEXT, true),
        "page_warning": format!("⚠ {}", warning(lang, &e.sender, PAGE_TEXT, true)),
        "hidden": e.hidden,
        "attachments": e.attachments,
        "rtl": e.file.contains("-rtl-"),
    })
}

/// Helpers shared by the probes: is an element drawn, and are the characters of an element drawn
/// in their logical order from left to right (what an override would break)?
const HELPERS: &str = r#"
const shown = el => {
  if (!el) return false;
  const s = getComputedStyle(el), r = el.getBoundingClientRect();
  return s.display !== 'none' && s.visibility === 'visible' && parseFloat(s.opacity) > 0
    && r.width > 0 && r.height > 0;
};
// Displayed is not enough: a cell with `overflow: hidden` cuts what does not fit, and what is cut
// off is not seen. Why an element cannot be seen whole, or '' when it can.
const drawn = el => {
  if (!shown(el)) return 'not displayed';
  const r = el.getBoundingClientRect();
  for (let a = el.parentElement; a && a !== document.body; a = a.parentElement) {
    const s = getComputedStyle(a);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const c = a.getBoundingClientRect();
    if (r.left < c.left - 1 || r.right > c.right + 1 || r.top < c.top - 1 || r.bottom > c.bottom + 1)
      return 'cut off by its ' + a.tagName.toLowerCase() + '.' + [...a.classList].join('.')
        + ' (overflow ' + s.overflowX + ')';
  }
  const hit = document.elementFromPoint((r.left + r.right) / 2, (r.top + r.bottom) / 2);
  if (!hit || !(hit === el || el.contains(hit))) return 'covered by ' + (hit ? hit.outerHTML.slice(0, 80) : 'nothing');
  return '';
};
const leftToRight = el => {
  const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
  let prev = null, n;
  while ((n = walker.nextNode())) {
    for (let i = 0; i < n.length; i++) {
      if (/\s/.test(n.data[i])) continue;
      const range = document.createRange();
      range.setStart(n, i);
      range.setEnd(n, i + 1);
      const r = range.getBoundingClientRect();
      if (r.width === 0) continue;
      // Characters past the edge of a box that clips them (a name cut with an ellipsis) are not
      // drawn: their place says nothing of the order a reader sees.
      const clip = n.parentElement.closest('.label');
      if (clip && r.left >= clip.getBoundingClientRect().right - 0.5) continue;
      if (prev && Math.abs(r.top - prev.top) < 2 && r.left < prev.left - 0.5)
        return 'character ' + JSON.stringify(n.data[i]) + ' at ' + i + ' is drawn left of the one before';
      prev = r;
    }
  }
  return '';
};
"#;

/// Runs on the list page: each key fixture's row.
const LIST_PROBE: &str = r#"
const out = [];
for (const w of arguments[0]) {
  const link = document.querySelector('td.subject a[href="/mail/INBOX/' + w.uid + '"]');
  if (!link) { out.push(w.file + ': no row'); continue; }
  const row = link.closest('tr');
  const addr = row.querySelector('td.from .addr');
  if (!addr) { out.push(w.file + ': no sender in the row'); continue; }
  // The parts of a row's sender are laid out side by side (flex items, which innerText puts on
  // lines of their own): the row reads as one line.
  const text = addr.innerText.replace(/\n/g, '');
  if (addr.title !== w.address && addr.title !== w.address_list)
    out.push(w.file + ': row tooltip ' + JSON.stringify(addr.title) + ' is not ' + JSON.stringify(w.address));
  if (!text.includes(w.row_shows))
    out.push(w.file + ': row sender reads ' + JSON.stringify(text) + ', without ' + JSON.stringify(w.row_shows));
  for (const h of w.hidden)
    if (text.includes(h) || addr.title.includes(h)) out.push(w.file + ': row shows ' + JSON.stringify(h));
  const flag = addr.querySelector('.addr-flag');
  if (w.flag) {
    const why = drawn(flag);
    if (why) out.push(w.file + ': the row marker cannot be seen: ' + why
      + ' (the row shows ' + JSON.stringify(text) + ')');
    if (flag) {
      if (flag.getAttribute('aria-label') !== w.row_warning || flag.title !== w.row_warning)
        out.push(w.file + ': row marker says ' + JSON.stringify(flag.title) + ', not ' + JSON.stringify(w.row_warning));
      if (!text.includes('⚠')) out.push(w.file + ': the marker is not in the visible text ' + JSON.stringify(text));
    }
  } else if (flag) out.push(w.file + ': a marker on a sender that is fine');
  if (w.flag && w.valid) {
    const why = drawn(addr.querySelector('.real-domain'));
    if (why) out.push(w.file + ': the real domain beside the name cannot be seen: ' + why);
  }
  if (w.flag) {
    const order = leftToRight(addr);
    if (order) out.push(w.file + ': row sender: ' + order);
  }
  // A right-to-left name stays in its cell: the cells keep their order on screen.
  const cells = ['td.from', 'td.subject', 'td.date'].map(c => row.querySelector(c).getBoundingClientRect());
  if (!(cells[0].right <= cells[1].left + 1 && cells[1].right <= cells[2].left + 1))
    out.push(w.file + ': the row cells are out of order on screen');
  const date = row.querySelector('td.date');
  if (date.innerText.trim() !== date.textContent.trim())
    out.push(w.file + ': the date reads ' + JSON.stringify(date.innerText));
}
return out;
"#;

/// Runs on a message page.
const MESSAGE_PROBE: &str = r#"
const w = arguments[0], out = [];
const addr = document.querySelector('dd.from .addr');
if (!addr) return [w.file + ': no sender'];
const text = addr.innerText;
if (addr.title !== w.address_page)
  out.push(w.file + ': tooltip ' + JSON.stringify(addr.title) + ' is not ' + JSON.stringify(w.address_page));
const real = w.valid ? addr.querySelector('.email') : addr.querySelector('bdi.wire');
const realText = w.valid ? '<' + w.address_page + '>' : w.address_page;
if (drawn(real) || real.innerText !== realText)
  out.push(w.file + ': the real address reads ' + JSON.stringify(real && real.innerText) + ', not ' + JSON.stringify(realText));
else {
  const order = leftToRight(real);
  if (order) out.push(w.file + ': the address: ' + order);
}
for (const h of w.hidden)
  if (document.body.innerText.includes(h) || document.title.includes(h))
    out.push(w.file + ': the page shows ' + JSON.stringify(h));
const warn = addr.querySelector('.addr-warning');
if (w.flag) {
  if (drawn(warn)) out.push(w.file + ': the warning cannot be seen: ' + drawn(warn));
  else if (warn.innerText.trim() !== w.page_warning)
    out.push(w.file + ': the warning says ' + JSON.stringify(warn.innerText) + ', not ' + JSON.stringify(w.page_warning));
  else if (!text.includes(w.page_warning)) out.push(w.file + ': the warning is not in the sender text');
} else if (warn) out.push(w.file + ': a warning on a sender that is fine');
if (w.rtl) {
  // The name is isolated: the address after it is drawn after it, and the date reads as written.
  const name = addr.querySelector('bdi.name'), email = addr.querySelector('.email');
  if (!name || !email) out.push(w.file + ': name or address missing');
  else if (email.getBoundingClientRect().left < name.getBoundingClientRect().right - 1)
    out.push(w.file + ': the address is drawn inside or before the right-to-left name');
  const date = document.querySelector('dd.date');
  if (date && date.innerText.trim() !== date.textContent.trim())
    out.push(w.file + ': the date reads ' + JSON.stringify(date.innerText));
}
const links = [...document.querySelectorAll('section.attachments a')];
const names = links.map(a => a.innerText.trim());
if (JSON.stringify(names) !== JSON.stringify(w.attachments))
  out.push(w.file + ': attachments read ' + JSON.stringify(names) + ', not ' + JSON.stringify(w.attachments));
for (const a of links) {
  const order = leftToRight(a);
  if (order) out.push(w.file + ': attachment ' + JSON.stringify(a.innerText) + ': ' + order);
  if (drawn(a)) out.push(w.file + ': attachment link cannot be seen: ' + drawn(a));
}
return out;
"#;

/// Runs once: the probes' own checks see what they look for (an override reordering characters, a
/// marker cut off by its cell) and the console reaches the test.
const CONTROL_PROBE: &str = r#"
const out = [];
const cell = document.createElement('div');
cell.style.cssText = 'width:60px;overflow:hidden;white-space:nowrap';
cell.innerHTML = '<span id="ctl-rlo">invoice\u202efdp.exe</span> <span id="ctl-cut">cut</span>';
document.body.prepend(cell);
if (!leftToRight(document.getElementById('ctl-rlo'))) out.push('an override is not seen');
if (!drawn(document.getElementById('ctl-cut'))) out.push('a clipped element is taken for seen');
cell.remove();
console.error('CONTROL-CONSOLE');
return out;
"#;

/// A console line that means something went wrong: an error, or a Content Security Policy report.
fn console_problem(line: &str) -> bool {
    line.starts_with("SEVERE")
        || line.contains("Content Security Policy")
        || line.contains("Refused to")
}

async fn probe(d: &WebDriver, script: &str, arg: Value) -> Vec<String> {
    let ret = d
        .execute(format!("{HELPERS}{script}"), vec![arg])
        .await
        .unwrap_or_else(|e| panic!("the probe did not run: {e}"));
    serde_json::from_value(ret.json().clone()).unwrap_or_else(|e| panic!("probe result: {e}"))
}

#[tokio::test]
async fn hostile_headers_read_true_in_the_browser() {
    let all = expectations();
    let key: Vec<&Expect> = KEY
        .iter()
        .map(|n| {
            all.iter()
                .find(|e| e.file.starts_with(&format!("{n}-")))
                .unwrap_or_else(|| panic!("fixture {n} in headers.json"))
        })
        .collect();
    let app = TestApp::start().await;
    let acct = new_account("hostile-headers-browser");
    let mut imap = Probe::connect(&acct).await;
    for e in &key {
        imap.append("INBOX", "", &e.bytes()).await;
    }
    assert_eq!(imap.uids("INBOX").await.len(), key.len());
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("hostile-headers-screenshots");
    std::fs::create_dir_all(&shots).unwrap();

    let mut problems = Vec::new();
    for lang in [Lang::En, Lang::Fr] {
        let code = lang.code();
        // Chromium's language decides its Accept-Language, which decides Courrier's.
        let browser = Browser::start_with(&[
            format!("--lang={code}"),
            format!("--accept-lang={code}"),
            "--window-size=1280,900".to_owned(),
            // The body frame's console (and its CSP reports) reach chromedriver's log too.
            "--disable-features=IsolateSandboxedIframes".to_owned(),
        ])
        .await;
        browser
            .login(&app.base, &acct.address, &acct.password)
            .await;
        let d = &browser.driver;
        let page_lang = d
            .execute("return document.documentElement.lang", vec![])
            .await
            .unwrap()
            .json()
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(page_lang, code, "the pages are in the browser's language");

        let control = probe(d, CONTROL_PROBE, json!(null)).await;
        assert!(control.is_empty(), "the probes' own checks: {control:?}");
        let seen = browser.console().await;
        assert!(
            seen.iter().any(|l| l.contains("CONTROL-CONSOLE")),
            "the console reaches the test: {seen:?}"
        );
        let wants: Vec<Value> = key
            .iter()
            .enumerate()
            .map(|(i, e)| want(e, i + 1, lang))
            .collect();
        d.goto(format!("{}/mail/INBOX", app.base)).await.unwrap();
        problems.extend(
            probe(d, LIST_PROBE, json!(wants))
                .await
                .into_iter()
                .map(|p| format!("[{code}] list: {p}")),
        );
        d.screenshot(&shots.join(format!("list-{code}.png")))
            .await
            .unwrap();
        for (i, e) in key.iter().enumerate() {
            d.goto(format!("{}/mail/INBOX/{}", app.base, i + 1))
                .await
                .unwrap();
            d.query(By::Css("dd.from"))
                .first()
                .await
                .unwrap_or_else(|err| panic!("{}: no message page: {err}", e.file));
            problems.extend(
                probe(d, MESSAGE_PROBE, wants[i].clone())
                    .await
                    .into_iter()
                    .map(|p| format!("[{code}] message: {p}")),
            );
            d.screenshot(&shots.join(format!("{}-{code}.png", &e.file[..3])))
                .await
                .unwrap();
        }
        for line in browser.console().await {
            if console_problem(&line) {
                problems.push(format!("[{code}] console: {line}"));
            }
        }
        browser.quit().await;
    }
    eprintln!("screenshots: {}", shots.display());
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
