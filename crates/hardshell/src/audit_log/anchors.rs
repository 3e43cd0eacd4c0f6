//! The anchors of this data directory's audit chain: where they live, the
//! check every writer runs before each append, and their publication after
//! each committed batch.
//!
//! Owns: the places (inside `audit.anchor`; the outside anchor, by default
//! beside the machine key, else `[audit] outside_anchor_dir`; the optional
//! witness file), the gate that refuses to append past a break, signing the
//! new head into every anchor after a commit, and the status `doctor`
//! reports. It must never write an anchor for a head it has not checked
//! against every anchor it knows, and never send audit content outside the
//! data directory: only `(data dir id, seq, hash, time)` leaves it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use audit::{
    AnchorFile, AnchorSource, AuditKey, ChainFacts, ChainHead, DirId, Finding, HashAt, KnownAnchor,
    SignedHead,
};

use crate::config::{AuditConfig, DataDir};
use crate::store::StoreError;
use crate::store::audit::{AppendGuard, ChainRead};

/// Where the anchors of one data directory live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorPlaces {
    /// `audit.anchor` in the data directory.
    pub inside: PathBuf,
    /// The directory that holds the outside anchor.
    pub outside_dir: PathBuf,
    /// The append-only witness file, if configured.
    pub witness: Option<PathBuf>,
}

/// The outside anchor has no acceptable place.
#[derive(Debug, thiserror::Error)]
pub enum AnchorPlaceError {
    #[error(
        "no place for the outside audit anchor: set [audit] outside_anchor_dir in config.toml \
         or pass --machine-key-file"
    )]
    Nowhere,
    #[error("[audit] {key} must be an absolute path outside the data directory, not {path}")]
    Inside { key: &'static str, path: String },
}

impl AnchorPlaces {
    /// Config first, then beside the machine key (`dd.anchor_home()`, set
    /// from `--machine-key-file`), then `~/.config/hardshell`.
    /// A configured place must be absolute and outside the data directory:
    /// an anchor the data directory holds can be rolled back with it.
    pub fn resolve(dd: &DataDir, config: &AuditConfig) -> Result<Self, AnchorPlaceError> {
        let outside_dir = match (&config.outside_anchor_dir, dd.anchor_home()) {
            (Some(dir), _) => dir.clone(),
            (None, Some(home)) => home.to_path_buf(),
            (None, None) => vault::MachineBinding::default_paths()
                .ok()
                .and_then(|b| b.machine_key_path().parent().map(Path::to_path_buf))
                .ok_or(AnchorPlaceError::Nowhere)?,
        };
        let outside_of_data = |key: &'static str, p: &Path| {
            if p.is_absolute() && !p.starts_with(dd.root()) {
                Ok(())
            } else {
                Err(AnchorPlaceError::Inside {
                    key,
                    path: p.display().to_string(),
                })
            }
        };
        if config.outside_anchor_dir.is_some() {
            outside_of_data("outside_anchor_dir", &outside_dir)?;
        }
        if let Some(w) = &config.witness_file {
            outside_of_data("witness_file", w)?;
        }
        Ok(Self {
            inside: dd.anchor_path(),
            outside_dir,
            witness: config.witness_file.clone(),
        })
    }
}

/// Whether the outside anchor is there and names the chain's head; for
/// `doctor`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideAnchorStatus {
    /// The outside anchor's file.
    pub path: PathBuf,
    /// The file exists and parses.
    pub present: bool,
    /// Signed by this data directory's audit key, for this data directory.
    pub genuine: bool,
    /// The seq it names, when present.
    pub seq: Option<u64>,
    /// The chain's head seq (0 when empty).
    pub head_seq: u64,
    /// Genuine and naming exactly the chain's head.
    pub current: bool,
}

/// The anchors of one data directory, with the key that signs them.
pub struct Anchors {
    places: AnchorPlaces,
    outside: PathBuf,
    key: AuditKey,
    dir_id: DirId,
    /// This process found the log empty with no users and no anchors (a
    /// fresh installation). Commands that create the first user before
    /// auditing it may then append to an empty log once: anchors exist
    /// after that, so a later emptying is still `chain_emptied`.
    saw_fresh: AtomicBool,
}

impl Anchors {
    pub fn new(places: AnchorPlaces, key: AuditKey) -> Self {
        let dir_id = DirId::derive(&key);
        let outside = places.outside_dir.join(dir_id.anchor_file_name());
        Self {
            places,
            outside,
            key,
            dir_id,
            saw_fresh: AtomicBool::new(false),
        }
    }

    /// The outside anchor's file.
    pub fn outside_path(&self) -> &Path {
        &self.outside
    }

    /// The data directory's stable id.
    pub fn dir_id(&self) -> &DirId {
        &self.dir_id
    }

    /// Every anchor, as it is on disk now.
    pub fn read_all(&self) -> Vec<KnownAnchor> {
        let mut out = vec![
            KnownAnchor::inside(
                audit::read_anchor(&self.places.inside),
                &self.key,
                self.places.inside.display().to_string(),
            ),
            KnownAnchor::signed_head(
                AnchorSource::Outside,
                audit::read_outside_anchor(&self.outside),
                &self.key,
                &self.dir_id,
                self.outside.display().to_string(),
            ),
        ];
        if let Some(w) = &self.places.witness {
            out.push(KnownAnchor::signed_head(
                AnchorSource::Witness,
                audit::read_witness_last(w),
                &self.key,
                &self.dir_id,
                w.display().to_string(),
            ));
        }
        out
    }

    /// Classifies the chain's end against every anchor (see
    /// `audit::check`), reading only the head and the anchors' entries.
    pub fn find_break(
        &self,
        anchors: &[KnownAnchor],
        chain: &ChainRead<'_>,
    ) -> Result<Option<Finding>, StoreError> {
        let head = match chain.head()? {
            None => None,
            Some(Some(e)) if audit::entry_hash_valid(&self.key, &e) => Some(ChainHead::of(&e)),
            // A head row that is not genuine: nothing may be chained onto it.
            Some(row) => {
                return Ok(Some(Finding {
                    brk: audit::Break {
                        seq: row.map_or(0, |e| e.seq),
                        kind: audit::BreakKind::Modified,
                    },
                    detail: "the newest audit entry is not signed by this data directory's \
                             audit key"
                        .into(),
                }));
            }
        };
        let empty = head.is_none();
        let fresh_seen = self.saw_fresh.load(Ordering::Acquire);
        let facts = ChainFacts {
            head: head.unwrap_or_else(ChainHead::genesis),
            empty,
            holds_state: empty && !fresh_seen && chain.holds_users()?,
            pruned_through: None,
        };
        let found = audit::classify::<StoreError>(anchors, &facts, |seq, hash| {
            Ok(match chain.entry_at(seq)? {
                Some(Some(e)) if e.hash == hash && audit::entry_hash_valid(&self.key, &e) => {
                    HashAt::Matches
                }
                Some(_) => HashAt::Differs,
                None => match chain.latest_checkpoint()? {
                    // Pruned: only the head the checkpoint records can match.
                    Some(cp) if checkpoint_vouches(&self.key, &cp, seq, hash) => HashAt::Matches,
                    _ => HashAt::Absent,
                },
            })
        })?;
        if empty && found.is_none() {
            self.saw_fresh.store(true, Ordering::Release);
        }
        Ok(found)
    }

    /// The status `doctor` reports.
    pub fn outside_status(&self, chain: &ChainRead<'_>) -> Result<OutsideAnchorStatus, StoreError> {
        let head = chain.head()?.flatten().map(|e| ChainHead::of(&e));
        let read = audit::read_outside_anchor(&self.outside);
        let present = matches!(read, Ok(Some(_)));
        let anchor = read.ok().flatten();
        let genuine = anchor
            .as_ref()
            .is_some_and(|a| a.verify(&self.key, &self.dir_id));
        let head_seq = head.as_ref().map_or(0, |h| h.seq);
        let current = genuine
            && match (&anchor, &head) {
                (Some(a), Some(h)) => a.seq == h.seq && a.hash == h.hash,
                _ => false,
            };
        Ok(OutsideAnchorStatus {
            path: self.outside.clone(),
            present,
            genuine,
            seq: anchor.map(|a| a.seq),
            head_seq,
            current,
        })
    }
}

/// Whether `cp` is a genuine checkpoint naming the pruned head `(seq, hash)`.
fn checkpoint_vouches(key: &AuditKey, cp: &audit::Entry, seq: u64, hash: &str) -> bool {
    cp.action == audit::CHECKPOINT_ACTION
        && audit::entry_hash_valid(key, cp)
        && cp
            .details
            .get("pruned_through_seq")
            .and_then(|v| v.as_u64())
            == Some(seq)
        && cp
            .details
            .get("pruned_through_hash")
            .and_then(|v| v.as_str())
            == Some(hash)
}

impl AppendGuard for Anchors {
    fn check(&self, chain: &ChainRead<'_>) -> Result<Result<(), Finding>, StoreError> {
        let anchors = self.read_all();
        Ok(match self.find_break(&anchors, chain)? {
            Some(f) => Err(f),
            None => Ok(()),
        })
    }

    /// Inside first, then outside, then the witness: a crash between them
    /// leaves the later ones behind, never ahead, which the check accepts.
    fn publish(&self, head: &ChainHead) -> Result<(), StoreError> {
        let io = |path: &Path, e: audit::AuditError| StoreError::Io {
            path: path.display().to_string(),
            source: std::io::Error::other(e),
        };
        audit::write_anchor(&self.places.inside, &AnchorFile::sign(&self.key, head))
            .map_err(|e| io(&self.places.inside, e))?;
        let signed = SignedHead::sign(&self.key, &self.dir_id, head, SystemTime::now());
        audit::write_outside_anchor(&self.outside, &signed).map_err(|e| io(&self.outside, e))?;
        if let Some(w) = &self.places.witness {
            audit::append_witness(w, &signed).map_err(|e| io(w, e))?;
        }
        Ok(())
    }
}
