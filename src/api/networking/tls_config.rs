//! TLS configuration: the crypto provider, server certificates and keys from
//! PEM, and client trust anchors.
//!
//! The provider is `ring` on desktop and server targets and the pure-Rust
//! RustCrypto provider on iOS and Android (their cross-builds cannot compile
//! ring's C and assembly); the `tls-rustcrypto` feature selects RustCrypto
//! everywhere.

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use std::sync::{Arc, OnceLock};

/// Name of the crypto provider compiled in, for logs.
#[cfg(not(any(target_os = "ios", target_os = "android", feature = "tls-rustcrypto")))]
pub(super) const PROVIDER: &str = "ring";
/// Name of the crypto provider compiled in, for logs.
#[cfg(any(target_os = "ios", target_os = "android", feature = "tls-rustcrypto"))]
pub(super) const PROVIDER: &str = "RustCrypto";

#[cfg(not(any(target_os = "ios", target_os = "android", feature = "tls-rustcrypto")))]
fn make_provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

#[cfg(any(target_os = "ios", target_os = "android", feature = "tls-rustcrypto"))]
fn make_provider() -> CryptoProvider {
    rustls_rustcrypto::provider()
}

/// The process-wide crypto provider.
pub(super) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER_INSTANCE: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER_INSTANCE
        .get_or_init(|| {
            log::debug!(target: "lunatic::networking", "TLS crypto provider: {PROVIDER}");
            Arc::new(make_provider())
        })
        .clone()
}

/// A server configuration from PEM text holding exactly one certificate and
/// exactly one PKCS#8 private key (abi.md §2.9). `Err` is the reason for the
/// trap the caller raises.
pub(super) fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<Arc<ServerConfig>, String> {
    let certs = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS certificate PEM: {e}"))?;
    if certs.len() != 1 {
        return Err(format!(
            "expected exactly one TLS certificate in the PEM, found {}",
            certs.len()
        ));
    }
    let mut keys = PrivatePkcs8KeyDer::pem_slice_iter(key_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS private key PEM: {e}"))?;
    if keys.len() != 1 {
        return Err(format!(
            "expected exactly one PKCS#8 private key (BEGIN PRIVATE KEY) in the PEM, found {}",
            keys.len()
        ));
    }
    let key = PrivateKeyDer::Pkcs8(keys.pop().expect("one key"));
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map(Arc::new)
        .map_err(|e| format!("unusable TLS certificate or key: {e}"))
}

/// A client configuration trusting Mozilla's root store (webpki-roots), as
/// the original does; built once.
pub(super) fn default_client_config() -> Result<Arc<ClientConfig>, rustls::Error> {
    static CONFIG: OnceLock<Arc<ClientConfig>> = OnceLock::new();
    if let Some(config) = CONFIG.get() {
        return Ok(config.clone());
    }
    let roots = RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    let config = client_config(roots)?;
    Ok(CONFIG.get_or_init(|| config).clone())
}

/// A client configuration trusting exactly `roots`.
pub(super) fn client_config(roots: RootCertStore) -> Result<Arc<ClientConfig>, rustls::Error> {
    Ok(Arc::new(
        ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}

/// Adds every certificate of a PEM text to `roots`; returns how many were
/// usable. Malformed sections and certificates are skipped.
pub(super) fn add_ca_pem(roots: &mut RootCertStore, pem: &[u8]) -> usize {
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .filter(|cert| roots.add(cert.clone()).is_ok())
        .count()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A self-signed certificate for `names` (PEM) and its PKCS#8 key (PEM).
    pub(crate) fn self_signed(names: &[&str]) -> (String, String) {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let key = rcgen::generate_simple_self_signed(names).expect("certificate generation");
        (key.cert.pem(), key.key_pair.serialize_pem())
    }

    #[test]
    fn server_config_wants_one_certificate_and_one_pkcs8_key() {
        let (cert, key) = self_signed(&["localhost"]);
        server_config(cert.as_bytes(), key.as_bytes()).unwrap();

        let two_certs = format!("{cert}{cert}");
        let err = server_config(two_certs.as_bytes(), key.as_bytes()).unwrap_err();
        assert!(err.contains("exactly one TLS certificate") && err.contains("found 2"), "{err}");
        let err = server_config(b"", key.as_bytes()).unwrap_err();
        assert!(err.contains("found 0"), "{err}");
        let err = server_config(cert.as_bytes(), b"no key here").unwrap_err();
        assert!(err.contains("PKCS#8") && err.contains("found 0"), "{err}");
        // A PKCS#1 RSA key is not a PKCS#8 key.
        let pkcs1 = key
            .replace("BEGIN PRIVATE KEY", "BEGIN RSA PRIVATE KEY")
            .replace("END PRIVATE KEY", "END RSA PRIVATE KEY");
        assert!(server_config(cert.as_bytes(), pkcs1.as_bytes()).is_err());
        // A key that does not belong to the certificate (only ring can tell
        // at bind time; with RustCrypto the handshakes fail later).
        if PROVIDER == "ring" {
            let (_, other_key) = self_signed(&["localhost"]);
            let err = server_config(cert.as_bytes(), other_key.as_bytes()).unwrap_err();
            assert!(err.contains("unusable"), "{err}");
        }
    }

    #[test]
    fn ca_pems_are_counted_and_garbage_skipped() {
        let (a, _) = self_signed(&["a.test"]);
        let (b, _) = self_signed(&["b.test"]);
        let mut roots = RootCertStore::empty();
        assert_eq!(add_ca_pem(&mut roots, format!("{a}\n{b}").as_bytes()), 2);
        assert_eq!(add_ca_pem(&mut roots, b"-----BEGIN CERTIFICATE-----\nnot base64\n"), 0);
        assert_eq!(add_ca_pem(&mut roots, b"random bytes"), 0);
        assert_eq!(roots.len(), 2);
    }

    #[test]
    fn the_default_root_store_is_not_empty() {
        default_client_config().unwrap();
        assert!(!webpki_roots::TLS_SERVER_ROOTS.is_empty());
    }
}
