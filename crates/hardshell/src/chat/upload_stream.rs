//! The chunked upload file format, `HSU2`: what lets an upload be encrypted
//! as it arrives and decrypted as it is sent, never whole in memory.
//!
//! Layout: `HSU2`, a 32-byte random salt, then the chunks. Each file has
//! its own AES-256-GCM key, `HMAC-SHA256(content key, label || salt)`, so
//! the nonces can be counters: chunk index (8 bytes, big-endian), three
//! zero bytes, and a last-chunk flag. Every chunk holds [`CHUNK`] bytes of
//! plaintext except the last, which holds 0..=[`CHUNK`], carries the flag
//! and has the file's content address as associated data. That is the
//! STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, 2015): a
//! reordered, truncated, extended or spliced file fails to decrypt, and
//! the last chunk binds the file to its name, so a swapped file fails
//! too. The reader checks the last chunk first, before it hands out any
//! plaintext.
//!
//! Pure format code over `Read`/`Write`: it never chooses paths (that is
//! `upload_files`) and holds no HTTP types.

use std::io::{self, Read, Seek, SeekFrom, Write};

use aes_gcm::aead::{AeadInOut, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use zeroize::Zeroizing;

use super::upload_files::{UploadFileError, hmac};

/// Marks this format at the start of the file.
pub(super) const MAGIC: &[u8; 4] = b"HSU2";
/// Plaintext bytes per chunk (all chunks but the last are exactly this).
pub const CHUNK: usize = 64 * 1024;
const SALT_LEN: usize = 32;
const TAG_LEN: usize = 16;
const HEADER_LEN: u64 = (MAGIC.len() + SALT_LEN) as u64;
const SEALED_CHUNK: u64 = (CHUNK + TAG_LEN) as u64;

fn file_cipher(enc_key: &[u8; 32], salt: &[u8; SALT_LEN]) -> Aes256Gcm {
    let key = Zeroizing::new(hmac(enc_key, &[b"hardshell upload chunks v2", salt]));
    Aes256Gcm::new((&*key).into())
}

fn nonce(index: u64, last: bool) -> [u8; 12] {
    let mut n = [0u8; 12];
    n[..8].copy_from_slice(&index.to_be_bytes());
    n[11] = u8::from(last);
    n
}

/// Encrypts a stream of bytes into `out`, one chunk at a time. At most one
/// chunk of plaintext is held.
pub struct Sealer<W: Write> {
    out: W,
    cipher: Aes256Gcm,
    index: u64,
    buf: Vec<u8>,
    len: u64,
}

impl<W: Write> Sealer<W> {
    /// Writes the header; `salt` must be fresh and random.
    pub fn new(mut out: W, enc_key: &[u8; 32], salt: [u8; SALT_LEN]) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&salt)?;
        Ok(Self {
            out,
            cipher: file_cipher(enc_key, &salt),
            index: 0,
            buf: Vec::with_capacity(CHUNK + TAG_LEN),
            len: 0,
        })
    }

    /// Plaintext bytes taken so far.
    pub fn taken(&self) -> u64 {
        self.len
    }

    /// Takes more plaintext. A full chunk is sealed only once more bytes
    /// arrive, since the last chunk is sealed differently.
    pub fn write(&mut self, mut data: &[u8]) -> Result<(), UploadFileError> {
        while !data.is_empty() {
            if self.buf.len() == CHUNK {
                self.seal(false, b"")?;
            }
            let take = (CHUNK - self.buf.len()).min(data.len());
            self.buf.extend_from_slice(&data[..take]);
            data = &data[take..];
            self.len = self.len.saturating_add(take as u64);
        }
        Ok(())
    }

    fn seal(&mut self, last: bool, aad: &[u8]) -> Result<(), UploadFileError> {
        self.cipher
            .encrypt_in_place(&Nonce::from(nonce(self.index, last)), aad, &mut self.buf)
            .map_err(|_| UploadFileError::Encrypt)?;
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        self.index = self.index.checked_add(1).ok_or(UploadFileError::Encrypt)?;
        Ok(())
    }

    /// Seals the last chunk, bound to `address`, and returns the writer.
    pub fn finish(mut self, address: &str) -> Result<W, UploadFileError> {
        self.seal(true, address.as_bytes())?;
        self.out.flush()?;
        Ok(self.out)
    }
}

/// Decrypts an `HSU2` file chunk by chunk. [`Opener::open`] authenticates
/// the last chunk (and so the binding to the address) before anything is
/// handed out; every other chunk is authenticated as it is read.
pub struct Opener<R: Read + Seek> {
    inp: R,
    cipher: Aes256Gcm,
    /// Chunks before the last.
    full: u64,
    next: u64,
    last: Option<Vec<u8>>,
    plain_len: u64,
    buf: Vec<u8>,
}

fn tampered_on_eof(e: io::Error) -> UploadFileError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        UploadFileError::Tampered
    } else {
        e.into()
    }
}

impl<R: Read + Seek> Opener<R> {
    /// `file_len` is the file's length on disk.
    pub fn open(
        mut inp: R,
        file_len: u64,
        enc_key: &[u8; 32],
        address: &str,
    ) -> Result<Self, UploadFileError> {
        let mut header = [0u8; MAGIC.len() + SALT_LEN];
        inp.read_exact(&mut header).map_err(tampered_on_eof)?;
        let (magic, salt) = header.split_at(MAGIC.len());
        if magic != MAGIC {
            return Err(UploadFileError::Tampered);
        }
        let salt: [u8; SALT_LEN] = salt.try_into().map_err(|_| UploadFileError::Tampered)?;
        let cipher = file_cipher(enc_key, &salt);
        let body = file_len
            .checked_sub(HEADER_LEN + TAG_LEN as u64)
            .ok_or(UploadFileError::Tampered)?;
        let full = body / SEALED_CHUNK;
        let last_len = body - full * SEALED_CHUNK + TAG_LEN as u64;
        inp.seek(SeekFrom::Start(HEADER_LEN + full * SEALED_CHUNK))?;
        let mut last = vec![0u8; usize::try_from(last_len).map_err(|_| UploadFileError::Tampered)?];
        inp.read_exact(&mut last).map_err(tampered_on_eof)?;
        cipher
            .decrypt_in_place(
                &Nonce::from(nonce(full, true)),
                address.as_bytes(),
                &mut last,
            )
            .map_err(|_| UploadFileError::Tampered)?;
        inp.seek(SeekFrom::Start(HEADER_LEN))?;
        let plain_len = full
            .checked_mul(CHUNK as u64)
            .and_then(|n| n.checked_add(last.len() as u64))
            .ok_or(UploadFileError::Tampered)?;
        Ok(Self {
            inp,
            cipher,
            full,
            next: 0,
            last: Some(last),
            plain_len,
            buf: Vec::with_capacity(CHUNK + TAG_LEN),
        })
    }

    /// The plaintext length (known from the file length alone).
    pub fn plain_len(&self) -> u64 {
        self.plain_len
    }

    /// The next chunk of plaintext, `None` after the last.
    pub fn next_chunk(&mut self) -> Result<Option<Vec<u8>>, UploadFileError> {
        if self.next < self.full {
            self.buf.resize(CHUNK + TAG_LEN, 0);
            self.inp
                .read_exact(&mut self.buf)
                .map_err(tampered_on_eof)?;
            self.cipher
                .decrypt_in_place(&Nonce::from(nonce(self.next, false)), b"", &mut self.buf)
                .map_err(|_| UploadFileError::Tampered)?;
            self.next += 1;
            return Ok(Some(std::mem::take(&mut self.buf)));
        }
        Ok(self.last.take())
    }

    /// All of the plaintext, checked.
    pub fn read_all(mut self) -> Result<Vec<u8>, UploadFileError> {
        let cap = usize::try_from(self.plain_len).map_err(|_| UploadFileError::Tampered)?;
        let mut out = Vec::with_capacity(cap);
        while let Some(c) = self.next_chunk()? {
            out.extend_from_slice(&c);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    const KEY: [u8; 32] = [7; 32];
    const ADDR: &str = "ab";

    fn seal(data: &[u8], pieces: usize) -> Vec<u8> {
        let mut s = Sealer::new(Vec::new(), &KEY, [3; SALT_LEN]).unwrap();
        for part in data.chunks(pieces.max(1)) {
            s.write(part).unwrap();
        }
        assert_eq!(s.taken(), data.len() as u64);
        s.finish(ADDR).unwrap()
    }

    fn open(raw: &[u8], addr: &str) -> Result<Vec<u8>, UploadFileError> {
        let o = Opener::open(Cursor::new(raw), raw.len() as u64, &KEY, addr)?;
        let len = o.plain_len();
        let all = o.read_all()?;
        assert_eq!(all.len() as u64, len);
        Ok(all)
    }

    #[test]
    fn round_trips_at_every_chunk_boundary_and_write_size() {
        for n in [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 3 * CHUNK + 17] {
            let data: Vec<u8> = (0..n).map(|i| (i * 31 % 251) as u8).collect();
            for piece in [1000, CHUNK, 7 * CHUNK] {
                let raw = seal(&data, piece);
                assert_eq!(open(&raw, ADDR).unwrap(), data, "{n} in {piece}");
            }
        }
    }

    #[test]
    fn truncated_reordered_extended_flipped_or_renamed_files_fail() {
        let data = vec![5u8; 2 * CHUNK + 10];
        let raw = seal(&data, CHUNK);
        let sealed = CHUNK + TAG_LEN;
        let h = HEADER_LEN as usize;
        let tampered = |raw: Vec<u8>| matches!(open(&raw, ADDR), Err(UploadFileError::Tampered));
        // Cut at a chunk boundary: the new last chunk lacks the flag.
        assert!(tampered(raw[..h + 2 * sealed].to_vec()));
        assert!(tampered(raw[..raw.len() - 1].to_vec()));
        assert!(tampered(raw[..10].to_vec()));
        // Two full chunks swapped (identical plaintext, different nonces).
        let mut swapped = raw.clone();
        swapped[h..h + sealed].copy_from_slice(&raw[h + sealed..h + 2 * sealed]);
        swapped[h + sealed..h + 2 * sealed].copy_from_slice(&raw[h..h + sealed]);
        assert!(tampered(swapped));
        let mut longer = raw.clone();
        longer.extend_from_slice(&[0; 40]);
        assert!(tampered(longer));
        let mut flipped = raw.clone();
        flipped[h + 5] ^= 1;
        assert!(tampered(flipped));
        let mut magic = raw.clone();
        magic[3] = b'1';
        assert!(tampered(magic));
        // Another name: the last chunk is bound to the address.
        assert!(matches!(open(&raw, "cd"), Err(UploadFileError::Tampered)));
        // A chunk spliced in from another file of the same key.
        let other = {
            let mut s = Sealer::new(Vec::new(), &KEY, [4; SALT_LEN]).unwrap();
            s.write(&data).unwrap();
            s.finish(ADDR).unwrap()
        };
        let mut spliced = raw.clone();
        spliced[h..h + sealed].copy_from_slice(&other[h..h + sealed]);
        assert!(tampered(spliced));
        assert_eq!(open(&raw, ADDR).unwrap(), data);
    }
}
