//! Slow clients are cut off: 400 connections sending a request head one byte a second are each closed by the server before their head is complete, and a normal request meanwhile is answered.

use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::common::{TOKEN, start};
use civic_backoffice::ServeLimits;
use civic_backoffice::faults::FaultSettings;

const SLOW: usize = 400;

/// The test's header timeout.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// A slow client stops waiting after this many one-second ticks: ten times the test's
/// header timeout, and under hyper's own default (30 s), so a server that kept the
/// default instead of its configured timeout fails the count.
const GIVE_UP_TICKS: usize = 20;

/// How one slow connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    /// The server closed it (end of stream, reset or a refused write) after this many bytes
    /// of a head that was still incomplete.
    ClosedByServer { sent: usize },
    /// Still open when the client gave up.
    NeverClosed,
}

/// A head that never ends: the final blank line is never sent, so only the server's
/// header timeout can end the connection.
fn slow_head() -> Vec<u8> {
    let mut h = b"GET /api/v1/ping HTTP/1.1\r\nHost: slow\r\nX-Slow: ".to_vec();
    h.extend(std::iter::repeat_n(b'a', 40));
    h
}

/// Sends the head one byte a second until the server closes the connection. Whether
/// it was closed is an event counted by the caller; nothing here is asserted on time.
async fn slow_client(addr: std::net::SocketAddr, started: tokio::sync::mpsc::Sender<()>) -> End {
    let Ok(stream) = tokio::net::TcpStream::connect(addr).await else {
        // Refused at connect is not the header timeout at work: counted as not closed.
        return End::NeverClosed;
    };
    let (mut rd, mut wr) = stream.into_split();
    let head = slow_head();
    let mut sent = 0;
    let mut ticks = 0;
    let mut buf = [0u8; 512];
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                // The server closed it, or answered something (it must not: the head is
                // incomplete) and then closed it.
                Ok(0) | Err(_) => return End::ClosedByServer { sent },
                Ok(_) => {}
            },
            _ = tick.tick() => {
                if ticks == GIVE_UP_TICKS {
                    return End::NeverClosed;
                }
                ticks += 1;
                if wr.write_all(&head[sent..=sent]).await.is_err() {
                    return End::ClosedByServer { sent };
                }
                sent += 1;
                if sent == 1 {
                    let _ = started.send(()).await;
                }
            }
        }
    }
}

#[test]
fn four_hundred_slow_connections_are_closed_and_a_normal_request_still_answers() {
    let bo = start(
        ServeLimits {
            header_read_timeout: HEADER_TIMEOUT,
            ..ServeLimits::default()
        },
        FaultSettings::default(),
    );
    let addr = bo.addr;
    let (ends, normal) = bo.runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::channel(SLOW);
        let clients: Vec<_> = (0..SLOW)
            .map(|_| tokio::spawn(slow_client(addr, tx.clone())))
            .collect();
        drop(tx);
        // Every slow client is connected and has sent its first byte.
        let mut started = 0;
        while started < SLOW && rx.recv().await.is_some() {
            started += 1;
        }
        // The normal request, while they trickle (on its own thread: a blocking client).
        let normal = tokio::task::spawn_blocking(move || {
            crate::common::request(addr, "GET", "/api/v1/ping", Some(TOKEN), None)
        })
        .await
        .unwrap();
        let mut ends = Vec::new();
        for c in clients {
            ends.push(c.await.unwrap());
        }
        assert_eq!(started, SLOW, "every slow client got its first byte out");
        (ends, normal)
    });

    assert_eq!(normal.status, 200, "{}", normal.body);
    assert!(normal.body.contains("CN-TSL-001"), "{}", normal.body);

    let head = slow_head().len();
    let closed_early = ends
        .iter()
        .filter(|e| matches!(e, End::ClosedByServer { sent } if *sent < head))
        .count();
    let never = ends.iter().filter(|e| **e == End::NeverClosed).count();
    assert_eq!(
        (closed_early, never),
        (SLOW, 0),
        "every slow connection is closed by the server before its head is complete"
    );
}
