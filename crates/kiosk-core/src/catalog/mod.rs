//! The 一网通办 catalogue on the terminal: browse, search (汉字, pinyin, initials, codes, aliases), 一件事 bundles, 小申 FAQ.
//!
//! A [`Catalog`] is immutable once built; building it (the search indexes) takes
//! milliseconds to a few hundred for large catalogues, so it happens off the UI thread and
//! the result is swapped in whole.

pub mod index;
pub mod sync;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use crate::api::{Audience, Bundle, Catalogue, Faq, Material, MaterialEnglish, ServiceItem};
use index::{DocKeys, SearchIndex};

/// How many results a search answers at most.
pub const DEFAULT_LIMIT: usize = 50;

pub struct Catalog {
    pub data: Arc<Catalogue>,
    items_index: SearchIndex,
    faq_index: SearchIndex,
    by_code: HashMap<String, usize>,
}

/// A theme or department with how many items it holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Group {
    pub name: String,
    pub count: usize,
}

/// One line of a 一件事's combined materials list.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CombinedMaterial {
    pub name: String,
    pub form: String,
    /// The largest count any item asks for (one set serves them all).
    pub count: u32,
    /// Names of the items that ask for it.
    pub used_by: Vec<String>,
    /// Its English, from the first item that asks for it (when that item has English).
    pub en: Option<MaterialEnglish>,
}

/// A 一件事 with its items and the de-duplicated materials of them all.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BundleView<'a> {
    pub bundle: &'a Bundle,
    pub items: Vec<&'a ServiceItem>,
    pub materials: Vec<CombinedMaterial>,
}

/// What a search shows a resident: the items, or, when none match, a way on to the FAQ.
#[derive(Debug, Clone, serde::Serialize)]
pub struct SearchAnswer<'a> {
    pub query: String,
    pub items: Vec<&'a ServiceItem>,
    /// Filled only when no item matches: 小申问答 entries for the same words.
    pub faq: Vec<&'a Faq>,
    pub no_match: bool,
}

/// Name variants from the alias list: 居民身份证 in a name also answers 身份证, and back.
fn alias_variants(name: &str, aliases: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (colloquial, official) in aliases {
        if colloquial.is_empty() || official.is_empty() {
            continue;
        }
        if name.contains(official.as_str()) {
            out.push(name.replace(official.as_str(), colloquial));
        } else if name.contains(colloquial.as_str()) {
            out.push(name.replace(colloquial.as_str(), official));
        }
    }
    out
}

impl Catalog {
    /// Builds the indexes. Slow for large catalogues: call off the UI thread.
    pub fn new(data: Catalogue) -> Self {
        let item_docs: Vec<DocKeys> = data
            .items
            .iter()
            .map(|i| {
                let mut also = alias_variants(&i.name, &data.aliases);
                also.extend(i.keywords.iter().cloned());
                also.push(i.theme.clone());
                DocKeys {
                    name: i.name.clone(),
                    also,
                    code: Some(i.code.clone()),
                    high_frequency: i.high_frequency,
                }
            })
            .collect();
        let faq_docs: Vec<DocKeys> = data
            .faqs
            .iter()
            .map(|f| {
                let mut also = alias_variants(&f.question, &data.aliases);
                also.push(f.theme.clone());
                DocKeys {
                    name: f.question.clone(),
                    also,
                    code: Some(f.id.clone()),
                    high_frequency: false,
                }
            })
            .collect();
        let by_code = data
            .items
            .iter()
            .enumerate()
            .map(|(n, i)| (i.code.clone(), n))
            .collect();
        Self {
            items_index: SearchIndex::build(&item_docs),
            faq_index: SearchIndex::build(&faq_docs),
            by_code,
            data: Arc::new(data),
        }
    }

    pub fn version(&self) -> &str {
        &self.data.version
    }

    pub fn item(&self, code: &str) -> Option<&ServiceItem> {
        self.by_code.get(code).map(|&n| &self.data.items[n])
    }

    /// Items matching `query`, best first.
    pub fn search_items(&self, query: &str, limit: usize) -> Vec<&ServiceItem> {
        self.items_index
            .search(query, limit)
            .into_iter()
            .map(|h| &self.data.items[h.doc as usize])
            .collect()
    }

    /// FAQ entries matching `query`, best first.
    pub fn search_faq(&self, query: &str, limit: usize) -> Vec<&Faq> {
        self.faq_index
            .search(query, limit)
            .into_iter()
            .map(|h| &self.data.faqs[h.doc as usize])
            .collect()
    }

    /// The answer to a resident's query: items best first; with none, FAQ entries instead.
    pub fn answer(&self, query: &str, limit: usize) -> SearchAnswer<'_> {
        let items = self.search_items(query, limit);
        let no_match = items.is_empty() && !index::normalize(query).is_empty();
        let faq = if no_match {
            self.search_faq(query, 5)
        } else {
            Vec::new()
        };
        SearchAnswer {
            query: query.to_string(),
            items,
            faq,
            no_match,
        }
    }

    /// 高频事项, in catalogue order.
    pub fn high_frequency(&self) -> Vec<&ServiceItem> {
        self.data
            .items
            .iter()
            .filter(|i| i.high_frequency)
            .collect()
    }

    /// Item counts per audience (个人 / 法人).
    pub fn audience_counts(&self) -> BTreeMap<Audience, usize> {
        let mut m = BTreeMap::new();
        for i in &self.data.items {
            *m.entry(i.audience).or_insert(0) += 1;
        }
        m
    }

    /// Themes that hold items for `audience`, with counts, in the catalogue's theme order.
    pub fn themes(&self, audience: Audience) -> Vec<Group> {
        self.groups(audience, &self.data.themes, |i| &i.theme)
    }

    /// Departments that hold items for `audience`, with counts.
    pub fn departments(&self, audience: Audience) -> Vec<Group> {
        self.groups(audience, &self.data.departments, |i| &i.department)
    }

    fn groups(
        &self,
        audience: Audience,
        order: &[String],
        key: impl Fn(&ServiceItem) -> &String,
    ) -> Vec<Group> {
        let mut counts: HashMap<&str, usize> = HashMap::new();
        for i in self.data.items.iter().filter(|i| i.audience == audience) {
            *counts.entry(key(i).as_str()).or_insert(0) += 1;
        }
        order
            .iter()
            .filter_map(|name| {
                counts.get(name.as_str()).map(|&count| Group {
                    name: name.clone(),
                    count,
                })
            })
            .collect()
    }

    /// Items for `audience` in a theme and/or department, in catalogue order.
    pub fn items_in(
        &self,
        audience: Audience,
        theme: Option<&str>,
        department: Option<&str>,
    ) -> Vec<&ServiceItem> {
        self.data
            .items
            .iter()
            .filter(|i| i.audience == audience)
            .filter(|i| theme.is_none_or(|t| i.theme == t))
            .filter(|i| department.is_none_or(|d| i.department == d))
            .collect()
    }

    pub fn bundles(&self) -> &[Bundle] {
        &self.data.bundles
    }

    /// A 一件事 with its items and one combined, de-duplicated materials list.
    pub fn bundle(&self, code: &str) -> Option<BundleView<'_>> {
        let bundle = self.data.bundles.iter().find(|b| b.code == code)?;
        let items: Vec<&ServiceItem> = bundle.items.iter().filter_map(|c| self.item(c)).collect();
        Some(BundleView {
            bundle,
            materials: combine_materials(&items),
            items,
        })
    }
}

/// Merges the materials of several items: the same material (name and form) once, with
/// the largest count asked and the items that ask for it.
pub fn combine_materials(items: &[&ServiceItem]) -> Vec<CombinedMaterial> {
    let mut out: Vec<CombinedMaterial> = Vec::new();
    for item in items {
        for (
            n,
            Material {
                name, form, count, ..
            },
        ) in item.materials.iter().enumerate()
        {
            let key = index::normalize(name);
            match out
                .iter_mut()
                .find(|m| index::normalize(&m.name) == key && m.form == *form)
            {
                Some(m) => {
                    m.count = m.count.max(*count);
                    if !m.used_by.contains(&item.name) {
                        m.used_by.push(item.name.clone());
                    }
                }
                None => out.push(CombinedMaterial {
                    name: name.clone(),
                    form: form.clone(),
                    count: *count,
                    used_by: vec![item.name.clone()],
                    en: item.en.as_ref().and_then(|e| e.materials.get(n)).cloned(),
                }),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn demo() -> Catalog {
        Catalog::new(civic_contract::catalogue::demo().unwrap())
    }

    #[test]
    fn demo_queries_find_what_residents_look_for() {
        let c = demo();
        let first = |q: &str| {
            c.search_items(q, 10)
                .first()
                .map(|i| i.name.clone())
                .unwrap_or_default()
        };
        assert!(first("jzz").starts_with("居住证"), "jzz → {}", first("jzz"));
        assert!(
            first("居住").starts_with("居住"),
            "居住 → {}",
            first("居住")
        );
        for q in ["shebao", "sb"] {
            let hits = c.search_items(q, 10);
            assert!(!hits.is_empty(), "{q}");
            assert!(
                hits.iter().take(3).all(|i| i.name.contains("社保")
                    || i.name.contains("社会保")
                    || i.theme == "社保"),
                "{q}: {:?}",
                hits.iter().map(|i| &i.name).collect::<Vec<_>>()
            );
        }
        let hits = c.search_items("公积金提取", 10);
        assert!(
            hits.len() >= 3 && hits.iter().take(3).all(|i| i.name.contains("公积金提取")),
            "{hits:?}"
        );
        let hits = c.search_items("changning", 10);
        assert!(hits.iter().any(|i| i.name.contains("长宁")), "changning");
        let code = &c.data.items[7].code;
        assert_eq!(&c.search_items(code, 5)[0].code, code);
        assert!(c.search_items("qqqqzzzz", 10).is_empty());
        assert!(!c.search_faq("居住证", 10).is_empty());
    }

    #[test]
    fn browsing_counts_add_up() {
        let c = demo();
        let counts = c.audience_counts();
        for audience in [Audience::Personal, Audience::Legal] {
            let themes = c.themes(audience);
            assert_eq!(
                themes.iter().map(|g| g.count).sum::<usize>(),
                counts[&audience]
            );
            let depts = c.departments(audience);
            assert_eq!(
                depts.iter().map(|g| g.count).sum::<usize>(),
                counts[&audience]
            );
            let t = &themes[0];
            assert_eq!(c.items_in(audience, Some(&t.name), None).len(), t.count);
        }
    }

    #[test]
    fn bundle_materials_are_combined_once() {
        let c = demo();
        for b in c.bundles() {
            let view = c.bundle(&b.code).unwrap();
            assert_eq!(view.items.len(), b.items.len());
            let total: usize = view.items.iter().map(|i| i.materials.len()).sum();
            assert!(view.materials.len() <= total);
            let mut seen = std::collections::HashSet::new();
            for m in &view.materials {
                assert!(
                    seen.insert((index::normalize(&m.name), m.form.clone())),
                    "{} twice",
                    m.name
                );
            }
        }
        assert!(c.bundles().iter().any(|b| {
            let v = c.bundle(&b.code).unwrap();
            v.materials.iter().any(|m| m.used_by.len() > 1)
        }));
    }

    #[test]
    fn a_bundle_in_english_has_each_combined_material_in_english() {
        let c = demo();
        let b = c.bundles().iter().find(|b| b.en.is_some()).unwrap();
        let v = c.bundle(&b.code).unwrap();
        let id = v.materials.iter().find(|m| m.name == "居民身份证").unwrap();
        assert_eq!(id.en.as_ref().unwrap().name, "Resident ID card");
        assert!(v.materials.iter().all(|m| m.en.is_some()));
    }
}
