//! The exact cipher and KDF calls the vault and the seal make, in one place,
//! so the official test vectors (Wycheproof, RFC 9106) check this code and
//! not a look-alike. Owns no keys and no file formats.

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::error::VaultError;

/// AES-256-GCM with a 96-bit nonce and 128-bit tag: encrypts `buffer` in
/// place and appends the tag.
pub fn aes256gcm_encrypt(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<(), VaultError> {
    Aes256Gcm::new(key.into())
        .encrypt_in_place(&Nonce::from(*nonce), aad, buffer)
        .map_err(|_| VaultError::VaultFull {
            reason: "message too large to encrypt",
        })
}

/// Verifies and strips the tag, decrypting `buffer` in place. Any
/// authentication failure is an error and leaves no plaintext behind.
pub fn aes256gcm_decrypt(
    key: &[u8; 32],
    nonce: &[u8; 12],
    aad: &[u8],
    buffer: &mut Vec<u8>,
) -> Result<(), aes_gcm::Error> {
    Aes256Gcm::new(key.into()).decrypt_in_place(&Nonce::from(*nonce), aad, buffer)
}

/// Argon2id, version 0x13, with optional secret (key) and associated data.
/// The vault passes an empty secret and empty associated data.
#[allow(clippy::too_many_arguments)]
pub fn argon2id(
    m_kib: u32,
    t: u32,
    p: u32,
    password: &[u8],
    salt: &[u8],
    secret: &[u8],
    associated_data: &[u8],
    out: &mut [u8],
) -> Result<(), VaultError> {
    let mut builder = ParamsBuilder::new();
    builder
        .m_cost(m_kib)
        .t_cost(t)
        .p_cost(p)
        .output_len(out.len());
    if !associated_data.is_empty() {
        builder.data(AssociatedData::new(associated_data).map_err(|_| VaultError::Kdf)?);
    }
    let params = builder.build().map_err(|_| VaultError::Kdf)?;
    let argon = if secret.is_empty() {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    } else {
        Argon2::new_with_secret(secret, Algorithm::Argon2id, Version::V0x13, params)
            .map_err(|_| VaultError::Kdf)?
    };
    argon
        .hash_password_into(password, salt, out)
        .map_err(|_| VaultError::Kdf)
}

/// HKDF-SHA256 (RFC 5869) extract-then-expand into `out`.
pub fn hkdf_sha256(
    salt: Option<&[u8]>,
    ikm: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), VaultError> {
    Hkdf::<Sha256>::new(salt, ikm)
        .expand(info, out)
        .map_err(|_| VaultError::Kdf)
}
