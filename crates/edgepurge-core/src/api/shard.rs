//! The wire between a purge's invocation and the shards it hands part of its fan-out to (a
//! Durable Object each, with connections of its own): the jobs to run, and each finished request
//! back as one NDJSON line. Internal: only the worker talks to its own shards.

use super::Outcome;
use serde::{Deserialize, Serialize};

/// What a shard runs: whole jobs of the caller's plan, as the core wrote them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlan {
    /// The jobs, each one instance's requests.
    pub jobs: Vec<ShardJob>,
    /// Jobs run at once (at most the platform's connection limit).
    pub concurrency: usize,
    /// Per-attempt timeout, ms.
    pub timeout_ms: u32,
    /// Inline sends per request, at least 1.
    pub attempts: u32,
    /// Inline backoff base and cap, ms.
    pub base_ms: u32,
    /// Inline backoff cap, ms.
    pub cap_ms: u32,
    /// Connections each job may open.
    pub connections: u32,
    /// Requests pipelined on one connection.
    pub window: u32,
    /// When the caller's fan-out must have ended (epoch ms): the shard gives up what is left
    /// then, as the caller does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_at: Option<u64>,
}

/// One instance's requests.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardJob {
    /// Where to connect: `ip:port` (IPv6 in brackets) or `name:port`.
    pub connect: String,
    /// For TLS: the name the certificate must carry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<String>,
    /// The instance's contract: how the shard classifies its answers.
    #[serde(default)]
    pub contract: super::Contract,
    /// The requests, in order.
    pub requests: Vec<ShardRequest>,
}

/// One request, exactly as the core wrote it (printable ASCII and CRLF only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRequest {
    /// The complete HTTP/1.1 request.
    pub text: String,
    /// A `HEAD` (its answer has no body).
    pub head: bool,
    /// Whether it lets the connection carry more requests.
    pub keep_alive: bool,
}

/// A line of a shard's reply.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum ShardEvent {
    /// A request finished.
    Finished(ShardFinished),
    /// The shard is done: the most sockets it held at once.
    End {
        /// Sockets open at once, at most.
        sockets_peak: usize,
    },
}

/// A finished request, with its one classification made in the shard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardFinished {
    /// The job, as an index into the shard's jobs.
    pub job: usize,
    /// The request, as an index into the job's requests.
    pub request: usize,
    /// Sends made.
    pub attempts: u32,
    /// Milliseconds from its first send to its final answer.
    pub elapsed_ms: u64,
    /// When it started and ended, the shard's clock (ms since the epoch).
    pub started_at: u64,
    /// When it ended.
    pub ended_at: u64,
    /// How long its connection took to open.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ms: Option<u64>,
    /// What happened.
    pub outcome: Outcome,
    /// The instance's status, when it answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The answer's header fields (names lower-case), when it answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<(String, String)>,
    /// Why it did not succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether sending it again may succeed.
    pub retryable: bool,
}
