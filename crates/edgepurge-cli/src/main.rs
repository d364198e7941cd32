//! `edgepurge`: the command-line tool for an edgepurge deployment.
//!
//! Purges every instance of the CDN through the API and shows each instance answer live,
//! verifies a URL, reads the history, the instances and the background deliveries. Settings come
//! from `--url`/`--token` or `EDGEPURGE_URL`/`EDGEPURGE_TOKEN`. Exit status: 0 done, 2 partly, 1
//! failed or refused (see [`output`]).
//!
//! Everything that decides (arguments to requests, events to lines, reports to exit codes,
//! problems to messages) is a plain function with its tests; this file only wires them to the
//! network and the terminal.

mod args;
mod client;
mod live;
mod output;

use args::{Cli, Command};
use clap::Parser;
use client::{Client, Failure, Progress};
use edgepurge_core::api::{DeliveriesReply, HistoryPage, InstancesReply, VerifyReport, VerifyRequest};
use edgepurge_core::idempotency;
use live::Display;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // --help and --version exit 0; a usage error 1 (2 means a partial purge).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { output::FAILED } else { output::OK });
        }
    };
    ExitCode::from(run(cli))
}

/// Prints a failure on stderr; the exit status for it.
fn fail(message: impl std::fmt::Display) -> u8 {
    eprintln!("edgepurge: {message}");
    output::FAILED
}

fn run(cli: Cli) -> u8 {
    let base = match cli.api.as_deref() {
        None => return fail("no API URL: set EDGEPURGE_URL (or give --url before the command)"),
        Some(raw) => match args::api_base(raw) {
            Ok(base) => base,
            Err(e) => return fail(e),
        },
    };
    let token = match args::api_token(cli.token.as_deref()) {
        Ok(token) => token,
        Err(e) => return fail(e),
    };
    let client = Client::new(base, &token, Duration::from_secs(cli.timeout.max(1)));
    match cli.command {
        Command::Purge(purge) => run_purge(&client, &purge),
        Command::Verify { url, json } => {
            let reply = client.post_json("/api/verify", &VerifyRequest { url });
            show(
                reply,
                json,
                |report: VerifyReport| {
                    for row in &report.results {
                        println!("{}", output::verify_line(row));
                    }
                    println!("{}", output::verify_summary(&report));
                },
                output::verify_exit,
            )
        }
        Command::History { url, actor, limit, before, json } => {
            let reply = client.get(&args::history_path(url.as_deref(), actor.as_deref(), before, limit));
            show(
                reply,
                json,
                |page: HistoryPage| output::history_lines(&page).iter().for_each(|l| println!("{l}")),
                |_| output::OK,
            )
        }
        Command::Instances { json } => {
            let reply = client.get("/api/instances");
            show(
                reply,
                json,
                |r: InstancesReply| output::instances_lines(&r).iter().for_each(|l| println!("{l}")),
                output::instances_exit,
            )
        }
        Command::Deliveries { status, limit, json } => {
            let reply = client.get(&args::deliveries_path(status, limit));
            show(
                reply,
                json,
                |r: DeliveriesReply| output::deliveries_lines(&r).iter().for_each(|l| println!("{l}")),
                |_| output::OK,
            )
        }
    }
}

/// A read command's reply: as it came with `--json`, else printed by `print`; the exit status
/// `exit` gives it.
fn show<T: serde::de::DeserializeOwned>(
    reply: Result<String, Failure>,
    json: bool,
    print: impl FnOnce(T),
    exit: impl FnOnce(&T) -> u8,
) -> u8 {
    let text = match reply {
        Ok(text) => text,
        Err(failure) => return fail(failure),
    };
    let parsed: T = match serde_json::from_str(&text) {
        Ok(parsed) => parsed,
        Err(e) => return fail(format!("the API's reply could not be read ({e})")),
    };
    let code = exit(&parsed);
    if json {
        println!("{}", text.trim_end());
    } else {
        print(parsed);
    }
    code
}

fn run_purge(client: &Client, purge: &args::PurgeArgs) -> u8 {
    let key = match purge.idempotency_key.as_deref().map(idempotency::key).transpose() {
        Ok(key) => key,
        Err(e) => return fail(format!("--idempotency-key: {}", e.detail)),
    };
    let request = args::purge_request(purge);
    let mut display: Box<dyn Display> = if purge.json {
        Box::new(live::Json)
    } else if std::io::stdout().is_terminal() {
        Box::new(live::Live::new())
    } else {
        Box::new(live::Plain::default())
    };
    let result = client.purge(&request, key.as_deref(), &mut |progress| match progress {
        Progress::Event(event) => display.event(event),
        Progress::Waiting(wait) => display.waiting(wait),
    });
    match result {
        Ok(report) => {
            display.finish(&report);
            output::purge_exit(&report)
        }
        Err(failure) => {
            drop(display);
            fail(failure)
        }
    }
}
