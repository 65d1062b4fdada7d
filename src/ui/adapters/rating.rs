//! 好差评 controller: the resident's choices stay in [`crate::ratings::Draft`] (Rust), the
//! page shows them; a submitted rating is committed off the UI thread and wakes the uploader.

use super::*;
use crate::api::RatingLevel;
use crate::ratings::{self, Draft};

/// Item code rated after a 离线码 card was printed.
pub(crate) const OFFLINE_CODE_SERVICE: &str = "offline-code-card";

impl UiController {
    pub(super) fn connect_rating(self: &Rc<Self>, window: &MainWindow) {
        let r = window.global::<RatingAdapter>();
        let ctl = self.clone();
        r.on_open(move |source| ctl.open_rating(source));
        let ctl = self.clone();
        r.on_choose(move |level| {
            ctl.edit_rating(|d| {
                d.level = u8::try_from(level)
                    .ok()
                    .and_then(|l| RatingLevel::try_from(l).ok());
                if !d.level.is_some_and(RatingLevel::is_bad) {
                    // Reasons and a callback belong to a 差评 only.
                    d.reasons.clear();
                    d.callback_consent = false;
                    d.phone.clear();
                }
            })
        });
        let ctl = self.clone();
        r.on_toggle_reason(move |i| {
            let offered = ctl.config.borrow().ratings.reasons.clone();
            ctl.edit_rating(|d| {
                let Some(tag) = usize::try_from(i).ok().and_then(|i| offered.get(i)) else {
                    return;
                };
                if let Some(at) = d.reasons.iter().position(|r| r == tag) {
                    d.reasons.remove(at);
                } else {
                    d.reasons.push(tag.clone());
                    // Keep the order the tags are offered in.
                    d.reasons
                        .sort_by_key(|r| offered.iter().position(|o| o == r).unwrap_or(usize::MAX));
                }
            })
        });
        let ctl = self.clone();
        r.on_toggle_callback(move || {
            ctl.edit_rating(|d| {
                d.callback_consent = !d.callback_consent;
                if !d.callback_consent {
                    d.phone.clear();
                }
            })
        });
        let ctl = self.clone();
        r.on_phone_key(move |k| {
            ctl.edit_rating(|d| {
                if d.phone.len() < 11 && k.len() == 1 && k.chars().all(|c| c.is_ascii_digit()) {
                    d.phone.push_str(&k);
                }
            })
        });
        let ctl = self.clone();
        r.on_phone_backspace(move || {
            ctl.edit_rating(|d| {
                d.phone.pop();
            })
        });
        let ctl = self.clone();
        r.on_phone_clear(move || ctl.edit_rating(|d| d.phone.clear()));
        let ctl = self.clone();
        r.on_back(move || {
            let step = ctl
                .window
                .upgrade()
                .map(|w| w.global::<RatingAdapter>().get_step())
                .unwrap_or(0);
            ctl.with_window(|w| {
                let r = w.global::<RatingAdapter>();
                r.set_error(0);
                r.set_step((step - 1).clamp(0, 1));
            });
        });
        let ctl = self.clone();
        r.on_next(move || ctl.rating_next());
    }

    /// Starts rating a service: the item shown (0), the 离线码 card (1) or this terminal (2).
    fn open_rating(&self, source: i32) {
        let (code, kind) = match source {
            0 => match self.fields.borrow().shown_item.clone() {
                Some(code) => (code, 0),
                None => (ratings::TERMINAL_SERVICE.to_string(), 2),
            },
            1 => (OFFLINE_CODE_SERVICE.to_string(), 1),
            _ => (ratings::TERMINAL_SERVICE.to_string(), 2),
        };
        let name = if kind == 0 {
            self.catalog
                .borrow()
                .as_ref()
                .and_then(|c| c.item(&code).map(|i| i.name.clone()))
                .unwrap_or_default()
        } else {
            String::new()
        };
        let already = self.fields.borrow().rated.contains(&code);
        {
            let mut f = self.fields.borrow_mut();
            // 帮办: the staff member signed in is recorded with the rating.
            let staff = f.staff.as_ref().map(|s| s.as_str().to_string());
            f.rating = Draft {
                item_code: code,
                staff,
                ..Draft::default()
            };
        }
        self.show_rating();
        self.with_window(|w| {
            let r = w.global::<RatingAdapter>();
            r.set_service_kind(kind);
            r.set_service_name(name.into());
            r.set_step(if already { 5 } else { 0 });
            w.global::<SessionAdapter>().set_page(Page::Rating);
        });
    }

    fn edit_rating(&self, f: impl FnOnce(&mut Draft)) {
        f(&mut self.fields.borrow_mut().rating);
        self.show_rating();
        self.with_window(|w| w.global::<RatingAdapter>().set_error(0));
    }

    /// Shows the draft: level, reason tags from the config, callback and number.
    fn show_rating(&self) {
        let offered = self.config.borrow().ratings.reasons.clone();
        let (level, tags, callback, phone) = {
            let f = self.fields.borrow();
            let d = &f.rating;
            let tags: Vec<ReasonTag> = offered
                .iter()
                .map(|t| ReasonTag {
                    text: t.as_str().into(),
                    chosen: d.reasons.contains(t),
                })
                .collect();
            (
                d.level.map_or(0, |l| u8::from(l) as i32),
                tags,
                d.callback_consent,
                d.phone.clone(),
            )
        };
        self.with_window(|w| {
            let r = w.global::<RatingAdapter>();
            r.set_level(level);
            r.set_reasons(model(tags));
            r.set_callback(callback);
            r.set_phone_entry(phone.into());
        });
    }

    /// 下一步 / 提交评价: a 差评 goes on to its reasons and, with consent, the number.
    fn rating_next(&self) {
        let step = self
            .window
            .upgrade()
            .map(|w| w.global::<RatingAdapter>().get_step())
            .unwrap_or(0);
        let (bad, callback) = {
            let f = self.fields.borrow();
            (
                f.rating.level.is_some_and(RatingLevel::is_bad),
                f.rating.callback_consent,
            )
        };
        let next = match step {
            0 if bad => Some(1),
            1 if callback => Some(2),
            _ => None,
        };
        if let Some(next) = next {
            self.with_window(|w| {
                let r = w.global::<RatingAdapter>();
                r.set_error(0);
                r.set_step(next);
            });
            return;
        }
        self.submit_rating();
    }

    fn submit_rating(&self) {
        let config = self.config.borrow().clone();
        let made = self.fields.borrow().rating.finish(
            &config.terminal.id,
            &config.ratings.reasons,
            chrono::Utc::now(),
        );
        let rating = match made {
            Ok(r) => r,
            Err(e) => {
                let back_to = match e {
                    ratings::DraftError::BadPhone => 2,
                    ratings::DraftError::NoLevel => 0,
                    _ => 1,
                };
                self.with_window(|w| {
                    let r = w.global::<RatingAdapter>();
                    r.set_error(e.code());
                    r.set_step(back_to);
                });
                return;
            }
        };
        let Some(store) = self.store.clone() else {
            log::error!("rating not saved: this terminal runs without a local store");
            self.with_window(|w| w.global::<RatingAdapter>().set_step(6));
            return;
        };
        self.with_window(|w| w.global::<RatingAdapter>().set_step(3));
        let code = rating.item_code.clone();
        // One rating per service per session (一次一评), even if the store fails below:
        // the resident is not asked twice.
        self.fields.borrow_mut().rated.push(code);
        let waker = self.ratings_waker.clone();
        let weak = self.window.clone();
        self.runtime.spawn(async move {
            log::info!(
                "rating {}: level {}, {} reason(s), callback {}",
                rating.id,
                u8::from(rating.level),
                rating.reasons.len(),
                if rating.callback.is_some() {
                    "requested"
                } else {
                    "no"
                }
            );
            let saved = crate::store::run(&store, move |s| ratings::record(s, &rating)).await;
            let step = match saved {
                Ok(Ok(())) => {
                    if let Some(w) = waker {
                        w.wake();
                    }
                    4
                }
                Ok(Err(e)) => {
                    log::error!("rating not saved: {e}");
                    6
                }
                Err(e) => {
                    log::error!("rating not saved: {e}");
                    6
                }
            };
            let _ = weak.upgrade_in_event_loop(move |w| {
                w.global::<RatingAdapter>().set_step(step);
            });
        });
    }
}
