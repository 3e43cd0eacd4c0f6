//! Fuzzes the vault file parser, the payload decoder and (under cargo-fuzz,
//! which sets `cfg(fuzzing)`) the whole open path with test-floor KDF
//! parameters. Inputs are tried as-is and with a repaired header checksum so
//! the fuzzer gets past the SHA-256 check. Nothing may panic.
#![no_main]
// cargo-fuzz passes `--cfg fuzzing`; plain `cargo check` does not know the name.
#![allow(unexpected_cfgs)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = vault::format::parse(data) {
        let _ = (parsed.version(), parsed.kdf_params(), parsed.sealed_len());
    }
    let _ = vault::payload::decode(data);
    #[cfg(fuzzing)]
    {
        let passphrase = vault::SecretString::from("fuzz passphrase");
        let mut repaired = data.to_vec();
        vault::format::fix_checksum_for_fuzzing(&mut repaired);
        for input in [data, repaired.as_slice()] {
            let Ok(parsed) = vault::format::parse(input) else {
                continue;
            };
            // Keep each run fast: only cheap KDF costs reach Argon2.
            let kdf = parsed.kdf_params();
            if kdf.m_kib() <= 1024 && kdf.t_cost() <= 2 && kdf.p_cost() <= 2 {
                let _ = vault::open_bytes_for_fuzzing(input, &passphrase);
            }
        }
    }
});
