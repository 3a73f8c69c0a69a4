//! The two languages of the interface, chosen from the browser's `Accept-Language`, with Fluent
//! message files in `locales/`, and the formatting of dates and sizes each language expects.

use std::borrow::Cow;
use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};

use crate::mail::SpecialUse;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Without this, Fluent wraps each argument in Unicode isolation marks, which would end up in
        // page titles and in what tests compare.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

/// A language of the interface.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    Fr,
}

impl Lang {
    /// The best of our languages for an `Accept-Language` header (English when none fits).
    pub fn from_accept_language(header: Option<&str>) -> Lang {
        let Some(header) = header else {
            return Lang::En;
        };
        let mut best: Option<(f32, Lang)> = None;
        for item in header.split(',') {
            let mut parts = item.trim().split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| {
                    p.trim()
                        .strip_prefix("q=")
                        .and_then(|q| q.parse::<f32>().ok())
                })
                .unwrap_or(1.0);
            let lang = match tag.split('-').next().unwrap_or("") {
                "fr" => Lang::Fr,
                "en" => Lang::En,
                _ => continue,
            };
            if q > 0.0 && best.is_none_or(|(bq, _)| q > bq) {
                best = Some((q, lang));
            }
        }
        best.map_or(Lang::En, |(_, l)| l)
    }

    /// The BCP 47 tag, for `<html lang>`.
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Fr => "fr",
        }
    }

    fn id(self) -> fluent_templates::LanguageIdentifier {
        match self {
            Lang::En => fluent_templates::langid!("en"),
            Lang::Fr => fluent_templates::langid!("fr"),
        }
    }

    /// A message without arguments.
    pub fn t(self, key: &str) -> String {
        LOCALES.lookup(&self.id(), key)
    }

    /// A message with named arguments.
    pub fn t_args(self, key: &str, args: &[(&str, String)]) -> String {
        let map: HashMap<Cow<'static, str>, FluentValue<'_>> = args
            .iter()
            .map(|(k, v)| (Cow::Owned((*k).to_owned()), FluentValue::from(v.clone())))
            .collect();
        LOCALES.lookup_with_args(&self.id(), key, &map)
    }

    /// The localised name of a special folder.
    pub fn folder_name(self, special: SpecialUse) -> String {
        self.t(match special {
            SpecialUse::Inbox => "folder-inbox",
            SpecialUse::Drafts => "folder-drafts",
            SpecialUse::Sent => "folder-sent",
            SpecialUse::Archive => "folder-archive",
            SpecialUse::Junk => "folder-junk",
            SpecialUse::Trash => "folder-trash",
        })
    }

    /// A size as people read it: `512 B`, `12 KB`, `3.4 MB` (in French `12 ko`, `3,4 Mo`).
    pub fn format_size(self, bytes: u64) -> String {
        let (units, sep) = match self {
            Lang::En => (["B", "KB", "MB", "GB"], '.'),
            Lang::Fr => (["o", "ko", "Mo", "Go"], ','),
        };
        let mut v = bytes as f64;
        let mut unit = 0;
        while v >= 1024.0 && unit < units.len() - 1 {
            v /= 1024.0;
            unit += 1;
        }
        if unit == 0 || v >= 10.0 {
            format!("{} {}", v.round() as u64, units[unit])
        } else {
            format!("{:.1} {}", v, units[unit]).replace('.', &sep.to_string())
        }
    }

    /// A date for the message list: the time for today, otherwise the day (and the year when it is
    /// not this year). Shown in the server's local time zone.
    pub fn format_list_date(self, ts: i64, now: i64) -> String {
        use chrono::{Datelike, Local, TimeZone};
        let (Some(d), Some(n)) = (
            Local.timestamp_opt(ts, 0).single(),
            Local.timestamp_opt(now, 0).single(),
        ) else {
            return String::new();
        };
        if d.date_naive() == n.date_naive() {
            return d.format("%H:%M").to_string();
        }
        let same_year = d.year() == n.year();
        match (self, same_year) {
            (Lang::En, true) => d.format("%b %-d").to_string(),
            (Lang::En, false) => d.format("%b %-d, %Y").to_string(),
            (Lang::Fr, true) => format!("{} {}", d.day(), MONTHS_FR[d.month0() as usize]),
            (Lang::Fr, false) => {
                format!(
                    "{} {} {}",
                    d.day(),
                    MONTHS_FR[d.month0() as usize],
                    d.year()
                )
            }
        }
    }

    /// A full date and time for the message view.
    pub fn format_full_date(self, ts: i64) -> String {
        use chrono::{Datelike, Local, TimeZone};
        let Some(d) = Local.timestamp_opt(ts, 0).single() else {
            return String::new();
        };
        match self {
            Lang::En => d.format("%A %-d %B %Y, %H:%M").to_string(),
            Lang::Fr => format!(
                "{} {} {} {}, {}",
                DAYS_FR[d.weekday().num_days_from_monday() as usize],
                d.day(),
                MONTHS_FR_LONG[d.month0() as usize],
                d.year(),
                d.format("%H:%M")
            ),
        }
    }
}

const MONTHS_FR: [&str; 12] = [
    "janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août", "sept.", "oct.", "nov.",
    "déc.",
];
const MONTHS_FR_LONG: [&str; 12] = [
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
];
const DAYS_FR: [&str; 7] = [
    "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_best_supported() {
        assert_eq!(
            Lang::from_accept_language(Some("fr-FR,fr;q=0.9,en;q=0.8")),
            Lang::Fr
        );
        assert_eq!(
            Lang::from_accept_language(Some("de-DE,en;q=0.5,fr;q=0.7")),
            Lang::Fr
        );
        assert_eq!(Lang::from_accept_language(Some("de")), Lang::En);
        assert_eq!(Lang::from_accept_language(None), Lang::En);
    }

    #[test]
    fn messages_exist_in_both_languages_without_isolation_marks() {
        assert_eq!(Lang::Fr.t("folder-trash"), "Corbeille");
        assert_eq!(Lang::En.t("folder-trash"), "Trash");
        let s = Lang::Fr.t_args("signed-in-as", &[("address", "a@b.c".into())]);
        assert_eq!(s, "Connecté en tant que a@b.c");
    }

    #[test]
    fn every_english_key_has_a_french_translation() {
        let en = include_str!("../locales/en/courrier.ftl");
        let fr = include_str!("../locales/fr/courrier.ftl");
        let keys = |s: &str| -> Vec<String> {
            s.lines()
                .filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_owned()))
                .collect()
        };
        let fr_keys = keys(fr);
        for k in keys(en) {
            assert!(fr_keys.contains(&k), "missing French for {k}");
        }
    }

    #[test]
    fn sizes_read_naturally() {
        assert_eq!(Lang::En.format_size(500), "500 B");
        assert_eq!(Lang::En.format_size(12 * 1024), "12 KB");
        assert_eq!(Lang::Fr.format_size(3_500_000), "3,3 Mo");
    }
}
