//! 离线码 cards without harm: no card lost to a full spool disk, a forged masked name refused
//! before anything prints, and nothing on the terminal's disk that gives back an ID number.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use civic_kiosk::identity::IdNumber;
use civic_kiosk::issuance::{Deps, Failure, Issuance};

use crate::common;

const ID: &str = "310105195001011231";

/// `civic-kiosk --config CONFIG ARGS…` off the async workers: exit code and all it said.
async fn kiosk(config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let (config, args): (PathBuf, Vec<String>) = (
        config.to_path_buf(),
        args.iter().map(|a| a.to_string()).collect(),
    );
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::kiosk(&config, &refs);
        (
            out.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    })
    .await
    .unwrap()
}

fn key_text(bo: &common::InProcessBackoffice) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bo.key.to_bytes())
}

/// On a full spool disk the card is issued and cannot be written; with the space freed,
/// the same command prints the same card: one card at the back office, printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_issued_onto_a_full_spool_disk_prints_the_same_card_once_there_is_space() {
    let dir = tempfile::tempdir().unwrap();
    let bo = common::start_backoffice(&dir.path().join("bo.sqlite"), false, None).await;
    let config = common::card_config(dir.path(), &bo.url, &key_text(&bo));
    let spool = common::Tmpfs::mount(&dir.path().join("cards"));
    spool.fill();

    let (code, failed) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_ne!(code, Some(0), "{failed}");
    assert!(
        failed.contains("card issued but not printed")
            && failed.contains("No space left")
            && failed.contains("run the same command again"),
        "the technician is told what happened and what to do: {failed}"
    );
    let issued_id = failed
        .split("card ")
        .filter_map(|s| s.split(':').next())
        .find(|s| s.starts_with('C') && s.len() > 8 && !s.contains(' '))
        .unwrap_or_else(|| panic!("the failure names the card: {failed}"))
        .to_string();
    let who = bo
        .client("demo-token-CN-TSL-001")
        .lookup_resident(&civic_kiosk::api::ResidentLookupRequest {
            id_number: IdNumber::parse(ID).unwrap(),
        })
        .await
        .unwrap();
    assert_eq!(
        who.active_card.as_deref(),
        Some(issued_id.as_str()),
        "issued and kept valid at the back office"
    );

    spool.free();
    let (code, printed) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_eq!(code, Some(0), "{printed}");
    assert!(
        printed.contains(&format!("card {issued_id} printed")),
        "the same card, not card_exists and not a second one: {printed}"
    );
    let pdfs: Vec<_> = std::fs::read_dir(&spool.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pdf"))
        .collect();
    assert_eq!(pdfs, [format!("card-{issued_id}.pdf")]);
    // One card: the back office's record for the resident is still that one.
    let status = bo
        .client("demo-token-CN-TSL-001")
        .card_status(&issued_id)
        .await
        .unwrap();
    assert_eq!(status.state, civic_kiosk::api::CardState::Valid);
    // And the once-a-day rule counts it now.
    let (code, again) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_ne!(code, Some(0));
    assert!(again.contains("already printed here today"), "{again}");
}

/// With the card printer dead for good (nothing answers at its address), the job gives
/// up after `--wait-timeout`, the card is voided at the back office and the technician is
/// told; the resident is not left with a valid card nobody holds, and a card printed on a
/// working printer afterwards is a new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_the_printer_never_prints_is_voided_at_the_back_office() {
    let dir = tempfile::tempdir().unwrap();
    let bo = common::start_backoffice(&dir.path().join("bo.sqlite"), false, None).await;
    let config = common::card_config(dir.path(), &bo.url, &key_text(&bo));
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let printer = format!("escpos+tcp://127.0.0.1:{dead}");
    let (code, out) = kiosk(
        &config,
        &[
            "offline-code",
            "--id",
            ID,
            "--yes",
            "--printer",
            &printer,
            "--wait-timeout",
            "2",
        ],
    )
    .await;
    assert_ne!(code, Some(0), "{out}");
    assert!(
        out.contains("voided at the back office"),
        "the technician is told the card was voided: {out}"
    );
    let client = bo.client("demo-token-CN-TSL-001");
    let lookup = civic_kiosk::api::ResidentLookupRequest {
        id_number: IdNumber::parse(ID).unwrap(),
    };
    let who = client.lookup_resident(&lookup).await.unwrap();
    assert_eq!(
        who.active_card, None,
        "no valid card left that nobody holds"
    );
    let audit = civic_kiosk::store::Store::open_in(&dir.path().join("data"))
        .unwrap()
        .audit_tail(5)
        .unwrap();
    let voided = audit
        .iter()
        .find(|e| e.detail.ends_with(": voided"))
        .unwrap_or_else(|| panic!("audited as voided: {audit:?}"));
    let card = voided
        .detail
        .split("card ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .unwrap()
        .to_string();
    assert_eq!(
        client.card_status(&card).await.unwrap().state,
        civic_kiosk::api::CardState::Voided
    );
    // On the working printer: a new card (a new request), printed.
    let (code, out) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("card C") && !out.contains(&card), "{out}");
}

/// An answer whose masked name is not the signed one (a forged answer, "王秀英（全名）")
/// is refused and nothing prints; the card is audited as refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_masked_name_is_refused_and_nothing_prints() {
    let dir = tempfile::tempdir().unwrap();
    let bo = common::start_backoffice_with(&dir.path().join("bo.sqlite"), None, |o| {
        o.forge_name = Some("王秀英（全名）".into())
    })
    .await;
    let store: civic_kiosk::store::Shared = Arc::new(Mutex::new(
        civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap(),
    ));
    let deps = Deps {
        client: bo.client("demo-token-CN-TSL-001"),
        key: bo.key,
        store: Some(store.clone()),
    };
    let mut config = civic_kiosk::config::Config::default();
    config.storage.runtime_dir = dir.path().join("run");
    let cards = dir.path().join("cards");
    let uri = civic_kiosk::print::uri::PrinterUri::Pdf { dir: cards.clone() };
    let typed = civic_kiosk::resident::IdSource::Typed;
    let got = Issuance::new(
        Arc::new(config),
        IdNumber::parse(ID).unwrap(),
        typed,
        false,
        None,
    )
    .unwrap()
    .run(&deps, &uri, None, |_| {})
    .await;
    match got {
        Err(Failure::BadCode(e)) => assert!(e.to_string().contains("masked name"), "{e}"),
        other => panic!("a forged name must be refused: {other:?}"),
    }
    assert!(!cards.exists(), "nothing printed");
    let audit = civic_kiosk::store::lock(&store).audit_tail(5).unwrap();
    assert!(
        audit.iter().any(|e| e.detail.ends_with(": refused")),
        "{audit:?}"
    );
}

// ------------------------------------------------------------------ the attack

/// Everything on the disk: every file's bytes, and every value of every table of every
/// SQLite file (read from a copy, so the WAL is folded in).
struct Loot {
    files: Vec<(PathBuf, Vec<u8>)>,
    values: Vec<String>,
}

fn loot(dir: &Path) -> Loot {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                files.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    let mut values = Vec::new();
    for (p, bytes) in &files {
        if !bytes.starts_with(b"SQLite format 3\0") {
            continue;
        }
        let db = rusqlite::Connection::open(p).unwrap();
        let tables: Vec<String> = db
            .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(|r| r.unwrap())
            .collect();
        for t in tables {
            let mut q = db.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
            let n = q.column_count();
            let mut rows = q.query([]).unwrap();
            while let Some(row) = rows.next().unwrap() {
                for i in 0..n {
                    use rusqlite::types::ValueRef;
                    match row.get_ref(i).unwrap() {
                        ValueRef::Text(t) => values.push(String::from_utf8_lossy(t).into_owned()),
                        ValueRef::Blob(b) => values.push(hex(b)),
                        ValueRef::Integer(i) => values.push(i.to_string()),
                        _ => {}
                    }
                }
            }
        }
    }
    Loot { files, values }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Runs of `[0-9a-f]` of 32 or more characters (lowercased), and base64url runs of 22 or
/// more decoded to hex: anything that may be a digest or a key.
fn tokens(text: &str) -> HashSet<String> {
    use base64::Engine;
    let mut out = HashSet::new();
    let lower = text.to_lowercase();
    for run in lower.split(|c: char| !c.is_ascii_hexdigit()) {
        if run.len() >= 32 {
            out.insert(run.to_string());
        }
    }
    for run in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        if run.len() >= 22
            && let Ok(b) = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(run)
        {
            out.insert(hex(&b));
        }
    }
    out
}

/// Tries every ID number in `candidates` against what the disk holds: the number itself,
/// and SHA-256 / HMAC-SHA-256 digests of it with the terminal id in the usual joins,
/// unkeyed and keyed with every key-like token found. Answers the numbers it recovered.
fn attack(loot: &Loot, terminal: &str, candidates: &[String]) -> Vec<String> {
    use hmac::{Hmac, Mac};
    use sha2::{Digest, Sha256};
    let mut text = String::new();
    for (_, b) in &loot.files {
        text.push_str(&String::from_utf8_lossy(b));
        text.push('\n');
    }
    for v in &loot.values {
        text.push_str(v);
        text.push('\n');
    }
    let found = tokens(&text);
    // What a digest may be kept as: its whole hex, or a prefix of 16 bytes or more.
    let prefixes: HashSet<&str> = found
        .iter()
        .flat_map(|t| {
            [32usize, 40, 64]
                .into_iter()
                .filter_map(move |n| t.get(..n))
        })
        .collect();
    let keys: Vec<Vec<u8>> = std::iter::once(Vec::new())
        .chain(found.iter().map(|t| t.as_bytes().to_vec()))
        .chain(found.iter().filter(|t| t.len() % 2 == 0).map(|t| {
            (0..t.len() / 2)
                .filter_map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
                .collect()
        }))
        .collect();
    let hit = |d: &[u8]| {
        let h = hex(d);
        prefixes.contains(&h[..32]) || prefixes.contains(&h[..40]) || prefixes.contains(&h[..])
    };
    let mut recovered = Vec::new();
    for id in candidates {
        if text.contains(id.as_str()) {
            recovered.push(id.clone());
            continue;
        }
        let messages = [
            id.clone(),
            format!("{terminal}\u{1f}{id}"),
            format!("{terminal}{id}"),
            format!("{id}{terminal}"),
            format!("{terminal}:{id}"),
            format!("person\u{1f}{terminal}\u{1f}{id}"),
        ];
        let broken = messages.iter().any(|m| {
            hit(&Sha256::digest(m.as_bytes()))
                || keys.iter().any(|k| {
                    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(k).unwrap();
                    mac.update(m.as_bytes());
                    hit(&mac.finalize().into_bytes())
                })
        });
        if broken {
            recovered.push(id.clone());
        }
    }
    recovered
}

/// The demo district's residents (长宁, 310105) in the issued card's age band (60+).
fn district_seniors() -> Vec<String> {
    let today = chrono::Local::now().date_naive();
    civic_backoffice::data::demo_residents()
        .unwrap()
        .into_iter()
        .map(|r| r.id_number.expose_id_number().to_string())
        .filter(|id| id.starts_with("310105"))
        .filter(|id| IdNumber::parse(id).is_ok_and(|n| n.age_on(today) >= 60))
        .collect()
}

/// After a card was issued (and printed) with the CLI, a copy of the data and log folders
/// — every file, every table — gives back no ID number: not in clear, not as any hash of
/// it and the terminal id, keyed or not with anything found there. And no masked ID sits
/// there to narrow a guess. The same attack on the same copy with one row keyed the old
/// way (unkeyed SHA-256) recovers the number: the attack works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_data_dir_gives_back_no_id_number() {
    let dir = tempfile::tempdir().unwrap();
    let bo = common::start_backoffice(&dir.path().join("bo").join("bo.sqlite"), false, None).await;
    let config = common::card_config(dir.path(), &bo.url, &key_text(&bo));
    let (code, out) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = kiosk(&config, &["offline-code", "--id", ID, "--yes"]).await;
    assert_ne!(
        code,
        Some(0),
        "the day rule holds (its row is what is attacked): {out}"
    );

    // The disk, as a thief copies it: data and logs, not the tmpfs runtime folder.
    let copy = dir.path().join("stolen");
    for part in ["data", "logs"] {
        let from = dir.path().join(part);
        if from.exists() {
            copy_dir(&from, &copy.join(part));
        }
    }
    let stolen = loot(&copy);
    assert!(
        stolen.values.iter().any(|v| v.contains("card C")),
        "the issuance's audit row is there to attack"
    );
    let masked = regex_like_masked_id(&stolen);
    assert!(
        masked.is_empty(),
        "a masked ID narrows the search: {masked:?}"
    );
    let candidates = district_seniors();
    assert!(candidates.contains(&ID.to_string()) && candidates.len() > 50);
    let recovered = attack(&stolen, "CN-TSL-001", &candidates);
    assert!(
        recovered.is_empty(),
        "recovered from the disk: {recovered:?}"
    );

    // The control: one row the way 216599b keyed it, and the attack finds the number.
    use sha2::{Digest, Sha256};
    let old_key = hex(&Sha256::digest(format!("CN-TSL-001\u{1f}{ID}").as_bytes())[..16]);
    let db = rusqlite::Connection::open(copy.join("data").join("kiosk.sqlite")).unwrap();
    db.execute(
        "INSERT INTO card_issues(day, person, card_id, reissue) VALUES ('2026-01-01', ?1, 'C0', 0)",
        [&old_key],
    )
    .unwrap();
    drop(db);
    let recovered = attack(&loot(&copy), "CN-TSL-001", &candidates);
    assert_eq!(
        recovered,
        [ID.to_string()],
        "the attack works on the old key"
    );
}

/// `310***********1231`-like runs: three digits, eleven or more `*`, four characters.
fn regex_like_masked_id(loot: &Loot) -> Vec<String> {
    let mut out = Vec::new();
    let mut all: Vec<String> = loot.values.clone();
    all.extend(
        loot.files
            .iter()
            .map(|(_, b)| String::from_utf8_lossy(b).into_owned()),
    );
    for text in all {
        let b = text.as_bytes();
        let mut i = 0;
        while i + 18 <= b.len() {
            let stars = b[i + 3..i + 14].iter().all(|&c| c == b'*');
            if stars && b[i..i + 3].iter().all(u8::is_ascii_digit) {
                out.push(String::from_utf8_lossy(&b[i..i + 18]).into_owned());
                i += 18;
            } else {
                i += 1;
            }
        }
    }
    out
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            copy_dir(&p, &to.join(e.file_name()));
        } else {
            std::fs::copy(&p, to.join(e.file_name())).unwrap();
        }
    }
}
