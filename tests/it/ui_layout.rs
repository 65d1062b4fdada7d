//! Every page the screenshot tool knows, in every variant (portrait and landscape, normal
//! and 长者模式, Chinese and English), as a reviewer would look at it: nothing outside the
//! window, no text cut off at its element's bottom edge, and every touch target at least 15 mm
//! (20 mm in 长者模式) at the panel's dpi.

use civic_kiosk::ui::snapshot::{Headless, PAGES, init_headless, show_page_in};
use civic_kiosk::ui::{HelpState, IdentityAdapter, IdentityNotice, SessionAdapter, Theme};
use i_slint_backend_testing::{AccessibleRole, ElementHandle, ElementQuery};
use slint::ComponentHandle;

use crate::common;
use crate::ui::{config, demo_catalog};

/// An element's rectangle in window pixels: x, y, width, height.
type Rect = (f32, f32, f32, f32);

fn rect(e: &ElementHandle) -> Rect {
    let p = e.absolute_position();
    let s = e.size();
    (p.x, p.y, s.width, s.height)
}

fn is_flickable(e: &ElementHandle) -> bool {
    e.type_name().as_deref() == Some("Flickable")
        || e.bases().is_some_and(|mut b| b.any(|t| t == "Flickable"))
}

/// Whether `r` starts inside a scrolling area `f` (its content may run on below it).
fn scrolls_in(r: Rect, f: Rect) -> bool {
    r.0 >= f.0 - 0.5 && r.0 + r.2 <= f.0 + f.2 + 0.5 && r.1 >= f.1 - 0.5
}

/// Pixels of one line of the window's image (RGBA) that differ clearly from the line's
/// most common colour: ink of glyphs on a text element's last row means the text runs on
/// past its element and is cut off there; a cut line leaves dozens of pixels, a Latin
/// descender that touches the edge a few. (Not its last column: a line of text laid out
/// at its own width has ink there; text cut off sideways is not caught here.)
fn ink(img: &[u8], width: usize, points: impl Iterator<Item = (usize, usize)>) -> usize {
    let px: Vec<[u8; 3]> = points
        .map(|(x, y)| {
            let i = (y * width + x) * 4;
            [img[i], img[i + 1], img[i + 2]]
        })
        .collect();
    let mut counts = std::collections::HashMap::new();
    for p in &px {
        *counts.entry(*p).or_insert(0usize) += 1;
    }
    let Some((&mode, _)) = counts.iter().max_by_key(|(_, n)| **n) else {
        return 0;
    };
    px.iter()
        .filter(|p| {
            p.iter()
                .zip(mode.iter())
                .map(|(a, b)| (*a as i32 - *b as i32).abs())
                .sum::<i32>()
                > 120
        })
        .count()
}

/// The problems of the page on screen, one line each.
fn problems(h: &Headless, page: &str, variant: &str, (w, hgt): (u32, u32)) -> Vec<String> {
    let mut out = Vec::new();
    let (wf, hf) = (w as f32, hgt as f32);
    let target = h.window.global::<Theme>().get_touch_target();
    let all = ElementQuery::from_root(&h.window)
        .match_descendants()
        .find_all();
    let scrolling: Vec<Rect> = all.iter().filter(|e| is_flickable(e)).map(rect).collect();
    let snapshot = h.window.window().take_snapshot().expect("a snapshot");
    // A dialog over the page (help, a notice, the idle warning) covers texts with its edges.
    let session = h.window.global::<SessionAdapter>();
    let dialog = session.get_countdown() > 0
        || session.get_help_state() != HelpState::None
        || h.window.global::<IdentityAdapter>().get_notice() != IdentityNotice::None;
    // The page between the status bar (and the help banner) and the bottom bar.
    let mm = h.window.global::<Theme>().get_mm();
    let page_top = target * 0.8
        + if session.get_help_called_at().is_empty() {
            0.0
        } else {
            target
        };
    let page_bottom = hf - target - 4.0 * mm - 2.0;
    let img = snapshot.as_bytes();
    for e in &all {
        let role = e.accessible_role();
        if !matches!(
            role,
            Some(AccessibleRole::Button) | Some(AccessibleRole::Text)
        ) {
            continue;
        }
        if e.computed_opacity() < 0.01 {
            continue;
        }
        let r = rect(e);
        let label = e.accessible_label().unwrap_or_default();
        let what = format!("{page} {variant}: {role:?} '{label}' at {r:?}");
        // Sideways, nothing leaves the window; downwards only a scrolling page's content.
        if r.0 < -0.5 || r.0 + r.2 > wf + 0.5 {
            out.push(format!("{what}: outside the window's width {w}"));
        }
        let scrolls = scrolling.iter().any(|f| scrolls_in(r, *f));
        if !scrolls && (r.1 < -0.5 || r.1 + r.3 > hf + 0.5) {
            out.push(format!("{what}: outside the window's height {hgt}"));
        }
        if role == Some(AccessibleRole::Button) && (r.2 < target - 1.0 || r.3 < target - 1.0) {
            out.push(format!("{what}: under the touch target {target:.0} px"));
        }
        // Cut-off text: ink on the last row of a text element wholly on the page (not
        // under a dialog, the status bar or the bottom bar, whose edges are ink too).
        // In a scrolling page, only what its viewport shows whole (the rest scrolls into view).
        let in_view = scrolling
            .iter()
            .filter(|f| scrolls_in(r, **f))
            .all(|f| r.1 + r.3 <= f.1 + f.3 + 0.5);
        let on_page =
            in_view && r.1 >= page_top && r.1 + r.3 <= page_bottom && r.2 >= 4.0 && r.3 >= 4.0;
        if role == Some(AccessibleRole::Text) && !label.trim().is_empty() && !dialog && on_page {
            let (x0, x1) = (
                r.0.max(0.0) as usize,
                ((r.0 + r.2).min(wf) as usize).saturating_sub(1),
            );
            let y1 = ((r.1 + r.3) as usize).saturating_sub(1);
            let bottom = ink(img, w as usize, (x0..=x1).map(|x| (x, y1)));
            if bottom >= 10 {
                out.push(format!(
                    "{what}: text cut off ({bottom} px of ink on its last row)"
                ));
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[test]
fn every_page_fits_in_every_variant() {
    if !common::in_own_process("ui_layout::every_page_fits_in_every_variant") {
        return;
    }
    init_headless(true);
    let mut found = Vec::new();
    let mut checked = 0;
    for (w, hgt) in [(1080, 1920), (1920, 1080)] {
        let h = Headless::new(config(), Some(demo_catalog()), None, None, w, hgt, true).unwrap();
        for large in [false, true] {
            for english in [false, true] {
                let variant = format!(
                    "{w}x{hgt}{}{}",
                    if large { " 长者模式" } else { "" },
                    if english { " en" } else { "" }
                );
                for page in PAGES {
                    assert!(show_page_in(&h, page, english), "{page}");
                    h.window.global::<Theme>().set_large(large);
                    civic_kiosk::ui::set_language(&h.window, english);
                    h.pump_until(std::time::Duration::from_millis(20), |_| false);
                    found.extend(problems(&h, page, &variant, (w, hgt)));
                    checked += 1;
                }
            }
        }
    }
    assert_eq!(checked, PAGES.len() * 8);
    assert!(
        found.is_empty(),
        "{} problems:\n{}",
        found.len(),
        found.join("\n")
    );
}
