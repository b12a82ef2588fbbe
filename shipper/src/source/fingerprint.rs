//! File identity: a file is the xxh3-64 of its first line (or of its first 256 bytes when no
//! newline comes sooner), taken after any NUL bytes at its head. The stream id is `file:` and
//! that hash in hex, so a file keeps its id across renames and shipper restarts, and a file
//! recreated at the same path (even on a reused inode) is a new stream read from its start.
//!
//! NUL bytes at the head are what `copytruncate` leaves when the writer does not use
//! `O_APPEND`: it goes on writing at its old offset, so the truncated file starts with a hole.
//! Those bytes are skipped, never shipped.

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;

use xxhash_rust::xxh3::xxh3_64;

/// Bytes hashed at most for a fingerprint.
pub const FINGERPRINT_BYTES: usize = 256;
const SCAN_CHUNK: usize = 64 * 1024;

/// A file's identity and where in the file it was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Head {
    /// NUL bytes skipped before the first line.
    pub skip: u64,
    /// Bytes hashed.
    pub len: u64,
    pub fp: u64,
}

impl Head {
    /// The stream id of the file.
    pub fn id(&self) -> String {
        format!("file:{:016x}", self.fp)
    }
}

/// What probing a file's head found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Probe {
    Found(Head),
    /// Not enough data yet; the file holds only NUL bytes below `nuls_until`.
    NotYet {
        nuls_until: u64,
    },
}

/// The fingerprint of a head and the bytes it covers, once there is a full first line or
/// enough bytes.
pub fn fingerprint(head: &[u8]) -> Option<(u64, usize)> {
    match head.iter().position(|b| *b == b'\n') {
        Some(nl) if nl < FINGERPRINT_BYTES => Some((xxh3_64(&head[..=nl]), nl + 1)),
        _ if head.len() >= FINGERPRINT_BYTES => {
            Some((xxh3_64(&head[..FINGERPRINT_BYTES]), FINGERPRINT_BYTES))
        }
        _ => None,
    }
}

/// Reads as many bytes as are there at `offset`, up to `buf.len()`.
pub fn read_full_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read_at(&mut buf[filled..], offset + filled as u64) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Probes a file's head, skipping NUL bytes from `nuls_until` (a previous probe's result, or
/// 0) on.
pub fn probe(file: &File, nuls_until: u64) -> io::Result<Probe> {
    let mut offset = nuls_until;
    let mut buf = vec![0u8; SCAN_CHUNK];
    loop {
        let n = read_full_at(file, &mut buf, offset)?;
        match buf[..n].iter().position(|b| *b != 0) {
            Some(k) => {
                offset += k as u64;
                break;
            }
            None if n < buf.len() => {
                return Ok(Probe::NotYet {
                    nuls_until: offset + n as u64,
                });
            }
            None => offset += n as u64,
        }
    }
    let mut head = [0u8; FINGERPRINT_BYTES];
    let n = read_full_at(file, &mut head, offset)?;
    Ok(match fingerprint(&head[..n]) {
        Some((fp, len)) => Probe::Found(Head {
            skip: offset,
            len: len as u64,
            fp,
        }),
        None => Probe::NotYet { nuls_until: offset },
    })
}

/// Whether the file still starts with `head` (false once it was truncated and rewritten).
pub fn still_has(file: &File, head: &Head) -> io::Result<bool> {
    let mut buf = [0u8; FINGERPRINT_BYTES];
    let want = head.len as usize;
    let n = read_full_at(file, &mut buf[..want], head.skip)?;
    Ok(n == want && xxh3_64(&buf[..want]) == head.fp)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn fingerprint_needs_a_line_or_enough_bytes() {
        assert_eq!(fingerprint(b"partial"), None);
        assert_eq!(
            fingerprint(b"first line\nsecond").map(|f| f.1),
            Some("first line\n".len())
        );
        assert_eq!(
            fingerprint(b"first line\nsecond"),
            fingerprint(b"first line\nother")
        );
        assert!(fingerprint(&[b'x'; FINGERPRINT_BYTES]).is_some());
    }

    #[test]
    fn leading_nul_bytes_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        let mut f = File::create(&path).expect("create");
        f.write_all(&[0u8; 100_000]).expect("write");
        let file = File::open(&path).expect("open");
        assert_eq!(
            probe(&file, 0).expect("probe"),
            Probe::NotYet {
                nuls_until: 100_000
            }
        );
        f.write_all(b"hello\nworld\n").expect("write");
        let Probe::Found(head) = probe(&file, 100_000).expect("probe") else {
            panic!("no head")
        };
        assert_eq!((head.skip, head.len), (100_000, 6));
        assert_eq!(head.fp, fingerprint(b"hello\n").expect("fp").0);
        assert!(still_has(&file, &head).expect("check"));
        f.set_len(0).expect("truncate");
        assert!(!still_has(&file, &head).expect("check"));
    }
}
