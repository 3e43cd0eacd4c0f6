//! Sealed mode: the vault passphrase encrypted to this machine in `seal.hss`,
//! for unattended servers.
//!
//! The key comes from HKDF-SHA256 over the machine secret (kept outside the
//! data directory), the machine id and, with a PIN, Argon2id of the PIN. Two
//! public check values let `unseal` tell "different machine" from "wrong PIN"
//! from "modified file". Wrong PINs are rate-limited (see [`attempts`]).
//! Never writes the passphrase anywhere but the encrypted seal.
//!
//! `seal.hss` layout (v1, little-endian), whole header = AES-GCM AAD:
//! ```text
//! 0  8 magic "HSSEAL\0\0" | 8 2 version | 10 2 header length = 165
//! 12 1 flags (bit 0: PIN) | 13 12 PIN Argon2id m_kib,t,p (zero without PIN)
//! 25 32 salt | 57 12 nonce | 69 32 machine check | 101 32 key check
//! 133 32 SHA-256 of bytes 0..133 | 165 … ciphertext + tag
//! ```

pub mod attempts;
mod binding;

use std::path::Path;

use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::atomic::{read_capped, write_atomic};
use crate::container::{self, CHECKSUM_LEN, FieldReader, PREFIX_LEN, TAG_LEN, random};
use crate::error::{TamperedPart, VaultError};
use crate::kdf::{self, KdfParams};
use crate::primitives;

pub use attempts::{Clock, MAX_PIN_DELAY, SystemClock, attempts_path, pin_delay};
pub use binding::{MachineBinding, MachineMaterial};

const MAGIC: [u8; 8] = *b"HSSEAL\0\0";
const VERSION: u16 = 1;
const HEADER_LEN: usize = PREFIX_LEN + 1 + 12 + 32 + 12 + 32 + 32 + CHECKSUM_LEN;
const FLAG_PIN: u8 = 1;
const MAX_PASSPHRASE_LEN: usize = 4096;
const MAX_SEAL_FILE_LEN: u64 = (HEADER_LEN + MAX_PASSPHRASE_LEN + TAG_LEN) as u64;
const MACHINE_DOMAIN: &str = "hardshell seal v1 machine";
const KEY_DOMAIN: &str = "hardshell seal v1";

/// What sealing found out about the machine, for the caller to report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SealOutcome {
    /// False when `/etc/machine-id` (or the configured path) was absent or
    /// empty, so the seal is bound to the machine secret alone.
    pub machine_id_found: bool,
    /// True when this call created the machine secret file.
    pub machine_secret_created: bool,
}

struct SealHeader {
    pin: bool,
    pin_params: KdfParams,
    salt: [u8; 32],
    nonce: [u8; 12],
    machine_check: [u8; 32],
    key_check: [u8; 32],
}

impl SealHeader {
    fn encode(&self) -> Vec<u8> {
        let mut out = container::begin_header(&MAGIC, VERSION, HEADER_LEN);
        out.push(if self.pin { FLAG_PIN } else { 0 });
        out.extend_from_slice(&self.pin_params.to_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.nonce);
        out.extend_from_slice(&self.machine_check);
        out.extend_from_slice(&self.key_check);
        container::finish_header(out)
    }

    fn parse(fields: &[u8]) -> Result<SealHeader, VaultError> {
        let tampered = || VaultError::Tampered {
            part: TamperedPart::Header,
        };
        let mut reader = FieldReader::new(fields);
        let flags = reader.u8()?;
        if flags & !FLAG_PIN != 0 {
            return Err(tampered());
        }
        let header = SealHeader {
            pin: flags & FLAG_PIN != 0,
            pin_params: KdfParams::from_raw(reader.u32()?, reader.u32()?, reader.u32()?),
            salt: reader.take()?,
            nonce: reader.take()?,
            machine_check: reader.take()?,
            key_check: reader.take()?,
        };
        if !reader.is_empty() {
            return Err(tampered());
        }
        Ok(header)
    }
}

/// The check value that proves the machine inputs match.
fn machine_check(material: &MachineMaterial, salt: &[u8; 32]) -> Result<[u8; 32], VaultError> {
    Ok(kdf::split_keys(Some(salt), &material.ikm(), MACHINE_DOMAIN)?.check)
}

/// Encryption key and key check from the machine inputs and the optional PIN.
fn seal_keys(
    material: &MachineMaterial,
    salt: &[u8; 32],
    pin: Option<(&SecretString, &KdfParams)>,
) -> Result<kdf::SplitKeys, VaultError> {
    let mut ikm = material.ikm();
    match pin {
        Some((pin, params)) => {
            let stretched = kdf::argon2id(params, pin.expose_secret().as_bytes(), salt)?;
            ikm.push(FLAG_PIN);
            ikm.extend_from_slice(stretched.as_slice());
        }
        None => ikm.push(0),
    }
    kdf::split_keys(Some(salt), &ikm, KEY_DOMAIN)
}

/// Encrypts `passphrase` to this machine (and `pin`, if given) and writes
/// `seal_path` atomically with mode 0600. Creates the machine secret if it is
/// missing, and resets the wrong-PIN counter.
pub fn seal(
    seal_path: &Path,
    passphrase: &SecretString,
    binding: &MachineBinding,
    pin: Option<&SecretString>,
) -> Result<SealOutcome, VaultError> {
    let secret = passphrase.expose_secret().as_bytes();
    if secret.is_empty() {
        return Err(VaultError::EmptyPassphrase);
    }
    if secret.len() > MAX_PASSPHRASE_LEN {
        return Err(VaultError::ValueTooLarge {
            len: secret.len(),
            max: MAX_PASSPHRASE_LEN,
        });
    }
    if pin.is_some_and(|p| p.expose_secret().is_empty()) {
        return Err(VaultError::EmptyPassphrase);
    }
    binding::ensure_outside(seal_path, binding.machine_key_path())?;
    let material = binding.load_or_create()?;
    let salt: [u8; 32] = random()?;
    let nonce: [u8; 12] = random()?;
    let pin_params = if pin.is_some() {
        KdfParams::PRODUCTION
    } else {
        KdfParams::from_raw(0, 0, 0)
    };
    let keys = seal_keys(&material, &salt, pin.map(|p| (p, &pin_params)))?;
    let header = SealHeader {
        pin: pin.is_some(),
        pin_params,
        salt,
        nonce,
        machine_check: machine_check(&material, &salt)?,
        key_check: keys.check,
    }
    .encode();
    let mut buffer = Zeroizing::new(Vec::with_capacity(secret.len() + TAG_LEN));
    buffer.extend_from_slice(secret);
    primitives::aes256gcm_encrypt(&keys.enc_key, &nonce, &header, &mut buffer)?;
    let mut file = header;
    file.extend_from_slice(&buffer);
    write_atomic(seal_path, &file, 0o600)
        .map_err(|err| VaultError::io(format!("writing {}", seal_path.display()), err))?;
    attempts::Attempts::reset(&attempts_path(seal_path))?;
    Ok(SealOutcome {
        machine_id_found: material.machine_id_found(),
        machine_secret_created: material.created(),
    })
}

/// Decrypts the sealed passphrase on this machine, using the system clock
/// for the wrong-PIN delay.
pub fn unseal(
    seal_path: &Path,
    binding: &MachineBinding,
    pin: Option<&SecretString>,
) -> Result<SecretString, VaultError> {
    unseal_with_clock(seal_path, binding, pin, &SystemClock)
}

/// [`unseal`] with an injectable clock. A PIN attempt made before the delay
/// earned by earlier wrong PINs has passed is refused with `PinRateLimited`
/// without being tried; a wrong PIN is counted before the error returns.
pub fn unseal_with_clock(
    seal_path: &Path,
    binding: &MachineBinding,
    pin: Option<&SecretString>,
    clock: &dyn Clock,
) -> Result<SecretString, VaultError> {
    let bytes = read_capped(seal_path, MAX_SEAL_FILE_LEN)?;
    let checked = container::split_checked(&bytes, &MAGIC, VERSION, HEADER_LEN)?;
    let header = SealHeader::parse(checked.fields)?;
    match (header.pin, pin) {
        (true, None) => return Err(VaultError::PinRequired),
        (false, Some(_)) => return Err(VaultError::PinNotExpected),
        _ => {}
    }
    binding::ensure_outside(seal_path, binding.machine_key_path())?;
    let material = binding.load()?;
    let expected = machine_check(&material, &header.salt)?;
    if !bool::from(expected.ct_eq(&header.machine_check)) {
        return Err(VaultError::SealMismatch);
    }
    let counter = attempts_path(seal_path);
    let keys = match pin {
        Some(pin) => {
            let attempts = attempts::Attempts::load(&counter)?;
            if let Some(retry_after) = attempts.retry_after(clock.now()) {
                return Err(VaultError::PinRateLimited { retry_after });
            }
            header.pin_params.check(&KdfParams::PRODUCTION)?;
            let keys = seal_keys(&material, &header.salt, Some((pin, &header.pin_params)))?;
            if !bool::from(keys.check.ct_eq(&header.key_check)) {
                attempts.record_failure(&counter, clock.now())?;
                return Err(VaultError::WrongPin);
            }
            if attempts.failures > 0 {
                attempts::Attempts::reset(&counter)?;
            }
            keys
        }
        None => {
            let keys = seal_keys(&material, &header.salt, None)?;
            if !bool::from(keys.check.ct_eq(&header.key_check)) {
                return Err(VaultError::Tampered {
                    part: TamperedPart::Header,
                });
            }
            keys
        }
    };
    let mut buffer = Zeroizing::new(checked.sealed.to_vec());
    primitives::aes256gcm_decrypt(&keys.enc_key, &header.nonce, checked.header, &mut buffer)
        .map_err(|_| VaultError::Tampered {
            part: TamperedPart::Ciphertext,
        })?;
    let passphrase = std::str::from_utf8(&buffer).map_err(|_| VaultError::Tampered {
        part: TamperedPart::Payload,
    })?;
    Ok(SecretString::from(passphrase.to_owned()))
}

/// True when a seal file exists at `seal_path`.
pub fn is_sealed(seal_path: &Path) -> bool {
    seal_path.is_file()
}

/// Whether the seal needs a PIN (reads and checks the header only).
pub fn requires_pin(seal_path: &Path) -> Result<bool, VaultError> {
    let bytes = read_capped(seal_path, MAX_SEAL_FILE_LEN)?;
    let checked = container::split_checked(&bytes, &MAGIC, VERSION, HEADER_LEN)?;
    Ok(SealHeader::parse(checked.fields)?.pin)
}
