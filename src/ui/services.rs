//! Renders 我的's services (证明打印, 快办) and the end of a task into their globals, and
//! maps their core enums to the Slint enums.

use chrono::Datelike;
use slint::ComponentHandle;

use super::render::{model, strings};
use super::*;
use crate::api::{CertificateKind, FieldKind};
use crate::flow;
use crate::flow::certificate::{CertProblem as P, CertStep as S};
use crate::flow::finish::{FinishStep as F, Printed, Task};
use crate::flow::quick::{QuickProblem, QuickStep as Q};

/// The certificates in the order the page offers them (`CertificateAdapter.kind`).
pub(super) fn kind_from(i: i32) -> Option<CertificateKind> {
    usize::try_from(i)
        .ok()
        .and_then(|i| CertificateKind::ALL.get(i).copied())
}

fn kind_index(k: Option<CertificateKind>) -> i32 {
    k.and_then(|k| CertificateKind::ALL.iter().position(|x| *x == k))
        .map_or(-1, |i| i as i32)
}

fn cert_problem(p: P) -> CertProblem {
    match p {
        P::Network => CertProblem::Network,
        P::SessionEnded => CertProblem::SessionEnded,
        P::NoRecords => CertProblem::NoRecords,
        P::Printer => CertProblem::Printer,
        P::Cancelled => CertProblem::Cancelled,
        P::NotVerified => CertProblem::NotVerified,
    }
}

fn quick_step(s: Q) -> QuickStep {
    match s {
        Q::NeedsIdentity => QuickStep::NeedsIdentity,
        Q::Loading => QuickStep::Loading,
        Q::List => QuickStep::List,
        Q::Unavailable => QuickStep::Unavailable,
        Q::Intro => QuickStep::Intro,
        Q::Field => QuickStep::Field,
        Q::Confirm => QuickStep::Confirm,
        Q::Submitting => QuickStep::Submitting,
        Q::Receipt(_) => QuickStep::Receipt,
        Q::Failed => QuickStep::Failed,
    }
}

fn finish_step(s: F) -> FinishStep {
    match s {
        F::None => FinishStep::None,
        F::Result => FinishStep::Result,
        F::Rating => FinishStep::Rating,
        F::Choice => FinishStep::Choice,
        F::Countdown => FinishStep::Countdown,
    }
}

/// `zh` or `en` of a pair the back office sends.
fn pick<'a>(english: bool, zh: &'a str, en: &'a str) -> &'a str {
    if english && !en.is_empty() { en } else { zh }
}

pub(super) fn render(w: &MainWindow, s: &flow::Session, last: Option<&flow::Session>) {
    let english = s.english();

    // 证明打印.
    let c = s.certificate();
    let ca = w.global::<CertificateAdapter>();
    let (step, problem, unsupported) = match c.step() {
        S::Choose => (CertStep::Choose, CertProblem::None, false),
        S::Working => (CertStep::Working, CertProblem::None, false),
        S::Held(wait) => (
            CertStep::Held,
            CertProblem::None,
            wait == flow::PrintWait::Unsupported,
        ),
        S::Failed(p) => (CertStep::Failed, cert_problem(p), false),
    };
    ca.set_step(step);
    ca.set_problem(problem);
    ca.set_unsupported(unsupported);
    ca.set_kind(kind_index(c.kind()));
    ca.set_months(c.months().map_or(0, i32::from));
    ca.set_ready(c.ready());

    // 快办.
    let q = s.quick();
    let qa = w.global::<QuickAdapter>();
    qa.set_step(quick_step(q.step()));
    qa.set_session_ended(q.problem() == Some(flow::mine::MineProblem::SessionEnded));
    if last.is_none_or(|l| l.quick().forms() != q.forms() || l.english() != english) {
        qa.set_items(model(
            q.forms()
                .iter()
                .map(|f| QuickItemRow {
                    name: pick(english, &f.item.name, &f.item.name_en).into(),
                    who: pick(english, &f.item.who, &f.item.who_en).into(),
                    not_eligible: pick(
                        english,
                        f.not_eligible.as_deref().unwrap_or_default(),
                        f.not_eligible_en.as_deref().unwrap_or_default(),
                    )
                    .into(),
                })
                .collect(),
        ));
    }
    let form = q.form();
    qa.set_item_name(
        form.map(|f| pick(english, &f.item.name, &f.item.name_en).to_string())
            .unwrap_or_default()
            .into(),
    );
    qa.set_who(
        form.map(|f| pick(english, &f.item.who, &f.item.who_en).to_string())
            .unwrap_or_default()
            .into(),
    );
    if last.is_none_or(|l| l.quick().form() != form || l.english() != english) {
        qa.set_prefilled(model(
            form.map(|f| {
                f.prefilled
                    .iter()
                    .map(|p| LabelValue {
                        label: pick(english, &p.label, &p.label_en).into(),
                        value: p.shown.as_str().into(),
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ));
        qa.set_materials(model(
            form.map(|f| {
                f.item
                    .materials
                    .iter()
                    .map(|m| HeldMaterial {
                        name: pick(english, &m.name, &m.name_en).into(),
                        held: m.held,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        ));
    }
    qa.set_field_count(form.map_or(0, |f| f.item.fields.len() as i32));
    let field = q.field();
    qa.set_field_index(field.map_or(0, |(i, _)| i as i32));
    let (label, hint, ftype, options) = match field {
        Some((_, f)) => {
            let (t, o) = match &f.kind {
                FieldKind::Digits { .. } => (FieldType::Digits, Vec::new()),
                FieldKind::Mobile => (FieldType::Mobile, Vec::new()),
                FieldKind::Choice { options } => (
                    FieldType::Choice,
                    options
                        .iter()
                        .map(|o| pick(english, &o.label, &o.label_en).to_string())
                        .collect(),
                ),
                FieldKind::Date { .. } => (FieldType::Date, Vec::new()),
            };
            (
                pick(english, &f.label, &f.label_en).to_string(),
                pick(
                    english,
                    f.hint.as_deref().unwrap_or_default(),
                    f.hint_en.as_deref().unwrap_or_default(),
                )
                .to_string(),
                t,
                o,
            )
        }
        None => (String::new(), String::new(), FieldType::Digits, Vec::new()),
    };
    qa.set_field_label(label.as_str().into());
    qa.set_field_hint(hint.as_str().into());
    qa.set_field_type(ftype);
    qa.set_options(strings(&options));
    let days = q.days();
    qa.set_days(model(
        days.iter()
            .map(|d| DayOption {
                month: d.month() as i32,
                day: d.day() as i32,
                weekday: d.weekday().number_from_monday() as i32,
            })
            .collect(),
    ));
    let value = field
        .and_then(|(_, f)| q.values().get(&f.key))
        .unwrap_or_default()
        .to_string();
    let chosen = match field.map(|(_, f)| &f.kind) {
        Some(FieldKind::Choice { options }) => options.iter().position(|o| o.value == value),
        Some(FieldKind::Date { .. }) => days
            .iter()
            .position(|d| d.format("%Y-%m-%d").to_string() == value),
        _ => None,
    };
    qa.set_chosen(chosen.map_or(-1, |i| i as i32));
    qa.set_field_value(value.as_str().into());
    qa.set_field_error(
        q.field_error()
            .map(|(zh, en)| if english { en } else { zh })
            .unwrap_or_default()
            .into(),
    );
    qa.set_confirm_rows(model(
        q.confirm_rows()
            .iter()
            .map(|r| LabelValue {
                label: pick(english, &r.label, &r.label_en).into(),
                value: r.shown.as_str().into(),
            })
            .collect(),
    ));
    qa.set_receipt_held(matches!(q.step(), Q::Receipt(w) if w != flow::PrintWait::None));
    let (failure, refusal) = match q.failure() {
        None => (QuickFailure::None, String::new()),
        Some(QuickProblem::Network) => (QuickFailure::Network, String::new()),
        Some(QuickProblem::SessionEnded) => (QuickFailure::SessionEnded, String::new()),
        Some(QuickProblem::Fields(_)) => (QuickFailure::Fields, String::new()),
        // The back office's words, in this screen's language only.
        Some(QuickProblem::Refused(m)) => (
            QuickFailure::Refused,
            crate::api::Text::from_joined(m).get(english).to_string(),
        ),
    };
    qa.set_failure(failure);
    qa.set_refusal(refusal.as_str().into());

    // The end of a task.
    let f = s.finish();
    let fa = w.global::<FinishAdapter>();
    fa.set_step(finish_step(f.step()));
    fa.set_seconds_left(i32::try_from(f.seconds_left()).unwrap_or(0));
    let done = f.done();
    let (task, title) = match done.map(|d| &d.task) {
        Some(Task::Certificate(k)) => (
            DoneTask::Certificate,
            pick(english, k.title(), k.title_en()).to_string(),
        ),
        Some(Task::Quick { name, name_en }) => {
            (DoneTask::Quick, pick(english, name, name_en).to_string())
        }
        Some(Task::Guide { name, name_en }) => {
            (DoneTask::Guide, pick(english, name, name_en).to_string())
        }
        Some(Task::Card) => (DoneTask::Card, String::new()),
        None => (DoneTask::Certificate, String::new()),
    };
    fa.set_will_rate(done.is_some_and(|d| d.rate.is_some()));

    fa.set_task(task);
    fa.set_title(title.as_str().into());
    fa.set_case_no(done.map(|d| d.case_no.clone()).unwrap_or_default().into());
    fa.set_next_steps(
        done.map(|d| pick(english, &d.next_steps, &d.next_steps_en).to_string())
            .unwrap_or_default()
            .into(),
    );
    fa.set_printed(match done.map(|d| d.printed) {
        Some(Printed::Failed) => DonePrinted::Failed,
        Some(Printed::Cancelled) => DonePrinted::Cancelled,
        _ => DonePrinted::Yes,
    });
}

/// Where a printer's output comes out, for the result's picture and words.
pub(super) fn slot_place(slot: crate::config::OutputSlot) -> SlotPlace {
    use crate::config::OutputSlot;
    match slot {
        OutputSlot::Below => SlotPlace::Below,
        OutputSlot::Left => SlotPlace::Left,
        OutputSlot::Right => SlotPlace::Right,
    }
}
