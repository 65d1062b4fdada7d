//! 好差评 outbox: committing one rating (one transaction, `synchronous=FULL`), and draining
//! 10,000 pending ratings to the reference back office on loopback (goal ≤ 3 s), with the
//! shipped batch size.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

// The tests' helpers; the bench uses one of them (the in-process back office).
#[allow(dead_code)]
#[path = "../tests/it/common.rs"]
mod common;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use civic_kiosk::api::{Channel, Rating, RatingLevel};
use civic_kiosk::backoffice::{Client, ClientOptions};
use civic_kiosk::config::RatingsSection;
use civic_kiosk::ratings::{self, sync};
use civic_kiosk::store::Store;

const TERMINAL: &str = "CN-TSL-001";

fn rating(n: usize) -> Rating {
    let at = chrono::Utc::now();
    let level = RatingLevel::try_from((n % 5) as u8 + 1).unwrap();
    Rating {
        id: ratings::new_rating_id(at),
        terminal_id: TERMINAL.into(),
        item_code: format!("ITEM-{:03}", n % 341),
        case_number: None,
        channel: Channel::SelfServiceTerminal,
        level,
        reasons: if level.is_bad() {
            vec!["等候时间长".into()]
        } else {
            Vec::new()
        },
        comment: None,
        rated_at: at,
        callback: None,
        staff: None,
    }
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bo = rt.block_on(common::start_backoffice(
        &dir.path().join("bo.sqlite"),
        false,
        None,
    ));
    let client = Client::new(&ClientOptions {
        base_url: bo.url.clone(),
        token: "demo-token-CN-TSL-001".into(),
        connect_timeout: Duration::from_secs(2),
        total_timeout: Duration::from_secs(30),
        ca_file: None,
        max_body_bytes: 8 << 20,
    })
    .unwrap();
    let policy = sync::Policy::from_config(&RatingsSection::default());

    let mut g = c.benchmark_group("ratings");
    {
        let mut store = Store::open_in(&dir.path().join("commit")).unwrap();
        let mut n = 0;
        g.bench_function("commit_one", |b| {
            b.iter(|| {
                n += 1;
                ratings::record(&mut store, &rating(n)).unwrap()
            })
        });
    }

    g.sample_size(10);
    g.measurement_time(Duration::from_secs(40));
    let mut round_no = 0;
    g.bench_function("drain_10000", |b| {
        b.iter_batched(
            || {
                round_no += 1;
                let data = dir.path().join(format!("drain-{round_no}"));
                let mut store = Store::open_in(&data).unwrap();
                let made: Vec<Rating> = (0..10_000).map(rating).collect();
                ratings::record_all(&mut store, &made).unwrap();
                Arc::new(Mutex::new(store))
            },
            |store| {
                rt.block_on(async {
                    loop {
                        match sync::round(&store, &client, &policy, true).await.unwrap() {
                            sync::Round::Idle => break,
                            sync::Round::Answered { .. } => {}
                            sync::Round::Failed { error, .. } => panic!("{error}"),
                        }
                    }
                });
                let c = ratings::counts(&store.lock().unwrap()).unwrap();
                assert_eq!((c.pending, c.sent), (0, 10_000));
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(ratings_benches, benches);
criterion_main!(ratings_benches);
