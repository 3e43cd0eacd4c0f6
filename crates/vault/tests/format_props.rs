//! Property tests for the parsers: arbitrary bytes never panic, and valid
//! files and payloads round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use vault::{ExposeSecret, SecretMap, SecretString, format, payload};

fn secret_map() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::btree_map("[A-Za-z0-9._-]{1,128}", any::<String>(), 0..8)
        .prop_map(|m| m.into_iter().collect())
}

fn to_map(pairs: &[(String, String)]) -> SecretMap {
    pairs
        .iter()
        .map(|(k, v)| (k.clone(), SecretString::from(v.clone())))
        .collect()
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = format::parse(&bytes);
        let _ = payload::decode(&bytes);
        let pass = SecretString::from("fuzz");
        // Arbitrary bytes never authenticate.
        prop_assert!(vault::open_bytes_for_fuzzing(&bytes, &pass).is_err());
    }

    #[test]
    fn payload_round_trips(pairs in secret_map()) {
        let map = to_map(&pairs);
        let encoded = payload::encode(&map).unwrap();
        let decoded = payload::decode(&encoded).unwrap();
        prop_assert_eq!(decoded.len(), map.len());
        for (k, v) in &map {
            prop_assert_eq!(decoded[k].expose_secret(), v.expose_secret());
        }
    }

    #[test]
    fn mutated_valid_files_never_panic_or_open(
        pairs in secret_map(),
        index in any::<prop::sample::Index>(),
        mask in 1u8..=255,
    ) {
        let pass = SecretString::from("pw");
        let mut file = vault::build_test_file(&pass, &to_map(&pairs)).unwrap();
        let i = index.index(file.len());
        file[i] ^= mask;
        prop_assert!(format::parse(&file).is_err() || vault::open_bytes_for_fuzzing(&file, &pass).is_err());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn valid_files_round_trip(pairs in secret_map()) {
        let pass = SecretString::from("pw");
        let map = to_map(&pairs);
        let file = vault::build_test_file(&pass, &map).unwrap();
        let parsed = format::parse(&file).unwrap();
        prop_assert_eq!(parsed.version(), 1);
        prop_assert_eq!(parsed.kdf_params(), vault::KdfParams::insecure_for_tests());
        prop_assert_eq!(vault::open_bytes_for_fuzzing(&file, &pass).unwrap(), map.len());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vault.hsv");
        std::fs::write(&path, &file).unwrap();
        let options = vault::OpenOptions::new().accept_insecure_test_params();
        let opened = vault::Vault::open_with(&path, &pass, &options).unwrap();
        prop_assert_eq!(opened.names(), map.keys().cloned().collect::<Vec<_>>());
        for (k, v) in &map {
            prop_assert_eq!(opened.get(k).unwrap().expose_secret(), v.expose_secret());
        }
    }

    /// Headers with arbitrary fields but a correct checksum reach the field
    /// checks and the KDF floor; none may panic or open.
    #[test]
    fn checksummed_arbitrary_headers_never_panic_or_open(
        fields in proptest::collection::vec(any::<u8>(), 89),
        tail in proptest::collection::vec(any::<u8>(), 0..64),
        small_params in any::<bool>(),
    ) {
        use sha2::{Digest, Sha256};
        let mut file = b"HSVAULT\0".to_vec();
        file.extend_from_slice(&1u16.to_le_bytes());
        file.extend_from_slice(&133u16.to_le_bytes());
        file.extend_from_slice(&fields);
        if small_params {
            // Keep the KDF cheap so the key check and AES-GCM paths run.
            file[12] = 1;
            let test = vault::KdfParams::insecure_for_tests();
            file[13..17].copy_from_slice(&test.m_kib().to_le_bytes());
            file[17..21].copy_from_slice(&test.t_cost().to_le_bytes());
            file[21..25].copy_from_slice(&test.p_cost().to_le_bytes());
        }
        let sum = Sha256::digest(&file);
        file.extend_from_slice(&sum);
        file.extend_from_slice(&tail);
        let _ = format::parse(&file);
        let pass = SecretString::from("pw");
        prop_assert!(vault::open_bytes_for_fuzzing(&file, &pass).is_err());
    }
}
