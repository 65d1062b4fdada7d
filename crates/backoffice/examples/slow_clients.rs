//! Slow clients against a running back office: N connections send a request head one byte a second while a normal client pings every 100 ms; prints the pings' latency and how many slow connections the server closed.
//!
//! Run by `scripts/slow-clients.sh`, which starts the real `civic-backoffice` binary.
//! `slow_clients ADDR [N] [TOKEN] [GIVE_UP_S]`: a slow connection still open after
//! GIVE_UP_S seconds (default 60) is counted as not closed.

use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A head whose final blank line never comes.
const HEAD: &[u8] = b"GET /api/v1/ping HTTP/1.1\r\nHost: slow\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";

/// How long a slow connection lived, if the server closed it.
async fn slow(addr: SocketAddr, give_up: Duration) -> Option<Duration> {
    let start = Instant::now();
    let stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut rd, mut wr) = stream.into_split();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut buf = [0u8; 512];
    let mut sent = 0;
    loop {
        tokio::select! {
            r = rd.read(&mut buf) => match r {
                Ok(0) | Err(_) => return Some(start.elapsed()),
                Ok(_) => {}
            },
            _ = tick.tick() => {
                if start.elapsed() >= give_up {
                    return None;
                }
                if sent < HEAD.len() {
                    if wr.write_all(&HEAD[sent..=sent]).await.is_err() {
                        return Some(start.elapsed());
                    }
                    sent += 1;
                }
            }
        }
    }
}

/// One ping on a fresh connection: its latency, or why it failed.
async fn ping(addr: SocketAddr, token: &str) -> Result<Duration, String> {
    let start = Instant::now();
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let req = format!(
        "GET /api/v1/ping HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| format!("write: {e}"))?;
    let mut answer = Vec::new();
    s.read_to_end(&mut answer)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if answer.starts_with(b"HTTP/1.1 200") {
        Ok(start.elapsed())
    } else {
        Err(String::from_utf8_lossy(&answer)
            .lines()
            .next()
            .unwrap_or("no answer")
            .to_string())
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .ok_or_else(|| anyhow::anyhow!("usage: slow_clients ADDR [N] [TOKEN] [GIVE_UP_S]"))?
        .parse()?;
    let n: usize = args.next().map_or(Ok(400), |a| a.parse())?;
    let token = args
        .next()
        .unwrap_or_else(|| "demo-token-CN-TSL-001".into());
    let give_up = Duration::from_secs(args.next().map_or(Ok(60), |a| a.parse())?);

    let slow_clients: Vec<_> = (0..n).map(|_| tokio::spawn(slow(addr, give_up))).collect();
    // Let them connect and start trickling before the first ping.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut latencies = Vec::new();
    let mut failures = Vec::new();
    let started = Instant::now();
    while !slow_clients.iter().all(|c| c.is_finished()) && started.elapsed() < give_up {
        match tokio::time::timeout(Duration::from_secs(10), ping(addr, &token)).await {
            Ok(Ok(d)) => latencies.push(d),
            Ok(Err(e)) => failures.push(e),
            Err(_) => failures.push("no answer within 10 s".into()),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut lived = Vec::new();
    let mut not_closed = 0;
    for c in slow_clients {
        match c.await? {
            Some(d) => lived.push(d),
            None => not_closed += 1,
        }
    }

    latencies.sort();
    lived.sort();
    println!(
        "slow connections: {n} opened, {} closed by the server, {not_closed} still open after {give_up:?}",
        lived.len()
    );
    if let (Some(first), Some(last)) = (lived.first(), lived.last()) {
        println!(
            "  closed after {:.1} s to {:.1} s",
            first.as_secs_f64(),
            last.as_secs_f64()
        );
    }
    println!(
        "normal requests meanwhile: {} answered 200, {} failed",
        latencies.len(),
        failures.len()
    );
    if !latencies.is_empty() {
        let p = |q: f64| latencies[((latencies.len() - 1) as f64 * q).round() as usize];
        println!(
            "  latency p50 {}  p99 {}  max {}",
            ms(p(0.5)),
            ms(p(0.99)),
            ms(p(1.0))
        );
    }
    for f in failures.iter().take(5) {
        println!("  failed: {f}");
    }
    anyhow::ensure!(
        not_closed == 0 && failures.is_empty() && !latencies.is_empty(),
        "slow clients not all closed, or normal requests failed"
    );
    Ok(())
}
