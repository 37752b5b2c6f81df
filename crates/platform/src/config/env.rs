//! [`Env`]: the environment variables a configuration is read from.
//!
//! Secrets may also come from files, as Kubernetes Secret volumes and Docker secrets provide
//! them: for every variable in [`FILE_VARIABLES`], `<NAME>_FILE` names a file holding the
//! value (trailing line breaks removed). Setting both `<NAME>` and `<NAME>_FILE` is an
//! error, and so is a file that cannot be read; [`Reader`](super::Reader) reports them with
//! every other problem.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// Variables that may be given as `<NAME>_FILE` instead: every secret of every service
/// (the 🔒 rows of `docs/ENVIRONMENT.md`, which a test keeps in step) and the PEM public
/// key that comes with `JWT_PRIVATE_KEY`.
pub const FILE_VARIABLES: &[&str] = &[
    "DATABASE_URL",
    "REDIS_URL",
    "SERVICE_CLIENT_SECRET",
    "KEY_ENCRYPTION_KEY",
    "KEY_ENCRYPTION_KEY_SECONDARY",
    "KEY_ENCRYPTION_KEY_PREVIOUS",
    "CREDENTIAL_PEPPER",
    "CREDENTIAL_PEPPER_SECONDARY",
    "DPOP_NONCE_SECRET",
    "JWT_PRIVATE_KEY",
    "JWT_PUBLIC_KEY",
    "SIGNUP_INVITATION_CODES",
    "STRIPE_SECRET_KEY",
    "STRIPE_WEBHOOK_SECRET",
];

/// Largest secret file read (a PEM key is a few kilobytes).
const MAX_FILE_BYTES: u64 = 64 * 1024;

/// Values read from `<NAME>_FILE`, and the problems met reading them.
#[derive(Clone, Default)]
struct Files {
    values: BTreeMap<&'static str, String>,
    errors: Vec<(String, String)>,
}

/// A snapshot of environment variables.
#[derive(Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
    /// Read on first use; reset by [`Env::set`].
    files: OnceLock<Files>,
}

impl fmt::Debug for Env {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Values may be secrets: print names only.
        f.debug_set().entries(self.vars.keys()).finish()
    }
}

impl Env {
    /// Reads the process environment (variables that are not valid UTF-8 are skipped).
    pub fn from_process() -> Self {
        Self::from_pairs(
            std::env::vars_os()
                .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?))),
        )
    }

    /// Builds an environment from pairs (tests, tools).
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        Self {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
            files: OnceLock::new(),
        }
    }

    /// Sets one variable, replacing any earlier value.
    pub fn set(&mut self, key: impl Into<String>, value: impl Into<String>) -> &mut Self {
        self.vars.insert(key.into(), value.into());
        self.files = OnceLock::new();
        self
    }

    /// Every variable as set (`<NAME>_FILE` unresolved), for handing the environment to a
    /// child process.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.vars.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Returns a variable's value, from `<NAME>_FILE` for the [`FILE_VARIABLES`]; an empty
    /// value counts as unset.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.set_value(key)
            .or_else(|| self.files().values.get(key).map(String::as_str))
            .filter(|v| !v.trim().is_empty())
    }

    /// Problems with `<NAME>_FILE` variables: `(variable, message)`.
    pub fn file_errors(&self) -> &[(String, String)] {
        &self.files().errors
    }

    fn set_value(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    fn files(&self) -> &Files {
        self.files.get_or_init(|| {
            let mut files = Files::default();
            for &name in FILE_VARIABLES {
                let var = format!("{name}_FILE");
                let Some(path) = self.set_value(&var) else {
                    continue;
                };
                if self.set_value(name).is_some() {
                    files
                        .errors
                        .push((var, format!("set either {name} or {name}_FILE, not both")));
                    continue;
                }
                match read_secret_file(path.trim()) {
                    Ok(v) => {
                        files.values.insert(name, v);
                    }
                    Err(e) => files.errors.push((var, e)),
                }
            }
            files
        })
    }
}

/// The file's text without trailing line breaks. Errors name the path, never the content.
fn read_secret_file(path: &str) -> Result<String, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("cannot read {path:?}: {e}"))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(format!(
            "{path:?} is larger than {MAX_FILE_BYTES} bytes ({len})"
        ));
    }
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path:?}: {e}"))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &std::path::Path, name: &str, content: &str) -> String {
        let p = dir.join(name);
        std::fs::write(&p, content).unwrap();
        p.to_string_lossy().into_owned()
    }

    fn temp_dir(tag: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("agentidp-env-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn every_file_variable_is_read_from_its_file_without_the_trailing_newline() {
        let dir = temp_dir("all");
        let mut pairs = Vec::new();
        for name in FILE_VARIABLES {
            let path = file(&dir, name, &format!("value of {name}\n"));
            pairs.push((format!("{name}_FILE"), path));
        }
        let env = Env::from_pairs(pairs);
        for name in FILE_VARIABLES {
            assert_eq!(env.get(name), Some(format!("value of {name}").as_str()));
        }
        assert!(env.file_errors().is_empty(), "{:?}", env.file_errors());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn only_file_variables_are_read_from_files() {
        let dir = temp_dir("other");
        let path = file(&dir, "port", "9999");
        let env = Env::from_pairs([("PORT_FILE", path)]);
        assert_eq!(env.get("PORT"), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn both_set_or_an_unreadable_file_is_an_error_naming_the_variable_not_the_value() {
        let dir = temp_dir("errors");
        let path = file(&dir, "pepper", "from-the-file-0123456789");
        let env = Env::from_pairs([
            ("CREDENTIAL_PEPPER", "from-the-environment-0123"),
            ("CREDENTIAL_PEPPER_FILE", path.as_str()),
            ("STRIPE_SECRET_KEY_FILE", "/nonexistent/agentidp/stripe"),
        ]);
        assert_eq!(
            env.get("CREDENTIAL_PEPPER"),
            Some("from-the-environment-0123")
        );
        assert_eq!(env.get("STRIPE_SECRET_KEY"), None);
        let errors = env.file_errors();
        let vars: Vec<&str> = errors.iter().map(|(v, _)| v.as_str()).collect();
        assert_eq!(vars, ["CREDENTIAL_PEPPER_FILE", "STRIPE_SECRET_KEY_FILE"]);
        assert!(errors.iter().all(|(_, m)| !m.contains("from-the-")));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn set_reads_the_files_again() {
        let dir = temp_dir("set");
        let a = file(&dir, "a", "first-url");
        let b = file(&dir, "b", "second-url");
        let mut env = Env::from_pairs([("REDIS_URL_FILE", a)]);
        assert_eq!(env.get("REDIS_URL"), Some("first-url"));
        env.set("REDIS_URL_FILE", b);
        assert_eq!(env.get("REDIS_URL"), Some("second-url"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_list_covers_every_secret_of_the_environment_document() {
        let doc = include_str!("../../../../docs/ENVIRONMENT.md");
        for line in doc
            .lines()
            .filter(|l| l.starts_with("| ") && l.contains('🔒'))
        {
            let first_cell = line.split('|').nth(1).unwrap_or_default();
            for name in first_cell.split('`').skip(1).step_by(2) {
                assert!(
                    FILE_VARIABLES.contains(&name),
                    "{name} is a secret in docs/ENVIRONMENT.md but cannot be given as {name}_FILE"
                );
            }
        }
    }
}
