//! The vault file end to end: round trips, every tamper position, wrong
//! passphrase, missing file, no overwrite, file mode, fresh nonces, passphrase
//! change, KDF downgrade refusal, `Debug` without secrets.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use vault::{
    ExposeSecret, KdfParams, OpenOptions, SecretString, TamperedPart, Vault, VaultError, inspect,
};

fn pass(s: &str) -> SecretString {
    SecretString::from(s)
}

fn test_options() -> OpenOptions {
    OpenOptions::new().accept_insecure_test_params()
}

fn create_test_vault(path: &Path, passphrase: &str) -> Vault {
    Vault::create_with_params(path, &pass(passphrase), KdfParams::insecure_for_tests()).unwrap()
}

fn open_test(path: &Path, passphrase: &str) -> Result<Vault, VaultError> {
    Vault::open_with(path, &pass(passphrase), &test_options())
}

fn temp_vault() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("vault.hsv");
    (dir, path)
}

#[test]
fn round_trip_set_get_remove() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    assert!(vault.is_empty());
    vault.set("OPENAI_KEY", pass("sk-one")).unwrap();
    vault.set("DB.KEY", pass("ünïcødé")).unwrap();
    vault.set("OPENAI_KEY", pass("sk-two")).unwrap();
    drop(vault);

    let mut vault = open_test(&path, "pw").unwrap();
    assert_eq!(vault.names(), ["DB.KEY", "OPENAI_KEY"]);
    assert_eq!(vault.get("OPENAI_KEY").unwrap().expose_secret(), "sk-two");
    assert_eq!(vault.get("DB.KEY").unwrap().expose_secret(), "ünïcødé");
    assert!(vault.get("missing").is_none());
    let mut values: Vec<&str> = vault.values().map(|v| v.expose_secret()).collect();
    values.sort_unstable();
    assert_eq!(values, ["sk-two", "ünïcødé"]);

    assert!(vault.remove("DB.KEY").unwrap());
    assert!(!vault.remove("DB.KEY").unwrap());
    vault.lock();
    let vault = open_test(&path, "pw").unwrap();
    assert_eq!(vault.names(), ["OPENAI_KEY"]);
}

#[test]
fn production_params_round_trip() {
    let (_dir, path) = temp_vault();
    let mut vault = Vault::create(&path, &pass("a strong passphrase")).unwrap();
    assert_eq!(vault.kdf_params(), KdfParams::PRODUCTION);
    vault.set("K", pass("v")).unwrap();
    let info = inspect(&path).unwrap();
    assert_eq!(info.version, 1);
    assert_eq!(info.kdf, KdfParams::PRODUCTION);
    assert!(info.meets_production_floor);
    assert_eq!(info.mode, 0o600);
    assert_eq!(info.file_size, fs::metadata(&path).unwrap().len());
    let vault = Vault::open(&path, &pass("a strong passphrase")).unwrap();
    assert_eq!(vault.get("K").unwrap().expose_secret(), "v");
}

#[test]
fn missing_vault_is_not_found_and_not_created() {
    let (dir, path) = temp_vault();
    assert!(matches!(
        Vault::open(&path, &pass("pw")),
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(inspect(&path), Err(VaultError::NotFound { .. })));
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn create_refuses_to_overwrite() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    vault.set("A", pass("1")).unwrap();
    let before = fs::read(&path).unwrap();
    let again = Vault::create_with_params(&path, &pass("other"), KdfParams::insecure_for_tests());
    assert!(matches!(again, Err(VaultError::AlreadyExists { .. })));
    assert!(matches!(
        Vault::create(&path, &pass("other")),
        Err(VaultError::AlreadyExists { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn create_refuses_to_replace_other_files_and_symlinks() {
    let (dir, path) = temp_vault();
    fs::write(&path, b"not a vault").unwrap();
    assert!(matches!(
        Vault::create(&path, &pass("pw")),
        Err(VaultError::AlreadyExists { .. })
    ));
    let link = dir.path().join("link.hsv");
    std::os::unix::fs::symlink(dir.path().join("nowhere"), &link).unwrap();
    assert!(matches!(
        Vault::create(&link, &pass("pw")),
        Err(VaultError::AlreadyExists { .. })
    ));
}

#[test]
fn empty_passphrase_is_refused() {
    let (_dir, path) = temp_vault();
    assert!(matches!(
        Vault::create_with_params(&path, &pass(""), KdfParams::insecure_for_tests()),
        Err(VaultError::EmptyPassphrase)
    ));
    assert!(!path.exists());
}

#[test]
fn wrong_passphrase_is_distinct_and_leaves_file_untouched() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "right");
    vault.set("A", pass("1")).unwrap();
    let before = fs::read(&path).unwrap();
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();
    for wrong in ["wrong", "Right", "right ", "x"] {
        assert!(matches!(
            open_test(&path, wrong),
            Err(VaultError::WrongPassphrase)
        ));
    }
    assert_eq!(fs::read(&path).unwrap(), before);
    assert_eq!(fs::metadata(&path).unwrap().modified().unwrap(), mtime);
}

#[test]
fn file_and_rewrites_have_mode_0600() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    let mode = || fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(), 0o600);
    vault.set("A", pass("1")).unwrap();
    assert_eq!(mode(), 0o600);
    vault.change_passphrase(&pass("new")).unwrap();
    assert_eq!(mode(), 0o600);
}

#[test]
fn every_write_uses_a_fresh_nonce() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    vault.set("A", pass("same")).unwrap();
    let first = fs::read(&path).unwrap();
    vault.set("A", pass("same")).unwrap();
    let second = fs::read(&path).unwrap();
    assert_eq!(first.len(), second.len());
    // Nonce at 57..69; ciphertext after the 133-byte header.
    assert_ne!(first[57..69], second[57..69]);
    assert_ne!(first[133..], second[133..]);
    // Salt is unchanged: only a passphrase change picks a new one.
    assert_eq!(first[25..57], second[25..57]);
}

#[test]
fn every_single_byte_change_is_reported_as_tampering() {
    let (dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    vault.set("TOKEN", pass("value")).unwrap();
    let good = fs::read(&path).unwrap();
    let probe = dir.path().join("probe.hsv");
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            fs::write(&probe, &bad).unwrap();
            match open_test(&probe, "pw") {
                Err(VaultError::Tampered { part }) => {
                    let expected_header = i < 133;
                    assert_eq!(
                        matches!(part, TamperedPart::Header | TamperedPart::Truncated),
                        expected_header,
                        "byte {i} mask {mask:#x}: part {part:?}"
                    );
                }
                other => panic!("byte {i} mask {mask:#x}: expected tamper, got {other:?}"),
            }
        }
    }
    // Truncation at every length and appended bytes are tampering too.
    for len in 0..good.len() {
        fs::write(&probe, &good[..len]).unwrap();
        assert!(
            matches!(open_test(&probe, "pw"), Err(VaultError::Tampered { .. })),
            "truncated to {len}"
        );
    }
    let mut longer = good.clone();
    longer.push(0);
    fs::write(&probe, &longer).unwrap();
    assert!(matches!(
        open_test(&probe, "pw"),
        Err(VaultError::Tampered {
            part: TamperedPart::Ciphertext
        })
    ));
    // The untouched file still opens.
    fs::write(&probe, &good).unwrap();
    assert!(open_test(&probe, "pw").is_ok());
}

#[test]
fn header_tamper_is_detected_before_the_kdf_with_any_passphrase() {
    let (_dir, path) = temp_vault();
    create_test_vault(&path, "pw");
    let mut bytes = fs::read(&path).unwrap();
    bytes[30] ^= 1; // inside the salt
    fs::write(&path, &bytes).unwrap();
    for candidate in ["pw", "wrong"] {
        assert!(matches!(
            open_test(&path, candidate),
            Err(VaultError::Tampered {
                part: TamperedPart::Header
            })
        ));
    }
    assert!(matches!(
        inspect(&path),
        Err(VaultError::Tampered {
            part: TamperedPart::Header
        })
    ));
}

#[test]
fn weak_kdf_params_are_refused_by_default() {
    let (_dir, path) = temp_vault();
    create_test_vault(&path, "pw");
    match Vault::open(&path, &pass("pw")) {
        Err(err @ VaultError::WeakKdfParams { .. }) => {
            assert!(err.to_string().contains("below the required floor"));
        }
        other => panic!("expected WeakKdfParams, got {other:?}"),
    }
    let info = inspect(&path).unwrap();
    assert!(!info.meets_production_floor);
}

/// An attacker who rewrites the parameters and recomputes the (unkeyed)
/// checksum still cannot get past the floor or the key check.
#[test]
fn forged_downgrade_with_valid_checksum_is_refused() {
    use sha2::{Digest, Sha256};
    let (_dir, path) = temp_vault();
    let mut vault = Vault::create(&path, &pass("pw")).unwrap();
    vault.set("A", pass("1")).unwrap();
    let mut bytes = fs::read(&path).unwrap();
    bytes[13..17].copy_from_slice(&64u32.to_le_bytes()); // m = 64 KiB
    bytes[17..21].copy_from_slice(&1u32.to_le_bytes()); // t = 1
    let sum = Sha256::digest(&bytes[..101]);
    bytes[101..133].copy_from_slice(&sum);
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Vault::open(&path, &pass("pw")),
        Err(VaultError::WeakKdfParams { .. })
    ));
    // Even a caller that opted into test params gets no plaintext.
    assert!(matches!(
        open_test(&path, "pw"),
        Err(VaultError::WrongPassphrase)
    ));
}

#[test]
fn unsupported_version_is_distinct() {
    use sha2::{Digest, Sha256};
    let (_dir, path) = temp_vault();
    create_test_vault(&path, "pw");
    let mut bytes = fs::read(&path).unwrap();
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    let sum = Sha256::digest(&bytes[..101]);
    bytes[101..133].copy_from_slice(&sum);
    fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        open_test(&path, "pw"),
        Err(VaultError::UnsupportedVersion { found: 2 })
    ));
}

#[test]
fn change_passphrase_re_encrypts_with_new_salt() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "old");
    vault.set("A", pass("1")).unwrap();
    let before = fs::read(&path).unwrap();
    vault.change_passphrase(&pass("new")).unwrap();
    let after = fs::read(&path).unwrap();
    assert_ne!(before[25..57], after[25..57], "salt must change");
    assert!(matches!(
        open_test(&path, "old"),
        Err(VaultError::WrongPassphrase)
    ));
    let mut vault = open_test(&path, "new").unwrap();
    assert_eq!(vault.get("A").unwrap().expose_secret(), "1");
    // Later writes keep using the new key.
    vault.set("B", pass("2")).unwrap();
    assert_eq!(open_test(&path, "new").unwrap().len(), 2);
    assert!(matches!(
        vault.change_passphrase(&pass("")),
        Err(VaultError::EmptyPassphrase)
    ));
}

#[test]
fn invalid_names_and_oversize_values_are_refused_without_writing() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "pw");
    let before = fs::read(&path).unwrap();
    for name in ["", "has space", "slash/y", &"n".repeat(129), "emoji😀"] {
        assert!(matches!(
            vault.set(name, pass("v")),
            Err(VaultError::InvalidName { .. })
        ));
    }
    let big = "x".repeat(vault::MAX_VALUE_LEN + 1);
    assert!(matches!(
        vault.set("BIG", SecretString::from(big)),
        Err(VaultError::ValueTooLarge { .. })
    ));
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(vault.is_empty());
    let max = "x".repeat(vault::MAX_VALUE_LEN);
    vault.set("MAX", SecretString::from(max)).unwrap();
}

#[test]
fn failed_write_rolls_back_memory() {
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("sub");
    fs::create_dir(&sub).unwrap();
    let path = sub.join("vault.hsv");
    let mut vault = create_test_vault(&path, "pw");
    vault.set("KEEP", pass("old")).unwrap();
    fs::remove_dir_all(&sub).unwrap();
    assert!(matches!(
        vault.set("KEEP", pass("new")),
        Err(VaultError::Io { .. })
    ));
    assert!(matches!(
        vault.set("ADDED", pass("x")),
        Err(VaultError::Io { .. })
    ));
    assert!(matches!(vault.remove("KEEP"), Err(VaultError::Io { .. })));
    assert_eq!(vault.names(), ["KEEP"]);
    assert_eq!(vault.get("KEEP").unwrap().expose_secret(), "old");
}

#[test]
fn debug_and_errors_never_show_secrets() {
    let (_dir, path) = temp_vault();
    let mut vault = create_test_vault(&path, "hunter2-passphrase");
    vault.set("API", pass("sk-SUPERSECRETVALUE")).unwrap();
    let debug = format!("{vault:?} {:?}", vault.get("API").unwrap());
    assert!(!debug.contains("SUPERSECRETVALUE"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    let err = open_test(&path, "sk-SUPERSECRETVALUE").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRETVALUE"));
    let err = vault.set("sk-SUPERSECRETVALUE!", pass("x")).unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SUPERSECRETVALUE"));
}

#[test]
fn non_vault_and_huge_files_are_refused() {
    let (_dir, path) = temp_vault();
    fs::write(&path, b"{\"json\": true}").unwrap();
    assert!(matches!(
        open_test(&path, "pw"),
        Err(VaultError::Tampered { .. })
    ));
    let file = fs::File::create(&path).unwrap();
    file.set_len(vault::MAX_FILE_LEN + 1).unwrap();
    assert!(matches!(
        open_test(&path, "pw"),
        Err(VaultError::FileTooLarge { .. })
    ));
}
