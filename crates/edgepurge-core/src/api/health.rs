//! `GET /api/health`: the post-deploy check, and how trace export and notifications have gone.

use serde::{Deserialize, Serialize};

/// Reply of `GET /api/health`.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// `"ok"`: the configuration loads as a purge's would and the store is bound (otherwise the
    /// answer is a 503 problem naming the setting).
    pub status: String,
    /// The edgepurge version.
    pub version: String,
    /// Trace export from this isolate, when an OTLP endpoint is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traces: Option<ExportStatus>,
    /// Webhook notifications over the last hour, when `NOTIFY_WEBHOOKS` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notifications: Option<super::NotifyStatus>,
}

/// How exporting traces has gone, as one isolate saw it.
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportStatus {
    /// Traces the collector accepted.
    pub exported: u64,
    /// Exports that failed (unreachable, timed out, refused).
    pub failed: u64,
    /// Traces over the export cap, exported without their request spans.
    #[serde(default)]
    pub summarised: u64,
    /// When the last export was tried, ms since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_at: Option<i64>,
    /// Whether the last export worked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_ok: Option<bool>,
    /// Why the last failed export failed: for authenticated callers only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}
