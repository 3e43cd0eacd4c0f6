//! The `vault.hsv` layout (version 1), all integers little-endian:
//!
//! ```text
//! 0    8  magic "HSVAULT\0"
//! 8    2  version = 1
//! 10   2  header length = 133
//! 12   1  KDF id (1 = Argon2id v0x13)
//! 13  12  m_kib, t, p (u32 each)
//! 25  32  salt
//! 57  12  AES-GCM nonce
//! 69  32  key check value (HKDF of the Argon2 output)
//! 101 32  SHA-256 of bytes 0..101
//! 133  …  AES-256-GCM ciphertext of the payload, then the 16-byte tag;
//!         the whole 133-byte header is the associated data
//! ```
//!
//! Owns parsing and building these bytes. Never touches keys or the file system.

use crate::container::{self, CHECKSUM_LEN, FieldReader, PREFIX_LEN};
use crate::error::{TamperedPart, VaultError};
use crate::kdf::KdfParams;

pub(crate) const MAGIC: [u8; 8] = *b"HSVAULT\0";
/// The format version this build writes and reads.
pub const VERSION: u16 = 1;
pub(crate) const HEADER_LEN: usize = PREFIX_LEN + 1 + 12 + 32 + 12 + 32 + CHECKSUM_LEN;
const KDF_ARGON2ID: u8 = 1;

/// The fields of a vault header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) params: KdfParams,
    pub(crate) salt: [u8; 32],
    pub(crate) nonce: [u8; 12],
    pub(crate) check: [u8; 32],
}

impl Header {
    /// The header bytes, checksum included.
    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut out = container::begin_header(&MAGIC, VERSION, HEADER_LEN);
        out.push(KDF_ARGON2ID);
        out.extend_from_slice(&self.params.to_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.check);
        container::finish_header(out)
    }
}

/// A vault file whose header checksum verified. The KDF parameters are not
/// yet checked against a floor.
pub struct ParsedVault<'a> {
    pub(crate) header: Header,
    pub(crate) header_bytes: &'a [u8],
    pub(crate) sealed: &'a [u8],
}

impl ParsedVault<'_> {
    pub fn version(&self) -> u16 {
        VERSION
    }

    pub fn kdf_params(&self) -> KdfParams {
        self.header.params
    }

    /// Length of ciphertext plus tag.
    pub fn sealed_len(&self) -> usize {
        self.sealed.len()
    }
}

/// Parses a vault file without any key. Never panics on any input.
pub fn parse(bytes: &[u8]) -> Result<ParsedVault<'_>, VaultError> {
    let checked = container::split_checked(bytes, &MAGIC, VERSION, HEADER_LEN)?;
    debug_assert_eq!(checked.version, VERSION);
    let mut fields = FieldReader::new(checked.fields);
    if fields.u8()? != KDF_ARGON2ID {
        return Err(VaultError::Tampered {
            part: TamperedPart::Header,
        });
    }
    let params = KdfParams::from_raw(fields.u32()?, fields.u32()?, fields.u32()?);
    let header = Header {
        params,
        salt: fields.take()?,
        nonce: fields.take()?,
        check: fields.take()?,
    };
    if !fields.is_empty() {
        return Err(VaultError::Tampered {
            part: TamperedPart::Header,
        });
    }
    Ok(ParsedVault {
        header,
        header_bytes: checked.header,
        sealed: checked.sealed,
    })
}

/// Rewrites the header checksum of a v1-sized input so the fuzzer can reach
/// the field checks, the KDF floor and decryption behind it.
#[cfg(any(fuzzing, feature = "test-params"))]
pub fn fix_checksum_for_fuzzing(bytes: &mut [u8]) {
    use sha2::{Digest, Sha256};
    if bytes.len() >= HEADER_LEN {
        let sum = Sha256::digest(&bytes[..HEADER_LEN - CHECKSUM_LEN]);
        bytes[HEADER_LEN - CHECKSUM_LEN..HEADER_LEN].copy_from_slice(sum.as_slice());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            params: KdfParams::PRODUCTION,
            salt: [1; 32],
            nonce: [2; 12],
            check: [3; 32],
        }
    }

    #[test]
    fn header_has_the_documented_length_and_round_trips() {
        let mut file = header().encode();
        assert_eq!(file.len(), 133);
        file.extend_from_slice(&[0u8; 20]);
        let parsed = parse(&file).unwrap();
        assert_eq!(parsed.header, header());
        assert_eq!(parsed.header_bytes, &file[..133]);
        assert_eq!(parsed.sealed_len(), 20);
        assert_eq!(parsed.kdf_params(), KdfParams::PRODUCTION);
    }

    #[test]
    fn unknown_kdf_is_refused() {
        let mut bytes = header().encode();
        bytes[12] = 2;
        // Recompute the checksum so only the KDF id is wrong.
        let body = bytes[..101].to_vec();
        let mut file = container::finish_header(body);
        file.extend_from_slice(&[0u8; 16]);
        assert!(matches!(
            parse(&file),
            Err(VaultError::Tampered {
                part: TamperedPart::Header
            })
        ));
    }
}
