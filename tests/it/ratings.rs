//! 好差评 outbox: durability across kill -9 and an idempotent upload that loses nothing and
//! counts nothing twice, against the reference back office with injected faults.

use crate::common;

use std::collections::BTreeMap;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use civic_kiosk::api::{Callback, Channel, Rating, RatingLevel};
use civic_kiosk::failpoint;
use civic_kiosk::identity::PhoneNumber;
use civic_kiosk::ratings;
use civic_kiosk::store::Store;
use common::Backoffice;
use rand::{Rng, RngExt, SeedableRng};

const TERMINAL: &str = "CN-TSL-001";
const ADMIN: &str = "demo-admin-token";

/// A kiosk config in `dir` talking to `url`, with a small batch and quick retries so a run
/// goes through many rounds.
fn kiosk_config(dir: &Path, url: &str, public_key: &str) -> PathBuf {
    let text = common::shipped_config()
        .replace("url = \"embedded\"", &format!("url = {url:?}"))
        .replace(
            "# public_key = \"11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=\"",
            &format!("public_key = {public_key:?}"),
        )
        .replace("batch_size = 200", "batch_size = 5")
        .replace("retry_base_ms = 1000", "retry_base_ms = 10")
        .replace("retry_max_s = 300", "retry_max_s = 1")
        .replace("total_timeout_s = 10", "total_timeout_s = 5");
    common::config_in(dir, &text)
}

/// `n` ratings as residents might leave them: every level, reasons with a 差评, some
/// comments, some callbacks; ids made over the last hours so the oldest sorts first.
fn residents_ratings(n: usize, rng: &mut impl Rng) -> Vec<Rating> {
    let tags = civic_kiosk::config::RatingsSection::default().reasons;
    let start = chrono::Utc::now() - chrono::Duration::hours(6);
    (0..n)
        .map(|i| {
            let at = start + chrono::Duration::milliseconds(i as i64 * 7 + rng.random_range(0..5));
            let level = RatingLevel::try_from(rng.random_range(1..=5u8)).unwrap();
            let bad = level.is_bad();
            Rating {
                id: ratings::new_rating_id(at),
                terminal_id: TERMINAL.into(),
                item_code: format!("ITEM-{:03}", rng.random_range(0..341)),
                case_number: None,
                channel: Channel::SelfServiceTerminal,
                level,
                reasons: if bad {
                    vec![tags[rng.random_range(0..tags.len())].clone()]
                } else {
                    Vec::new()
                },
                comment: (rng.random_range(0..4) == 0).then(|| format!("第{i}位居民：窗口很耐心")),
                rated_at: at,
                callback: (bad && rng.random_bool(0.5)).then(|| Callback {
                    consent: true,
                    phone: PhoneNumber::parse(&format!(
                        "139{:08}",
                        rng.random_range(0..99_999_999)
                    ))
                    .unwrap(),
                }),
                staff: None,
            }
        })
        .collect()
}

fn kiosk_sync(config: &Path, failpoints: Option<&str>) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_civic-kiosk"));
    cmd.arg("--config")
        .arg(config)
        .args(["sync", "--timeout", "60"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    match failpoints {
        Some(f) => cmd.env(failpoint::ENV, f),
        None => cmd.env_remove(failpoint::ENV),
    };
    cmd.spawn().expect("civic-kiosk sync starts")
}

/// The back office's copy of this terminal's ratings, read from its database.
fn stored_at_backoffice(db: &Path) -> BTreeMap<uuid::Uuid, Rating> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut stmt = conn
        .prepare("SELECT body FROM ratings WHERE terminal_id = ?1")
        .unwrap();
    stmt.query_map([TERMINAL], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|b| {
            let r: Rating = serde_json::from_str(&b.unwrap()).unwrap();
            (r.id, r)
        })
        .collect()
}

/// Failpoints a `civic-kiosk sync` run passes (`after-rating-commit` is where a rating is
/// made: see `committed_rating_survives_kill_at_the_failpoint`).
const SYNC_FAILPOINTS: [&str; 2] = [failpoint::AFTER_UPLOAD_SENT, failpoint::BEFORE_ACK_COMMIT];

/// The chaos test of issue #7. `CIVIC_CHAOS_KILLS` (default 20) and `CIVIC_CHAOS_SEED`
/// change the run; `scripts/chaos-ratings.sh` runs it with 200 kills.
#[test]
fn no_rating_is_lost_or_counted_twice_through_kills_and_faults() {
    let kills_wanted: usize = std::env::var("CIVIC_CHAOS_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CIVIC_CHAOS_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_261_126);
    let n_ratings: usize = std::env::var("CIVIC_CHAOS_RATINGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2000)
        .max(kills_wanted * 100);
    eprintln!("chaos: seed {seed}, {n_ratings} ratings, at least {kills_wanted} kills");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);

    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bo.sqlite");
    let seed_arg = seed.to_string();
    let bo = Backoffice::start(
        &db,
        &[
            "--fail-rate",
            "0.2",
            "--drop-rate",
            "0.1",
            "--lose-reply-rate",
            "0.1",
            "--seed",
            &seed_arg,
        ],
    );
    let config = kiosk_config(dir.path(), &bo.url(), &bo.public_key);
    let data = dir.path().join("data");
    let made = residents_ratings(n_ratings, &mut rng);
    {
        let mut store = Store::open_in(&data).unwrap();
        ratings::record_all(&mut store, &made).unwrap();
        assert_eq!(ratings::counts(&store).unwrap().pending, n_ratings as u64);
    }

    // Kill at each named failpoint (at its 1st to 3rd hit), and at random moments.
    let mut kills = 0usize;
    let mut failpoint_kills: BTreeMap<&str, usize> = BTreeMap::new();
    let mut finished = false;
    let mut cycles = 0;
    while !finished {
        cycles += 1;
        assert!(
            cycles < 50 * kills_wanted + 200,
            "no end in sight after {cycles} runs"
        );
        let wanted_more = kills < kills_wanted
            || SYNC_FAILPOINTS
                .iter()
                .any(|p| failpoint_kills.get(p).copied().unwrap_or(0) < 2);
        let plan: Option<(&str, Option<Duration>)> = if !wanted_more {
            None
        } else if rng.random_bool(0.5) {
            let p = SYNC_FAILPOINTS[rng.random_range(0..SYNC_FAILPOINTS.len())];
            Some((p, None))
        } else {
            Some(("", Some(Duration::from_millis(rng.random_range(10..100)))))
        };
        let fp_spec = plan
            .filter(|(p, _)| !p.is_empty())
            .map(|(p, _)| format!("{p}@{}", rng.random_range(1..=3)));
        let mut child = kiosk_sync(&config, fp_spec.as_deref());
        if let Some((_, Some(after))) = plan {
            std::thread::sleep(after);
            // SIGKILL, like `kill -9`, unless it already ended.
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        match (status.code(), status.signal()) {
            (_, Some(9)) => {
                kills += 1;
                if let Some(spec) = &fp_spec {
                    let name = spec.split('@').next().unwrap();
                    let name = SYNC_FAILPOINTS.iter().find(|p| **p == name).unwrap();
                    *failpoint_kills.entry(name).or_default() += 1;
                }
            }
            (Some(0), _) => {
                let left = ratings::counts(&Store::open_in(&data).unwrap()).unwrap();
                assert!(
                    !wanted_more,
                    "drained after only {kills} kills ({failpoint_kills:?}); {left:?}"
                );
                finished = true;
            }
            // Gave up at its timeout with ratings pending: run again.
            (Some(3), _) => {}
            other => panic!("civic-kiosk sync ended with {other:?}"),
        }
    }
    eprintln!("chaos: {kills} kills ({failpoint_kills:?}) in {cycles} runs");
    assert!(kills >= kills_wanted);
    for p in SYNC_FAILPOINTS {
        assert!(
            failpoint_kills.get(p).copied().unwrap_or(0) >= 1,
            "never killed at {p}: {failpoint_kills:?}"
        );
    }

    // The back office holds exactly the ratings made, with identical content.
    let held = stored_at_backoffice(&db);
    let lost: Vec<_> = made.iter().filter(|r| !held.contains_key(&r.id)).collect();
    let changed: Vec<_> = made
        .iter()
        .filter(|r| held.get(&r.id).is_some_and(|h| h != *r))
        .collect();
    let extra = held.len() + lost.len() - made.len();
    eprintln!(
        "chaos: lost {}, duplicated or unknown {extra}, changed {}",
        lost.len(),
        changed.len()
    );
    assert!(lost.is_empty(), "{} ratings lost", lost.len());
    assert!(changed.is_empty(), "{} ratings changed", changed.len());
    assert_eq!(held.len(), made.len(), "the back office has extra ratings");

    // The local outbox is empty, without dead letters; no callback number kept.
    let store = Store::open_in(&data).unwrap();
    let c = ratings::counts(&store).unwrap();
    assert_eq!(
        (c.pending, c.dead, c.sent),
        (0, 0, made.len() as u64),
        "{c:?}"
    );
    drop(store);
    let local = rusqlite::Connection::open(data.join("kiosk.sqlite")).unwrap();
    let mut checked = 0;
    for r in made.iter().filter(|r| r.callback.is_some()) {
        let body: String = local
            .query_row(
                "SELECT body FROM ratings WHERE id = ?1",
                [r.id.to_string()],
                |row| row.get(0),
            )
            .unwrap();
        let phone = r.callback.as_ref().unwrap().phone.expose_phone_number();
        assert!(
            !body.contains(phone),
            "synced rating {} keeps its callback number",
            r.id
        );
        checked += 1;
    }
    assert!(checked > 0);

    // Retries were sent and recognised: the lost-reply path ran. (The admin API is behind
    // the same injected faults: ask until it answers.)
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let admin = bo.client(ADMIN);
    let stats = (0..100)
        .find_map(|_| rt.block_on(admin.rating_stats(TERMINAL)).ok())
        .expect("the admin API answers within 100 tries");
    eprintln!(
        "chaos: back office total {}, duplicates seen {}, rejected {}",
        stats.total, stats.duplicates_seen, stats.rejected
    );
    assert_eq!(stats.total, made.len() as u64);
    assert!(
        stats.duplicates_seen > 0,
        "no duplicate ever reached the back office"
    );
    assert_eq!(stats.rejected, 0);
    println!(
        "CHAOS RESULT kills={kills} lost={} duplicated={extra} duplicates_recognised={}",
        lost.len(),
        stats.duplicates_seen
    );
}

/// Child half of the next test: records one rating with the failpoint right after the
/// commit armed; the parent expects it killed and the rating on disk.
#[test]
#[ignore = "run by committed_rating_survives_kill_at_the_failpoint as a child process"]
fn child_records_one_rating() {
    let Ok(data) = std::env::var("CIVIC_TEST_CHILD_DATA") else {
        return;
    };
    let data = PathBuf::from(data);
    let mut store = Store::open_in(&data).unwrap();
    let r = residents_ratings(1, &mut rand::rngs::StdRng::seed_from_u64(1))
        .pop()
        .unwrap();
    // What is about to be committed, for the parent to compare.
    std::fs::write(data.join("expected.json"), serde_json::to_vec(&r).unwrap()).unwrap();
    ratings::record(&mut store, &r).unwrap();
    // Reaching here means the failpoint did not fire.
    std::fs::write(data.join("survived"), b"").unwrap();
}

#[test]
fn committed_rating_survives_kill_at_the_failpoint() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    // Connection settings in force on the store every rating goes through.
    let store = Store::open_in(&data).unwrap();
    assert_eq!(
        store.settings().unwrap(),
        ("wal".to_string(), 2),
        "WAL, synchronous=FULL"
    );
    drop(store);

    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "ratings::child_records_one_rating",
            "--ignored",
            "--nocapture",
        ])
        .env("CIVIC_TEST_CHILD_DATA", &data)
        .env(failpoint::ENV, failpoint::AFTER_RATING_COMMIT)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "killed at the failpoint: {status:?}"
    );
    assert!(!data.join("survived").exists());
    let expected: Rating =
        serde_json::from_slice(&std::fs::read(data.join("expected.json")).unwrap()).unwrap();
    let store = Store::open_in(&data).unwrap();
    assert_eq!(store.integrity_check().unwrap(), "ok");
    assert_eq!(
        ratings::stored(&store, expected.id).unwrap().as_ref(),
        Some(&expected),
        "the committed rating is on disk after kill -9"
    );
    assert_eq!(ratings::counts(&store).unwrap().pending, 1);
}

/// `civic-kiosk sync` with the back office down gives up with the pending count; with it
/// up, drains and exits 0; `status --json` reports the counts.
#[test]
fn sync_command_reports_pending_and_drains() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bo.sqlite");
    let bo = Backoffice::start(&db, &[]);
    std::fs::create_dir_all(dir.path().join("down")).unwrap();
    let down_config = kiosk_config(
        &dir.path().join("down"),
        "http://127.0.0.1:9/",
        &bo.public_key,
    );
    let data = dir.path().join("down").join("data");
    let made = residents_ratings(30, &mut rand::rngs::StdRng::seed_from_u64(3));
    ratings::record_all(&mut Store::open_in(&data).unwrap(), &made).unwrap();

    let out = common::kiosk(&down_config, &["sync", "--timeout", "2"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("30 rating(s) still pending"), "{err}");
    assert!(
        err.to_lowercase().contains("unreachable"),
        "names the failure: {err}"
    );

    let status = common::kiosk(&down_config, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["ratings"]["pending"], 30, "{v}");
    assert_eq!(v["ratings"]["sent"], 0);
    assert!(
        v["ratings"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("nreachable")),
        "{v}"
    );

    // The same store, now pointed at the running back office.
    let text = std::fs::read_to_string(&down_config)
        .unwrap()
        .replace("http://127.0.0.1:9/", &bo.url());
    std::fs::write(&down_config, text).unwrap();
    let out = common::kiosk(&down_config, &["sync", "--timeout", "30"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("uploaded: 5 stored, 0 already there, 0 rejected; 25 pending"),
        "{text}"
    );
    assert!(
        text.contains("all ratings uploaded: 30 sent, 0 dead"),
        "{text}"
    );
    let status = common::kiosk(&down_config, &["status", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(v["ratings"]["pending"], 0, "{v}");
    assert_eq!(v["ratings"]["sent"], 30);
    assert!(v["ratings"]["last_sync"].is_string(), "{v}");
    assert!(v["ratings"]["last_error"].is_null(), "{v}");
    assert_eq!(stored_at_backoffice(&db).len(), 30);
}
