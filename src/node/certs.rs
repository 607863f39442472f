//! The cluster's trust: a CA made at first start, the join token that lets
//! a node get a certificate from it, and the rustls configurations of the
//! node-to-node QUIC connections (mutual TLS: both ends present a
//! certificate signed by the cluster CA and check the other's).
//!
//! The token is `SECRET.PIN`: 32 random bytes (base64url) the signer
//! compares, and the SHA-256 of the CA certificate, which lets a joining node
//! check it talks to the real cluster before it sends the secret.

use anyhow::{anyhow, bail, Context};
use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The name every node certificate carries and every node dials.
pub(crate) const SERVER_NAME: &str = "lunatic-node";
/// ALPN of the node protocol.
const ALPN: &[u8] = b"lunatic-node/1";

/// The files of a cluster directory.
const CA_CERT: &str = "ca.pem";
const CA_KEY: &str = "ca.key";
const TOKEN: &str = "join-token";

/// The default cluster directory: `$LUNATIC_CLUSTER_DIR`, else
/// `$XDG_DATA_HOME/lunatic/cluster`, else `~/.local/share/lunatic/cluster`.
pub fn default_cluster_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LUNATIC_CLUSTER_DIR") {
        return dir.into();
    }
    let data = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))
        .unwrap_or_else(std::env::temp_dir);
    data.join("lunatic").join("cluster")
}

/// The cluster CA and the secret that admits nodes: held by the signer
/// (`lunatic control`, or a seed node).
pub(crate) struct Authority {
    ca_pem: String,
    ca_der: CertificateDer<'static>,
    /// The CA as rcgen needs it to sign (same name and key as `ca_pem`).
    issuer: rcgen::Certificate,
    key: KeyPair,
    secret: String,
}

/// Writes `data` to `path`, readable and writable by its owner only.
fn write_private(path: &Path, data: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).with_context(|| format!("cannot write '{}'", path.display()))?;
    // An existing file keeps its mode on open: make it private too.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))?;
    file.write_all(data.as_bytes())?;
    Ok(())
}

fn random_secret() -> anyhow::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow!("no random bytes: {e}"))?;
    Ok(base64url(&bytes))
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(bytes.len() * 4 / 3 + 3);
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a certificate, in hex: the pin in a join token.
fn pin_of(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

fn ca_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, "lunatic cluster CA");
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

impl Authority {
    /// Loads the CA and token kept in `dir`, making them (files mode 0600)
    /// the first time.
    pub(crate) fn open(dir: &Path) -> anyhow::Result<Self> {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create '{}'", dir.display()))?;
        #[cfg(unix)]
        std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700))?;
        let (cert_path, key_path, token_path) = (dir.join(CA_CERT), dir.join(CA_KEY), dir.join(TOKEN));
        let (ca_pem, key) = if cert_path.exists() && key_path.exists() {
            let key = KeyPair::from_pem(&std::fs::read_to_string(&key_path)?)
                .with_context(|| format!("bad CA key '{}'", key_path.display()))?;
            (std::fs::read_to_string(&cert_path)?, key)
        } else {
            let key = KeyPair::generate()?;
            let ca = ca_params()?.self_signed(&key)?;
            write_private(&key_path, &key.serialize_pem())?;
            write_private(&cert_path, &ca.pem())?;
            (ca.pem(), key)
        };
        let ca_der = CertificateDer::from_pem_slice(ca_pem.as_bytes())
            .map_err(|e| anyhow!("bad CA certificate '{}': {e:?}", cert_path.display()))?;
        let issuer = CertificateParams::from_ca_cert_pem(&ca_pem)?.self_signed(&key)?;
        let secret = match std::fs::read_to_string(&token_path) {
            Ok(token) if token.trim().split('.').nth(1) == Some(&pin_of(&ca_der)) => {
                token.trim().split('.').next().unwrap_or_default().to_string()
            }
            _ => {
                let secret = random_secret()?;
                write_private(&token_path, &format!("{secret}.{}\n", pin_of(&ca_der)))?;
                secret
            }
        };
        Ok(Self { ca_pem, ca_der, issuer, key, secret })
    }

    /// The join token: give it to nodes on other machines.
    pub(crate) fn token(&self) -> String {
        format!("{}.{}", self.secret, pin_of(&self.ca_der))
    }

    /// Signs a node's certificate request if `secret` is the cluster's;
    /// returns the node certificate (PEM). The signer decides the
    /// certificate's name and uses, not the request.
    pub(crate) fn admit(&self, secret: &str, csr_pem: &str) -> anyhow::Result<String> {
        // Compared in constant time: the answer leaks nothing of the secret.
        let (given, ours) = (secret.as_bytes(), self.secret.as_bytes());
        let differ = given.len() != ours.len()
            || given.iter().zip(ours).fold(0u8, |acc, (a, b)| acc | (a ^ b)) != 0;
        if differ {
            bail!("wrong join token");
        }
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem).context("bad certificate request")?;
        csr.params = node_params()?;
        Ok(csr.signed_by(&self.issuer, &self.key)?.pem())
    }

    /// A certificate for the signer's own node.
    pub(crate) fn own_identity(&self) -> anyhow::Result<Identity> {
        let key = KeyPair::generate()?;
        let cert = node_params()?.signed_by(&key, &self.issuer, &self.key)?;
        Identity::new(&cert.pem(), &self.ca_pem, &key.serialize_pem())
    }

    /// The CA certificate (PEM).
    pub(crate) fn ca_pem(&self) -> &str {
        &self.ca_pem
    }
}

fn node_params() -> anyhow::Result<CertificateParams> {
    let mut params = CertificateParams::new(vec![SERVER_NAME.to_string()])?;
    params.distinguished_name.push(DnType::CommonName, "lunatic node");
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth];
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    Ok(params)
}

/// A join token split into its parts.
#[derive(Clone)]
pub(crate) struct Token {
    pub(crate) secret: String,
    pub(crate) pin: String,
}

impl std::str::FromStr for Token {
    type Err = anyhow::Error;
    fn from_str(token: &str) -> anyhow::Result<Self> {
        let (secret, pin) = token.trim().split_once('.').ok_or_else(|| anyhow!("a join token is SECRET.PIN"))?;
        if secret.is_empty() || pin.len() != 64 {
            bail!("malformed join token");
        }
        Ok(Token { secret: secret.to_string(), pin: pin.to_string() })
    }
}

/// The token a node uses: given, or `$LUNATIC_JOIN_TOKEN`, or the one the
/// signer left in the cluster directory (same machine, same user).
pub(crate) fn find_token(given: Option<&str>, dir: &Path) -> anyhow::Result<Token> {
    if let Some(token) = given {
        return token.parse();
    }
    if let Some(token) = std::env::var("LUNATIC_JOIN_TOKEN").ok().filter(|t| !t.trim().is_empty()) {
        return token.parse();
    }
    let path = dir.join(TOKEN);
    std::fs::read_to_string(&path)
        .map_err(|e| {
            anyhow!(
                "no join token: pass --token or set LUNATIC_JOIN_TOKEN (printed by `lunatic control`), \
                 or run where `lunatic control` left '{}' ({e})",
                path.display()
            )
        })?
        .parse()
}

/// A node's key pair and certificate request, before it is admitted.
pub(crate) struct Candidate {
    key: KeyPair,
}

impl Candidate {
    /// A fresh key pair.
    pub(crate) fn new() -> anyhow::Result<Self> {
        Ok(Self { key: KeyPair::generate()? })
    }

    /// The certificate request the signer gets.
    pub(crate) fn csr_pem(&self) -> anyhow::Result<String> {
        Ok(node_params()?.serialize_request(&self.key)?.pem()?)
    }

    /// The node's identity once it has its certificate.
    pub(crate) fn admitted(self, cert_pem: &str, ca_pem: &str) -> anyhow::Result<Identity> {
        Identity::new(cert_pem, ca_pem, &self.key.serialize_pem())
    }
}

/// A node's certificate chain, key and the CA it trusts.
pub(crate) struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key_pem: String,
    roots: Arc<RootCertStore>,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Identity {
    fn new(cert_pem: &str, ca_pem: &str, key_pem: &str) -> anyhow::Result<Self> {
        let cert = CertificateDer::from_pem_slice(cert_pem.as_bytes()).map_err(|e| anyhow!("bad certificate: {e:?}"))?;
        let ca = CertificateDer::from_pem_slice(ca_pem.as_bytes()).map_err(|e| anyhow!("bad CA: {e:?}"))?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone())?;
        Ok(Self { chain: vec![cert, ca], key_pem: key_pem.to_string(), roots: Arc::new(roots) })
    }

    fn key(&self) -> anyhow::Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| anyhow!("bad key: {e:?}"))
    }

    /// What this node's QUIC endpoint accepts: peers with a certificate of
    /// the cluster CA, or, for joining only, peers without a certificate.
    /// A certificate from anyone else fails the handshake.
    pub(crate) fn server_config(&self) -> anyhow::Result<rustls::ServerConfig> {
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(self.roots.clone(), provider())
            .allow_unauthenticated()
            .build()?;
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_client_cert_verifier(verifier)
            .with_single_cert(self.chain.clone(), self.key()?)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }

    /// How this node dials other nodes: it checks their certificate against
    /// the cluster CA and presents its own.
    pub(crate) fn client_config(&self) -> anyhow::Result<rustls::ClientConfig> {
        let mut config = rustls::ClientConfig::builder_with_provider(provider())
            .with_protocol_versions(&[&rustls::version::TLS13])?
            .with_root_certificates(self.roots.clone())
            .with_client_auth_cert(self.chain.clone(), self.key()?)?;
        config.alpn_protocols = vec![ALPN.to_vec()];
        Ok(config)
    }
}

/// How a joining node dials the signer: no certificate of its own yet, and
/// the signer's chain must end in the CA whose hash the token names.
pub(crate) fn join_client_config(pin: &str) -> anyhow::Result<rustls::ClientConfig> {
    let mut config = rustls::ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(PinnedCa { pin: pin.to_string(), provider: provider() }))
        .with_no_client_auth();
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(config)
}

/// Verifies a server against the CA certificate it sends along, accepted
/// only if its hash is the pin.
#[derive(Debug)]
struct PinnedCa {
    pin: String,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for PinnedCa {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let bad = || rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let ca = intermediates.iter().find(|c| pin_of(c) == self.pin).ok_or_else(bad)?;
        let mut roots = RootCertStore::empty();
        roots.add(ca.clone().into_owned()).map_err(|_| bad())?;
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), self.provider.clone())
            .build()
            .map_err(|_| bad())?;
        verifier.verify_server_cert(end_entity, &[], server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The CA helpers a control-server guest uses (`lunatic::distributed::
/// {test_root_cert, default_server_certificates, sign_node}`).
pub(crate) mod guest_ca {
    use super::*;

    /// A test CA `(cert_pem, key_pem)`: made once per runtime process (no
    /// key ships in the source, unlike the original's built-in one).
    pub(crate) fn test_root() -> anyhow::Result<(String, String)> {
        static ROOT: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
        if let Some(root) = ROOT.get() {
            return Ok(root.clone());
        }
        let key = KeyPair::generate()?;
        let mut params = ca_params()?;
        params.distinguished_name.push(DnType::OrganizationName, "lunatic test CA");
        let cert = params.self_signed(&key)?;
        Ok(ROOT.get_or_init(|| (cert.pem(), key.serialize_pem())).clone())
    }

    fn issuer(ca_cert_pem: &str, ca_key_pem: &str) -> anyhow::Result<(rcgen::Certificate, KeyPair)> {
        let key = KeyPair::from_pem(ca_key_pem).context("bad CA key")?;
        let cert = CertificateParams::from_ca_cert_pem(ca_cert_pem).context("bad CA certificate")?.self_signed(&key)?;
        Ok((cert, key))
    }

    /// A control server's certificate and key, signed by the given CA.
    pub(crate) fn server_certificates(ca_cert_pem: &str, ca_key_pem: &str) -> anyhow::Result<(String, String)> {
        let (ca, ca_key) = issuer(ca_cert_pem, ca_key_pem)?;
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])?;
        params.distinguished_name.push(DnType::CommonName, "lunatic control");
        let cert = params.signed_by(&key, &ca, &ca_key)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Signs a node's certificate request with the given CA.
    pub(crate) fn sign_node(ca_cert_pem: &str, ca_key_pem: &str, csr_pem: &str) -> anyhow::Result<String> {
        let (ca, ca_key) = issuer(ca_cert_pem, ca_key_pem)?;
        let csr = CertificateSigningRequestParams::from_pem(csr_pem).context("bad certificate request")?;
        Ok(csr.signed_by(&ca, &ca_key)?.pem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64url_has_no_padding() {
        assert_eq!(base64url(b"f"), "Zg");
        assert_eq!(base64url(b"foo"), "Zm9v");
        assert_eq!(base64url(b"fooba"), "Zm9vYmE");
    }

    /// The CA is made once and kept (private files); the token admits a
    /// request, a wrong secret does not.
    #[test]
    fn the_authority_is_kept_and_checks_the_secret() {
        let dir = std::env::temp_dir().join(format!("lunatic-ca-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = Authority::open(&dir).unwrap();
        let again = Authority::open(&dir).unwrap();
        assert_eq!(first.token(), again.token());
        assert_eq!(first.ca_pem(), again.ca_pem());
        #[cfg(unix)]
        for file in [CA_KEY, CA_CERT, TOKEN] {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(file)).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "{file}");
        }
        let token: Token = first.token().parse().unwrap();
        let candidate = Candidate::new().unwrap();
        let csr = candidate.csr_pem().unwrap();
        assert!(first.admit("not-the-secret", &csr).is_err());
        let cert = first.admit(&token.secret, &csr).unwrap();
        let identity = candidate.admitted(&cert, first.ca_pem()).unwrap();
        identity.server_config().unwrap();
        identity.client_config().unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_guest_ca_helpers_issue_certificates() {
        let (ca, key) = guest_ca::test_root().unwrap();
        assert_eq!(guest_ca::test_root().unwrap().0, ca, "one test root per process");
        let (cert, _) = guest_ca::server_certificates(&ca, &key).unwrap();
        assert!(cert.starts_with("-----BEGIN CERTIFICATE-----"));
        let csr = Candidate::new().unwrap().csr_pem().unwrap();
        assert!(guest_ca::sign_node(&ca, &key, &csr).unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
        assert!(guest_ca::sign_node(&ca, &key, "not a csr").is_err());
        assert!(guest_ca::server_certificates(&ca, "not a key").is_err());
    }
}
