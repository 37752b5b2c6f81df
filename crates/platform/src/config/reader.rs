//! [`Reader`]: typed values from an [`Env`], every problem collected.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use reqwest::Url;

use super::env::Env;
use crate::net::Cidr;
use crate::secret::Secret;

/// One invalid variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: String,
    /// What is wrong with it (never its value when the variable is a secret).
    pub message: String,
}

/// Every invalid variable found while reading a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "invalid configuration ({} problem(s)):", self.0.len())?;
        for e in &self.0 {
            writeln!(f, "  {}: {}", e.var, e.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

/// Reads typed values from an [`Env`], collecting every error.
#[derive(Debug)]
pub struct Reader<'a> {
    env: &'a Env,
    errors: Vec<ConfigError>,
}

impl<'a> Reader<'a> {
    /// Starts reading `env`.
    pub fn new(env: &'a Env) -> Self {
        let errors = env
            .file_errors()
            .iter()
            .map(|(var, message)| ConfigError {
                var: var.clone(),
                message: message.clone(),
            })
            .collect();
        Self { env, errors }
    }

    /// The raw value of a variable, if set and not empty.
    pub fn raw(&self, var: &str) -> Option<&'a str> {
        self.env.get(var)
    }

    /// Records an error against `var`.
    pub fn error(&mut self, var: &str, message: impl Into<String>) {
        self.errors.push(ConfigError {
            var: var.to_owned(),
            message: message.into(),
        });
    }

    /// A string with a default.
    pub fn string(&mut self, var: &str, default: &str) -> String {
        self.raw(var).unwrap_or(default).trim().to_owned()
    }

    /// An optional string.
    pub fn opt_string(&mut self, var: &str) -> Option<String> {
        self.raw(var).map(|v| v.trim().to_owned())
    }

    /// An optional secret.
    pub fn opt_secret(&mut self, var: &str) -> Option<Secret<String>> {
        self.raw(var).map(|v| Secret::new(v.trim().to_owned()))
    }

    /// A secret that must be set.
    pub fn required_secret(&mut self, var: &str) -> Secret<String> {
        match self.raw(var) {
            Some(v) => Secret::new(v.trim().to_owned()),
            None => {
                self.error(var, "is required");
                Secret::new(String::new())
            }
        }
    }

    /// A value parsed with `FromStr`; `what` describes the expected form in errors.
    pub fn parse<T: FromStr>(&mut self, var: &str, default: T, what: &str) -> T {
        match self.raw(var) {
            None => default,
            Some(v) => match v.trim().parse() {
                Ok(x) => x,
                Err(_) => {
                    self.error(var, format!("expected {what}, got {v:?}"));
                    default
                }
            },
        }
    }

    /// An unsigned integer within `min..=max`.
    pub fn u64_in(&mut self, var: &str, default: u64, min: u64, max: u64) -> u64 {
        let what = format!("an integer from {min} to {max}");
        let v = self.parse(var, default, &what);
        if (min..=max).contains(&v) {
            v
        } else {
            self.error(var, format!("expected {what}, got {v}"));
            default
        }
    }

    /// A duration in milliseconds within `min..=max` ms.
    pub fn millis(&mut self, var: &str, default: u64, min: u64, max: u64) -> Duration {
        Duration::from_millis(self.u64_in(var, default, min, max))
    }

    /// A comma-separated list of CIDRs (`10.0.0.0/8,::1/128`; a bare address is a /32 or /128).
    pub fn cidrs(&mut self, var: &str, default: &str) -> Vec<Cidr> {
        let raw = self.string(var, default);
        let mut out = Vec::new();
        for part in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match part.parse::<Cidr>() {
                Ok(c) => out.push(c),
                Err(e) => self.error(var, format!("{part:?}: {e}")),
            }
        }
        out
    }

    /// A boolean: `true/false`, `1/0`, `yes/no`, `on/off` (any case).
    pub fn bool(&mut self, var: &str, default: bool) -> bool {
        match self.raw(var).map(|v| v.trim().to_ascii_lowercase()) {
            None => default,
            Some(v) => match v.as_str() {
                "true" | "1" | "yes" | "on" => true,
                "false" | "0" | "no" | "off" => false,
                _ => {
                    self.error(var, format!("expected true or false, got {v:?}"));
                    default
                }
            },
        }
    }

    /// An http(s) URL, optional.
    pub fn opt_url(&mut self, var: &str) -> Option<Url> {
        let raw = self.raw(var)?;
        match Url::parse(raw.trim()) {
            Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Some(u),
            Ok(_) => {
                self.error(var, format!("expected an http(s) URL, got {raw:?}"));
                None
            }
            Err(e) => {
                self.error(var, format!("expected an http(s) URL ({e}), got {raw:?}"));
                None
            }
        }
    }

    /// An http(s) URL with a default; `default` must be a valid constant URL.
    #[expect(clippy::expect_used, reason = "defaults are constant, valid URLs")]
    pub fn url(&mut self, var: &str, default: &'static str) -> Url {
        self.opt_url(var)
            .unwrap_or_else(|| Url::parse(default).expect("default URL is valid"))
    }

    /// Ends reading: `Err` lists every problem found.
    pub fn finish(self) -> Result<(), ConfigErrors> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(self.errors))
        }
    }
}
