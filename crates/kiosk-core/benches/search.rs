//! Catalogue search benchmarks over 10,000 generated items: index build, and per-keystroke
//! queries. Before criterion's own figures, prints the per-keystroke latency distribution
//! (p50 / p99 / max) over every prefix of a set of typed queries, which is the README figure.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;
use std::time::{Duration, Instant};

use civic_kiosk_core::api::Catalogue;
use civic_kiosk_core::catalog::Catalog;

/// 10,000 items made from the demo catalogue: every demo item under several plausible
/// prefixes (补办, 变更 …), each with its own code, so names and pinyin stay realistic.
fn synthetic(n: usize) -> Catalogue {
    let mut c = civic_contract::catalogue::demo().expect("demo catalogue");
    let prefixes = [
        "",
        "补办",
        "变更",
        "注销",
        "延续",
        "查询",
        "预约",
        "长宁区",
        "个体工商户",
        "企业",
        "证明开具",
        "年度",
        "临时",
        "线上",
        "跨省通办",
        "重新",
        "首次",
        "团体",
        "家庭",
        "单位",
        "个人",
        "退休人员",
        "老年人",
        "未成年人",
        "残疾人",
        "外籍人员",
        "港澳台居民",
        "新就业形态",
        "高校毕业生",
        "退役军人",
        "灵活就业人员",
    ];
    let base = c.items.clone();
    c.items.clear();
    for k in 0..n {
        let mut item = base[k % base.len()].clone();
        let prefix = prefixes[(k / base.len()) % prefixes.len()];
        item.name = format!("{prefix}{}", item.name);
        item.code = format!("{}-{k:05}", item.code);
        item.high_frequency = item.high_frequency && k < base.len();
        c.items.push(item);
    }
    c.bundles.clear();
    c
}

const TYPED: [&str; 10] = [
    "jzz",
    "居住证",
    "shebao",
    "sbk",
    "公积金提取",
    "gongjijin",
    "changning",
    "lnzhjt",
    "310105-GA",
    "qqqzzz",
];

fn prefixes(q: &str) -> Vec<String> {
    let chars: Vec<char> = q.chars().collect();
    (1..=chars.len())
        .map(|n| chars[..n].iter().collect())
        .collect()
}

fn keystroke_distribution(catalog: &Catalog) {
    let mut samples: Vec<Duration> = Vec::new();
    let mut slowest: Vec<(Duration, String)> = Vec::new();
    for q in TYPED {
        for p in prefixes(q) {
            let mut own = Vec::with_capacity(200);
            for _ in 0..200 {
                let t = Instant::now();
                black_box(catalog.answer(black_box(&p), 50));
                own.push(t.elapsed());
            }
            own.sort();
            slowest.push((own[own.len() / 2], p));
            samples.extend(own);
        }
    }
    slowest.sort_by_key(|s| std::cmp::Reverse(s.0));
    let worst: Vec<String> = slowest
        .iter()
        .take(3)
        .map(|(d, p)| format!("{p:?} {:.0} µs", d.as_secs_f64() * 1e6))
        .collect();
    println!("slowest prefixes (median): {}", worst.join(", "));
    samples.sort();
    let pct = |p: f64| samples[((samples.len() as f64 - 1.0) * p) as usize];
    println!(
        "search per keystroke over {} items ({} timed queries): p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        catalog.data.items.len(),
        samples.len(),
        pct(0.50).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        samples[samples.len() - 1].as_secs_f64() * 1e6
    );
}

fn benches(c: &mut Criterion) {
    let data = synthetic(10_000);
    let mut group = c.benchmark_group("catalogue");
    group.sample_size(10);
    group.bench_function("index_build_10k", |b| {
        b.iter(|| Catalog::new(black_box(data.clone())))
    });
    group.finish();

    let catalog = Catalog::new(data);
    keystroke_distribution(&catalog);
    let mut group = c.benchmark_group("keystroke_10k");
    for q in [
        "j",
        "jz",
        "jzz",
        "居",
        "居住证",
        "shebao",
        "公积金提取",
        "310105-GA",
    ] {
        group.bench_function(q, |b| b.iter(|| catalog.answer(black_box(q), 50)));
    }
    group.finish();
}

criterion_group!(search, benches);
criterion_main!(search);
