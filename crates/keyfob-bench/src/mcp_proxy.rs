//! `mcp_call_direct` and `mcp_call_proxy`: what `keyfob mcp proxy` adds to an MCP tool call.
//!
//! Both call the tool `greet` of the same protected MCP server (the testkit's, built from the
//! MCP TypeScript SDK behind oidc-provider, on 127.0.0.1) one call at a time: directly over
//! streamable HTTP with the stored access token, and as a stdio client of the proxy (a JSON-RPC
//! line written to its stdin, the answer read from its stdout). The server's own time is in
//! both; the difference of the medians is the proxy's cost. The proxy is the `keyfob` binary
//! next to this one (`cargo build --release -p keyfob-cli` first); the scenarios are skipped,
//! with a line saying why, without it or without the test servers' node packages.

use std::process::Stdio;
use std::time::{Duration, Instant};

use keyfob_testkit::Browser;
use keyfob_testkit::mcp::{Client, ResourceServer};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::Command;

use crate::{Opts, report};

/// Runs both scenarios with `calls` timed calls each (after a warm-up of a tenth).
pub(crate) async fn mcp_proxy(opts: &Opts, calls: usize) {
    if let Err(why) = run(opts, calls).await {
        let why = format!("{why:#}");
        eprintln!("mcp_call_direct and mcp_call_proxy skipped: {why}");
        for scenario in ["mcp_call_direct", "mcp_call_proxy"] {
            println!("{}", json!({"scenario": scenario, "skipped": why}));
        }
    }
}

async fn run(opts: &Opts, calls: usize) -> anyhow::Result<()> {
    let bin = std::env::current_exe()?.with_file_name("keyfob");
    anyhow::ensure!(
        bin.is_file(),
        "{} is missing (cargo build --release -p keyfob-cli)",
        bin.display()
    );
    let (_idp, server) = ResourceServer::start(3600).await?;
    let url = server.url().to_owned();
    let dir = tempfile::tempdir()?;
    let config = dir.path().join("keyfob.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nbind = \"127.0.0.1:{}\"\n",
            keyfob_testkit::free_port()
        ),
    )?;
    let keyfob = |args: &[&str]| {
        let mut c = Command::new(&bin);
        c.args(args)
            .env("KEYFOB_HOME", dir.path().join("data"))
            .env("KEYFOB_CONFIG", &config)
            .env_remove("KEYFOB_LOG")
            .kill_on_drop(true);
        c
    };

    let mut proxy = keyfob(&["mcp", "proxy", &url, "--no-browser"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = proxy.stdin.take().expect("piped");
    let mut stdout = BufReader::new(proxy.stdout.take().expect("piped")).lines();
    let mut stderr = BufReader::new(proxy.stderr.take().expect("piped")).lines();
    let link = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = stderr.next_line().await? {
            if line.starts_with("http") {
                return Ok(line);
            }
        }
        anyhow::bail!("the proxy exited without a login link")
    })
    .await??;
    let browser = Browser::new();
    let callback = browser.approve(&browser.open_link(&link).await?).await?;
    browser.get(&callback).await?;

    let mut next_id = 0u64;
    let mut exchange = async |method: &str, params: Value| -> anyhow::Result<Value> {
        next_id += 1;
        let msg = json!({"jsonrpc": "2.0", "id": next_id, "method": method, "params": params});
        stdin.write_all(format!("{msg}\n").as_bytes()).await?;
        let line = stdout
            .next_line()
            .await?
            .ok_or_else(|| anyhow::anyhow!("the proxy exited"))?;
        let answer: Value = serde_json::from_str(&line)?;
        anyhow::ensure!(answer.get("error").is_none(), "{method}: {answer}");
        Ok(answer)
    };
    exchange(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "keyfob-bench", "version": "0"}}),
    )
    .await?;
    let greet = json!({"name": "greet", "arguments": {"name": "bench"}});
    let mut proxied = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        exchange("tools/call", greet.clone()).await?;
        if i >= calls / 10 {
            proxied.push(t.elapsed().as_nanos() as u64);
        }
    }

    let token = keyfob(&["token", "--mcp", &url]).output().await?;
    anyhow::ensure!(token.status.success(), "keyfob token --mcp failed");
    let token = String::from_utf8(token.stdout)?;
    let mut direct_client = Client::connect(&url, token.trim()).await?;
    let mut direct = Vec::with_capacity(calls);
    for i in 0..calls + calls / 10 {
        let t = Instant::now();
        direct_client
            .call_tool("greet", json!({"name": "bench"}))
            .await?;
        if i >= calls / 10 {
            direct.push(t.elapsed().as_nanos() as u64);
        }
    }

    let median = |s: &[u64]| {
        let mut s = s.to_vec();
        s.sort_unstable();
        (crate::percentile(&s, 0.5), crate::percentile(&s, 0.99))
    };
    let (dm, dp) = median(&direct);
    let (pm, pp) = median(&proxied);
    report(opts, "mcp_call_direct", direct, calls as u64, json!({}));
    report(
        opts,
        "mcp_call_proxy",
        proxied,
        calls as u64,
        json!({
            "added_median_ns": pm.saturating_sub(dm),
            "added_p99_ns": pp.saturating_sub(dp),
            "baseline": "mcp_call_direct",
        }),
    );
    drop(stdin);
    let _ = tokio::time::timeout(Duration::from_secs(10), proxy.wait()).await;
    Ok(())
}
