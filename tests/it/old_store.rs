//! Old stores upgrade in place (issue 14): a `kiosk.sqlite` made by 216599b's own code
//! (`fixtures/216599b`, its README says how) opens with today's code. Its PINs still
//! verify, its audits and cached catalogue are still there, and its pending ratings
//! upload to the reference back office exactly once each.

use crate::common;

use std::path::Path;
use std::sync::{Arc, Mutex};

use civic_kiosk::api::{Rating, RatingLevel};
use civic_kiosk::config::RatingsSection;
use civic_kiosk::pin::{self, Entry, Holder, StaffId};
use civic_kiosk::ratings::{self, sync};
use civic_kiosk::store::{self, Store};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/fixtures/216599b/kiosk.sqlite"
);
/// `PRAGMA user_version` of the fixture: 216599b's four migrations.
const OLD_SCHEMA: i64 = 4;
const TERMINAL: &str = "CN-TSL-001";
const TOKEN: &str = "demo-token-CN-TSL-001";
const TECHNICIAN_PIN: &str = "246813";
const STAFF: &str = "bb-0042";
const STAFF_PIN: &str = "975318";
/// The fixture's ratings, oldest first: 非常满意, a 差评 with a callback, 基本满意.
const GOOD: &str = "01a233b4-7b6f-7f29-959c-0fee1e9d7654";
const BAD: &str = "01a233b9-0f4f-7b89-ace2-0b6982d5f17f";
const NEUTRAL: &str = "01a233bd-a32f-7bad-80f8-5a6cd9892b3e";
const PHONE: &str = "13912345678";

fn id(s: &str) -> uuid::Uuid {
    s.parse().unwrap()
}

/// (id, how many times) of every rating the back office holds for the terminal.
fn held_at_backoffice(db: &Path) -> Vec<(String, i64)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT id, COUNT(*) FROM ratings WHERE terminal_id = ?1 GROUP BY id ORDER BY id")
        .unwrap();
    stmt.query_map([TERMINAL], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn backoffice_copy(db: &Path, rating: &str) -> Rating {
    let conn = rusqlite::Connection::open(db).unwrap();
    let body: String = conn
        .query_row("SELECT body FROM ratings WHERE id = ?1", [rating], |r| {
            r.get(0)
        })
        .unwrap();
    serde_json::from_str(&body).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_216599b_store_opens_keeps_pins_audits_catalogue_and_syncs_each_rating_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let file = data.join("kiosk.sqlite");
    std::fs::copy(FIXTURE, &file).unwrap();
    // The fixture is one file (its WAL was checkpointed) at the old schema version.
    assert!(!Path::new(&format!("{FIXTURE}-wal")).exists());
    let found: i64 = rusqlite::Connection::open(&file)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(found, OLD_SCHEMA);

    // ---- today's code opens it, at today's schema version (that of a fresh store)
    let today = Store::open_in(&dir.path().join("fresh"))
        .unwrap()
        .schema_version()
        .unwrap();
    assert!(today >= OLD_SCHEMA);
    let s = Store::open_in(&data).unwrap();
    assert_eq!(s.schema_version().unwrap(), today);
    assert_eq!(s.integrity_check().unwrap(), "ok");
    assert_eq!(s.settings().unwrap(), ("wal".to_string(), 2));
    let store: store::Shared = Arc::new(Mutex::new(s));

    // ---- the audit rows the old code wrote, oldest first, none shipped yet
    let old_audit: Vec<(String, Option<String>, String)> = store::lock(&store)
        .audit_unshipped(100)
        .unwrap()
        .into_iter()
        .map(|(_, a)| (a.kind, a.actor, a.detail))
        .collect();
    let tech = Some("technician (root)".to_string());
    assert_eq!(
        old_audit,
        [
            (
                "pin_set".into(),
                tech.clone(),
                "technician PIN set for technician".into()
            ),
            (
                "pin_set".into(),
                tech,
                "staff PIN set for staff:bb-0042".into()
            ),
            (
                "pin_entered".into(),
                Some("technician".into()),
                "technician PIN accepted: maintenance mode".into()
            ),
            (
                "config_changed".into(),
                Some("technician".into()),
                "maintenance page: display.idle_timeout_s 120 -> 90".into()
            ),
            (
                "pin_failed".into(),
                None,
                "wrong PIN, 1 of 5 in a row".into()
            ),
        ]
    );

    // ---- the cached catalogue: the demo catalogue of 216599b, with its ETag
    let (catalog, meta) = civic_kiosk::catalog::sync::load_cached(&store)
        .unwrap()
        .expect("the cached catalogue is there");
    assert_eq!(meta.version, "2026.11.26-1");
    assert_eq!(
        meta.etag.as_deref(),
        Some("\"effd16a4e8e7afb2d5373d935694fa32\"")
    );
    assert_eq!(catalog.data.version, "2026.11.26-1");
    assert_eq!(catalog.data.items.len(), 341);
    assert_eq!(
        catalog.item("310105-GA-0001").map(|i| i.name.as_str()),
        Some("居住证申领")
    );
    assert!(
        catalog
            .search_items("居住证", 10)
            .iter()
            .any(|i| i.code == "310105-GA-0001"),
        "the rebuilt index finds the cached items"
    );

    // ---- the PINs: both holders are there; the wrong PIN the old pad counted still
    // counts; a wrong PIN is refused, the right ones accepted
    assert!(pin::technician_set(&store::lock(&store), None).unwrap());
    let staff: Vec<String> = pin::staff(&store::lock(&store))
        .unwrap()
        .into_iter()
        .map(|(name, _)| name)
        .collect();
    assert_eq!(staff, [STAFF]);
    let now = pin::Now::read();
    assert_eq!(
        pin::enter(&store, None, "111111", &now).unwrap(),
        Entry::Wrong { attempts_left: 3 },
        "one wrong PIN from before the upgrade plus this one: 2 of 5"
    );
    assert_eq!(
        pin::enter(&store, None, STAFF_PIN, &now).unwrap(),
        Entry::Accepted(Holder::Staff(StaffId::parse(STAFF).unwrap()))
    );
    assert_eq!(
        pin::enter(&store, None, TECHNICIAN_PIN, &now).unwrap(),
        Entry::Accepted(Holder::Technician)
    );
    let staff_id = StaffId::parse(STAFF).unwrap();
    assert_eq!(
        pin::enter_staff(&store, &staff_id, TECHNICIAN_PIN, &now).unwrap(),
        Entry::Wrong { attempts_left: 4 },
        "the technician's PIN is not the staff member's"
    );
    assert_eq!(
        pin::enter_staff(&store, &staff_id, STAFF_PIN, &now).unwrap(),
        Entry::Accepted(Holder::Staff(staff_id.clone()))
    );
    let kinds: Vec<String> = store::lock(&store)
        .audit_tail(100)
        .unwrap()
        .into_iter()
        .rev()
        .skip(old_audit.len())
        .map(|a| a.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "pin_failed",
            "pin_entered",
            "pin_entered",
            "pin_failed",
            "pin_entered"
        ],
        "new audit rows follow the old ones"
    );

    // ---- the pending ratings, as the old code stored them
    let c = ratings::counts(&store::lock(&store)).unwrap();
    assert_eq!((c.pending, c.sent, c.dead), (3, 0, 0), "{c:?}");
    let before: Vec<Rating> = [GOOD, BAD, NEUTRAL]
        .iter()
        .map(|r| {
            ratings::stored(&store::lock(&store), id(r))
                .unwrap()
                .expect("today's code reads the old body")
        })
        .collect();
    let levels: Vec<RatingLevel> = before.iter().map(|r| r.level).collect();
    assert_eq!(
        levels,
        [
            RatingLevel::VerySatisfied,
            RatingLevel::VeryDissatisfied,
            RatingLevel::Neutral
        ]
    );
    let bad = &before[1];
    assert_eq!(bad.item_code, "310105-RS-0001");
    assert_eq!(bad.reasons, ["等候时间长", "材料繁琐"]);
    assert_eq!(bad.comment.as_deref(), Some("排队一个小时"));
    assert_eq!(bad.staff.as_deref(), Some(STAFF));
    let cb = bad.callback.as_ref().expect("the 差评 asks for a callback");
    assert!(cb.consent);
    assert_eq!(cb.phone.expose_phone_number(), PHONE);
    assert_eq!(before[2].item_code, ratings::TERMINAL_SERVICE);

    // ---- they sync to the back office, once each
    let bo_db = dir.path().join("bo.sqlite");
    let bo = common::start_backoffice(&bo_db, false, None).await;
    let kiosk = bo.client(TOKEN);
    let policy = sync::Policy::from_config(&RatingsSection::default());
    let first = sync::round(&store, &kiosk, &policy, false).await.unwrap();
    assert!(
        matches!(
            first,
            sync::Round::Answered {
                stored: 3,
                duplicate: 0,
                rejected: 0,
                unanswered: 0
            }
        ),
        "{first:?}"
    );
    let second = sync::round(&store, &kiosk, &policy, true).await.unwrap();
    assert!(
        matches!(second, sync::Round::Idle),
        "a second round uploads nothing: {second:?}"
    );
    // (UUIDv7 ids: oldest first is also their order as text.)
    let expected: Vec<(String, i64)> = [GOOD, BAD, NEUTRAL]
        .iter()
        .map(|r| (r.to_string(), 1))
        .collect();
    assert_eq!(held_at_backoffice(&bo_db), expected);
    for r in &before {
        assert_eq!(
            &backoffice_copy(&bo_db, &r.id.to_string()),
            r,
            "the back office holds the rating as the old code made it"
        );
    }
    let stats = bo
        .client(&bo.admin_token)
        .rating_stats(TERMINAL)
        .await
        .unwrap();
    assert_eq!(stats.total, 3);
    assert_eq!(
        stats
            .per_level
            .iter()
            .map(|(l, n)| (l.as_str(), *n))
            .collect::<Vec<_>>(),
        [("1", 1), ("2", 0), ("3", 1), ("4", 0), ("5", 1)]
    );
    assert_eq!(stats.bad_with_callback, 1);
    assert_eq!(
        (stats.duplicates_seen, stats.rejected),
        (0, 0),
        "nothing sent twice"
    );

    // ---- the outbox holds no pending row; the callback number has left the terminal
    let c = ratings::counts(&store::lock(&store)).unwrap();
    assert_eq!((c.pending, c.sent, c.dead), (0, 3, 0), "{c:?}");
    assert!(c.last_sync.is_some() && c.last_error.is_none(), "{c:?}");
    drop(store);
    let local = rusqlite::Connection::open(&file).unwrap();
    let states: Vec<(String, String, String)> = local
        .prepare("SELECT rating_id, state, outcome FROM rating_outbox ORDER BY rating_id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        states,
        [GOOD, BAD, NEUTRAL].map(|r| (r.to_string(), "sent".to_string(), "stored".to_string()))
    );
    let body: String = local
        .query_row("SELECT body FROM ratings WHERE id = ?1", [BAD], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(!body.contains(PHONE), "{body}");
}
