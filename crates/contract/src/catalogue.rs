//! The catalogue's own rules (both sides check them: the back office before serving, the
//! terminal before caching), and the demo catalogue shipped in the repository.

use crate::api::{Catalogue, ServiceItem, has_cjk};

/// The demo catalogue, compiled in so the embedded back office and the terminal's demos
/// and tests work from the binary alone.
pub const DEMO_CATALOGUE: &str = include_str!("../../../config/demo/catalogue.json");

/// Cross-checks a catalogue: unique codes, every reference points at an existing item,
/// and each English block is complete (so a screen in English never mixes in Chinese).
pub fn check(c: &Catalogue) -> Result<(), String> {
    let mut codes = std::collections::HashMap::new();
    for i in &c.items {
        if codes.insert(i.code.as_str(), i).is_some() {
            return Err(format!("item code {} appears twice", i.code));
        }
        item_english(i).map_err(|e| format!("item {}: English {e}", i.code))?;
    }
    for b in &c.bundles {
        if let Some(missing) = b
            .items
            .iter()
            .find(|code| !codes.contains_key(code.as_str()))
        {
            return Err(format!("bundle {} lists unknown item {missing}", b.code));
        }
        if let Some(en) = &b.en {
            english([&en.name, &en.summary])
                .map_err(|e| format!("bundle {}: English {e}", b.code))?;
            if let Some(code) = b
                .items
                .iter()
                .find(|code| codes[code.as_str()].en.is_none())
            {
                return Err(format!(
                    "bundle {} is in English but its item {code} is not",
                    b.code
                ));
            }
        }
    }
    for (names, known, what) in [
        (&c.themes_en, &c.themes, "theme"),
        (&c.departments_en, &c.departments, "department"),
    ] {
        for (zh, en) in names {
            if !known.contains(zh) {
                return Err(format!("English name of unknown {what} {zh}"));
            }
            english([en]).map_err(|e| format!("{what} {zh}: English {e}"))?;
        }
    }
    for f in &c.faqs {
        if let Some(missing) = f
            .items
            .iter()
            .find(|code| !codes.contains_key(code.as_str()))
        {
            return Err(format!("FAQ {} refers to unknown item {missing}", f.id));
        }
    }
    Ok(())
}

/// Each text non-empty and free of Chinese.
fn english<'a>(texts: impl IntoIterator<Item = &'a String>) -> Result<(), String> {
    for t in texts {
        if t.trim().is_empty() {
            return Err("has an empty text".into());
        }
        if has_cjk(t) {
            return Err(format!("holds Chinese: {t:?}"));
        }
    }
    Ok(())
}

/// An item's English is absent, or it matches the Chinese part for part.
fn item_english(i: &ServiceItem) -> Result<(), String> {
    let Some(en) = &i.en else { return Ok(()) };
    let parts = |what: &str, en: usize, zh: usize| {
        if en == zh {
            Ok(())
        } else {
            Err(format!("has {en} {what} for {zh} in Chinese"))
        }
    };
    parts("conditions", en.conditions.len(), i.conditions.len())?;
    parts("materials", en.materials.len(), i.materials.len())?;
    parts("locations", en.locations.len(), i.locations.len())?;
    english(
        [&en.name, &en.summary, &en.fee]
            .into_iter()
            .chain(&en.conditions),
    )?;
    for (m, zh) in en.materials.iter().zip(&i.materials) {
        if m.note.is_some() != zh.note.is_some() {
            return Err(format!(
                "material {:?}: a note in one language only",
                zh.name
            ));
        }
        english([&m.name, &m.form].into_iter().chain(&m.note))?;
    }
    for l in &en.locations {
        english([&l.name, &l.address, &l.hours])?;
    }
    Ok(())
}

/// The demo catalogue, parsed and checked.
pub fn demo() -> Result<Catalogue, String> {
    let c: Catalogue = serde_json::from_str(DEMO_CATALOGUE)
        .map_err(|e| format!("config/demo/catalogue.json: {e}"))?;
    check(&c).map_err(|e| format!("config/demo/catalogue.json: {e}"))?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_catalogue_has_english_for_high_frequency_items_themes_and_departments() {
        let c = demo().unwrap();
        assert!(
            c.items
                .iter()
                .filter(|i| i.high_frequency)
                .all(|i| i.en.is_some())
        );
        assert!(
            c.items.iter().any(|i| i.en.is_none()),
            "some items are Chinese only"
        );
        assert!(c.themes.iter().all(|t| c.themes_en.contains_key(t)));
        assert!(
            c.departments
                .iter()
                .all(|d| c.departments_en.contains_key(d))
        );
        assert!(c.bundles.iter().any(|b| b.en.is_some()));
        assert!(c.bundles.iter().any(|b| b.en.is_none()));
    }

    #[test]
    fn an_older_catalogue_without_english_still_parses() {
        let mut v: serde_json::Value = serde_json::from_str(DEMO_CATALOGUE).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("themes_en");
        o.remove("departments_en");
        for list in ["items", "bundles"] {
            for x in o[list].as_array_mut().unwrap() {
                x.as_object_mut().unwrap().remove("en");
            }
        }
        let c: Catalogue = serde_json::from_value(v).unwrap();
        check(&c).unwrap();
        assert!(c.items.iter().all(|i| i.en.is_none()) && c.themes_en.is_empty());
        assert_eq!(c.theme_name("户籍", true), "户籍");
    }

    #[test]
    fn half_translated_items_and_bundles_are_refused() {
        let good = demo().unwrap();
        let n = good.items.iter().position(|i| i.en.is_some()).unwrap();
        let code = good.items[n].code.clone();
        let refused = |change: &dyn Fn(&mut Catalogue)| {
            let mut c = good.clone();
            change(&mut c);
            check(&c).unwrap_err()
        };
        let e = refused(&|c| {
            c.items[n].en.as_mut().unwrap().conditions.pop();
        });
        assert!(e.contains(&code) && e.contains("conditions"), "{e}");
        let e = refused(&|c| c.items[n].en.as_mut().unwrap().materials[0].form = "原件".into());
        assert!(e.contains("Chinese"), "{e}");
        let e = refused(&|c| {
            let m = &mut c.items[n].en.as_mut().unwrap().materials[0];
            m.note = if m.note.is_some() {
                None
            } else {
                Some("extra".into())
            };
        });
        assert!(e.contains("note"), "{e}");
        let e = refused(&|c| c.items[n].en.as_mut().unwrap().fee.clear());
        assert!(e.contains("empty"), "{e}");
        let e = refused(&|c| {
            c.items[n].en.as_mut().unwrap().locations.clear();
        });
        assert!(e.contains("locations"), "{e}");
        // A bundle in English whose item is Chinese only.
        let b = good.bundles.iter().position(|b| b.en.is_some()).unwrap();
        let e = refused(&|c| {
            let first = c.bundles[b].items[0].clone();
            let i = c.items.iter_mut().find(|i| i.code == first).unwrap();
            i.en = None;
        });
        assert!(e.contains("bundle") && e.contains("is not"), "{e}");
        let e = refused(&|c| {
            c.themes_en.insert("火星".into(), "Mars".into());
        });
        assert!(e.contains("unknown theme"), "{e}");
        let e = refused(&|c| {
            c.departments_en
                .insert(c.departments[0].clone(), "区 Bureau".into());
        });
        assert!(e.contains("Chinese"), "{e}");
    }
}
