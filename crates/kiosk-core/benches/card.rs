//! Offline-code card: from the back office's answer to the first printer byte (verify the
//! signature, lay out the card, encode), for ESC/POS (native and raster QR) and PDF.

// Test code: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use criterion::{Criterion, criterion_group, criterion_main};
use std::hint::black_box;

use civic_contract::api::IssuedCode;
use civic_contract::api::offline_code::{CodePayload, sign};
use civic_kiosk_core::config::QrMode;
use civic_kiosk_core::offline_code::{card_document, verify_issued};
use civic_print::{escpos, pdf};

fn issued(key: &ed25519_dalek::SigningKey) -> IssuedCode {
    let iss = chrono::Local::now().date_naive();
    let exp = iss + chrono::Days::new(179);
    let payload = CodePayload {
        card: "C8NCA372GWHS18R13".into(),
        mid: "310***********1231".into(),
        mn: Some("王*英".into()),
        iss,
        exp,
        term: "CN-TSL-001".into(),
    };
    IssuedCode {
        card_id: payload.card.clone(),
        qr: sign(&payload, key),
        masked_name: "王*英".into(),
        masked_id: payload.mid.clone(),
        issued_on: iss,
        expires_on: exp,
        voided_card: None,
    }
}

fn benches(c: &mut Criterion) {
    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let vk = key.verifying_key();
    let card = issued(&key);
    let today = chrono::Local::now().date_naive();
    let centre = "天山路街道社区事务受理服务中心";
    let mut g = c.benchmark_group("card_to_first_byte");
    for (name, mode) in [
        ("escpos_native_qr", QrMode::Native),
        ("escpos_raster_qr", QrMode::Raster),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| {
                verify_issued(black_box(&card), &vk, today).unwrap();
                escpos::encode(&card_document(&card, centre), mode).unwrap()
            })
        });
    }
    g.sample_size(20);
    g.bench_function("pdf_card", |b| {
        b.iter(|| {
            verify_issued(black_box(&card), &vk, today).unwrap();
            pdf::card_pdf(&card, centre).unwrap()
        })
    });
    g.finish();
}

criterion_group!(print, benches);
criterion_main!(print);
