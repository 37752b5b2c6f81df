//! Logs, traces and metrics.
//!
//! - Logs: JSON lines (or `LOG_FORMAT=pretty`), filtered by `RUST_LOG`, with dotted fields
//!   (`tenant.id`, `agent.id`) and the request id on every line of a request. Secrets and
//!   tokens are never logged; see `docs/LOGGING.md` for what each level means.
//! - Traces: exported over OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set; incoming
//!   `traceparent` headers continue the caller's trace and internal calls carry it on.
//! - Metrics: each application owns a Prometheus recorder ([`Metrics`]) rendered at
//!   `/metrics`, so two instances in one process (tests) never mix their numbers.

use std::sync::Arc;

use metrics::{Counter, Gauge, Histogram, Key, Label, Metadata, Recorder};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

use crate::config::TelemetryConfig;
use crate::log_buffer::LogBuffer;

/// Keeps the trace exporter alive; flushes it (and buffered log lines) when dropped or on
/// [`TelemetryGuard::shutdown`].
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
    logs: Option<LogBuffer>,
}

impl std::fmt::Debug for TelemetryGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TelemetryGuard").finish()
    }
}

impl TelemetryGuard {
    /// Flushes pending spans and log lines and stops the exporter.
    pub fn shutdown(mut self) {
        self.flush();
    }

    fn flush(&mut self) {
        if let Some(p) = self.provider.take()
            && let Err(e) = p.shutdown()
        {
            tracing::warn!(error = %e, "could not flush traces");
        }
        if let Some(l) = &self.logs {
            l.flush_now();
        }
    }
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        self.flush();
    }
}

/// Installs the process-wide log subscriber (and the OTLP exporter when configured).
pub fn init(service: &'static str, cfg: &TelemetryConfig) -> anyhow::Result<TelemetryGuard> {
    let filter = EnvFilter::try_new(&cfg.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let provider = match &cfg.otlp_endpoint {
        Some(endpoint) => {
            let url = format!("{}/v1/traces", endpoint.as_str().trim_end_matches('/'));
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_endpoint(url)
                .build()?;
            let provider = SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name(service)
                        .build(),
                )
                .build();
            Some(provider)
        }
        None => None,
    };
    let otel_layer = provider
        .as_ref()
        .map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer(service)));
    let registry = tracing_subscriber::registry().with(filter).with(otel_layer);
    let logs = LogBuffer::new();
    let writer = logs.clone();
    let make_writer = move || writer.clone();
    let result = if cfg.log_json {
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(false)
                    .with_span_list(true)
                    .with_target(true)
                    .with_writer(make_writer),
            )
            .try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_writer(make_writer))
            .try_init()
    };
    let logs = match result {
        Ok(()) => {
            logs.spawn_flusher();
            Some(logs)
        }
        Err(e) => {
            // Already installed (several applications in one test process): keep the first.
            tracing::debug!(error = %e, "log subscriber already installed");
            None
        }
    };
    Ok(TelemetryGuard { provider, logs })
}

/// The metrics of one application.
#[derive(Clone)]
pub struct Metrics {
    recorder: Arc<PrometheusRecorder>,
    handle: PrometheusHandle,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

/// Buckets for request latencies, in seconds: fine resolution below 25 ms, where the token
/// endpoint lives.
const LATENCY_BUCKETS: [f64; 16] = [
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0,
];

/// Buckets of histograms that count things (names ending in `_size`), not seconds.
const SIZE_BUCKETS: [f64; 12] = [
    1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0, 5000.0,
];

static METADATA: Metadata<'static> =
    Metadata::new("agentidp", metrics::Level::INFO, Some("agentidp"));

impl Metrics {
    /// A fresh registry labelled with the service's name.
    pub fn new(service: &'static str) -> Self {
        let builder = PrometheusBuilder::new().add_global_label("service", service);
        let recorder = match builder.set_buckets(&LATENCY_BUCKETS).and_then(|b| {
            b.set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("_size".to_owned()),
                &SIZE_BUCKETS,
            )
        }) {
            Ok(b) => b,
            Err(_) => PrometheusBuilder::new().add_global_label("service", service),
        }
        .build_recorder();
        let handle = recorder.handle();
        Self {
            recorder: Arc::new(recorder),
            handle,
        }
    }

    fn key(name: &'static str, labels: &[(&'static str, &str)]) -> Key {
        Key::from_parts(
            name,
            labels
                .iter()
                .map(|(k, v)| Label::new(*k, (*v).to_owned()))
                .collect::<Vec<_>>(),
        )
    }

    /// A counter handle (register once and keep it on hot paths).
    pub fn counter(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Counter {
        self.recorder
            .register_counter(&Self::key(name, labels), &METADATA)
    }

    /// A gauge handle.
    pub fn gauge(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Gauge {
        self.recorder
            .register_gauge(&Self::key(name, labels), &METADATA)
    }

    /// A histogram handle.
    pub fn histogram(&self, name: &'static str, labels: &[(&'static str, &str)]) -> Histogram {
        self.recorder
            .register_histogram(&Self::key(name, labels), &METADATA)
    }

    /// Prometheus text exposition of everything recorded.
    pub fn render(&self) -> String {
        self.handle.run_upkeep();
        self.handle.render()
    }
}

struct HeaderExtractor<'a>(&'a actix_web::http::header::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0
            .keys()
            .map(actix_web::http::header::HeaderName::as_str)
            .collect()
    }
}

/// Makes `span` a child of the caller's trace when the request carries `traceparent`.
pub fn continue_trace(span: &tracing::Span, headers: &actix_web::http::header::HeaderMap) {
    if headers.contains_key("traceparent") {
        let cx = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
        if span.set_parent(cx).is_err() {
            tracing::trace!("no tracing layer to attach the caller's trace to");
        }
    }
}

struct VecInjector(Vec<(String, String)>);

impl Injector for VecInjector {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// The W3C trace-context headers (`traceparent`, `tracestate`) of the current span.
pub fn trace_headers() -> Vec<(String, String)> {
    let cx = tracing::Span::current().context();
    let mut inj = VecInjector(Vec::new());
    TraceContextPropagator::new().inject_context(&cx, &mut inj);
    inj.0
}
