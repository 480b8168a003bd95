//! Secrets that come as a value or as a file (the Auth Token, the pseudonym key): the layer
//! that gives one wins whole (flag or env over the `--config` file), both forms in one layer
//! are refused, and a file's bytes are read only when the secret is used.

use std::io::Read;
use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};

use super::ConfigError;
use crate::domain::AuthToken;
use crate::pseudonym::PseudonymKey;

/// A secret that may be given directly or as a file: as given in one layer (flag/env or the
/// file named by `--config`), both forms only to be refused.
#[derive(Clone)]
pub(super) enum Secret {
    Direct(SecretString),
    File(PathBuf),
    Both,
}

impl Secret {
    pub(super) fn of(direct: &Option<SecretString>, file: &Option<PathBuf>) -> Option<Self> {
        match (direct, file) {
            (Some(_), Some(_)) => Some(Self::Both),
            (Some(d), None) => Some(Self::Direct(d.clone())),
            (None, Some(f)) => Some(Self::File(f.clone())),
            (None, None) => None,
        }
    }
}

/// The secret of the layer that wins, and which layer it was (`None`: flag/env, else the
/// configuration file's path). No `Debug` of the secret.
#[derive(Clone)]
pub(super) struct Layered {
    secret: Secret,
    config_file: Option<PathBuf>,
}

impl std::fmt::Debug for Layered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let form = match self.secret {
            Secret::Direct(_) => "given directly",
            Secret::File(_) => "in a file",
            Secret::Both => "given twice",
        };
        f.write_str(form)
    }
}

impl Layered {
    /// Flag or env (either form) beats the configuration file (either form).
    pub(super) fn pick(
        given: Option<Secret>,
        file: Option<Secret>,
        config: Option<&std::path::Path>,
    ) -> Option<Self> {
        match (given, file) {
            (Some(secret), _) => Some(Self {
                secret,
                config_file: None,
            }),
            (None, Some(secret)) => Some(Self {
                secret,
                config_file: config.map(PathBuf::from),
            }),
            (None, None) => None,
        }
    }

    /// Both forms given in the winning layer.
    fn both(&self, direct: &str, file: &str) -> ConfigError {
        ConfigError::new(match &self.config_file {
            None => format!(
                "{direct}: both --{direct} and --{file} are given (as flags or environment variables); give one"
            ),
            Some(c) => format!(
                "{direct}: {} sets both {} and {}; give one",
                c.display(),
                direct.replace('-', "_"),
                file.replace('-', "_")
            ),
        })
    }

    /// The secret's bytes: given directly, or read from its file without one trailing line
    /// end (`\n` or `\r\n`). Both forms in one layer are refused. `direct` and `file` name the
    /// options (`auth-token`, `auth-token-file`).
    fn read(&self, direct: &str, file: &str) -> Result<secrecy::SecretSlice<u8>, ConfigError> {
        match &self.secret {
            Secret::Both => Err(self.both(direct, file)),
            Secret::Direct(s) => Ok(s.expose_secret().as_bytes().to_vec().into()),
            Secret::File(path) => {
                let bytes = read_small(path, file)?;
                let mut bytes = secrecy::SecretSlice::from(bytes.to_vec());
                let raw = bytes.expose_secret();
                let len = raw.len() - line_end(raw);
                if len < raw.len() {
                    bytes = raw[..len].to_vec().into();
                }
                Ok(bytes)
            }
        }
    }
}

/// The most a secret's file may hold, 64 KiB: a token is 32 characters and a pseudonym key a
/// few dozen bytes; a larger file (or a device such as `/dev/zero`) is not one, and is not
/// read further.
const SECRET_FILE_MAX: u64 = 64 * 1024;

/// The bytes of the file at `path` named by option `option`, refused past [`SECRET_FILE_MAX`],
/// in a buffer that is read into without growing (no stray copies) and wiped when dropped.
fn read_small(path: &Path, option: &str) -> Result<Zeroizing<Vec<u8>>, ConfigError> {
    let cannot = |e: std::io::Error| {
        ConfigError::new(format!("{option}: cannot read {}: {e}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(cannot)?;
    let mut bytes = Zeroizing::new(Vec::with_capacity(SECRET_FILE_MAX as usize + 1));
    file.take(SECRET_FILE_MAX + 1)
        .read_to_end(&mut bytes)
        .map_err(cannot)?;
    if bytes.len() as u64 > SECRET_FILE_MAX {
        return Err(ConfigError::new(format!(
            "{option}: {} holds more than {SECRET_FILE_MAX} bytes, which is not a secret of this kind",
            path.display()
        )));
    }
    Ok(bytes)
}

/// How many bytes one trailing line end takes: 2 for `\r\n`, 1 for `\n`, else 0.
fn line_end(raw: &[u8]) -> usize {
    if raw.ends_with(b"\r\n") {
        2
    } else {
        usize::from(raw.ends_with(b"\n"))
    }
}

/// The Auth Token from its layer; a token file's text as it is (the token trims itself).
pub(super) fn auth_token(source: &Layered) -> Result<AuthToken, ConfigError> {
    match &source.secret {
        Secret::Both => Err(source.both("auth-token", "auth-token-file")),
        Secret::Direct(t) => AuthToken::new(t.expose_secret().to_owned())
            .map_err(|e| ConfigError::new(format!("auth-token: {e}"))),
        Secret::File(path) => {
            let bytes = read_small(path, "auth-token-file")?;
            let text = std::str::from_utf8(&bytes).map_err(|_| {
                ConfigError::new(format!(
                    "auth-token-file: {} is not text (a token is 32 hexadecimal digits)",
                    path.display()
                ))
            })?;
            AuthToken::new(text.to_owned())
                .map_err(|e| ConfigError::new(format!("auth-token-file: {}: {e}", path.display())))
        }
    }
}

/// The pseudonym key from its layer: given directly, or a file's bytes as they are but for
/// one trailing line end (`\n` or `\r\n`).
pub(super) fn pseudonym_key(source: &Layered) -> Result<PseudonymKey, ConfigError> {
    let bytes = source.read("pseudonym-key", "pseudonym-key-file")?;
    PseudonymKey::new(bytes.expose_secret()).map_err(|e| match &source.secret {
        Secret::File(path) => {
            ConfigError::new(format!("pseudonym-key-file: {}: {e}", path.display()))
        }
        _ => ConfigError::new(format!("pseudonym-key: {e}")),
    })
}
