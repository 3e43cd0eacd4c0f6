//! The Landlock layer applied by the helper.
//!
//! Owns the filesystem policy inside the sandbox: read and execute
//! everywhere, write only to `/tmp`, `/dev/null` and (when asked) `/work`;
//! on kernels with ABI 4 no TCP bind or connect; on ABI 6 no signals or
//! abstract sockets outside the sandbox. The ABI comes from the probe and is
//! a hard requirement: if the kernel cannot enforce all of it, the run
//! aborts rather than running with less.

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

/// Highest ABI whose features this crate uses (6: signal and abstract-socket scoping).
pub(crate) const MAX_USED_ABI: u8 = 6;

fn abi(number: u8) -> Result<ABI, String> {
    if !(1..=MAX_USED_ABI).contains(&number) {
        return Err(format!("unsupported ABI {number}"));
    }
    Ok(ABI::from(i32::from(number)))
}

/// A ruleset that handles everything `number` offers, failing if the kernel
/// cannot (hard requirement, never best effort).
fn ruleset(number: u8) -> Result<Ruleset, String> {
    let abi = abi(number)?;
    let mut ruleset = Ruleset::default()
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(abi))
        .map_err(|e| e.to_string())?;
    if number >= 4 {
        ruleset = ruleset
            .handle_access(AccessNet::from_all(abi))
            .map_err(|e| e.to_string())?;
    }
    if number >= 6 {
        ruleset = ruleset
            .scope(Scope::from_all(abi))
            .map_err(|e| e.to_string())?;
    }
    Ok(ruleset)
}

/// The highest ABI (up to [`MAX_USED_ABI`]) this kernel enforces fully, or why none.
pub(crate) fn detect_abi() -> Result<u8, String> {
    let mut last_error = String::from("no ABI tried");
    for number in (1..=MAX_USED_ABI).rev() {
        match ruleset(number).and_then(|r| r.create().map_err(|e| e.to_string())) {
            Ok(_) => return Ok(number),
            Err(e) => last_error = e,
        }
    }
    Err(last_error)
}

fn rule(path: &str, access: BitFlags<AccessFs>) -> Result<PathBeneath<PathFd>, String> {
    let fd = PathFd::new(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(PathBeneath::new(fd, access))
}

/// Restricts this process (and what it executes) to the sandbox policy.
pub(crate) fn apply(number: u8, workspace_writable: bool) -> Result<(), String> {
    let abi = abi(number)?;
    let everything = AccessFs::from_all(abi);
    let mut rules = vec![
        rule("/", AccessFs::from_read(abi))?,
        rule("/tmp", everything)?,
        rule("/dev/null", AccessFs::from_file(abi) & !AccessFs::Execute)?,
    ];
    if workspace_writable {
        rules.push(rule("/work", everything)?);
    }
    let status = ruleset(number)?
        .create()
        .map_err(|e| e.to_string())?
        .add_rules(rules.into_iter().map(Ok::<_, landlock::RulesetError>))
        .map_err(|e| e.to_string())?
        .restrict_self()
        .map_err(|e| e.to_string())?;
    if status.ruleset != RulesetStatus::FullyEnforced {
        return Err(format!("ruleset not fully enforced: {:?}", status.ruleset));
    }
    Ok(())
}
