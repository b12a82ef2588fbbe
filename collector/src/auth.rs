//! Tokens: who may send lines (ingest tokens, optionally bound to app names) and who may read
//! them (read tokens for the API and the page).
//!
//! Secrets are kept only as SHA-256 digests and compared digest against digest in constant
//! time, so neither a secret's bytes nor its length leak through timing. The set in force is
//! swapped whole on a config reload ([`SharedTokens::set`]); connections already admitted keep
//! the grant they were admitted with.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use ring::digest::{SHA256, digest};

use crate::config::{Config, ConfigError, Role};

/// Why a request or connection was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing or wrong token")]
    BadToken,
    #[error("token {token:?} may not send lines of app {app:?}")]
    AppNotAllowed { token: String, app: String },
}

type Digest = [u8; 32];

fn hash(secret: &str) -> Digest {
    let mut out = [0u8; 32];
    out.copy_from_slice(digest(&SHA256, secret.as_bytes()).as_ref());
    out
}

/// Equal digests, in time that does not depend on where they differ.
fn same(a: &Digest, b: &Digest) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[derive(Debug)]
struct Token {
    name: String,
    digest: Digest,
    role: Role,
    /// `None`: any app.
    apps: Option<Arc<BTreeSet<String>>>,
}

/// The tokens in force.
#[derive(Debug, Default)]
pub struct Tokens {
    tokens: Vec<Token>,
}

/// What an admitted ingest client may send.
#[derive(Debug, Clone)]
pub enum IngestGrant {
    /// No ingest token is configured: anyone on the (loopback or `--insecure`) listener.
    Open,
    /// Admitted with the token of this name.
    Token {
        name: String,
        apps: Option<Arc<BTreeSet<String>>>,
    },
}

impl IngestGrant {
    /// Checks that this grant covers `app`.
    pub fn allows(&self, app: &str) -> Result<(), AuthError> {
        match self {
            IngestGrant::Token {
                name,
                apps: Some(apps),
            } if !apps.contains(app) => Err(AuthError::AppNotAllowed {
                token: name.clone(),
                app: app.to_owned(),
            }),
            _ => Ok(()),
        }
    }
}

impl Tokens {
    /// The tokens a config names, with secret files read. Errors name the key.
    pub fn from_config(config: &Config) -> Result<Tokens, ConfigError> {
        let mut tokens = Vec::new();
        if let Some(secret) = &config.token {
            tokens.push(Token {
                name: "token".into(),
                digest: hash(secret),
                role: Role::All,
                apps: None,
            });
        }
        for (i, t) in config.tokens.iter().enumerate() {
            let secret = t.secret().map_err(|reason| ConfigError::Invalid {
                key: "tokens",
                reason: format!("token {:?} (entry {}): {reason}", t.name, i + 1),
            })?;
            let apps = (!t.apps.is_empty()).then(|| Arc::new(t.apps.iter().cloned().collect()));
            tokens.push(Token {
                name: t.name.clone(),
                digest: hash(&secret),
                role: t.role,
                apps,
            });
        }
        Ok(Tokens { tokens })
    }

    /// Whether ingest needs a token.
    pub fn ingest_required(&self) -> bool {
        self.tokens.iter().any(|t| t.role.ingest())
    }

    /// Whether reading (the API, the page's data) needs a token.
    pub fn read_required(&self) -> bool {
        self.tokens.iter().any(|t| t.role.read())
    }

    /// The token matching `given` among those with `role`; every candidate is compared.
    fn find(&self, given: Option<&str>, wanted: fn(Role) -> bool) -> Option<&Token> {
        let given = hash(given?);
        let mut found = None;
        for t in &self.tokens {
            if same(&t.digest, &given) && wanted(t.role) {
                found = Some(t);
            }
        }
        found
    }

    /// Admits an ingest client presenting `given`.
    pub fn ingest(&self, given: Option<&str>) -> Result<IngestGrant, AuthError> {
        if !self.ingest_required() {
            return Ok(IngestGrant::Open);
        }
        let token = self.find(given, Role::ingest).ok_or(AuthError::BadToken)?;
        Ok(IngestGrant::Token {
            name: token.name.clone(),
            apps: token.apps.clone(),
        })
    }

    /// Admits a reader presenting `given`.
    pub fn read(&self, given: Option<&str>) -> Result<(), AuthError> {
        if !self.read_required() || self.find(given, Role::read).is_some() {
            Ok(())
        } else {
            Err(AuthError::BadToken)
        }
    }
}

/// The tokens in force, shared by every listener and replaced whole on reload.
#[derive(Debug, Clone, Default)]
pub struct SharedTokens(Arc<RwLock<Arc<Tokens>>>);

impl SharedTokens {
    pub fn new(tokens: Tokens) -> Self {
        SharedTokens(Arc::new(RwLock::new(Arc::new(tokens))))
    }

    /// The set in force now.
    pub fn get(&self) -> Arc<Tokens> {
        self.0.read().expect("tokens lock").clone()
    }

    /// Replaces the set (a config reload).
    pub fn set(&self, tokens: Tokens) {
        *self.0.write().expect("tokens lock") = Arc::new(tokens);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(toml: &str) -> Tokens {
        let config = Config::from_toml(toml).expect("parses");
        config.validate().expect("valid");
        Tokens::from_config(&config).expect("tokens")
    }

    #[test]
    fn no_tokens_means_open_listeners() {
        let t = tokens("");
        assert!(matches!(t.ingest(None), Ok(IngestGrant::Open)));
        assert_eq!(t.read(None), Ok(()));
    }

    #[test]
    fn the_legacy_token_grants_both() {
        let t = tokens("token = \"s3cret\"\n");
        assert!(t.ingest(Some("s3cret")).is_ok());
        assert_eq!(t.read(Some("s3cret")), Ok(()));
        assert_eq!(
            t.read(Some("s3cre")).expect_err("refused"),
            AuthError::BadToken
        );
        assert_eq!(
            t.read(Some("s3cret!")).expect_err("refused"),
            AuthError::BadToken
        );
        assert_eq!(t.read(None).expect_err("refused"), AuthError::BadToken);
    }

    #[test]
    fn roles_and_app_bindings_are_kept_apart() {
        let t = tokens(
            "[[tokens]]\nname = \"web-vm\"\nsecret = \"ingest-1\"\nrole = \"ingest\"\napps = [\"web\"]\n\
             [[tokens]]\nname = \"ops\"\nsecret = \"reader-1\"\nrole = \"read\"\n",
        );
        let grant = t.ingest(Some("ingest-1")).expect("ingest token");
        assert_eq!(grant.allows("web"), Ok(()));
        assert_eq!(
            grant.allows("billing").expect_err("refused").to_string(),
            "token \"web-vm\" may not send lines of app \"billing\""
        );
        // A read token does not ingest, and an ingest token does not read.
        assert!(t.ingest(Some("reader-1")).is_err());
        assert!(t.read(Some("ingest-1")).is_err());
        assert!(t.read(Some("reader-1")).is_ok());
    }

    #[test]
    fn a_read_token_alone_leaves_ingest_open() {
        let t = tokens("[[tokens]]\nname = \"ops\"\nsecret = \"reader-1\"\nrole = \"read\"\n");
        assert!(matches!(t.ingest(None), Ok(IngestGrant::Open)));
        assert!(t.read(None).is_err());
    }

    #[test]
    fn secret_files_are_read_and_trimmed() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "from-file\n").expect("write");
        let t = tokens(&format!(
            "[[tokens]]\nname = \"f\"\nsecret_file = {:?}\nrole = \"all\"\n",
            path.display().to_string()
        ));
        assert!(t.read(Some("from-file")).is_ok());
        let config = Config::from_toml(
            "[[tokens]]\nname = \"f\"\nsecret_file = \"/nonexistent/x\"\nrole = \"all\"\n",
        )
        .expect("parses");
        let err = Tokens::from_config(&config).expect_err("missing file");
        assert!(err.to_string().contains("tokens"), "{err}");
        let huge = dir.path().join("huge");
        std::fs::write(&huge, "x".repeat(10_000)).expect("write");
        let config = Config::from_toml(&format!(
            "[[tokens]]\nname = \"f\"\nsecret_file = {:?}\nrole = \"all\"\n",
            huge.display().to_string()
        ))
        .expect("parses");
        let err = Tokens::from_config(&config).expect_err("too large");
        assert!(err.to_string().contains("over 4096 bytes"), "{err}");
    }
}
