//! Argon2id parameters, their floors, and key derivation (Argon2id, then HKDF
//! to split one output into independent keys).
//!
//! Owns the rule that a file's stated parameters are checked against a floor
//! before any work is done. Never returns key material outside `Zeroizing`.

use zeroize::Zeroizing;

use crate::error::VaultError;
use crate::primitives;

/// Argon2id cost parameters: memory in KiB, iterations, lanes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfParams {
    m_kib: u32,
    t: u32,
    p: u32,
}

/// Upper bounds, so a crafted header cannot make `open` allocate without limit.
const MAX_M_KIB: u32 = 4 * 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 16;

impl KdfParams {
    /// The production parameters: m = 64 MiB, t = 3, p = 1.
    pub const PRODUCTION: KdfParams = KdfParams {
        m_kib: 64 * 1024,
        t: 3,
        p: 1,
    };

    /// Floor accepted only through [`OpenOptions::accept_insecure_test_params`](crate::OpenOptions).
    pub(crate) const TEST_FLOOR: KdfParams = KdfParams {
        m_kib: 8,
        t: 1,
        p: 1,
    };

    /// Parameters at or above the production floor (for stronger vaults).
    pub fn new(m_kib: u32, t: u32, p: u32) -> Result<KdfParams, VaultError> {
        let params = KdfParams { m_kib, t, p };
        params.check(&KdfParams::PRODUCTION)?;
        Ok(params)
    }

    /// Deliberately weak parameters so tests run fast. Only compiled for this
    /// crate's tests, fuzzing, or with the `test-params` feature; a vault made
    /// with them opens only with an explicit opt-in.
    #[cfg(any(test, fuzzing, feature = "test-params"))]
    pub fn insecure_for_tests() -> KdfParams {
        KdfParams {
            m_kib: 64,
            t: 1,
            p: 1,
        }
    }

    pub fn m_kib(&self) -> u32 {
        self.m_kib
    }

    pub fn t_cost(&self) -> u32 {
        self.t
    }

    pub fn p_cost(&self) -> u32 {
        self.p
    }

    /// True when every parameter reaches the production floor.
    pub fn meets_production_floor(&self) -> bool {
        self.at_least(&KdfParams::PRODUCTION)
    }

    fn at_least(&self, floor: &KdfParams) -> bool {
        self.m_kib >= floor.m_kib && self.t >= floor.t && self.p >= floor.p
    }

    /// Refuses parameters below `floor` (downgrade) or above the maxima (DoS),
    /// and combinations Argon2 itself rejects.
    pub(crate) fn check(&self, floor: &KdfParams) -> Result<(), VaultError> {
        let (m_kib, t, p) = (self.m_kib, self.t, self.p);
        // Header values are attacker-controlled u32s: no arithmetic on them
        // may overflow (found by the format proptest).
        if m_kib > MAX_M_KIB || t > MAX_T || p > MAX_P {
            return Err(VaultError::ExcessiveKdfParams { m_kib, t, p });
        }
        if !self.at_least(floor) || m_kib < p.max(1).saturating_mul(8) {
            return Err(VaultError::WeakKdfParams { m_kib, t, p });
        }
        Ok(())
    }

    pub(crate) fn from_raw(m_kib: u32, t: u32, p: u32) -> KdfParams {
        KdfParams { m_kib, t, p }
    }

    pub(crate) fn to_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&self.m_kib.to_le_bytes());
        out[4..8].copy_from_slice(&self.t.to_le_bytes());
        out[8..].copy_from_slice(&self.p.to_le_bytes());
        out
    }
}

/// Argon2id (version 0x13) of `password` with a 32-byte output.
pub(crate) fn argon2id(
    params: &KdfParams,
    password: &[u8],
    salt: &[u8],
) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    let mut out = Zeroizing::new([0u8; 32]);
    primitives::argon2id(
        params.m_kib,
        params.t,
        params.p,
        password,
        salt,
        &[],
        &[],
        out.as_mut_slice(),
    )?;
    Ok(out)
}

/// An encryption key and a public check value, derived independently from
/// one secret so the check value reveals nothing about the key.
pub(crate) struct SplitKeys {
    pub(crate) enc_key: Zeroizing<[u8; 32]>,
    pub(crate) check: [u8; 32],
}

/// HKDF-SHA256 expansion of `ikm` into the keys for one file type (`domain`).
pub(crate) fn split_keys(
    salt: Option<&[u8]>,
    ikm: &[u8],
    domain: &str,
) -> Result<SplitKeys, VaultError> {
    let mut enc_key = Zeroizing::new([0u8; 32]);
    let mut check = [0u8; 32];
    let enc_info = [domain.as_bytes(), b" aes-256-gcm key"].concat();
    let check_info = [domain.as_bytes(), b" key check"].concat();
    primitives::hkdf_sha256(salt, ikm, &enc_info, enc_key.as_mut_slice())?;
    primitives::hkdf_sha256(salt, ikm, &check_info, &mut check)?;
    Ok(SplitKeys { enc_key, check })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn huge_lane_count_is_refused_without_overflow() {
        let p = KdfParams::from_raw(64 * 1024, 3, u32::MAX);
        assert!(matches!(
            p.check(&KdfParams::PRODUCTION),
            Err(VaultError::ExcessiveKdfParams { .. })
        ));
        let p = KdfParams::from_raw(u32::MAX, u32::MAX, u32::MAX);
        assert!(p.check(&KdfParams::PRODUCTION).is_err());
    }

    #[test]
    fn production_meets_floor_and_test_params_do_not() {
        assert!(KdfParams::PRODUCTION.meets_production_floor());
        assert!(!KdfParams::insecure_for_tests().meets_production_floor());
        assert!(
            KdfParams::insecure_for_tests()
                .check(&KdfParams::TEST_FLOOR)
                .is_ok()
        );
    }

    #[test]
    fn downgrades_are_refused() {
        for (m, t, p) in [(65535, 3, 1), (65536, 2, 1), (65536, 3, 0), (8, 1, 1)] {
            assert!(matches!(
                KdfParams::new(m, t, p),
                Err(VaultError::WeakKdfParams { .. })
            ));
        }
        assert!(KdfParams::new(128 * 1024, 4, 2).is_ok());
    }

    #[test]
    fn absurd_costs_are_refused() {
        assert!(matches!(
            KdfParams::new(u32::MAX, 3, 1),
            Err(VaultError::ExcessiveKdfParams { .. })
        ));
        assert!(matches!(
            KdfParams::new(65536, 1000, 1),
            Err(VaultError::ExcessiveKdfParams { .. })
        ));
    }

    #[test]
    fn split_keys_are_distinct_and_domain_separated() {
        let a = split_keys(None, &[7u8; 32], "a").unwrap();
        let b = split_keys(None, &[7u8; 32], "b").unwrap();
        assert_ne!(*a.enc_key, a.check);
        assert_ne!(*a.enc_key, *b.enc_key);
        assert_ne!(a.check, b.check);
    }
}
