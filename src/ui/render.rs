//! Renders the session (`flow::Session`) into the Slint globals, and maps the core's enums to the Slint enums: the one place where either happens.
//!
//! Rendering is a function of the session, the terminal's settings and the catalogue:
//! a fresh session renders fresh values, so ending a session needs no list of setters.
//! Models are rebuilt only when their part of the session (or the catalogue) changed.

use slint::{ComponentHandle, ModelRc, SharedString, VecModel};

use super::*;
use crate::api::{Catalogue, ServiceItem};
use crate::catalog::Catalog;
use crate::flow;

pub(super) fn model<T: Clone + 'static>(v: Vec<T>) -> ModelRc<T> {
    ModelRc::new(VecModel::from(v))
}

pub(super) fn strings(v: &[String]) -> ModelRc<SharedString> {
    model(v.iter().map(|s| SharedString::from(s.as_str())).collect())
}

/// A list row: the item's English name where it has one on an English screen, else its
/// Chinese name (a name stays a name); the department in the screen's language.
pub(super) fn item_row(i: &ServiceItem, c: &Catalogue, english: bool) -> ItemRow {
    let name = match &i.en {
        Some(en) if english => en.name.as_str(),
        _ => i.name.as_str(),
    };
    ItemRow {
        code: i.code.as_str().into(),
        name: name.into(),
        department: c.department_name(&i.department, english).into(),
        high_frequency: i.high_frequency,
        online: i.online,
    }
}

/// `n` with the English noun in its singular or plural: "1 copy", "2 copies".
pub(super) fn count_en(n: u32, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// One line of a materials list, wholly in one language.
fn material_line(name: &str, form: &str, count: u32, note: Option<&str>, english: bool) -> String {
    match (english, note) {
        (true, None) => format!("• {name} ({form}, {})", count_en(count, "copy", "copies")),
        (true, Some(n)) => format!(
            "• {name} ({form}, {}): {n}",
            count_en(count, "copy", "copies")
        ),
        (false, None) => format!("• {name}（{form}，{count} 份）"),
        (false, Some(n)) => format!("• {name}（{form}，{count} 份）：{n}"),
    }
}

fn material_row(
    name: &str,
    form: &str,
    count: u32,
    note: Option<&str>,
    english: bool,
) -> MaterialRow {
    MaterialRow {
        name: name.into(),
        form: form.into(),
        count: count as i32,
        note: note.unwrap_or("").into(),
        line: material_line(name, form, count, note, english).into(),
    }
}

pub(super) fn faq_row(f: &crate::api::Faq) -> FaqRow {
    FaqRow {
        id: f.id.as_str().into(),
        question: f.question.as_str().into(),
        answer: f.answer.as_str().into(),
    }
}

/// An item's guide in one language: its English block on an English screen where the
/// catalogue has one, else its Chinese (marked `chinese_only` on an English screen).
fn item_detail(i: &ServiceItem, c: &Catalogue, english: bool) -> ItemDetail {
    let en = i.en.as_ref().filter(|_| english);
    let (name, summary, conditions, fee) = match en {
        Some(e) => (&e.name, &e.summary, &e.conditions, &e.fee),
        None => (&i.name, &i.summary, &i.conditions, &i.fee),
    };
    let materials = match en {
        Some(e) => e
            .materials
            .iter()
            .zip(&i.materials)
            .map(|(m, zh)| material_row(&m.name, &m.form, zh.count, m.note.as_deref(), true))
            .collect(),
        None => i
            .materials
            .iter()
            .map(|m| material_row(&m.name, &m.form, m.count, m.note.as_deref(), false))
            .collect(),
    };
    let locations = match en {
        Some(e) => e
            .locations
            .iter()
            .map(|l| format!("{}, {}, {}", l.name, l.address, l.hours))
            .collect(),
        None => i
            .locations
            .iter()
            .map(|l| format!("{}，{}，{}", l.name, l.address, l.hours))
            .collect::<Vec<_>>(),
    };
    ItemDetail {
        code: i.code.as_str().into(),
        name: name.as_str().into(),
        // The department and theme in the item's language, as the rest of its page.
        department: c.department_name(&i.department, en.is_some()).into(),
        theme: i.theme.as_str().into(),
        summary: summary.as_str().into(),
        conditions: strings(conditions),
        materials: model(materials),
        legal_limit_days: i.legal_limit_days.map_or(-1, |d| d as i32),
        promised_limit_days: i.promised_limit_days as i32,
        fee: fee.as_str().into(),
        locations: strings(&locations),
        visits: i.visits as i32,
        online: i.online,
        chinese_only: english && en.is_none(),
    }
}

/// A 一件事 in one language, as [`item_detail`]: English only when the bundle and each of
/// its materials have it (the catalogue check holds a bundle in English to items in English).
fn bundle_detail(catalog: &Catalog, code: &str, english: bool) -> BundleDetail {
    let Some(view) = catalog.bundle(code) else {
        return BundleDetail::default();
    };
    let en = view
        .bundle
        .en
        .as_ref()
        .filter(|_| english && view.materials.iter().all(|m| m.en.is_some()));
    let (name, summary) = match en {
        Some(e) => (&e.name, &e.summary),
        None => (&view.bundle.name, &view.bundle.summary),
    };
    let materials = view
        .materials
        .iter()
        .map(|m| match (&m.en, en) {
            (Some(e), Some(_)) => material_row(&e.name, &e.form, m.count, None, true),
            _ => material_row(&m.name, &m.form, m.count, None, false),
        })
        .collect();
    BundleDetail {
        code: view.bundle.code.as_str().into(),
        name: name.as_str().into(),
        summary: summary.as_str().into(),
        items: model(
            view.items
                .iter()
                .map(|i| item_row(i, &catalog.data, english))
                .collect(),
        ),
        materials: model(materials),
        chinese_only: english && en.is_none(),
    }
}

/// `CatalogAdapter.bundles`: the home page's 一件事 rows.
pub(super) fn bundle_row(b: &crate::api::Bundle, english: bool) -> BundleRow {
    let (name, summary) = match &b.en {
        Some(e) if english => (&e.name, &e.summary),
        _ => (&b.name, &b.summary),
    };
    BundleRow {
        code: b.code.as_str().into(),
        name: name.as_str().into(),
        summary: summary.as_str().into(),
        count: b.items.len() as i32,
    }
}

/// The home page's rows (高频事项, 一件事), in the screen's language.
pub(super) fn render_home(w: &MainWindow, catalog: &Catalog, english: bool) {
    let c = w.global::<CatalogAdapter>();
    c.set_high_frequency(model(
        catalog
            .high_frequency()
            .into_iter()
            .take(12)
            .map(|i| item_row(i, &catalog.data, english))
            .collect(),
    ));
    c.set_bundles(model(
        catalog
            .bundles()
            .iter()
            .map(|b| bundle_row(b, english))
            .collect(),
    ));
}
// ---- core enums → Slint enums (and back, for what the pages send)

pub(super) fn page(p: flow::Page) -> Page {
    match p {
        flow::Page::Attract => Page::Attract,
        flow::Page::Home => Page::Home,
        flow::Page::Catalogue => Page::Catalogue,
        flow::Page::Item => Page::Item,
        flow::Page::Bundle => Page::Bundle,
        flow::Page::Search => Page::Search,
        flow::Page::Faq => Page::Faq,
        flow::Page::OfflineCode => Page::OfflineCode,
        flow::Page::Rating => Page::Rating,
        flow::Page::CardCheck => Page::CardCheck,
        flow::Page::Mine => Page::Mine,
        flow::Page::Applications => Page::Applications,
        flow::Page::Certificates => Page::Certificates,
        flow::Page::Quick => Page::Quick,
        flow::Page::Done => Page::Done,
        flow::Page::Technician => Page::Technician,
    }
}

pub(super) fn page_from(p: Page) -> flow::Page {
    match p {
        Page::Attract => flow::Page::Attract,
        Page::Home => flow::Page::Home,
        Page::Catalogue => flow::Page::Catalogue,
        Page::Item => flow::Page::Item,
        Page::Bundle => flow::Page::Bundle,
        Page::Search => flow::Page::Search,
        Page::Faq => flow::Page::Faq,
        Page::OfflineCode => flow::Page::OfflineCode,
        Page::Rating => flow::Page::Rating,
        Page::CardCheck => flow::Page::CardCheck,
        Page::Mine => flow::Page::Mine,
        Page::Applications => flow::Page::Applications,
        Page::Certificates => flow::Page::Certificates,
        Page::Quick => flow::Page::Quick,
        Page::Done => flow::Page::Done,
        Page::Technician => flow::Page::Technician,
    }
}

pub(super) fn card_step(s: flow::CardStep) -> CardStep {
    match s {
        flow::CardStep::Entry => CardStep::Entry,
        flow::CardStep::Checking => CardStep::Checking,
        flow::CardStep::Confirm => CardStep::Confirm,
        flow::CardStep::NotEligible => CardStep::NotEligible,
        flow::CardStep::Printing => CardStep::Printing,
        flow::CardStep::TakeCard => CardStep::TakeCard,
        flow::CardStep::Failed => CardStep::Failed,
        flow::CardStep::ReportedLost => CardStep::ReportedLost,
    }
}

pub(super) fn card_failure(f: Option<flow::CardFailure>) -> CardFailure {
    match f {
        None => CardFailure::None,
        Some(flow::CardFailure::Network) => CardFailure::Network,
        Some(flow::CardFailure::CodeRefused) => CardFailure::CodeRefused,
        Some(flow::CardFailure::Printer) => CardFailure::Printer,
        Some(flow::CardFailure::Refused) => CardFailure::Refused,
        Some(flow::CardFailure::AlreadyIssuedToday) => CardFailure::AlreadyIssuedToday,
        Some(flow::CardFailure::StaffRequired) => CardFailure::StaffRequired,
        Some(flow::CardFailure::NotPrinted) => CardFailure::NotPrinted,
        Some(flow::CardFailure::PrinterUnsupported) => CardFailure::PrinterUnsupported,
        Some(flow::CardFailure::IdCardRequired) => CardFailure::IdCardRequired,
    }
}

pub(super) fn id_problem(p: Option<flow::IdProblem>) -> IdProblem {
    match p {
        None => IdProblem::None,
        Some(flow::IdProblem::WrongLength) => IdProblem::WrongLength,
        Some(flow::IdProblem::BadCharacter) => IdProblem::BadCharacter,
        Some(flow::IdProblem::ImpossibleDate) => IdProblem::ImpossibleDate,
        Some(flow::IdProblem::FutureDate) => IdProblem::FutureDate,
        Some(flow::IdProblem::BadChecksum) => IdProblem::BadChecksum,
    }
}

pub(super) fn notice(n: Option<flow::Notice>) -> IdentityNotice {
    use flow::{Notice as N, ReaderProblem as P};
    match n {
        None => IdentityNotice::None,
        Some(N::IdExpired) => IdentityNotice::IdExpired,
        Some(N::Reader(P::Moved)) => IdentityNotice::ReaderMoved,
        // An unplugged reader is never a notice (the entry step says it); shown as unreadable.
        Some(N::Reader(P::Unreadable | P::Unavailable)) => IdentityNotice::ReaderUnreadable,
        Some(N::Resolving) => IdentityNotice::Resolving,
        Some(N::CodeNotFound) => IdentityNotice::CodeNotFound,
        Some(N::CodeExpired) => IdentityNotice::CodeExpired,
        Some(N::CodeUnreadable) => IdentityNotice::CodeUnreadable,
        Some(N::CodeNetwork) => IdentityNotice::CodeNetwork,
    }
}

pub(super) fn mine_step(s: flow::mine::MineStep) -> MineStep {
    use flow::mine::MineStep as S;
    match s {
        S::NeedsIdentity => MineStep::NeedsIdentity,
        S::Loading => MineStep::Loading,
        S::List => MineStep::List,
        S::Unavailable => MineStep::Unavailable,
    }
}

pub(super) fn application_status(s: crate::api::ApplicationStatus) -> ApplicationStatus {
    use crate::api::ApplicationStatus as S;
    match s {
        S::Accepted => ApplicationStatus::Accepted,
        S::Reviewing => ApplicationStatus::Reviewing,
        S::NeedsCorrection => ApplicationStatus::NeedsCorrection,
        S::Completed => ApplicationStatus::Completed,
        S::Delivered => ApplicationStatus::Delivered,
    }
}

pub(super) fn check_step(s: flow::CheckStep) -> CheckStep {
    match s {
        flow::CheckStep::None => CheckStep::None,
        flow::CheckStep::Checking => CheckStep::Checking,
        flow::CheckStep::Valid => CheckStep::Valid,
        flow::CheckStep::Voided => CheckStep::Voided,
        flow::CheckStep::Expired => CheckStep::Expired,
        flow::CheckStep::Forged => CheckStep::Forged,
        flow::CheckStep::Unconfirmed => CheckStep::Unconfirmed,
    }
}

pub(super) fn rating_step(s: flow::RatingStep) -> RatingStep {
    match s {
        flow::RatingStep::Level => RatingStep::Level,
        flow::RatingStep::Reasons => RatingStep::Reasons,
        flow::RatingStep::Phone => RatingStep::Phone,
        flow::RatingStep::Saving => RatingStep::Saving,
        flow::RatingStep::Thanks => RatingStep::Thanks,
        flow::RatingStep::AlreadyRated => RatingStep::AlreadyRated,
        flow::RatingStep::NotSaved => RatingStep::NotSaved,
        flow::RatingStep::DiskFull => RatingStep::DiskFull,
    }
}

pub(super) fn rating_error(e: Option<crate::ratings::DraftError>) -> RatingError {
    use crate::ratings::DraftError as E;
    match e {
        None => RatingError::None,
        Some(E::NoLevel) => RatingError::NoLevel,
        Some(E::NoService) => RatingError::NoService,
        Some(E::NoReason) => RatingError::NoReason,
        Some(E::ReasonWithoutBadLevel) => RatingError::ReasonWithoutBadLevel,
        Some(E::UnknownReason) => RatingError::UnknownReason,
        Some(E::CommentTooLong) => RatingError::CommentTooLong,
        Some(E::BadPhone) => RatingError::BadPhone,
    }
}

/// `RatingAdapter.service-kind` and `service-name` (a 办件's item in the resident's
/// language where the back office gave its English).
pub(super) fn rated_service(s: &flow::RatedService, english: bool) -> (RatedService, &str) {
    match s {
        flow::RatedService::Item(i) => (RatedService::Item, i.name.as_str()),
        flow::RatedService::OfflineCard => (RatedService::OfflineCard, ""),
        flow::RatedService::Terminal => (RatedService::Terminal, ""),
        flow::RatedService::Case(c) if english && !c.item_name_en.is_empty() => {
            (RatedService::Case, c.item_name_en.as_str())
        }
        flow::RatedService::Case(c) => (RatedService::Case, c.item_name.as_str()),
    }
}

pub(super) fn rating_source(s: RatingSource) -> flow::RatingSource {
    match s {
        RatingSource::ShownItem => flow::RatingSource::ShownItem,
        RatingSource::OfflineCard => flow::RatingSource::OfflineCard,
        RatingSource::Terminal => flow::RatingSource::Terminal,
    }
}

pub(super) fn help_state(h: flow::HelpState) -> HelpState {
    match h {
        flow::HelpState::None => HelpState::None,
        flow::HelpState::Coming => HelpState::Coming,
        flow::HelpState::Unavailable => HelpState::Unavailable,
    }
}

/// `TechnicianAdapter.state`, `attempts-left`, `minutes-left`.
pub(super) fn pad_state(p: flow::PadState) -> (PadState, i32, i32) {
    let n = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    match p {
        flow::PadState::None => (PadState::None, 0, 0),
        flow::PadState::NoPin => (PadState::NoPin, 0, 0),
        flow::PadState::Checking => (PadState::Checking, 0, 0),
        flow::PadState::Wrong { attempts_left } => (PadState::Wrong, n(attempts_left), 0),
        flow::PadState::Locked { minutes_left } => (PadState::Locked, 0, n(minutes_left)),
        flow::PadState::Unavailable => (PadState::Unavailable, 0, 0),
    }
}

pub(super) fn guide_print(g: flow::GuidePrint) -> GuidePrint {
    match g {
        flow::GuidePrint::Idle => GuidePrint::Idle,
        flow::GuidePrint::Printing => GuidePrint::Printing,
        flow::GuidePrint::Held => GuidePrint::Held,
        flow::GuidePrint::Printed => GuidePrint::Printed,
        flow::GuidePrint::Failed => GuidePrint::Failed,
    }
}

pub(super) fn audience(a: crate::api::Audience) -> Audience {
    match a {
        crate::api::Audience::Personal => Audience::Personal,
        crate::api::Audience::Legal => Audience::Legal,
    }
}

pub(super) fn audience_from(a: Audience) -> crate::api::Audience {
    match a {
        Audience::Personal => crate::api::Audience::Personal,
        Audience::Legal => crate::api::Audience::Legal,
    }
}

// ---- the session into the globals

/// What was rendered last: parts equal to it are not rendered again (models are
/// rebuilt only when their part changed). Rust's own copy, never read from the UI.
#[derive(Default)]
pub(super) struct Rendered {
    last: Option<(flow::Session, u64)>,
}

/// Switches the UI language at run time (bundled translations; zh_CN is the original).
pub fn set_language(w: &MainWindow, english: bool) {
    let lang = if english { "en" } else { "" };
    match slint::select_bundled_translation(lang) {
        Ok(()) => w.global::<SessionAdapter>().set_english(english),
        Err(e) => log::warn!("language {lang:?}: {e}"),
    }
}

impl Rendered {
    /// Renders `s` (with the catalogue of generation `generation`, and the reader as the
    /// terminal knows it) into the globals.
    pub(super) fn render(
        &mut self,
        w: &MainWindow,
        s: &flow::Session,
        settings: &flow::Settings,
        reader: flow::ReaderState,
        catalog: Option<&Catalog>,
        generation: u64,
    ) {
        // The reader outlives the session: rendered every time (two booleans).
        let ia = w.global::<IdentityAdapter>();
        ia.set_card_on_reader(reader.card_present);
        ia.set_reader_unavailable(reader.unavailable);
        let last = match &self.last {
            Some((l, g)) if *g == generation => {
                if l == s {
                    return;
                }
                Some(l)
            }
            _ => None,
        };
        // Session: page, countdown, help, 帮办, 长者模式, language.
        let sa = w.global::<SessionAdapter>();
        sa.set_page(page(s.page()));
        sa.set_item_return(page(s.nav().item_return()));
        sa.set_countdown(i32::try_from(s.nav().countdown()).unwrap_or(i32::MAX));
        sa.set_help_state(help_state(s.help().state()));
        sa.set_help_called_at(
            s.help()
                .called_at()
                .map(|(h, m)| format!("{h:02}:{m:02}"))
                .unwrap_or_default()
                .into(),
        );
        sa.set_staff(
            s.assist()
                .staff()
                .map(|id| id.as_str().to_string())
                .unwrap_or_default()
                .into(),
        );
        if last.is_none_or(|l| l.large() != s.large()) {
            w.global::<Theme>().set_large(s.large());
        }
        if last.is_none_or(|l| l.english() != s.english()) {
            set_language(w, s.english());
        }

        // Browsing.
        let b = s.browse();
        let c = w.global::<CatalogAdapter>();
        c.set_query(b.query().into());
        c.set_no_match(b.answer().no_match);
        c.set_audience(audience(b.audience()));
        c.set_theme(b.theme().into());
        c.set_guide_print(guide_print(b.guide_print()));
        // The catalogue's rows are in the screen's language: rebuilt when it changes too.
        let language_changed = last.is_none_or(|l| l.english() != s.english());
        if language_changed && let Some(catalog) = catalog {
            render_home(w, catalog, s.english());
        }
        if language_changed || last.is_none_or(|l| l.browse() != b) {
            self.render_browse(w, b, catalog, s.english());
        }

        // 离线码.
        let v = s.card().view(settings.keypad, s.assist().staff().is_some());
        let o = w.global::<OfflineCodeAdapter>();
        o.set_keypad(v.keypad);
        o.set_by_card(v.by_card);
        o.set_by_code(v.by_code);
        o.set_change_allowed(v.change_allowed);
        o.set_id_entry(v.id_entry.as_str().into());
        o.set_complete(v.complete);
        o.set_error(id_problem(v.problem));
        o.set_step(card_step(v.step));
        o.set_failure(card_failure(v.failure));
        o.set_masked_name(v.masked_name.as_str().into());
        // The back office's reason, in this screen's language only.
        o.set_reason(
            crate::api::Text::from_joined(&v.reason)
                .get(s.english())
                .into(),
        );
        o.set_held(v.held);
        o.set_held_unsupported(v.held_unsupported);
        o.set_has_card(v.has_card);

        // Who the resident is; notices; the scanned card's check.
        let id = s.identity();
        ia.set_resident_name(
            id.resident()
                .map(|r| r.masked_name.as_str())
                .unwrap_or("")
                .into(),
        );
        ia.set_by_card(
            id.resident()
                .is_some_and(|r| r.source == crate::resident::IdSource::Card),
        );
        ia.set_notice(notice(id.notice()));
        let ck = id.check();
        ia.set_check_step(check_step(ck.step));
        ia.set_check_name(ck.masked_name.as_str().into());
        ia.set_check_id(ck.masked_id.as_str().into());
        ia.set_check_expires(
            ck.expires_on
                .map(|d| d.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
                .into(),
        );
        ia.set_check_lost(ck.lost);

        // 我的.
        let mine = s.mine();
        let ma = w.global::<MineAdapter>();
        ma.set_step(mine_step(mine.step()));
        ma.set_session_ended(mine.problem() == Some(flow::mine::MineProblem::SessionEnded));
        ma.set_ready(s.identity().token().is_some());
        ma.set_opening(s.identity().opening());
        if last.is_none_or(|l| l.mine().rows() != mine.rows()) {
            ma.set_applications(model(
                mine.rows()
                    .iter()
                    .map(|a| ApplicationRow {
                        case_no: a.case_no.as_str().into(),
                        item_name: a.item_name.as_str().into(),
                        submitted_on: a.submitted_on.as_str().into(),
                        status: application_status(a.status),
                        timeline: model(
                            a.timeline
                                .iter()
                                .map(|t| TimelineStep {
                                    status: application_status(t.status),
                                    date: t.date.as_str().into(),
                                })
                                .collect(),
                        ),
                        missing: a.missing.as_str().into(),
                        collect: a.collect.as_str().into(),
                    })
                    .collect(),
            ));
        }

        // 证明打印, 快办, the end of a task.
        super::services::render(w, s, last);

        // 好差评.
        let v = s.rating().view(settings);
        let r = w.global::<RatingAdapter>();
        r.set_step(rating_step(v.step));
        r.set_level(v.level.map_or(0, |l| i32::from(u8::from(l))));
        let (kind, name) = rated_service(&v.service, s.english());
        // An item rated from its page: its English name where the catalogue has one.
        let name = match (&v.service, catalog) {
            (flow::RatedService::Item(i), Some(c)) if s.english() => c
                .item(&i.code)
                .and_then(|x| x.en.as_ref())
                .map_or(name, |e| e.name.as_str()),
            _ => name,
        };
        r.set_service_kind(kind);
        r.set_service_name(name.into());
        r.set_case_no(v.service.case_no().unwrap_or_default().into());
        r.set_callback(v.callback);
        r.set_phone_entry(v.phone_entry.as_str().into());
        r.set_error(rating_error(v.error));
        if last.is_none_or(|l| l.rating().view(settings).reasons != v.reasons) {
            r.set_reasons(model(
                v.reasons
                    .iter()
                    .map(|t| ReasonTag {
                        text: t.text.as_str().into(),
                        chosen: t.chosen,
                    })
                    .collect(),
            ));
        }

        // The PIN pad and the maintenance page.
        let m = s.maintenance().view();
        let t = w.global::<TechnicianAdapter>();
        t.set_pin_length(i32::try_from(m.pin_length).unwrap_or(i32::MAX));
        let (state, attempts, minutes) = pad_state(m.pad);
        t.set_state(state);
        t.set_attempts_left(attempts);
        t.set_minutes_left(minutes);
        t.set_unlocked(m.unlocked.is_some());
        let info = m.unlocked.cloned().unwrap_or_default();
        t.set_terminal_id(info.terminal_id.as_str().into());
        t.set_terminal_name(info.terminal_name.as_str().into());
        t.set_version(info.version.as_str().into());
        t.set_backoffice_url(info.backoffice_url.as_str().into());
        t.set_last_error(info.last_error.as_str().into());
        t.set_setting_key(m.setting_key.into());
        t.set_setting_entry(m.setting_entry.into());
        t.set_setting_message(m.setting_message.into());
        t.set_setting_refused(m.setting_refused);
        let tool = m.tool;
        t.set_tool(tool.map(|r| r.tool.name()).unwrap_or_default().into());
        t.set_tool_running(tool.is_some_and(|r| r.report.is_none()));
        t.set_tool_ok(tool.and_then(|r| r.report.as_ref()).is_some_and(|r| r.ok));
        if last.is_none_or(|l| l.maintenance().view().tool != m.tool) {
            t.set_tool_lines(model(
                tool.and_then(|r| r.report.as_ref())
                    .map(|r| r.lines.iter().map(|l| l.as_str().into()).collect())
                    .unwrap_or_default(),
            ));
        }
        if last.is_none_or(|l| l.maintenance().view().unlocked != m.unlocked) {
            t.set_printers(model(
                info.printers
                    .iter()
                    .map(|p| PrinterInfo {
                        role: p.role.name().into(),
                        uri: p.uri.as_str().into(),
                    })
                    .collect(),
            ));
            t.set_settings(model(
                info.settings
                    .iter()
                    .map(|r| SettingRow {
                        key: r.key.as_str().into(),
                        value: r.value.as_str().into(),
                    })
                    .collect(),
            ));
        }

        self.last = Some((s.clone(), generation));
    }

    /// The catalogue's rows for what the resident browses: themes, search answers, the
    /// item and bundle shown.
    fn render_browse(
        &self,
        w: &MainWindow,
        b: &flow::Browse,
        catalog: Option<&Catalog>,
        english: bool,
    ) {
        let c = w.global::<CatalogAdapter>();
        let Some(catalog) = catalog else {
            c.set_theme_label(b.theme().into());
            c.set_themes(model(Vec::new()));
            c.set_theme_items(model(Vec::new()));
            c.set_results(model(Vec::new()));
            c.set_faq_results(model(Vec::new()));
            c.set_item(ItemDetail::default());
            c.set_bundle(BundleDetail::default());
            return;
        };
        let a = b.audience();
        c.set_themes(model(
            catalog
                .themes(a)
                .into_iter()
                .map(|g| GroupRow {
                    label: catalog.data.theme_name(&g.name, english).into(),
                    name: g.name.into(),
                    count: g.count as i32,
                })
                .collect(),
        ));
        c.set_theme_label(catalog.data.theme_name(b.theme(), english).into());
        c.set_theme_items(model(if b.theme().is_empty() {
            Vec::new()
        } else {
            catalog
                .items_in(a, Some(b.theme()), None)
                .into_iter()
                .map(|i| item_row(i, &catalog.data, english))
                .collect()
        }));
        let answer = b.answer();
        c.set_results(model(
            answer
                .items
                .iter()
                .filter_map(|code| catalog.item(code))
                .map(|i| item_row(i, &catalog.data, english))
                .collect(),
        ));
        c.set_faq_results(model(
            answer
                .faq
                .iter()
                .filter_map(|id| catalog.data.faqs.iter().find(|f| f.id == *id))
                .map(faq_row)
                .collect(),
        ));
        c.set_item(
            b.shown_item()
                .and_then(|i| catalog.item(&i.code))
                .map(|i| item_detail(i, &catalog.data, english))
                .unwrap_or_default(),
        );
        c.set_bundle(
            b.shown_bundle()
                .map(|code| bundle_detail(catalog, code, english))
                .unwrap_or_default(),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_take_the_plural_and_material_lines_stay_in_one_language() {
        assert_eq!(count_en(1, "copy", "copies"), "1 copy");
        assert_eq!(count_en(2, "copy", "copies"), "2 copies");
        assert_eq!(count_en(0, "visit", "visits"), "0 visits");
        assert_eq!(
            material_line("Recent joint photo", "original", 3, Some("2-inch"), true),
            "• Recent joint photo (original, 3 copies): 2-inch"
        );
        assert_eq!(
            material_line("Resident ID card", "original", 1, None, true),
            "• Resident ID card (original, 1 copy)"
        );
        assert_eq!(
            material_line("居民身份证", "原件", 1, None, false),
            "• 居民身份证（原件，1 份）"
        );
        assert_eq!(
            material_line("近期免冠证件照片", "原件", 1, Some("可现场拍摄"), false),
            "• 近期免冠证件照片（原件，1 份）：可现场拍摄"
        );
    }

    #[test]
    fn an_item_page_is_english_or_chinese_whole() {
        let c = civic_contract::catalogue::demo().unwrap();
        let shown = |d: &ItemDetail| {
            let mut t = vec![
                d.name.to_string(),
                d.department.to_string(),
                d.summary.to_string(),
                d.fee.to_string(),
            ];
            t.extend(slint::Model::iter(&d.conditions).map(|s| s.to_string()));
            t.extend(slint::Model::iter(&d.materials).map(|m| m.line.to_string()));
            t.extend(slint::Model::iter(&d.locations).map(|s| s.to_string()));
            t
        };
        let en = c.items.iter().find(|i| i.en.is_some()).unwrap();
        let d = item_detail(en, &c, true);
        assert!(!d.chinese_only);
        for t in shown(&d) {
            assert!(!crate::api::has_cjk(&t), "Chinese on an English page: {t}");
        }
        let zh = c.items.iter().find(|i| i.en.is_none()).unwrap();
        let d = item_detail(zh, &c, true);
        assert!(d.chinese_only);
        assert_eq!(d.name, zh.name.as_str());
        for t in shown(&d) {
            assert!(
                !t.split(|ch: char| !ch.is_ascii_alphabetic())
                    .any(|w| w.len() >= 2),
                "English in Chinese content: {t}"
            );
        }
        // A Chinese screen never gets the English, nor the note.
        let d = item_detail(en, &c, false);
        assert!(!d.chinese_only && d.name == en.name.as_str());
    }

    #[test]
    fn card_steps_and_failures_map_one_to_one() {
        use flow::CardStep as S;
        let steps = [
            (S::Entry, CardStep::Entry),
            (S::Checking, CardStep::Checking),
            (S::Confirm, CardStep::Confirm),
            (S::NotEligible, CardStep::NotEligible),
            (S::Printing, CardStep::Printing),
            (S::TakeCard, CardStep::TakeCard),
            (S::Failed, CardStep::Failed),
            (S::ReportedLost, CardStep::ReportedLost),
        ];
        for (core, ui) in steps {
            assert_eq!(card_step(core), ui, "{core:?}");
        }
        use flow::CardFailure as F;
        assert_eq!(card_failure(None), CardFailure::None);
        for (core, ui) in [
            (F::Network, CardFailure::Network),
            (F::CodeRefused, CardFailure::CodeRefused),
            (F::Printer, CardFailure::Printer),
            (F::Refused, CardFailure::Refused),
            (F::AlreadyIssuedToday, CardFailure::AlreadyIssuedToday),
            (F::StaffRequired, CardFailure::StaffRequired),
            (F::NotPrinted, CardFailure::NotPrinted),
            (F::PrinterUnsupported, CardFailure::PrinterUnsupported),
        ] {
            assert_eq!(card_failure(Some(core)), ui, "{core:?}");
        }
        assert_eq!(id_problem(None), IdProblem::None);
        assert_eq!(
            id_problem(Some(flow::IdProblem::BadChecksum)),
            IdProblem::BadChecksum
        );
    }

    #[test]
    fn pages_round_trip_and_the_pad_carries_its_numbers() {
        for p in [
            Page::Attract,
            Page::Home,
            Page::Catalogue,
            Page::Item,
            Page::Bundle,
            Page::Search,
            Page::Faq,
            Page::OfflineCode,
            Page::Rating,
            Page::CardCheck,
            Page::Mine,
            Page::Technician,
        ] {
            assert_eq!(page(page_from(p)), p);
        }
        for n in [
            None,
            Some(flow::Notice::IdExpired),
            Some(flow::Notice::Reader(flow::ReaderProblem::Moved)),
            Some(flow::Notice::Reader(flow::ReaderProblem::Unreadable)),
            Some(flow::Notice::Resolving),
            Some(flow::Notice::CodeNotFound),
            Some(flow::Notice::CodeExpired),
            Some(flow::Notice::CodeUnreadable),
            Some(flow::Notice::CodeNetwork),
        ] {
            // Each notice has its own message, and only "none" shows none.
            assert_eq!(n.is_none(), notice(n) == IdentityNotice::None, "{n:?}");
        }
        assert_eq!(
            pad_state(flow::PadState::Wrong { attempts_left: 3 }),
            (PadState::Wrong, 3, 0)
        );
        assert_eq!(
            pad_state(flow::PadState::Locked { minutes_left: 4 }),
            (PadState::Locked, 0, 4)
        );
        assert_eq!(
            rating_error(Some(crate::ratings::DraftError::BadPhone)),
            RatingError::BadPhone
        );
        assert_eq!(
            rated_service(
                &flow::RatedService::Item(flow::ShownItem {
                    code: "A1".into(),
                    name: "甲".into()
                }),
                false
            ),
            (RatedService::Item, "甲")
        );
        let case = flow::RatedService::Case(flow::rating::RatedCase {
            case_no: "CN310105-2026-Q000001".into(),
            item_code: "310105-MZ-0007".into(),
            item_name: "老年综合津贴申请".into(),
            item_name_en: "Senior citizens' allowance".into(),
        });
        assert_eq!(
            rated_service(&case, false),
            (RatedService::Case, "老年综合津贴申请")
        );
        assert_eq!(
            rated_service(&case, true),
            (RatedService::Case, "Senior citizens' allowance")
        );
        assert_eq!(
            rating_source(RatingSource::OfflineCard),
            flow::RatingSource::OfflineCard
        );
        assert_eq!(
            audience_from(audience(crate::api::Audience::Legal)),
            crate::api::Audience::Legal
        );
        assert_eq!(help_state(flow::HelpState::Coming), HelpState::Coming);
        assert_eq!(guide_print(flow::GuidePrint::Held), GuidePrint::Held);
        assert_eq!(
            rating_step(flow::RatingStep::NotSaved),
            RatingStep::NotSaved
        );
    }
}
