//! Sealed mode end to end: round trip, binding to the machine secret and
//! machine id, PIN handling with the growing delay, tamper detection.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::Cell;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use vault::seal::{self, Clock, MachineBinding, attempts_path};
use vault::{ExposeSecret, SecretString, TamperedPart, VaultError};

/// A clock the test moves by hand, so no test ever sleeps.
struct FakeClock(Cell<SystemTime>);

impl FakeClock {
    fn new() -> Self {
        FakeClock(Cell::new(UNIX_EPOCH + Duration::from_secs(1_700_000_000)))
    }
    fn advance(&self, by: Duration) {
        self.0.set(self.0.get() + by);
    }
}

impl Clock for FakeClock {
    fn now(&self) -> SystemTime {
        self.0.get()
    }
}

struct Machine {
    _root: tempfile::TempDir,
    data: PathBuf,
    binding: MachineBinding,
}

impl Machine {
    fn new() -> Self {
        let root = tempfile::tempdir().unwrap();
        let data = root.path().join("data");
        fs::create_dir(&data).unwrap();
        fs::write(root.path().join("machine-id"), "0123456789abcdef\n").unwrap();
        let binding = MachineBinding::new(
            root.path().join("config/hardshell/machine.key"),
            root.path().join("machine-id"),
        );
        Machine {
            data,
            binding,
            _root: root,
        }
    }

    fn seal_path(&self) -> PathBuf {
        self.data.join("seal.hss")
    }

    fn root(&self) -> &Path {
        self._root.path()
    }
}

fn s(text: &str) -> SecretString {
    SecretString::from(text)
}

#[test]
fn sealed_round_trip_without_pin() {
    let m = Machine::new();
    assert!(!seal::is_sealed(&m.seal_path()));
    let outcome = seal::seal(&m.seal_path(), &s("vault passphrase"), &m.binding, None).unwrap();
    assert!(outcome.machine_id_found);
    assert!(outcome.machine_secret_created);
    assert!(seal::is_sealed(&m.seal_path()));
    assert!(!seal::requires_pin(&m.seal_path()).unwrap());
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&m.seal_path()), 0o600);
    assert_eq!(mode(m.binding.machine_key_path()), 0o600);
    assert_eq!(mode(m.binding.machine_key_path().parent().unwrap()), 0o700);
    let back = seal::unseal(&m.seal_path(), &m.binding, None).unwrap();
    assert_eq!(back.expose_secret(), "vault passphrase");
    // Re-sealing reuses the existing machine secret.
    let again = seal::seal(&m.seal_path(), &s("p2"), &m.binding, None).unwrap();
    assert!(!again.machine_secret_created);
    assert_eq!(
        seal::unseal(&m.seal_path(), &m.binding, None)
            .unwrap()
            .expose_secret(),
        "p2"
    );
}

#[test]
fn copied_seal_without_the_machine_secret_cannot_unseal() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    // The data directory copied to another machine: no machine secret there.
    let other = Machine::new();
    fs::copy(m.seal_path(), other.seal_path()).unwrap();
    assert!(matches!(
        seal::unseal(&other.seal_path(), &other.binding, None),
        Err(VaultError::MachineSecretMissing { .. })
    ));
    // `unseal` never creates a machine secret.
    assert!(!other.binding.machine_key_path().exists());
    // With a different machine secret present, the seal does not match.
    other.binding.load_or_create().unwrap();
    assert!(matches!(
        seal::unseal(&other.seal_path(), &other.binding, None),
        Err(VaultError::SealMismatch)
    ));
}

#[test]
fn different_machine_id_cannot_unseal() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    fs::write(m.binding.machine_id_path(), "fedcba9876543210\n").unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, None),
        Err(VaultError::SealMismatch)
    ));
    fs::remove_file(m.binding.machine_id_path()).unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, None),
        Err(VaultError::SealMismatch)
    ));
}

#[test]
fn missing_machine_id_is_reported_and_still_binds_to_the_secret() {
    let m = Machine::new();
    fs::remove_file(m.binding.machine_id_path()).unwrap();
    let outcome = seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    assert!(!outcome.machine_id_found);
    assert_eq!(
        seal::unseal(&m.seal_path(), &m.binding, None)
            .unwrap()
            .expose_secret(),
        "pw"
    );
    // A machine id appearing later changes the binding.
    fs::write(m.binding.machine_id_path(), "new-id").unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, None),
        Err(VaultError::SealMismatch)
    ));
}

#[test]
fn machine_secret_inside_the_data_dir_is_refused() {
    let m = Machine::new();
    let inside = MachineBinding::new(m.data.join("machine.key"), m.binding.machine_id_path());
    assert!(matches!(
        seal::seal(&m.seal_path(), &s("pw"), &inside, None),
        Err(VaultError::MachineSecretInsideDataDir { .. })
    ));
    assert!(!m.data.join("machine.key").exists());
    assert!(!m.seal_path().exists());
}

#[test]
fn loose_machine_secret_permissions_are_refused() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    fs::set_permissions(
        m.binding.machine_key_path(),
        fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, None),
        Err(VaultError::InsecurePermissions { .. })
    ));
}

#[test]
fn pin_is_required_and_checked_with_a_growing_delay() {
    let m = Machine::new();
    let clock = FakeClock::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, Some(&s("2468"))).unwrap();
    assert!(seal::requires_pin(&m.seal_path()).unwrap());
    assert!(matches!(
        seal::unseal_with_clock(&m.seal_path(), &m.binding, None, &clock),
        Err(VaultError::PinRequired)
    ));
    let counter = attempts_path(&m.seal_path());

    // First wrong PIN: counted, then a 1 s wait is enforced.
    let try_pin =
        |pin: &str| seal::unseal_with_clock(&m.seal_path(), &m.binding, Some(&s(pin)), &clock);
    assert!(matches!(try_pin("0000"), Err(VaultError::WrongPin)));
    assert_eq!(
        fs::metadata(&counter).unwrap().permissions().mode() & 0o777,
        0o600
    );
    match try_pin("2468") {
        Err(VaultError::PinRateLimited { retry_after }) => {
            assert_eq!(retry_after, Duration::from_secs(1));
        }
        other => panic!("expected rate limit, got {other:?}"),
    }
    // Even the right PIN is refused until the delay passes; then 2 s, then 4 s.
    clock.advance(Duration::from_secs(1));
    assert!(matches!(try_pin("1111"), Err(VaultError::WrongPin)));
    assert!(matches!(
        try_pin("1111"),
        Err(VaultError::PinRateLimited { retry_after }) if retry_after == Duration::from_secs(2)
    ));
    clock.advance(Duration::from_secs(2));
    assert!(matches!(try_pin("2222"), Err(VaultError::WrongPin)));
    clock.advance(Duration::from_secs(3));
    assert!(matches!(
        try_pin("2468"),
        Err(VaultError::PinRateLimited { retry_after }) if retry_after == Duration::from_secs(1)
    ));
    clock.advance(Duration::from_secs(1));

    // The correct PIN works and resets the counter.
    assert_eq!(try_pin("2468").unwrap().expose_secret(), "pw");
    assert!(!counter.exists());
    assert!(matches!(try_pin("9999"), Err(VaultError::WrongPin)));
    match try_pin("9999") {
        Err(VaultError::PinRateLimited { retry_after }) => {
            assert_eq!(
                retry_after,
                Duration::from_secs(1),
                "counter restarted at 1"
            );
        }
        other => panic!("expected rate limit, got {other:?}"),
    }
}

#[test]
fn pin_given_for_a_pinless_seal_is_refused() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, Some(&s("1234"))),
        Err(VaultError::PinNotExpected)
    ));
}

#[test]
fn wrong_machine_with_pin_is_a_mismatch_not_a_pin_failure() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, Some(&s("2468"))).unwrap();
    fs::write(m.binding.machine_id_path(), "another machine").unwrap();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, Some(&s("2468"))),
        Err(VaultError::SealMismatch)
    ));
    assert!(!attempts_path(&m.seal_path()).exists());
}

#[test]
fn every_single_byte_change_of_the_seal_is_tampering() {
    let m = Machine::new();
    seal::seal(&m.seal_path(), &s("pw"), &m.binding, None).unwrap();
    let good = fs::read(m.seal_path()).unwrap();
    for i in 0..good.len() {
        let mut bad = good.clone();
        bad[i] ^= 0x01;
        fs::write(m.seal_path(), &bad).unwrap();
        match seal::unseal(&m.seal_path(), &m.binding, None) {
            Err(VaultError::Tampered { part }) => {
                assert_eq!(
                    part == TamperedPart::Ciphertext,
                    i >= 165,
                    "byte {i}: {part:?}"
                );
            }
            other => panic!("byte {i}: expected tamper, got {other:?}"),
        }
    }
    for len in 0..good.len() {
        fs::write(m.seal_path(), &good[..len]).unwrap();
        assert!(matches!(
            seal::unseal(&m.seal_path(), &m.binding, None),
            Err(VaultError::Tampered { .. })
        ));
    }
}

#[test]
fn unsealing_a_missing_seal_is_not_found() {
    let m = Machine::new();
    assert!(matches!(
        seal::unseal(&m.seal_path(), &m.binding, None),
        Err(VaultError::NotFound { .. })
    ));
    assert!(matches!(
        seal::requires_pin(&m.seal_path()),
        Err(VaultError::NotFound { .. })
    ));
    assert!(!m.root().join("config").exists());
}

#[test]
fn seal_debug_and_errors_hide_secrets() {
    let m = Machine::new();
    seal::seal(
        &m.seal_path(),
        &s("TOPSECRETPASS"),
        &m.binding,
        Some(&s("97531")),
    )
    .unwrap();
    let err = seal::unseal(&m.seal_path(), &m.binding, Some(&s("13579"))).unwrap_err();
    let text = format!("{err} {err:?}");
    assert!(!text.contains("TOPSECRETPASS") && !text.contains("97531") && !text.contains("13579"));
    let material = m.binding.load().unwrap();
    let debug = format!("{material:?}");
    assert!(!debug.contains("secret:") && debug.contains("machine_id_found"));
}
