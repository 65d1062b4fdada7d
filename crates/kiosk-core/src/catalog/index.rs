//! Search index over names: 汉字 substrings, full pinyin, pinyin initials (every reading of a polyphonic character), codes and aliases.
//!
//! Every searchable key is cut into suffixes at character (汉字, initials) or syllable
//! (full pinyin) boundaries, and the suffixes are sorted once. A query is then a binary
//! search for the range of suffixes that start with it: a substring match in
//! O(log n + matches), fast enough to run on every keystroke over 10,000 items.
//!
//! Ranking tiers: exact name, then name prefix, then 高频, then the rest; ties keep the
//! documents' own order (the order given to [`SearchIndex::build`]).

use pinyin::ToPinyinMulti;

/// What a document offers to search.
#[derive(Debug, Clone, Default)]
pub struct DocKeys {
    /// The name shown to residents.
    pub name: String,
    /// Other names: alias variants (身份证 for 居民身份证), keywords, theme.
    pub also: Vec<String>,
    /// An identifier searched by prefix at its `-` boundaries (item codes).
    pub code: Option<String>,
    pub high_frequency: bool,
}

/// Where in a document a key came from; lower is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    Name,
    Also,
    Code,
}

struct Key {
    text: String,
    doc: u32,
    source: Source,
}

/// A suffix: key index and byte offset into that key's text.
#[derive(Clone, Copy)]
struct Suffix {
    key: u32,
    offset: u32,
}

/// One search result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index of the document in the order given to `build`.
    pub doc: u32,
    /// 0 exact name, 1 name prefix, 2 高频, 3 other.
    pub tier: u8,
}

pub struct SearchIndex {
    keys: Vec<Key>,
    suffixes: Vec<Suffix>,
    /// The suffixes that start a key, for one- and two-letter queries: so few letters
    /// match the start of a name or word, not every syllable in the catalogue.
    heads: Vec<Suffix>,
    high_frequency: Vec<bool>,
    /// Precomputed answers to every one- and two-letter query that matches anything.
    short_cache: std::collections::HashMap<String, Vec<Hit>>,
}

/// How many results are kept for each one- or two-letter query.
const SHORT_CACHED: usize = 200;

/// At most this many pinyin spellings per key (polyphonic characters multiply them).
const MAX_VARIANTS: usize = 16;

/// Lower-cases, folds full-width ASCII, and drops whitespace and separators.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter_map(|c| {
            let c = match c {
                '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
                '\u{3000}' => ' ',
                _ => c,
            };
            if c.is_whitespace() || matches!(c, '·' | '\'' | '’') {
                None
            } else {
                Some(c.to_ascii_lowercase())
            }
        })
        .collect()
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FFFF)
}

/// Each character's readings (plain pinyin, all of them); a non-Han letter or digit reads as itself.
fn readings(text: &str) -> Vec<Vec<String>> {
    text.chars()
        .filter(|c| c.is_alphanumeric())
        .map(|c| match c.to_pinyin_multi() {
            Some(multi) => {
                let mut v: Vec<String> = Vec::new();
                for p in multi {
                    let s = p.plain().replace('ü', "v");
                    if !v.contains(&s) {
                        v.push(s);
                    }
                }
                v
            }
            None => vec![c.to_ascii_lowercase().to_string()],
        })
        .collect()
}

/// Spellings of a text as (full pinyin with syllable start offsets, initials), every reading of
/// a polyphonic character, at most [`MAX_VARIANTS`] (later characters fall back to their
/// first reading once the limit is near).
fn spellings(text: &str) -> Vec<(String, Vec<u32>, String)> {
    let per_char = readings(text);
    let mut variants: Vec<(String, Vec<u32>, String)> =
        vec![(String::new(), Vec::new(), String::new())];
    for options in &per_char {
        let usable = if variants.len() * options.len() <= MAX_VARIANTS {
            options.len()
        } else {
            1
        };
        let mut next = Vec::with_capacity(variants.len() * usable);
        for (full, starts, initials) in &variants {
            for r in &options[..usable] {
                let mut f = full.clone();
                let mut s = starts.clone();
                s.push(f.len() as u32);
                f.push_str(r);
                let mut i = initials.clone();
                i.push_str(&r[..r.chars().next().map_or(0, char::len_utf8)]);
                next.push((f, s, i));
            }
        }
        variants = next;
    }
    variants.retain(|(f, _, _)| !f.is_empty());
    variants.sort();
    variants.dedup();
    variants
}

impl SearchIndex {
    /// Builds the index; `docs[i]` is document `i`.
    pub fn build(docs: &[DocKeys]) -> Self {
        let mut keys = Vec::new();
        let mut suffixes = Vec::new();
        fn add(
            keys: &mut Vec<Key>,
            suffixes: &mut Vec<Suffix>,
            text: String,
            doc: u32,
            source: Source,
            starts: impl IntoIterator<Item = u32>,
        ) {
            if text.is_empty() {
                return;
            }
            let key = keys.len() as u32;
            suffixes.extend(starts.into_iter().map(|offset| Suffix { key, offset }));
            keys.push(Key { text, doc, source });
        }
        for (d, doc) in docs.iter().enumerate() {
            let d = d as u32;
            let first_suffix = suffixes.len();
            let texts = std::iter::once((&doc.name, Source::Name))
                .chain(doc.also.iter().map(|a| (a, Source::Also)));
            for (text, source) in texts {
                let n = normalize(text);
                if n.is_empty() {
                    continue;
                }
                // The text itself, cut at every character.
                let starts: Vec<u32> = n.char_indices().map(|(i, _)| i as u32).collect();
                add(&mut keys, &mut suffixes, n.clone(), d, source, starts);
                if n.chars().any(is_han) {
                    for (full, syllables, initials) in spellings(&n) {
                        add(&mut keys, &mut suffixes, full, d, source, syllables);
                        let starts: Vec<u32> = (0..initials.len() as u32).collect();
                        add(&mut keys, &mut suffixes, initials, d, source, starts);
                    }
                }
            }
            if let Some(code) = &doc.code {
                let c = normalize(code);
                let starts: Vec<u32> = std::iter::once(0)
                    .chain(c.match_indices('-').map(|(i, _)| i as u32 + 1))
                    .filter(|&i| (i as usize) < c.len())
                    .collect();
                add(&mut keys, &mut suffixes, c, d, Source::Code, starts);
            }
            // Spellings of one document share most suffixes: keep each string once, the
            // one that counts as a name prefix when there is a choice.
            let text = |s: &Suffix| &keys[s.key as usize].text[s.offset as usize..];
            let not_prefix =
                |s: &Suffix| !(s.offset == 0 && keys[s.key as usize].source == Source::Name);
            let own = &mut suffixes[first_suffix..];
            own.sort_unstable_by(|a, b| {
                text(a).cmp(text(b)).then(not_prefix(a).cmp(&not_prefix(b)))
            });
            let mut kept = first_suffix;
            for i in first_suffix..suffixes.len() {
                if kept == first_suffix || text(&suffixes[kept - 1]) != text(&suffixes[i]) {
                    suffixes[kept] = suffixes[i];
                    kept += 1;
                }
            }
            suffixes.truncate(kept);
        }
        let by_text = |a: &Suffix, b: &Suffix| {
            let sa = &keys[a.key as usize].text[a.offset as usize..];
            let sb = &keys[b.key as usize].text[b.offset as usize..];
            sa.cmp(sb)
        };
        suffixes.sort_unstable_by(by_text);
        let heads: Vec<Suffix> = suffixes.iter().copied().filter(|s| s.offset == 0).collect();
        let mut index = Self {
            keys,
            suffixes,
            heads,
            high_frequency: docs.iter().map(|d| d.high_frequency).collect(),
            short_cache: std::collections::HashMap::new(),
        };
        // The first keystrokes match thousands of keys: answer every one- and two-letter
        // query that has any match once, here (one pass over the heads in all).
        let mut short: Vec<String> = Vec::new();
        for h in &index.heads {
            let text = index.suffix(*h).as_bytes();
            for n in 1..=2 {
                if text.len() >= n && text[..n].iter().all(u8::is_ascii_alphanumeric) {
                    let p = String::from_utf8_lossy(&text[..n]).into_owned();
                    if short.last() != Some(&p) && !short.contains(&p) {
                        short.push(p);
                    }
                }
            }
        }
        index.short_cache = short
            .into_iter()
            .map(|p| {
                let hits = index.search_uncached(&p, SHORT_CACHED);
                (p, hits)
            })
            .collect();
        index
    }

    pub fn len(&self) -> usize {
        self.high_frequency.len()
    }

    pub fn is_empty(&self) -> bool {
        self.high_frequency.is_empty()
    }

    fn suffix(&self, s: Suffix) -> &str {
        &self.keys[s.key as usize].text[s.offset as usize..]
    }

    /// The best `limit` documents for `query`, best first. An empty query finds nothing.
    pub fn search(&self, query: &str, limit: usize) -> Vec<Hit> {
        let q = normalize(query);
        if q.len() <= 2 && limit <= SHORT_CACHED && q.bytes().all(|b| b.is_ascii_alphanumeric()) {
            // Cached, or nothing starts with these letters.
            return self
                .short_cache
                .get(&q)
                .map(|h| h.iter().take(limit).copied().collect())
                .unwrap_or_default();
        }
        self.search_uncached(&q, limit)
    }

    fn search_uncached(&self, query: &str, limit: usize) -> Vec<Hit> {
        let q = normalize(query);
        if q.is_empty() || limit == 0 {
            return Vec::new();
        }
        let start = self
            .suffixes
            .partition_point(|s| self.suffix(*s) < q.as_str());
        // Best tier per document, without allocating per suffix.
        let mut best: Vec<u8> = Vec::new();
        let mut touched: Vec<u32> = Vec::new();
        for s in &self.suffixes[start..] {
            if !self.suffix(*s).starts_with(q.as_str()) {
                break;
            }
            let key = &self.keys[s.key as usize];
            let doc = key.doc;
            let tier = if s.offset == 0 && key.source == Source::Name {
                // The whole name (or a whole spelling of it) equals the query: exact.
                if key.text.len() == q.len() { 0 } else { 1 }
            } else if self.high_frequency[doc as usize] {
                2
            } else {
                3
            };
            if best.is_empty() {
                best = vec![u8::MAX; self.len()];
            }
            let b = &mut best[doc as usize];
            if *b == u8::MAX {
                touched.push(doc);
            }
            *b = (*b).min(tier);
        }
        let mut hits: Vec<Hit> = touched
            .into_iter()
            .map(|doc| Hit {
                doc,
                tier: best[doc as usize],
            })
            .collect();
        let order = |h: &Hit| (h.tier, !self.high_frequency[h.doc as usize], h.doc);
        if hits.len() > limit {
            hits.select_nth_unstable_by_key(limit - 1, order);
            hits.truncate(limit);
        }
        hits.sort_unstable_by_key(order);
        hits
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(name: &str) -> DocKeys {
        DocKeys {
            name: name.into(),
            ..Default::default()
        }
    }

    fn names(index: &SearchIndex, docs: &[DocKeys], q: &str) -> Vec<String> {
        index
            .search(q, 10)
            .into_iter()
            .map(|h| docs[h.doc as usize].name.clone())
            .collect()
    }

    #[test]
    fn han_pinyin_initials_and_polyphones() {
        let docs = vec![
            doc("办理居住证积分"),
            doc("居住证申领"),
            doc("社保卡申领"),
            doc("长宁区老年综合津贴申请"),
            doc("重庆"),
        ];
        let ix = SearchIndex::build(&docs);
        assert_eq!(names(&ix, &docs, "jzz")[0], "居住证申领");
        assert_eq!(names(&ix, &docs, "jzz").len(), 2);
        assert_eq!(names(&ix, &docs, "居住")[0], "居住证申领");
        assert_eq!(names(&ix, &docs, "shebao"), vec!["社保卡申领"]);
        assert_eq!(names(&ix, &docs, "sbk"), vec!["社保卡申领"]);
        assert_eq!(
            names(&ix, &docs, "changning"),
            vec!["长宁区老年综合津贴申请"]
        );
        assert_eq!(
            names(&ix, &docs, "zhangning"),
            vec!["长宁区老年综合津贴申请"]
        );
        assert_eq!(names(&ix, &docs, "cq"), vec!["重庆"]);
        assert_eq!(names(&ix, &docs, "ZHONGQING"), vec!["重庆"]);
        assert!(names(&ix, &docs, "xyz").is_empty());
        assert!(names(&ix, &docs, "  ").is_empty());
        // Syllable boundaries: "aole" is not the start of any syllable run in 老年.
        assert!(names(&ix, &docs, "aonian").is_empty());
    }

    #[test]
    fn ranking_exact_then_prefix_then_high_frequency() {
        let mut docs = vec![
            doc("补领居住证"),
            doc("居住证签注"),
            doc("居住证"),
            doc("居住证积分"),
        ];
        docs[0].high_frequency = true;
        docs[3].high_frequency = true;
        let ix = SearchIndex::build(&docs);
        let hits = ix.search("居住证", 10);
        let got: Vec<&str> = hits
            .iter()
            .map(|h| docs[h.doc as usize].name.as_str())
            .collect();
        assert_eq!(
            got,
            vec!["居住证", "居住证积分", "居住证签注", "补领居住证"]
        );
        assert_eq!(
            hits.iter().map(|h| h.tier).collect::<Vec<_>>(),
            vec![0, 1, 1, 2]
        );
        assert_eq!(ix.search("jzz", 2).len(), 2);
    }

    #[test]
    fn codes_and_aliases() {
        let docs = vec![
            DocKeys {
                name: "社会保险登记".into(),
                also: vec!["社保登记".into()],
                code: Some("310105-RS-0001".into()),
                high_frequency: false,
            },
            DocKeys {
                name: "护照办理".into(),
                code: Some("310105-CRJ-0002".into()),
                ..Default::default()
            },
        ];
        let ix = SearchIndex::build(&docs);
        assert_eq!(names(&ix, &docs, "310105-RS-0001"), vec!["社会保险登记"]);
        assert_eq!(names(&ix, &docs, "crj-0002"), vec!["护照办理"]);
        assert_eq!(names(&ix, &docs, "0002"), vec!["护照办理"]);
        assert_eq!(names(&ix, &docs, "sb"), vec!["社会保险登记"]);
        assert_eq!(names(&ix, &docs, "社保"), vec!["社会保险登记"]);
        assert_eq!(names(&ix, &docs, "ｓｈｅｂａｏ"), vec!["社会保险登记"]);
    }
}
