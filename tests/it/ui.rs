//! Headless UI tests (Slint testing backend, software renderer, mock time). One test
//! function: the testing backend is initialised once per process.

use crate::common::{self, click_label};

use slint::{ComponentHandle, Model};
use std::sync::Arc;
use std::time::Duration;

use civic_kiosk::catalog::Catalog;
use civic_kiosk::config::Config;
use civic_kiosk::ui::snapshot::{Headless, init_headless};
use civic_kiosk::ui::*;

pub(crate) fn config() -> Arc<Config> {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/config/kiosk.toml")).unwrap();
    let layers = civic_kiosk::config::Layers::from_parts(
        std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/kiosk.toml")),
        &text,
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    Arc::new(layers.effective().unwrap())
}

pub(crate) fn demo_catalog() -> Arc<Catalog> {
    Arc::new(Catalog::new(civic_contract::catalogue::demo().unwrap()))
}

fn page(h: &Headless) -> Page {
    h.window.global::<SessionAdapter>().get_page()
}

fn luminance(c: slint::Color) -> f64 {
    let ch = |v: u8| {
        let v = v as f64 / 255.0;
        if v <= 0.03928 {
            v / 12.92
        } else {
            ((v + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * ch(c.red()) + 0.7152 * ch(c.green()) + 0.0722 * ch(c.blue())
}

fn contrast(a: slint::Color, b: slint::Color) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

#[test]
fn resident_ui_headless() {
    // Slint's platform belongs to one thread of a process: a process of its own.
    if !common::in_own_process("ui::resident_ui_headless") {
        return;
    }
    init_headless(true);
    let cfg = config();
    let h = Headless::new(
        cfg.clone(),
        Some(demo_catalog()),
        None,
        None,
        1080,
        1920,
        true,
    )
    .unwrap();

    // ---- theme tokens at the configured dpi, both modes
    let theme = h.window.global::<Theme>();
    let dpi = cfg.display.dpi;
    let px_per_mm = dpi / 25.4;
    let px_per_pt = dpi / 72.0;
    for (large, target_mm, body_pt, heading_pt, min_ratio) in
        [(false, 15.0, 12.0, 0.0, 4.5), (true, 20.0, 18.0, 30.0, 7.0)]
    {
        theme.set_large(large);
        assert!(
            theme.get_touch_target() as f64 >= target_mm * px_per_mm - 0.01,
            "touch target, large={large}"
        );
        assert!(
            theme.get_body() as f64 >= body_pt * px_per_pt - 0.01,
            "body size, large={large}"
        );
        assert!(
            theme.get_small() as f64 >= body_pt * px_per_pt - 0.01,
            "small text, large={large}"
        );
        assert!(
            theme.get_heading() as f64 >= heading_pt * px_per_pt - 0.01,
            "heading, large={large}"
        );
        let p = theme.get_colors();
        for (what, fg, bg) in [
            ("text on background", p.text, p.background),
            ("text on surface", p.text, p.surface),
            ("muted text on surface", p.text_muted, p.surface),
            ("muted text on background", p.text_muted, p.background),
            ("on-primary on primary", p.on_primary, p.primary),
            ("danger on surface", p.danger, p.surface),
            ("on-primary on danger", p.on_primary, p.danger),
            ("disabled text on surface", p.disabled, p.surface),
            ("accent on background", p.accent, p.background),
            ("on-tint on tint (a chosen option)", p.on_tint, p.tint),
            ("text on tint (a pressed tile)", p.text, p.tint),
            ("muted text on tint", p.text_muted, p.tint),
            (
                "on-accent on accent (the help banner)",
                p.on_accent,
                p.accent,
            ),
            (
                "primary on surface (a chosen option's edge)",
                p.primary,
                p.surface,
            ),
        ] {
            let r = contrast(fg, bg);
            assert!(
                r >= min_ratio,
                "{what}: contrast {r:.2} < {min_ratio}, large={large}"
            );
        }
        // Icons against their tile or row, and the edges of buttons: 3:1 (WCAG 1.4.11).
        for (what, fg, bg) in [
            ("icon on its tile's disc", p.on_tint, p.tint),
            ("icon on a list row", p.on_tint, p.surface),
            ("a button's edge on the background", p.border, p.background),
            ("a button's edge on a card", p.border, p.surface),
            ("a tile's edge on the background", p.primary, p.background),
        ] {
            let r = contrast(fg, bg);
            assert!(r >= 3.0, "{what}: contrast {r:.2} < 3, large={large}");
        }
    }
    theme.set_large(false);

    // ---- the first touch on attract only wakes
    assert_eq!(page(&h), Page::Attract);
    // Where home shows its first button (搜索事项) once awake.
    common::tap_at(&h, 270.0, 140.0);
    assert_eq!(
        page(&h),
        Page::Home,
        "the first touch wakes to home, nothing more"
    );
    // The touch really was where home's 搜索事项 button now is.
    let search =
        i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, "搜索事项")
            .next()
            .unwrap();
    let (pos, size) = (search.absolute_position(), search.size());
    assert!(
        (pos.x..pos.x + size.width).contains(&270.0)
            && (pos.y..pos.y + size.height).contains(&140.0),
        "搜索事项 is at {pos:?} {size:?}"
    );
    common::tap_at(&h, 270.0, 140.0);
    assert_eq!(page(&h), Page::Search, "the second touch acts");

    // ---- typing "jzz" shows 居住证 items (search runs on the runtime)
    for k in ["j", "z", "z"] {
        click_label(&h, k);
    }
    assert!(h.pump_until(Duration::from_secs(5), |w| {
        w.global::<CatalogAdapter>().get_results().row_count() > 0
    }));
    let results = h.window.global::<CatalogAdapter>().get_results();
    assert!(
        results.row_data(0).unwrap().name.starts_with("居住证"),
        "{}",
        results.row_data(0).unwrap().name
    );
    assert_eq!(h.window.global::<CatalogAdapter>().get_query(), "jzz");

    // ---- home → catalogue → theme → item detail
    click_label(&h, "首页");
    assert_eq!(page(&h), Page::Home);
    click_label(&h, "办事指南");
    assert_eq!(page(&h), Page::Catalogue);
    let themes = h.window.global::<CatalogAdapter>().get_themes();
    let first_theme = themes.row_data(0).unwrap();
    click_label(&h, &first_theme.name);
    let items = h.window.global::<CatalogAdapter>().get_theme_items();
    assert_eq!(items.row_count() as i32, first_theme.count);
    let first_item = items.row_data(0).unwrap();
    click_label(&h, &first_item.name);
    assert_eq!(page(&h), Page::Item);
    assert_eq!(
        h.window.global::<CatalogAdapter>().get_item().code,
        first_item.code
    );
    click_label(&h, "返回");
    assert_eq!(page(&h), Page::Catalogue);

    // ---- 长者模式 changes the type scale
    let body = theme.get_body();
    click_label(&h, "长者模式");
    assert!(theme.get_large());
    assert!(
        theme.get_body() >= body * 1.25,
        "{} vs {}",
        theme.get_body(),
        body
    );
    click_label(&h, "标准模式");
    assert_eq!(theme.get_body(), body);

    // ---- the idle countdown and timeout wipe an entered ID (mock time)
    click_label(&h, "首页");
    // Honest state: with no back office the tile is unavailable and says why.
    assert!(!h.window.global::<StatusAdapter>().get_backoffice_up());
    click_label(&h, "离线码打印");
    assert_eq!(page(&h), Page::Home, "an unavailable tile does nothing");
    h.window.global::<StatusAdapter>().set_backoffice_up(true);
    click_label(&h, "离线码打印");
    assert_eq!(page(&h), Page::OfflineCode, "offline code page reachable");
    for d in "3101051950".chars() {
        click_label(&h, &d.to_string());
    }
    assert_eq!(
        h.window.global::<OfflineCodeAdapter>().get_id_entry(),
        "310105 1950"
    );
    let idle = Duration::from_secs(cfg.display.idle_timeout_s as u64);
    i_slint_backend_testing::mock_elapsed_time(idle - Duration::from_secs(1));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(
        h.window.global::<SessionAdapter>().get_countdown(),
        0,
        "no dialog before the timeout"
    );
    i_slint_backend_testing::mock_elapsed_time(Duration::from_secs(2));
    h.pump_until(Duration::from_millis(50), |_| false);
    let left = h.window.global::<SessionAdapter>().get_countdown();
    assert!((8..=10).contains(&left), "countdown shows {left}");
    // A touch on the dimmed screen around the warning gives more time, like "需要，继续办理",
    // and keeps everything.
    common::tap_at(&h, 40.0, 400.0);
    assert_eq!(h.window.global::<SessionAdapter>().get_countdown(), 0);
    assert_eq!(
        h.window.global::<OfflineCodeAdapter>().get_id_entry(),
        "310105 1950"
    );
    // Then nobody touches anything: timeout plus the countdown.
    i_slint_backend_testing::mock_elapsed_time(idle + Duration::from_secs(11));
    h.pump_until(Duration::from_millis(50), |_| false);
    assert_eq!(page(&h), Page::Attract);
    assert_eq!(h.window.global::<OfflineCodeAdapter>().get_id_entry(), "");
    assert_eq!(h.window.global::<CatalogAdapter>().get_query(), "");
    assert_eq!(
        h.window
            .global::<CatalogAdapter>()
            .get_results()
            .row_count(),
        0
    );

    // ---- ID validation messages on the keypad
    h.window.global::<SessionAdapter>().invoke_wake();
    click_label(&h, "离线码打印");
    for d in "310105195001011232".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    assert_eq!(
        h.window.global::<OfflineCodeAdapter>().get_error(),
        IdProblem::BadChecksum,
        "check digit error"
    );

    // ---- rating page: nothing preselected
    click_label(&h, "首页");
    click_label(&h, "好差评");
    assert_eq!(page(&h), Page::Rating);
    assert_eq!(h.window.global::<RatingAdapter>().get_level(), 0);

    // ---- hidden gesture: a 5-second press on the top-left corner
    click_label(&h, "首页");
    use slint::platform::{PointerEventButton, WindowEvent};
    let corner = slint::LogicalPosition::new(5.0, 5.0);
    h.window
        .window()
        .dispatch_event(WindowEvent::PointerPressed {
            position: corner,
            button: PointerEventButton::Left,
        });
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(2000));
    h.pump_until(Duration::from_millis(20), |_| false);
    assert_eq!(page(&h), Page::Home, "2 s is not enough");
    i_slint_backend_testing::mock_elapsed_time(Duration::from_millis(3100));
    h.pump_until(Duration::from_millis(20), |_| false);
    h.window
        .window()
        .dispatch_event(WindowEvent::PointerReleased {
            position: corner,
            button: PointerEventButton::Left,
        });
    assert_eq!(page(&h), Page::Technician);

    // ---- the language switch changes the strings, and back
    click_label(&h, "首页");
    click_label(&h, "language");
    assert!(h.window.global::<SessionAdapter>().get_english());
    let labels = |h: &Headless, l: &str| {
        i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, l).count()
    };
    for (zh, en) in [
        ("首页", "Home"),
        ("搜索事项", "Search"),
        ("呼叫工作人员", "Call staff"),
    ] {
        assert_eq!(labels(&h, zh), 0, "{zh} still shown in English mode");
        assert!(labels(&h, en) >= 1, "{en} not shown");
    }
    click_label(&h, "language");
    assert!(!h.window.global::<SessionAdapter>().get_english());
    assert!(labels(&h, "首页") >= 1 && labels(&h, "Home") == 0);

    // ---- call-staff reaches the reference back office
    let dir = tempfile::tempdir().unwrap();
    let server_rt = common::runtime();
    let bo = server_rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let (url, admin, key) = (bo.url.clone(), bo.admin_token.clone(), bo.key);
    let client = |token: &str| common::client(&url, token);
    drop(h);
    let spool = dir.path().join("cards");
    let mut with_spool = (*cfg).clone();
    with_spool.printers.card.uri = format!("pdf://{}", spool.display());
    let h = Headless::new(
        Arc::new(with_spool),
        Some(demo_catalog()),
        Some(client(&cfg.backoffice.token)),
        Some(key),
        1080,
        1920,
        true,
    )
    .unwrap();
    h.window.global::<SessionAdapter>().invoke_wake();
    click_label(&h, "呼叫工作人员");
    assert!(h.pump_until(
        Duration::from_secs(5),
        |w| w.global::<SessionAdapter>().get_help_state() != HelpState::None
    ));
    assert_eq!(
        h.window.global::<SessionAdapter>().get_help_state(),
        HelpState::Coming,
        "help confirmed by the back office"
    );
    let terminals = server_rt.block_on(client(&admin).terminals()).unwrap();
    let me = terminals
        .iter()
        .find(|t| t.terminal_id == cfg.terminal.id)
        .expect("terminal known to the back office");
    assert_eq!(me.open_help_requests, 1);
    // The call stays on screen until the session ends; pressing again asks no second time.
    click_label(&h, "知道了");
    let called = h.window.global::<SessionAdapter>().get_help_called_at();
    assert_eq!(called.len(), 5, "HH:MM: {called}");
    assert!(common::shown(
        &h,
        &format!("已呼叫工作人员（{called}），请在原地稍候")
    ));
    click_label(&h, "呼叫工作人员");
    h.pump_until(Duration::from_millis(300), |_| false);
    assert_eq!(
        h.window.global::<SessionAdapter>().get_help_state(),
        HelpState::Coming,
        "the dialog says it again"
    );
    let terminals = server_rt.block_on(client(&admin).terminals()).unwrap();
    let me = terminals
        .iter()
        .find(|t| t.terminal_id == cfg.terminal.id)
        .unwrap();
    assert_eq!(me.open_help_requests, 1, "no second request");

    // ---- the 离线码 flow on the keypad, to a card in the pdf:// spool
    click_label(&h, "知道了");
    click_label(&h, "离线码打印");
    for d in "310105195001011231".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    let o = || h.window.global::<OfflineCodeAdapter>();
    assert!(
        h.pump_until(Duration::from_secs(5), |w| w
            .global::<OfflineCodeAdapter>()
            .get_step()
            == CardStep::Confirm),
        "step {:?}",
        o().get_step()
    );
    assert_eq!(o().get_masked_name(), "王*英");
    click_label(&h, "是本人，打印卡片");
    assert!(
        h.pump_until(Duration::from_secs(10), |w| matches!(
            w.global::<OfflineCodeAdapter>().get_step(),
            CardStep::TakeCard | CardStep::Failed | CardStep::ReportedLost
        )),
        "step {:?}",
        o().get_step()
    );
    assert_eq!(
        o().get_step(),
        CardStep::TakeCard,
        "failure {:?} {:?}",
        o().get_failure(),
        o().get_reason()
    );
    let cards: Vec<_> = std::fs::read_dir(&spool)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(cards.len(), 1);
    assert!(std::fs::read(&cards[0]).unwrap().starts_with(b"%PDF-"));
    // An ineligible resident gets the back office's reason, and nothing prints.
    click_label(&h, "继续办理");
    click_label(&h, "离线码打印");
    for d in "310105199006154563".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    assert!(h.pump_until(
        Duration::from_secs(5),
        |w| w.global::<OfflineCodeAdapter>().get_step() == CardStep::NotEligible
    ));
    assert!(o().get_reason().contains("60周岁"), "{}", o().get_reason());
    assert_eq!(std::fs::read_dir(&spool).unwrap().count(), 1);

    // ---- a rendered page shows Chinese glyphs (the bundled font is in use)
    let shot = h.window.window().take_snapshot().unwrap();
    let distinct: std::collections::HashSet<[u8; 4]> = shot
        .as_bytes()
        .chunks_exact(4)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    assert!(
        distinct.len() > 50,
        "the page rendered almost nothing: {} colours",
        distinct.len()
    );
}

#[test]
fn bundled_font_covers_gb2312_gbk_ext_a_and_names() {
    let data = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/assets/fonts/NotoSansSC-Kiosk.otf"
    ))
    .unwrap();
    let face = ttf_parser::Face::parse(&data, 0).unwrap();
    let has = |c: char| face.glyph_index(c).is_some();
    let mut gb2312 = (0, 0);
    let mut gbk = (0, 0);
    for lead in 0x81u8..=0xFE {
        for trail in 0x40u8..=0xFE {
            if trail == 0x7F {
                continue;
            }
            let bytes = [lead, trail];
            let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
            let Some(c) = text.chars().next().filter(|_| !bad) else {
                continue;
            };
            let ideograph = matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF);
            if !ideograph {
                continue;
            }
            gbk.1 += 1;
            gbk.0 += usize::from(has(c));
            if (0xB0..=0xF7).contains(&lead) && (0xA1..=0xFE).contains(&trail) {
                gb2312.1 += 1;
                gb2312.0 += usize::from(has(c));
            }
        }
    }
    assert_eq!(gb2312, (6763, 6763), "GB 2312 hanzi");
    assert_eq!(gbk.0, gbk.1, "GBK ideographs");
    let ext_a = (0x3400u32..=0x4DB5)
        .filter(|&u| has(char::from_u32(u).unwrap()))
        .count();
    assert_eq!(ext_a, 6582, "CJK Extension A (Unicode 3.0 block)");
    for c in "堃喆赟昇燊淼垚彧犇玥暠旻珺甦翀弢婧祎瑄炜".chars() {
        assert!(has(c), "name character {c}");
    }
    for c in ('0'..='9').chain('a'..='z').chain('A'..='Z') {
        assert!(has(c), "{c}");
    }
}

#[test]
fn every_ui_string_has_an_english_translation() {
    let po = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/translations/en/LC_MESSAGES/civic-kiosk.po"
    ))
    .unwrap();
    let mut translated = std::collections::HashMap::new();
    let mut lines = po.lines();
    while let Some(line) = lines.next() {
        if let Some(id) = line
            .strip_prefix("msgid \"")
            .and_then(|l| l.strip_suffix('"'))
        {
            let mut next = lines.next().unwrap_or("");
            // A plural entry (`@tr("…{n}…" | "…" % n)`): both English forms must be there.
            let plural = next.starts_with("msgid_plural \"");
            if plural {
                next = lines.next().unwrap_or("");
            }
            let text = |l: &str, key: &str| {
                l.strip_prefix(key)
                    .and_then(|l| l.strip_suffix('"'))
                    .unwrap_or("")
                    .to_string()
            };
            let s = if plural {
                let one = text(next, "msgstr[0] \"");
                let many = text(lines.next().unwrap_or(""), "msgstr[1] \"");
                if one.is_empty() { one } else { many }
            } else {
                text(next, "msgstr \"")
            };
            translated.insert(id.replace("\\\"", "\""), s);
        }
    }
    let mut missing = Vec::new();
    let mut count = 0;
    let mut stack = vec![std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/ui"
    ))];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap();
            for part in text.split("@tr(\"").skip(1) {
                let id = part.split('"').next().unwrap();
                count += 1;
                if translated.get(id).is_none_or(|s| s.is_empty()) {
                    missing.push(format!("{}: {id}", p.display()));
                }
            }
        }
    }
    assert!(count > 50, "found only {count} @tr strings");
    assert!(missing.is_empty(), "untranslated: {missing:#?}");
}

/// Where an element is and how big, in whole logical pixels: (x, y, width, height).
fn geometry(e: &i_slint_backend_testing::ElementHandle) -> (i32, i32, i32, i32) {
    let (p, s) = (e.absolute_position(), e.size());
    (
        p.x.round() as i32,
        p.y.round() as i32,
        s.width.round() as i32,
        s.height.round() as i32,
    )
}

/// Where each key of the search keyboard is, and how big: (label, x, y, width, height).
fn keyboard_geometry(h: &Headless) -> Vec<(String, i32, i32, i32, i32)> {
    ["q", "j", "z", "m", "删除 Delete"]
        .iter()
        .map(|k| {
            let e = i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, k)
                .find(|e| e.accessible_enabled() == Some(true))
                .unwrap_or_else(|| panic!("key {k} on screen"));
            let (x, y, w, h) = geometry(&e);
            (k.to_string(), x, y, w, h)
        })
        .collect()
}

#[test]
fn the_search_keyboard_never_moves_under_the_finger() {
    if !common::in_own_process("ui::the_search_keyboard_never_moves_under_the_finger") {
        return;
    }
    init_headless(true);
    for (width, height) in [(1080, 1920), (1920, 1080)] {
        let h = Headless::new(
            config(),
            Some(demo_catalog()),
            None,
            None,
            width,
            height,
            true,
        )
        .unwrap();
        for large in [false, true] {
            h.controller.wipe_session();
            let s = h.window.global::<SessionAdapter>();
            s.invoke_wake();
            if large {
                s.invoke_toggle_large();
            }
            s.invoke_go(Page::Search);
            h.pump_until(Duration::from_millis(100), |_| false);
            let before = keyboard_geometry(&h);
            let target = h.window.global::<Theme>().get_touch_target();
            for (k, _, _, w, hgt) in &before {
                assert!(
                    *w as f32 >= target - 1.0 && *hgt as f32 >= target - 1.0,
                    "{width}x{height} large={large}: key {k} is {w}x{hgt}, under {target}"
                );
            }
            click_label(&h, "j");
            assert!(h.pump_until(Duration::from_secs(3), |w| {
                w.global::<CatalogAdapter>().get_results().row_count() > 0
            }));
            assert_eq!(
                keyboard_geometry(&h),
                before,
                "{width}x{height} large={large}: the keyboard moved after a letter"
            );
            click_label(&h, "清空 Clear");
            h.pump_until(Duration::from_millis(100), |_| false);
            assert_eq!(
                keyboard_geometry(&h),
                before,
                "and when the query is emptied"
            );
        }
    }
}

/// The bottom bar's four places: (x, y, width, height) of each, left to right.
fn bottom_bar(h: &Headless) -> Vec<(i32, i32, i32, i32)> {
    let place = |labels: &[&str]| {
        let e = labels
            .iter()
            .flat_map(|l| {
                i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, l)
            })
            .filter(|e| e.accessible_enabled() == Some(true))
            // The bar's button, not a page's button of the same name: the lowest one.
            .max_by(|a, b| a.absolute_position().y.total_cmp(&b.absolute_position().y))
            .unwrap_or_else(|| panic!("{labels:?} in the bottom bar"));
        geometry(&e)
    };
    vec![
        place(&["首页", "返回"]),
        place(&["长者模式", "标准模式"]),
        place(&["language"]),
        place(&["呼叫工作人员", "退出帮办"]),
    ]
}

#[test]
fn the_bottom_bar_keeps_its_places_on_every_page_and_in_both_modes() {
    if !common::in_own_process(
        "ui::the_bottom_bar_keeps_its_places_on_every_page_and_in_both_modes",
    ) {
        return;
    }
    init_headless(true);
    for (width, height) in [(1080, 1920), (1920, 1080)] {
        let h = Headless::new(
            config(),
            Some(demo_catalog()),
            None,
            None,
            width,
            height,
            true,
        )
        .unwrap();
        let s = h.window.global::<SessionAdapter>();
        s.invoke_wake();
        h.pump_until(Duration::from_millis(100), |_| false);
        let normal = bottom_bar(&h);
        // The mode toggle, tapped twice at the same spot, undoes itself.
        let (x, y, w, hh) = normal[1];
        let (cx, cy) = ((x + w / 2) as f32, (y + hh / 2) as f32);
        common::tap_at(&h, cx, cy);
        assert!(
            h.window.global::<Theme>().get_large(),
            "{width}x{height}: 长者模式 on"
        );
        let large = bottom_bar(&h);
        assert_eq!(
            (large[1].0, large[1].2),
            (normal[1].0, normal[1].2),
            "{width}x{height}: the toggle stayed where it was"
        );
        for page in [
            Page::Search,
            Page::Catalogue,
            Page::Faq,
            Page::Mine,
            Page::Home,
        ] {
            s.invoke_go(page);
            h.pump_until(Duration::from_millis(50), |_| false);
            assert_eq!(
                bottom_bar(&h),
                large,
                "{width}x{height}: {page:?} in 长者模式"
            );
        }
        let (x, y, w, hh) = large[1];
        common::tap_at(&h, (x + w / 2) as f32, (y + hh / 2) as f32);
        assert!(
            !h.window.global::<Theme>().get_large(),
            "the second tap undid it"
        );
        for page in [
            Page::Search,
            Page::Catalogue,
            Page::Faq,
            Page::Mine,
            Page::Home,
        ] {
            s.invoke_go(page);
            h.pump_until(Duration::from_millis(50), |_| false);
            let here = bottom_bar(&h);
            let xs: Vec<(i32, i32)> = here.iter().map(|p| (p.0, p.2)).collect();
            let was: Vec<(i32, i32)> = normal.iter().map(|p| (p.0, p.2)).collect();
            assert_eq!(xs, was, "{width}x{height}: {page:?}");
        }
    }
}

#[test]
fn no_page_shows_a_blank_or_dead_key() {
    if !common::in_own_process("ui::no_page_shows_a_blank_or_dead_key") {
        return;
    }
    init_headless(true);
    let h = Headless::new(config(), Some(demo_catalog()), None, None, 1080, 1920, true).unwrap();
    // The pages with keypads, and every other page the screenshot tool knows.
    for page in civic_kiosk::ui::snapshot::PAGES {
        assert!(civic_kiosk::ui::snapshot::show_page(&h, page), "{page}");
        let buttons = i_slint_backend_testing::ElementQuery::from_root(&h.window)
            .match_descendants()
            .match_accessible_role(i_slint_backend_testing::AccessibleRole::Button)
            .find_all();
        assert!(
            !buttons.is_empty() || *page == "attract",
            "{page}: no buttons"
        );
        for b in buttons {
            let label = b.accessible_label().unwrap_or_default();
            assert!(
                !label.trim().is_empty(),
                "{page}: a button without a label at {:?}",
                b.absolute_position()
            );
        }
    }
    // The plain digit pads: every key does something.
    for page in ["rating", "quick-field-mobile", "technician"] {
        civic_kiosk::ui::snapshot::show_page(&h, page);
        if page == "rating" {
            let r = h.window.global::<RatingAdapter>();
            r.set_step(RatingStep::Phone);
            h.pump_until(Duration::from_millis(50), |_| false);
        }
        for key in ["1", "0", "←", "清空 Clear"] {
            assert!(
                i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, key)
                    .any(|e| e.accessible_enabled() == Some(true)),
                "{page}: key {key}"
            );
        }
        assert!(
            i_slint_backend_testing::ElementHandle::find_by_accessible_label(&h.window, "X")
                .next()
                .is_none(),
            "{page}: no X on a plain digit pad"
        );
    }
}

#[test]
fn a_refused_number_is_corrected_not_typed_again() {
    if !common::in_own_process("ui::a_refused_number_is_corrected_not_typed_again") {
        return;
    }
    init_headless(true);
    let cfg = config();
    let dir = tempfile::tempdir().unwrap();
    let rt = common::runtime();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        Some((&cfg.backoffice.token, &cfg.terminal.id)),
    ));
    let h = Headless::new(
        cfg.clone(),
        Some(demo_catalog()),
        Some(bo.client(&cfg.backoffice.token)),
        Some(bo.key),
        1080,
        1920,
        true,
    )
    .unwrap();
    h.window.global::<SessionAdapter>().invoke_wake();
    h.window.global::<StatusAdapter>().set_backoffice_up(true);
    click_label(&h, "离线码打印");
    // 张伟, born 1990: under 60, not eligible.
    for d in "310105199006154563".chars() {
        click_label(&h, &d.to_string());
    }
    let o = || h.window.global::<OfflineCodeAdapter>();
    let typed = o().get_id_entry();
    click_label(&h, "下一步");
    assert!(
        h.pump_until(Duration::from_secs(5), |w| {
            w.global::<OfflineCodeAdapter>().get_step() == CardStep::NotEligible
        }),
        "step {:?}",
        o().get_step()
    );
    click_label(&h, "重新输入");
    assert_eq!(o().get_step(), CardStep::Entry);
    assert_eq!(o().get_id_entry(), typed, "every digit kept");
    click_label(&h, "←");
    assert_eq!(
        o().get_id_entry().replace(' ', "").len(),
        17,
        "one digit to correct, not eighteen to type again"
    );
}
