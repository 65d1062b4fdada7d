//! Browsing the catalogue: the search query and its answer, audience and theme, the item or bundle shown, and printing its guide.
//!
//! The catalogue itself stays with the shell (it is not a resident value): the flow asks
//! for a search with [`BrowseEffect::Search`] and the shell answers with the item codes
//! and FAQ ids it found; items are opened with what the shell looked up.

use std::fmt;

use crate::api::Audience;

use super::nav::Page;

/// Longest query, in characters (as today).
pub const MAX_QUERY_CHARS: usize = 32;

/// The item whose 办事指南 is (or was last) shown: rated from the item page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShownItem {
    pub code: String,
    pub name: String,
}

/// A search's answer, for the query it was asked for.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SearchAnswer {
    pub query: String,
    /// Item codes, best first.
    pub items: Vec<String>,
    /// FAQ ids, best first.
    pub faq: Vec<String>,
    /// Nothing matched: the page offers the FAQ and the call button.
    pub no_match: bool,
}

/// Printing the open item's guide or bundle's materials list (`CatalogAdapter.guide-print`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GuidePrint {
    /// 0: nothing printing (also: the job was cancelled with the session).
    #[default]
    Idle,
    /// 1
    Printing,
    /// 2: the printer cannot print now (paper, cover); the job waits.
    Held,
    /// 3
    Printed,
    /// 4
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseEvent {
    /// A key of the search keyboard (`CatalogAdapter.type-key`).
    TypeKey(String),
    Backspace,
    ClearQuery,
    /// The shell's answer to [`BrowseEffect::Search`].
    SearchAnswered(SearchAnswer),
    /// An item was opened; the shell found it in its catalogue.
    OpenItem(ShownItem),
    ChooseAudience(Audience),
    OpenTheme(String),
    /// A 一件事 bundle was opened; the shell found it.
    OpenBundle(String),
    PrintGuide(String),
    PrintBundle(String),
    /// The guide job's state, as the printer reports it (and at its end).
    GuidePrinted(GuidePrint),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BrowseEffect {
    /// Run this query over the catalogue (off the UI thread) and answer with
    /// [`BrowseEvent::SearchAnswered`]. Only the answer for the query now typed is shown.
    Search(String),
    /// Show this page (the item or bundle opened).
    Show(Page),
    /// Print the guide of item `code` (or the materials list of bundle `code`) and
    /// report with [`BrowseEvent::GuidePrinted`]; cancelled if the session ends first.
    PrintGuide { code: String, bundle: bool },
}

/// What the resident browses. Everything here is the resident's and ends with the session.
/// `Debug` does not show the query: a resident may type anything into it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Browse {
    query: String,
    answer: SearchAnswer,
    audience: Option<Audience>,
    theme: String,
    shown_item: Option<ShownItem>,
    shown_bundle: Option<String>,
    guide_print: GuidePrint,
}

impl fmt::Debug for Browse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browse")
            .field(
                "query",
                &format_args!("{} chars", self.query.chars().count()),
            )
            .field("items", &self.answer.items.len())
            .field("faq", &self.answer.faq.len())
            .field("no_match", &self.answer.no_match)
            .field("audience", &self.audience)
            .field("theme", &self.theme)
            .field("shown_item", &self.shown_item)
            .field("shown_bundle", &self.shown_bundle)
            .field("guide_print", &self.guide_print)
            .finish()
    }
}

impl Browse {
    pub fn query(&self) -> &str {
        &self.query
    }
    /// The answer to the query now typed (empty until it comes).
    pub fn answer(&self) -> &SearchAnswer {
        &self.answer
    }
    /// 个人 unless the resident chose 法人.
    pub fn audience(&self) -> Audience {
        self.audience.unwrap_or(Audience::Personal)
    }
    /// The theme opened ("" none).
    pub fn theme(&self) -> &str {
        &self.theme
    }
    pub fn shown_item(&self) -> Option<&ShownItem> {
        self.shown_item.as_ref()
    }
    pub fn shown_bundle(&self) -> Option<&str> {
        self.shown_bundle.as_deref()
    }
    pub fn guide_print(&self) -> GuidePrint {
        self.guide_print
    }
    /// A guide job was sent and has not ended: it is cancelled with the session.
    pub fn printing(&self) -> bool {
        matches!(self.guide_print, GuidePrint::Printing | GuidePrint::Held)
    }

    fn searched(&mut self) -> Vec<BrowseEffect> {
        vec![BrowseEffect::Search(self.query.clone())]
    }

    pub fn handle(&mut self, event: BrowseEvent) -> Vec<BrowseEffect> {
        match event {
            BrowseEvent::TypeKey(k) => {
                if self.query.chars().count() < MAX_QUERY_CHARS {
                    self.query.push_str(&k);
                }
                self.searched()
            }
            BrowseEvent::Backspace => {
                self.query.pop();
                self.searched()
            }
            BrowseEvent::ClearQuery => {
                self.query.clear();
                self.searched()
            }
            BrowseEvent::SearchAnswered(answer) => {
                if answer.query == self.query {
                    self.answer = answer;
                }
                Vec::new()
            }
            BrowseEvent::OpenItem(item) => {
                self.shown_item = Some(item);
                self.guide_print = GuidePrint::Idle;
                vec![BrowseEffect::Show(Page::Item)]
            }
            BrowseEvent::ChooseAudience(a) => {
                self.audience = Some(a);
                self.theme.clear();
                Vec::new()
            }
            BrowseEvent::OpenTheme(t) => {
                self.theme = t;
                Vec::new()
            }
            BrowseEvent::OpenBundle(code) => {
                self.shown_bundle = Some(code);
                self.guide_print = GuidePrint::Idle;
                vec![BrowseEffect::Show(Page::Bundle)]
            }
            BrowseEvent::PrintGuide(code) => {
                self.guide_print = GuidePrint::Printing;
                vec![BrowseEffect::PrintGuide {
                    code,
                    bundle: false,
                }]
            }
            BrowseEvent::PrintBundle(code) => {
                self.guide_print = GuidePrint::Printing;
                vec![BrowseEffect::PrintGuide { code, bundle: true }]
            }
            BrowseEvent::GuidePrinted(state) => {
                self.guide_print = state;
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_edit_searches_and_only_the_current_querys_answer_shows() {
        let mut b = Browse::default();
        assert_eq!(
            b.handle(BrowseEvent::TypeKey("j".into())),
            vec![BrowseEffect::Search("j".into())]
        );
        assert_eq!(
            b.handle(BrowseEvent::TypeKey("z".into())),
            vec![BrowseEffect::Search("jz".into())]
        );
        // The answer to "j" arrives late: not shown.
        b.handle(BrowseEvent::SearchAnswered(SearchAnswer {
            query: "j".into(),
            items: vec!["A".into()],
            ..Default::default()
        }));
        assert!(b.answer().items.is_empty());
        b.handle(BrowseEvent::SearchAnswered(SearchAnswer {
            query: "jz".into(),
            items: vec!["310105-JZZ-001".into()],
            ..Default::default()
        }));
        assert_eq!(b.answer().items, vec!["310105-JZZ-001".to_string()]);
        assert_eq!(
            b.handle(BrowseEvent::Backspace),
            vec![BrowseEffect::Search("j".into())]
        );
        assert_eq!(
            b.handle(BrowseEvent::ClearQuery),
            vec![BrowseEffect::Search(String::new())]
        );
        assert_eq!(b.query(), "");
    }

    #[test]
    fn the_query_stops_at_32_characters() {
        let mut b = Browse::default();
        for _ in 0..40 {
            b.handle(BrowseEvent::TypeKey("居".into()));
        }
        assert_eq!(b.query().chars().count(), MAX_QUERY_CHARS);
    }

    #[test]
    fn items_bundles_and_guide_printing() {
        let mut b = Browse::default();
        let item = ShownItem {
            code: "310105-JZZ-001".into(),
            name: "居住证办理".into(),
        };
        assert_eq!(
            b.handle(BrowseEvent::OpenItem(item.clone())),
            vec![BrowseEffect::Show(Page::Item)]
        );
        assert_eq!(b.shown_item(), Some(&item));
        assert_eq!(
            b.handle(BrowseEvent::PrintGuide(item.code.clone())),
            vec![BrowseEffect::PrintGuide {
                code: item.code.clone(),
                bundle: false
            }]
        );
        assert!(b.printing());
        b.handle(BrowseEvent::GuidePrinted(GuidePrint::Held));
        assert!(b.printing(), "a held job is still this session's");
        b.handle(BrowseEvent::GuidePrinted(GuidePrint::Printed));
        assert!(!b.printing());
        assert_eq!(
            b.handle(BrowseEvent::OpenBundle("B1".into())),
            vec![BrowseEffect::Show(Page::Bundle)]
        );
        assert_eq!(b.guide_print(), GuidePrint::Idle, "a new page, a new job");
        b.handle(BrowseEvent::PrintBundle("B1".into()));
        b.handle(BrowseEvent::GuidePrinted(GuidePrint::Failed));
        assert_eq!(b.guide_print(), GuidePrint::Failed);
    }

    #[test]
    fn debug_does_not_show_the_query() {
        let mut b = Browse::default();
        for k in ["王", "秀", "英"] {
            b.handle(BrowseEvent::TypeKey(k.into()));
        }
        b.handle(BrowseEvent::SearchAnswered(SearchAnswer {
            query: "王秀英".into(),
            ..Default::default()
        }));
        let shown = format!("{b:?}");
        assert!(!shown.contains('秀'), "{shown}");
        assert!(shown.contains("3 chars"), "{shown}");
    }

    #[test]
    fn choosing_an_audience_closes_the_theme() {
        let mut b = Browse::default();
        assert_eq!(b.audience(), Audience::Personal);
        b.handle(BrowseEvent::OpenTheme("户籍".into()));
        b.handle(BrowseEvent::ChooseAudience(Audience::Legal));
        assert_eq!((b.audience(), b.theme()), (Audience::Legal, ""));
    }
}
