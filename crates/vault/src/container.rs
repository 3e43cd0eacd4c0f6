//! The framing shared by `vault.hsv` and `seal.hss`: a header that ends in an
//! unkeyed SHA-256 checksum of the bytes before it, then the AES-GCM output.
//!
//! Every format version keeps the prefix `magic(8) | version u16 | header_len u16`
//! so the checksum is verified before any field is trusted. Never interprets
//! header fields beyond that prefix.

use sha2::{Digest, Sha256};

use crate::error::{TamperedPart, VaultError};

/// Bytes before the version-specific header fields.
pub(crate) const PREFIX_LEN: usize = 12;
/// Length of the trailing header checksum.
pub(crate) const CHECKSUM_LEN: usize = 32;
/// AES-GCM tag length.
pub(crate) const TAG_LEN: usize = 16;

/// A file whose header checksum matched.
pub(crate) struct Checked<'a> {
    pub(crate) version: u16,
    /// The whole header, checksum included: this is the AEAD associated data.
    pub(crate) header: &'a [u8],
    /// Header fields between the prefix and the checksum.
    pub(crate) fields: &'a [u8],
    /// Ciphertext followed by the tag (at least `TAG_LEN` bytes).
    pub(crate) sealed: &'a [u8],
}

/// Verifies the prefix and the header checksum. Any mismatch is reported as
/// tampering: a single flipped byte anywhere in the header lands here.
pub(crate) fn split_checked<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    version: u16,
    header_len: usize,
) -> Result<Checked<'a>, VaultError> {
    let tampered = |part| VaultError::Tampered { part };
    if bytes.len() < PREFIX_LEN {
        return Err(tampered(TamperedPart::Truncated));
    }
    let declared_len = usize::from(u16::from_le_bytes([bytes[10], bytes[11]]));
    if declared_len < PREFIX_LEN + CHECKSUM_LEN {
        return Err(tampered(TamperedPart::Header));
    }
    if bytes.len() < declared_len {
        return Err(tampered(TamperedPart::Truncated));
    }
    let (covered, rest) = bytes.split_at(declared_len - CHECKSUM_LEN);
    let (stored_sum, sealed) = rest.split_at(CHECKSUM_LEN);
    if Sha256::digest(covered).as_slice() != stored_sum {
        return Err(tampered(TamperedPart::Header));
    }
    if &covered[..8] != magic {
        return Err(tampered(TamperedPart::Header));
    }
    let found = u16::from_le_bytes([covered[8], covered[9]]);
    if found != version {
        return Err(VaultError::UnsupportedVersion { found });
    }
    if declared_len != header_len {
        return Err(tampered(TamperedPart::Header));
    }
    if sealed.len() < TAG_LEN {
        return Err(tampered(TamperedPart::Truncated));
    }
    Ok(Checked {
        version: found,
        header: &bytes[..declared_len],
        fields: &covered[PREFIX_LEN..],
        sealed,
    })
}

/// Starts a header buffer with the common prefix.
pub(crate) fn begin_header(magic: &[u8; 8], version: u16, header_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len);
    out.extend_from_slice(magic);
    out.extend_from_slice(&version.to_le_bytes());
    // Header lengths are small compile-time constants.
    out.extend_from_slice(&u16::try_from(header_len).unwrap_or(u16::MAX).to_le_bytes());
    out
}

/// Appends the checksum that closes a header.
pub(crate) fn finish_header(mut header: Vec<u8>) -> Vec<u8> {
    let sum = Sha256::digest(&header);
    header.extend_from_slice(sum.as_slice());
    header
}

/// Little-endian field reader over a fixed-size header slice.
pub(crate) struct FieldReader<'a> {
    rest: &'a [u8],
}

impl<'a> FieldReader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        FieldReader { rest: bytes }
    }

    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], VaultError> {
        if self.rest.len() < N {
            return Err(VaultError::Tampered {
                part: TamperedPart::Header,
            });
        }
        let (head, tail) = self.rest.split_at(N);
        self.rest = tail;
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, VaultError> {
        Ok(self.take::<1>()?[0])
    }

    pub(crate) fn u32(&mut self) -> Result<u32, VaultError> {
        Ok(u32::from_le_bytes(self.take::<4>()?))
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }
}

/// Fills a fixed array from the OS random generator.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| VaultError::Random)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAGIC: [u8; 8] = *b"TESTMAGC";

    fn sample() -> Vec<u8> {
        let mut header = begin_header(&MAGIC, 1, PREFIX_LEN + 4 + CHECKSUM_LEN);
        header.extend_from_slice(&[1, 2, 3, 4]);
        let mut file = finish_header(header);
        file.extend_from_slice(&[9u8; TAG_LEN + 3]);
        file
    }

    #[test]
    fn intact_file_splits() {
        let file = sample();
        let checked = split_checked(&file, &MAGIC, 1, 48).unwrap();
        assert_eq!(checked.fields, &[1, 2, 3, 4]);
        assert_eq!(checked.sealed.len(), TAG_LEN + 3);
        assert_eq!(checked.header.len(), 48);
    }

    #[test]
    fn every_header_byte_is_covered() {
        let file = sample();
        for i in 0..48 {
            let mut bad = file.clone();
            bad[i] ^= 0x01;
            assert!(
                matches!(
                    split_checked(&bad, &MAGIC, 1, 48),
                    Err(VaultError::Tampered { .. })
                ),
                "flip at {i} was accepted"
            );
        }
    }

    #[test]
    fn unknown_version_with_valid_checksum_is_unsupported() {
        let mut header = begin_header(&MAGIC, 7, 48);
        header.extend_from_slice(&[1, 2, 3, 4]);
        let mut file = finish_header(header);
        file.extend_from_slice(&[0u8; TAG_LEN]);
        assert!(matches!(
            split_checked(&file, &MAGIC, 1, 48),
            Err(VaultError::UnsupportedVersion { found: 7 })
        ));
    }

    #[test]
    fn short_inputs_are_truncated() {
        let file = sample();
        for len in [0, 5, 11, 30, 47, 48, 63] {
            assert!(matches!(
                split_checked(&file[..len], &MAGIC, 1, 48),
                Err(VaultError::Tampered { .. })
            ));
        }
    }
}
