//! Official test vectors against the exact primitives the vault uses:
//! Wycheproof AES-GCM (256-bit key, 96-bit IV), RFC 9106 / pyca Argon2id,
//! the phc-winner-argon2 KAT, and Wycheproof HKDF-SHA256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;

use serde_json::Value;
use vault::primitives;

/// `tests/testdata` in this crate (sources and licences in its README). A
/// missing directory fails the test: the vectors are required, never
/// silently skipped.
fn testdata() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/testdata");
    assert!(
        dir.is_dir(),
        "test vectors missing: expected {}",
        dir.display()
    );
    dir
}

fn load_json(name: &str) -> Value {
    let text = std::fs::read_to_string(testdata().join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn hexfield(test: &Value, key: &str) -> Vec<u8> {
    hex::decode(test[key].as_str().unwrap()).unwrap()
}

#[test]
fn wycheproof_aes_256_gcm_96_bit_iv() {
    let doc = load_json("aes_gcm_test.json");
    let (mut valid, mut invalid) = (0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        if group["keySize"] != 256 || group["ivSize"] != 96 || group["tagSize"] != 128 {
            continue;
        }
        for test in group["tests"].as_array().unwrap() {
            let id = &test["tcId"];
            let key: [u8; 32] = hexfield(test, "key").try_into().unwrap();
            let iv: [u8; 12] = hexfield(test, "iv").try_into().unwrap();
            let aad = hexfield(test, "aad");
            let msg = hexfield(test, "msg");
            let mut sealed = hexfield(test, "ct");
            sealed.extend_from_slice(&hexfield(test, "tag"));
            let mut decrypted = sealed.clone();
            let opened = primitives::aes256gcm_decrypt(&key, &iv, &aad, &mut decrypted);
            match test["result"].as_str().unwrap() {
                "valid" | "acceptable" => {
                    valid += 1;
                    let mut encrypted = msg.clone();
                    primitives::aes256gcm_encrypt(&key, &iv, &aad, &mut encrypted).unwrap();
                    assert_eq!(encrypted, sealed, "tcId {id}: encryption differs");
                    assert!(opened.is_ok(), "tcId {id}: valid vector rejected");
                    assert_eq!(decrypted, msg, "tcId {id}: decryption differs");
                }
                "invalid" => {
                    invalid += 1;
                    assert!(opened.is_err(), "tcId {id}: invalid vector accepted");
                }
                other => panic!("tcId {id}: unknown result {other}"),
            }
        }
    }
    // The file has 66 such vectors; make sure they were all seen.
    assert!(valid > 0 && invalid > 0);
    assert_eq!(valid + invalid, 66);
}

#[test]
fn wycheproof_hkdf_sha256() {
    let doc = load_json("hkdf_sha256_test.json");
    let mut checked = 0;
    for group in doc["testGroups"].as_array().unwrap() {
        for test in group["tests"].as_array().unwrap() {
            let id = &test["tcId"];
            let ikm = hexfield(test, "ikm");
            let salt = hexfield(test, "salt");
            let info = hexfield(test, "info");
            let size = usize::try_from(test["size"].as_u64().unwrap()).unwrap();
            let mut out = vec![0u8; size];
            let result = primitives::hkdf_sha256(Some(&salt), &ikm, &info, &mut out);
            match test["result"].as_str().unwrap() {
                "valid" | "acceptable" => {
                    result.unwrap();
                    assert_eq!(out, hexfield(test, "okm"), "tcId {id}");
                }
                "invalid" => assert!(result.is_err(), "tcId {id}: invalid size accepted"),
                other => panic!("tcId {id}: unknown result {other}"),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, doc["numberOfTests"].as_u64().unwrap());
}

struct Argon2Vector {
    lanes: u32,
    iter: u32,
    memcost: u32,
    secret: Vec<u8>,
    pass: Vec<u8>,
    salt: Vec<u8>,
    ad: Vec<u8>,
    output: Vec<u8>,
}

fn parse_argon2_nist(text: &str) -> Vec<Argon2Vector> {
    let mut vectors = Vec::new();
    for block in text.split("COUNT = ").skip(1) {
        let field = |name: &str| -> Option<String> {
            block.lines().find_map(|line| {
                let (key, value) = line.split_once('=')?;
                (key.trim() == name).then(|| value.trim().to_owned())
            })
        };
        let bytes = |name: &str| hex::decode(field(name).unwrap_or_default()).unwrap();
        let num = |name: &str| field(name).unwrap().parse::<u32>().unwrap();
        vectors.push(Argon2Vector {
            lanes: num("lanes"),
            iter: num("iter"),
            memcost: num("memcost"),
            secret: bytes("secret"),
            pass: bytes("pass"),
            salt: bytes("salt"),
            ad: bytes("ad"),
            output: bytes("output"),
        });
    }
    vectors
}

#[test]
fn argon2id_nist_style_vectors() {
    let text = std::fs::read_to_string(testdata().join("argon2/argon2id.txt")).unwrap();
    let vectors = parse_argon2_nist(&text);
    assert_eq!(vectors.len(), 6);
    for (i, v) in vectors.iter().enumerate() {
        let mut out = vec![0u8; v.output.len()];
        primitives::argon2id(
            v.memcost, v.iter, v.lanes, &v.pass, &v.salt, &v.secret, &v.ad, &mut out,
        )
        .unwrap();
        assert_eq!(out, v.output, "vector COUNT = {i}");
    }
}

#[test]
fn argon2id_reference_kat_final_tag() {
    let text = std::fs::read_to_string(testdata().join("argon2/argon2id")).unwrap();
    let tag_line = text
        .lines()
        .rev()
        .find_map(|line| line.strip_prefix("Tag:"))
        .unwrap();
    let expected = hex::decode(tag_line.split_whitespace().collect::<String>()).unwrap();
    let header = |label: &str| -> Vec<u8> {
        let line = text.lines().find(|l| l.starts_with(label)).unwrap();
        let (_, bytes) = line.split_once(':').unwrap();
        hex::decode(bytes.split_whitespace().collect::<String>()).unwrap()
    };
    // RFC 9106 §5.3: m=32 KiB, t=3, p=4, 32-byte tag.
    assert!(text.contains("Memory: 32 KiB, Iterations: 3, Parallelism: 4 lanes"));
    let mut out = vec![0u8; expected.len()];
    primitives::argon2id(
        32,
        3,
        4,
        &header("Password["),
        &header("Salt["),
        &header("Secret["),
        &header("Associated data["),
        &mut out,
    )
    .unwrap();
    assert_eq!(out, expected);
}
