//! The reference back office over real loopback HTTP(S), seen through the terminal's own client.

use crate::common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use civic_kiosk::api::offline_code;
use civic_kiosk::api::*;
use civic_kiosk::backoffice::{CatalogueFetch, Client, ClientOptions, ErrorKind};
use civic_kiosk::identity::{IdNumber, PhoneNumber};

const TOKEN: &str = "demo-token-CN-TSL-001";
const ADMIN: &str = "demo-admin-token";
/// Demo residents (config/demo/residents.jsonl): aged 76, aged 36, aged 14, disabled aged 41.
const SENIOR: &str = "310105195001011231";
const ADULT: &str = "310105199006154563";
const MINOR: &str = "310105201209097896";
const DISABLED: &str = "310105198503202461";
/// Valid checksum, not in the registry.
const UNKNOWN: &str = "110101197001010032";

use common::Backoffice;

fn client_for(url: &str, token: &str, total: Duration, ca: Option<&Path>) -> Client {
    Client::new(&ClientOptions {
        base_url: url.into(),
        token: token.into(),
        connect_timeout: Duration::from_secs(2),
        total_timeout: total,
        ca_file: ca.map(Path::to_path_buf),
        max_body_bytes: 8 << 20,
    })
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn id(s: &str) -> IdNumber {
    IdNumber::parse(s).unwrap()
}

#[test]
fn catalogue_has_etag_304_and_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let bo = Backoffice::start(&dir.path().join("bo.sqlite"), &[]);
    rt().block_on(async {
        let c = bo.client(TOKEN);
        let CatalogueFetch::Fresh { catalogue, etag } = c.catalogue(None).await.unwrap() else {
            panic!("first fetch must carry a body")
        };
        assert!(
            catalogue.items.len() >= 300,
            "{} items",
            catalogue.items.len()
        );
        let etag = etag.expect("an ETag");
        assert!(etag.starts_with('"'), "strong ETag: {etag}");
        assert!(matches!(
            c.catalogue(Some(&etag)).await.unwrap(),
            CatalogueFetch::NotModified
        ));
        assert!(matches!(
            c.catalogue(Some("\"stale\"")).await.unwrap(),
            CatalogueFetch::Fresh { .. }
        ));
        let item = c.item(&catalogue.items[0].code).await.unwrap();
        assert_eq!(item, catalogue.items[0]);
        assert_eq!(
            c.item("nope").await.unwrap_err().code.as_deref(),
            Some("item_not_found")
        );
        assert!(!c.faq_search("居住证").await.unwrap().entries.is_empty());

        let e = bo.client("wrong-token").catalogue(None).await.unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unauthorized);
        assert_eq!(e.status, Some(401));
        // Terminal tokens do not open admin endpoints, and the admin token is not a terminal's.
        assert_eq!(
            bo.client(TOKEN).signing_key().await.unwrap_err().status,
            Some(401)
        );
        assert_eq!(bo.client(ADMIN).ping().await.unwrap_err().status, Some(401));
    });
    // Without any token at all: 401 with the contract's error body.
    rt().block_on(async {
        let resp = reqwest::get(format!("{}api/v1/items", bo.url()))
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
        let body: ApiError = resp.json().await.unwrap();
        assert_eq!(body.error, "unauthorized");
    });
}

#[test]
fn offline_codes_issue_verify_refuse_and_reissue() {
    let dir = tempfile::tempdir().unwrap();
    let bo = Backoffice::start(&dir.path().join("bo.sqlite"), &[]);
    rt().block_on(async {
        let c = bo.client(TOKEN);
        let admin = bo.client(ADMIN);
        let published = admin.signing_key().await.unwrap();
        assert_eq!(published.public_key, bo.public_key);
        let key = offline_code::parse_public_key(&published.public_key).unwrap();

        let who = c
            .lookup_resident(&ResidentLookupRequest {
                id_number: id(SENIOR),
            })
            .await
            .unwrap();
        assert_eq!(who.masked_name, "王*英");
        assert_eq!(who.masked_id, "310***********1231");
        assert!(who.eligible);
        assert_eq!(who.basis, Some(EligibilityBasis::Senior));

        let req = IssueCodeRequest {
            id_number: id(SENIOR),
            reissue: false,
            request_id: uuid::Uuid::now_v7(),
            staff: None,
        };
        let card = c.issue_code(&req).await.unwrap();
        let payload = offline_code::verify(&card.qr, &key).unwrap();
        assert_eq!(payload.card, card.card_id);
        assert_eq!(payload.mid, "310***********1231");
        assert_eq!(payload.term, "CN-TSL-001");
        assert_eq!((payload.exp - payload.iss).num_days(), 179);
        assert!(!card.qr.contains(SENIOR) && !card.qr.contains("王秀英"));
        // One changed byte anywhere fails verification.
        let mut bytes = card.qr.clone().into_bytes();
        let mid = bytes.len() / 2;
        bytes[mid] = if bytes[mid] == b'a' { b'b' } else { b'a' };
        assert!(offline_code::verify(&String::from_utf8(bytes).unwrap(), &key).is_err());
        // The same request id answers the same card (a retry never issues twice).
        assert_eq!(c.issue_code(&req).await.unwrap().card_id, card.card_id);
        // A second, new request without reissue is refused.
        let again = IssueCodeRequest {
            request_id: uuid::Uuid::now_v7(),
            ..req.clone()
        };
        assert_eq!(
            c.issue_code(&again).await.unwrap_err().code.as_deref(),
            Some("card_exists")
        );

        // Reissue voids the old card.
        let re = c
            .issue_code(&IssueCodeRequest {
                reissue: true,
                request_id: uuid::Uuid::now_v7(),
                ..req.clone()
            })
            .await
            .unwrap();
        assert_eq!(re.voided_card.as_deref(), Some(card.card_id.as_str()));
        let old = c.card_status(&card.card_id).await.unwrap();
        assert_eq!(old.state, CardState::Voided);
        assert_eq!(old.voided_reason.as_deref(), Some("reissued"));
        assert_eq!(
            c.card_status(&re.card_id).await.unwrap().state,
            CardState::Valid
        );
        // Report lost voids the new one.
        let lost = c
            .report_lost(&ReportLostRequest {
                id_number: id(SENIOR),
            })
            .await
            .unwrap();
        assert_eq!(
            (lost.card_id.as_str(), lost.state),
            (re.card_id.as_str(), CardState::Voided)
        );
        assert_eq!(lost.voided_reason.as_deref(), Some("reported_lost"));

        // Ineligible adult: the reason; minor and disabled: eligible.
        let adult = c
            .lookup_resident(&ResidentLookupRequest {
                id_number: id(ADULT),
            })
            .await
            .unwrap();
        assert!(!adult.eligible);
        assert!(
            adult.reason.as_deref().unwrap().contains("60周岁"),
            "{adult:?}"
        );
        let e = c
            .issue_code(&IssueCodeRequest {
                id_number: id(ADULT),
                request_id: uuid::Uuid::now_v7(),
                ..req.clone()
            })
            .await
            .unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_deref()),
            (ErrorKind::Rejected, Some("not_eligible"))
        );
        assert!(e.message.contains("60周岁"));
        let minor = c
            .lookup_resident(&ResidentLookupRequest {
                id_number: id(MINOR),
            })
            .await
            .unwrap();
        assert_eq!(minor.basis, Some(EligibilityBasis::Minor));
        let disabled = c
            .lookup_resident(&ResidentLookupRequest {
                id_number: id(DISABLED),
            })
            .await
            .unwrap();
        assert_eq!(disabled.basis, Some(EligibilityBasis::Disabled));

        // Unknown: the registry's words.
        let e = c
            .lookup_resident(&ResidentLookupRequest {
                id_number: id(UNKNOWN),
            })
            .await
            .unwrap_err();
        assert_eq!(e.code.as_deref(), Some("resident_not_found"));
        assert!(e.message.starts_with("未找到户籍信息，请到窗口办理"));
    });
}

#[test]
fn tampered_signatures_do_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let bo = Backoffice::start(&dir.path().join("bo.sqlite"), &["--tamper-signature"]);
    rt().block_on(async {
        let key = offline_code::parse_public_key(&bo.public_key).unwrap();
        let req = IssueCodeRequest {
            id_number: id(MINOR),
            reissue: false,
            request_id: uuid::Uuid::now_v7(),
            staff: None,
        };
        let card = bo.client(TOKEN).issue_code(&req).await.unwrap();
        assert_eq!(
            offline_code::verify(&card.qr, &key),
            Err(offline_code::CodeError::BadSignature)
        );
    });
}

fn rating(n: u32) -> Rating {
    let level = RatingLevel::try_from((n % 5 + 1) as u8).unwrap();
    Rating {
        id: uuid::Uuid::now_v7(),
        terminal_id: "CN-TSL-001".into(),
        item_code: format!("310105-GA-{n:04}"),
        case_number: None,
        channel: Channel::SelfServiceTerminal,
        level,
        reasons: if level.is_bad() {
            vec!["等候时间长".into()]
        } else {
            vec![]
        },
        comment: None,
        rated_at: chrono::Utc::now(),
        callback: (level == RatingLevel::VeryDissatisfied).then(|| Callback {
            consent: true,
            phone: PhoneNumber::parse("13812345678").unwrap(),
        }),
        staff: None,
    }
}

#[test]
fn ratings_are_stored_once_whatever_the_retries() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("bo.sqlite");
    let batch = RatingBatch {
        ratings: (0..10).map(rating).collect(),
    };
    let lost_batch = RatingBatch {
        ratings: (10..15).map(rating).collect(),
    };
    {
        let bo = Backoffice::start(&db, &[]);
        rt().block_on(async {
            let c = bo.client(TOKEN);
            let first = c.upload_ratings(&batch).await.unwrap();
            assert!(
                first
                    .results
                    .iter()
                    .all(|r| r.outcome == RatingOutcome::Stored)
            );
            let second = c.upload_ratings(&batch).await.unwrap();
            assert!(
                second
                    .results
                    .iter()
                    .all(|r| r.outcome == RatingOutcome::Duplicate)
            );
            // Same id, other content: rejected, never overwritten.
            let mut forged = batch.ratings[0].clone();
            forged.level = RatingLevel::VerySatisfied;
            forged.reasons.clear();
            forged.callback = None;
            let r = c
                .upload_ratings(&RatingBatch {
                    ratings: vec![forged],
                })
                .await
                .unwrap();
            assert_eq!(r.results[0].outcome, RatingOutcome::Rejected);
        });
    }
    {
        let bo = Backoffice::start(&db, &["--lose-reply-rate", "1.0"]);
        rt().block_on(async {
            let e = bo
                .client(TOKEN)
                .upload_ratings(&lost_batch)
                .await
                .unwrap_err();
            assert_eq!(e.kind, ErrorKind::Dropped, "{e}");
            assert!(e.is_retryable());
        });
    }
    let bo = Backoffice::start(&db, &[]);
    rt().block_on(async {
        let retry = bo.client(TOKEN).upload_ratings(&lost_batch).await.unwrap();
        assert!(
            retry
                .results
                .iter()
                .all(|r| r.outcome == RatingOutcome::Duplicate),
            "{retry:?}"
        );
        let stats = bo.client(ADMIN).rating_stats("CN-TSL-001").await.unwrap();
        assert_eq!(stats.total, 15);
        assert_eq!(stats.duplicates_seen, 15);
        assert_eq!(stats.rejected, 1);
        assert_eq!(stats.per_level.values().sum::<u64>(), 15);
        assert_eq!(stats.bad_with_callback, 3);
    });
}

#[test]
fn each_fault_flag_gives_the_failure_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], Duration, ErrorKind); 5] = [
        (
            &["--fail-rate", "1.0"],
            Duration::from_secs(5),
            ErrorKind::ServerError,
        ),
        (
            &["--drop-rate", "1.0"],
            Duration::from_secs(5),
            ErrorKind::Dropped,
        ),
        (
            &["--lose-reply-rate", "1.0"],
            Duration::from_secs(5),
            ErrorKind::Dropped,
        ),
        (
            &["--latency-ms", "3000"],
            Duration::from_millis(800),
            ErrorKind::Timeout,
        ),
        (&["--slow-body"], Duration::from_secs(2), ErrorKind::Timeout),
    ];
    for (i, (flags, total, want)) in cases.into_iter().enumerate() {
        let bo = Backoffice::start(&dir.path().join(format!("bo{i}.sqlite")), flags);
        let started = std::time::Instant::now();
        let got = rt().block_on(async {
            client_for(&bo.url(), TOKEN, total, None)
                .catalogue(None)
                .await
                .unwrap_err()
        });
        assert_eq!(got.kind, want, "{flags:?}: {got}");
        // Bounded: the client gave up near its own timeout, it did not hang.
        assert!(
            started.elapsed() < total + Duration::from_secs(3),
            "{flags:?} took {:?}",
            started.elapsed()
        );
    }
    // Faults are repeatable with a seed: the same sequence of outcomes twice.
    let outcomes = |n: usize| {
        let bo = Backoffice::start(
            &dir.path().join(format!("seed{n}.sqlite")),
            &["--fail-rate", "0.5", "--seed", "7"],
        );
        rt().block_on(async {
            let c = bo.client(TOKEN);
            let mut v = Vec::new();
            for _ in 0..12 {
                v.push(c.ping().await.is_ok());
            }
            v
        })
    };
    let a = outcomes(1);
    assert_eq!(a, outcomes(2));
    assert!(a.contains(&true) && a.contains(&false), "{a:?}");
}

#[test]
fn client_errors_for_unreachable_garbage_and_huge_answers() {
    rt().block_on(async {
        // Nothing listens on port 9.
        let e = client_for("http://127.0.0.1:9/", TOKEN, Duration::from_secs(2), None)
            .ping()
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Unreachable);

        // A server that answers garbage, then one that answers a huge body.
        for (body, want) in [
            ("this is not json".to_string(), ErrorKind::BadAnswer),
            ("x".repeat(64 * 1024), ErrorKind::TooLarge),
        ] {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let server = tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                let (mut s, _) = listener.accept().await.unwrap();
                let mut buf = [0u8; 4096];
                let _ = s.read(&mut buf).await;
                let head = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                let _ = s.write_all(head.as_bytes()).await;
                let _ = s.write_all(body.as_bytes()).await;
            });
            let c = Client::new(&ClientOptions {
                base_url: format!("http://{addr}/"),
                token: TOKEN.into(),
                connect_timeout: Duration::from_secs(2),
                total_timeout: Duration::from_secs(5),
                ca_file: None,
                max_body_bytes: 16 * 1024,
            })
            .unwrap();
            let e = c.ping().await.unwrap_err();
            assert_eq!(e.kind, want, "{e}");
            server.abort();
        }

        // Plain http to a non-loopback host is refused before any connection.
        let e = Client::new(&ClientOptions {
            base_url: "http://198.51.100.20/".into(),
            token: TOKEN.into(),
            connect_timeout: Duration::from_secs(1),
            total_timeout: Duration::from_secs(1),
            ca_file: None,
            max_body_bytes: 1 << 20,
        })
        .err()
        .unwrap();
        assert_eq!(e.kind, ErrorKind::Setup);
    });
}

#[test]
fn https_with_a_test_ca_and_ca_file_narrows_trust() {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "civic-kiosk test CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let leaf =
        rcgen::CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&leaf_key, &ca, &ca_key)
            .unwrap();
    let (cert, key, ca_file) = (
        dir.path().join("cert.pem"),
        dir.path().join("key.pem"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, leaf.pem()).unwrap();
    std::fs::write(&key, leaf_key.serialize_pem()).unwrap();
    std::fs::write(&ca_file, ca.pem()).unwrap();
    // Another CA, which did not sign the back office's certificate.
    let other_key = rcgen::KeyPair::generate().unwrap();
    let mut other_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    other_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    other_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "another CA");
    let other_ca = dir.path().join("other-ca.pem");
    std::fs::write(
        &other_ca,
        other_params.self_signed(&other_key).unwrap().pem(),
    )
    .unwrap();

    let bo = Backoffice::start(
        &dir.path().join("bo.sqlite"),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let port = bo.addr.rsplit(':').next().unwrap().to_string();
    rt().block_on(async {
        let url = format!("https://localhost:{port}/");
        let (ping, date) = client_for(&url, TOKEN, Duration::from_secs(5), Some(&ca_file))
            .ping()
            .await
            .unwrap();
        assert_eq!(ping.terminal_id, "CN-TSL-001");
        assert!(date.is_some());
        let ip_url = format!("https://127.0.0.1:{port}/");
        assert!(
            client_for(&ip_url, TOKEN, Duration::from_secs(5), Some(&ca_file))
                .ping()
                .await
                .is_ok()
        );
        // Without the CA the certificate is not trusted.
        let e = client_for(&url, TOKEN, Duration::from_secs(5), None)
            .ping()
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        assert!(e.message.contains("set backoffice.ca_file"), "{e}");
        // With another CA in backoffice.ca_file: refused, and the message says where to look.
        let e = client_for(&url, TOKEN, Duration::from_secs(5), Some(&other_ca))
            .ping()
            .await
            .unwrap_err();
        assert_eq!(e.kind, ErrorKind::Tls, "{e}");
        assert!(
            e.message.contains("backoffice.ca_file")
                && e.message.contains(other_ca.to_str().unwrap()),
            "{e}"
        );
    });

    // ---- ca_file narrows trust: the system's roots (here SSL_CERT_FILE, which the
    // terminal's TLS stack reads as the system store) hold the back office's CA, and
    // backoffice.ca_file names another one: the terminal refuses the back office.
    let with_ca = |ca: Option<&Path>| {
        let text = common::shipped_config().replace(
            "\nurl = \"embedded\"\n",
            &format!(
                "\nurl = \"https://localhost:{port}/\"\npublic_key = \"{}\"\n{}",
                bo.public_key,
                ca.map(|c| format!("ca_file = {:?}\n", c.display().to_string()))
                    .unwrap_or_default()
            ),
        );
        let sub = dir
            .path()
            .join(if ca.is_some() { "narrow" } else { "system" });
        std::fs::create_dir_all(&sub).unwrap();
        common::config_in(&sub, &text)
    };
    let diagnose = |config: &Path| -> serde_json::Value {
        let out = Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
            .arg("--config")
            .arg(config)
            .args(["diagnose", "--json"])
            .env("SSL_CERT_FILE", &ca_file)
            .env_remove("SSL_CERT_DIR")
            .output()
            .unwrap();
        let checks: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stderr)));
        checks["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["part"] == "backoffice")
            .unwrap()
            .clone()
    };
    let system = diagnose(&with_ca(None));
    assert_eq!(system["ok"], true, "the system's roots trust it: {system}");
    let narrow = diagnose(&with_ca(Some(&other_ca)));
    assert_eq!(narrow["ok"], false, "{narrow}");
    let detail = narrow["detail"].as_str().unwrap();
    assert!(
        detail.contains("tls") && detail.contains("backoffice.ca_file"),
        "{narrow}"
    );
    assert!(
        narrow["fix"]
            .as_str()
            .unwrap()
            .contains("backoffice.ca_file"),
        "{narrow}"
    );
}

/// A terminal config pointing at `bo` over loopback HTTP, with data in `dir`.
fn terminal_config(dir: &Path, bo: &Backoffice) -> std::path::PathBuf {
    let text = common::shipped_config().replace(
        "\nurl = \"embedded\"\n",
        &format!(
            "\nurl = \"{}\"\npublic_key = \"{}\"\n",
            bo.url(),
            bo.public_key
        ),
    );
    common::config_in(dir, &text)
}

fn kiosk(config: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_civic-kiosk"))
        .arg("--config")
        .arg(config)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn catalogue_is_cached_and_works_with_the_back_office_down() {
    let dir = tempfile::tempdir().unwrap();
    let bo = Backoffice::start(&dir.path().join("bo.sqlite"), &[]);
    let config = terminal_config(dir.path(), &bo);
    let served = rt().block_on(async {
        match bo.client(TOKEN).catalogue(None).await.unwrap() {
            CatalogueFetch::Fresh { catalogue, .. } => catalogue,
            CatalogueFetch::NotModified => unreachable!(),
        }
    });

    let (ok, out, err) = kiosk(&config, &["catalogue", "sync"]);
    assert!(ok, "{err}");
    assert!(
        out.contains(&format!("{} items", served.items.len())),
        "{out}"
    );
    // Unchanged data: the second sync transfers no catalogue body (304).
    let (ok, out, err) = kiosk(&config, &["catalogue", "sync"]);
    assert!(ok, "{err}");
    assert!(out.contains("304, no catalogue body transferred"), "{out}");
    drop(bo);

    // Back office gone: a fresh process browses and searches the whole catalogue.
    let (ok, out, err) = kiosk(&config, &["catalogue", "search", "jzz", "--json"]);
    assert!(ok, "{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["answer"]["items"][0]["name"]
            .as_str()
            .unwrap()
            .starts_with("居住证"),
        "{out}"
    );
    let mut total = 0;
    for audience in ["personal", "legal"] {
        let (ok, out, err) = kiosk(
            &config,
            &["catalogue", "browse", "--audience", audience, "--json"],
        );
        assert!(ok, "{err}");
        let v: serde_json::Value = serde_json::from_str(&out).unwrap();
        let themes = v["themes"].as_array().unwrap();
        total += themes
            .iter()
            .map(|g| g["count"].as_u64().unwrap())
            .sum::<u64>();
        let first = themes[0]["name"].as_str().unwrap();
        let (ok, out, _) = kiosk(
            &config,
            &[
                "catalogue",
                "browse",
                "--audience",
                audience,
                "--theme",
                first,
                "--json",
            ],
        );
        assert!(ok);
        let items: Vec<ServiceItem> = serde_json::from_str(&out).unwrap();
        assert_eq!(items.len() as u64, themes[0]["count"].as_u64().unwrap());
    }
    assert_eq!(total as usize, served.items.len());
    let (ok, out, _) = kiosk(&config, &["catalogue", "search", "qqqzzzxxx"]);
    assert!(ok);
    assert!(
        out.contains("没有找到") && out.contains("小申问答"),
        "{out}"
    );
    // The in-process view of the same cache: every item and FAQ is there.
    let store = civic_kiosk::store::Store::open_in(&dir.path().join("data")).unwrap();
    let (catalog, meta) = civic_kiosk::catalog::sync::load_cached(&std::sync::Mutex::new(store))
        .unwrap()
        .unwrap();
    assert_eq!(catalog.data.items, served.items);
    assert_eq!(catalog.data.faqs.len(), served.faqs.len());
    assert_eq!(meta.version, served.version);
}
