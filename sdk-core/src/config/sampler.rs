//! The head sampler (`OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG`, `DD_TRACE_SAMPLE_RATE`).

use super::ConfigError;
use super::env::{Env, invalid};

/// The root sampling decision.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum RootSampler {
    /// Sample every trace.
    AlwaysOn,
    /// Sample no trace.
    AlwaysOff,
    /// Sample this fraction of traces, decided from the trace id.
    TraceIdRatio(f64),
    /// Sample at the rate the Datadog agent last answered (`rate_by_service`), 1 until it
    /// answers. Chosen by `init` when traces go to Datadog and no sampler is configured.
    AgentRate,
}

/// Head sampler: a root decision, optionally deferring to a sampled remote or local parent.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampler {
    /// Decision for traces that start here.
    pub root: RootSampler,
    /// Whether a parent's decision is followed.
    pub parent_based: bool,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            root: RootSampler::AlwaysOn,
            parent_based: true,
        }
    }
}

const SAMPLER_EXPECTED: &str = "always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio";

fn parse_ratio(var: &'static str, value: &str) -> Result<f64, ConfigError> {
    match value.parse::<f64>() {
        Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(ratio),
        _ => Err(invalid(var, value, "a number from 0 to 1")),
    }
}

pub(super) fn parse_sampler(env: &dyn Env) -> Result<Sampler, ConfigError> {
    let Some(value) = env.var("OTEL_TRACES_SAMPLER")? else {
        return Ok(match env.var("DD_TRACE_SAMPLE_RATE")? {
            Some(rate) => Sampler {
                root: RootSampler::TraceIdRatio(parse_ratio("DD_TRACE_SAMPLE_RATE", &rate)?),
                parent_based: true,
            },
            None => Sampler::default(),
        });
    };
    let ratio = || -> Result<f64, ConfigError> {
        match env.var("OTEL_TRACES_SAMPLER_ARG")? {
            Some(arg) => parse_ratio("OTEL_TRACES_SAMPLER_ARG", &arg),
            None => Ok(1.0),
        }
    };
    let (root, parent_based) = match value.to_ascii_lowercase().as_str() {
        "always_on" => (RootSampler::AlwaysOn, false),
        "always_off" => (RootSampler::AlwaysOff, false),
        "traceidratio" => (RootSampler::TraceIdRatio(ratio()?), false),
        "parentbased_always_on" => (RootSampler::AlwaysOn, true),
        "parentbased_always_off" => (RootSampler::AlwaysOff, true),
        "parentbased_traceidratio" => (RootSampler::TraceIdRatio(ratio()?), true),
        _ => return Err(invalid("OTEL_TRACES_SAMPLER", &value, SAMPLER_EXPECTED)),
    };
    Ok(Sampler { root, parent_based })
}
