//! One language per screen: a Chinese screen shows none of the back office's English,
//! an English screen none of its Chinese (#18, defect 5), headless.

use crate::common::{self, click_label, texts};

use slint::ComponentHandle;
use std::sync::Arc;
use std::time::Duration;

use civic_kiosk::api::has_cjk;
use civic_kiosk::catalog::Catalog;
use civic_kiosk::config::Config;
use civic_kiosk::ui::snapshot::{Headless, init_headless};
use civic_kiosk::ui::*;

fn config() -> Arc<Config> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/config/kiosk.toml");
    let text = std::fs::read_to_string(path).unwrap();
    let layers = civic_kiosk::config::Layers::from_parts(
        std::path::Path::new(path),
        &text,
        Vec::<(String, String)>::new(),
    )
    .unwrap();
    Arc::new(layers.effective().unwrap())
}

/// Whether `s` holds an English sentence: three Latin words in a row.
fn latin_sentence(s: &str) -> bool {
    let mut run = 0;
    for w in s.split(|c: char| c.is_whitespace() || c == '/') {
        if w.len() >= 2
            && w.chars()
                .all(|c| c.is_ascii_alphabetic() || ",.;'()".contains(c))
        {
            run += 1;
            if run >= 3 {
                return true;
            }
        } else if !w.is_empty() {
            run = 0;
        }
    }
    false
}

#[test]
fn latin_sentence_finds_a_sentence_and_not_a_key_label() {
    assert!(latin_sentence(
        "您暂不符合 / Cards are for residents aged 60"
    ));
    assert!(!latin_sentence("清空 Clear"));
    assert!(!latin_sentence("310105199006154563"));
}

#[test]
fn a_back_office_refusal_shows_in_the_screen_language_only() {
    if !common::in_own_process(
        "ui_language::a_back_office_refusal_shows_in_the_screen_language_only",
    ) {
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
    let catalog = Arc::new(Catalog::new(civic_contract::catalogue::demo().unwrap()));
    let h = Headless::new(
        cfg.clone(),
        Some(catalog),
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
    // 张伟, born 1990: under 60, not eligible; the back office says why.
    for d in "310105199006154563".chars() {
        click_label(&h, &d.to_string());
    }
    click_label(&h, "下一步");
    let o = || h.window.global::<OfflineCodeAdapter>();
    assert!(
        h.pump_until(Duration::from_secs(5), |w| {
            w.global::<OfflineCodeAdapter>().get_step() == CardStep::NotEligible
        }),
        "step {:?}",
        o().get_step()
    );
    let reason = o().get_reason().to_string();
    assert!(reason.contains("60周岁"), "{reason}");
    for t in texts(&h) {
        assert!(
            !latin_sentence(&t),
            "an English sentence on a Chinese screen: {t:?}"
        );
    }
    assert!(
        texts(&h).iter().any(|t| t.contains("60周岁")),
        "the reason is on screen"
    );

    // The same refusal in English mode: English only.
    h.window.global::<SessionAdapter>().invoke_toggle_language();
    h.pump_until(Duration::from_millis(100), |_| false);
    let reason = o().get_reason().to_string();
    assert!(reason.contains("60 or more"), "{reason}");
    assert!(!has_cjk(&reason), "Chinese in an English reason: {reason}");
}
