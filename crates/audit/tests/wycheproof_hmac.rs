//! The HMAC-SHA256 construction behind entry hashes and anchors, checked
//! against Project Wycheproof's published vectors.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use hmac::{Hmac, KeyInit, Mac};
use serde_json::Value;
use sha2::Sha256;
use std::path::PathBuf;

fn vectors() -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata/hmac_sha256_test.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("Wycheproof vectors missing at {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().unwrap()).unwrap()
}

#[test]
fn hmac_sha256_matches_wycheproof() {
    let doc = vectors();
    let mut checked = 0;
    let mut audit_key_checked = 0;
    let mut truncated_refused = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        let tag_bytes = (group["tagSize"].as_u64().unwrap() / 8) as usize;
        for t in group["tests"].as_array().unwrap() {
            let (key, msg, tag) = (unhex(&t["key"]), unhex(&t["msg"]), unhex(&t["tag"]));
            let valid = t["result"] == "valid";
            let id = &t["tcId"];
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).unwrap();
            mac.update(&msg);
            let full = mac.clone().finalize().into_bytes();
            assert_eq!(tag.len(), tag_bytes, "tc {id}");
            assert_eq!(&full[..tag_bytes] == tag.as_slice(), valid, "tc {id}");
            if tag_bytes == 32 {
                assert_eq!(mac.verify_slice(&tag).is_ok(), valid, "tc {id}");
            } else {
                // Full-length verification refuses any truncated tag, valid or not.
                assert!(mac.verify_slice(&tag).is_err(), "tc {id}");
                truncated_refused += 1;
            }
            // The crate's own key type, for 32-byte keys.
            if let Ok(k) = audit::AuditKey::from_slice(&key) {
                if tag_bytes == 32 {
                    assert_eq!(k.verify_tag(&[&msg], &tag), valid, "tc {id}");
                    if valid {
                        assert_eq!(k.tag(&[&msg]).as_slice(), tag.as_slice(), "tc {id}");
                    }
                } else {
                    assert!(
                        !k.verify_tag(&[&msg], &tag),
                        "truncated tag accepted, tc {id}"
                    );
                }
                audit_key_checked += 1;
            }
            checked += 1;
        }
    }
    assert_eq!(checked, doc["numberOfTests"].as_u64().unwrap());
    assert!(audit_key_checked > 40, "{audit_key_checked}");
    assert!(truncated_refused > 0);
}
