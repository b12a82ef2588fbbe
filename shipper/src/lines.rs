//! Splitting a byte stream into lines with their stream positions.
//!
//! A line's text excludes its `\n` but keeps a `\r` (raw text must equal what `grep` prints).
//! Invalid UTF-8 is replaced with U+FFFD. A line longer than the maximum is cut into pieces of
//! at most that many bytes, all but the last marked `split`; the file goes on.

use logq_schemas::Line;

/// Accumulates bytes and yields complete lines.
#[derive(Debug)]
pub struct LineSplitter {
    buf: Vec<u8>,
    /// Stream position of `buf[0]`.
    start: u64,
    max_line_bytes: usize,
    /// Pieces cut off over-long lines so far.
    pub split_pieces: u64,
}

impl LineSplitter {
    /// A splitter whose next byte is at stream position `start`.
    pub fn new(start: u64, max_line_bytes: usize) -> Self {
        LineSplitter {
            buf: Vec::new(),
            start,
            max_line_bytes: max_line_bytes.max(1),
            split_pieces: 0,
        }
    }

    /// The position just past the last byte pushed.
    pub fn position(&self) -> u64 {
        self.start + self.buf.len() as u64
    }

    /// Bytes waiting for their newline.
    pub fn pending_bytes(&self) -> usize {
        self.buf.len()
    }

    /// Adds bytes; appends every completed line (or piece) to `out`. Bytes are copied only
    /// into the lines themselves and into the partial line left at the end.
    pub fn push(&mut self, bytes: &[u8], out: &mut Vec<Line>) {
        let mut bytes = bytes;
        if !self.buf.is_empty() {
            // Finish the pending line without copying the whole chunk behind it.
            match memchr::memchr(b'\n', bytes) {
                Some(nl) if self.buf.len() + nl <= self.max_line_bytes => {
                    self.buf.extend_from_slice(&bytes[..nl]);
                    let end = self.start + (self.buf.len() + 1) as u64;
                    out.push(Line {
                        time: None,
                        end,
                        text: text_of(&self.buf),
                        split: false,
                    });
                    self.buf.clear();
                    self.start = end;
                    bytes = &bytes[nl + 1..];
                }
                _ => {
                    let mut buf = std::mem::take(&mut self.buf);
                    // At most one line limit and one read are ever pending: grow to that once,
                    // rather than doubling to twice the limit on a line that is cut anyway.
                    let need = buf.len() + bytes.len();
                    if need > buf.capacity() {
                        let want = need.max(self.max_line_bytes + bytes.len());
                        buf.reserve_exact(want - buf.len());
                    }
                    buf.extend_from_slice(bytes);
                    let consumed = self.split(&buf, out);
                    buf.drain(..consumed);
                    self.buf = buf;
                    return;
                }
            }
        }
        let consumed = self.split(bytes, out);
        self.buf.extend_from_slice(&bytes[consumed..]);
    }

    /// Emits the complete lines (and pieces of over-long ones) at the head of `data`, whose
    /// first byte is at `self.start`; returns how many bytes they took.
    fn split(&mut self, data: &[u8], out: &mut Vec<Line>) -> usize {
        let mut consumed = 0;
        loop {
            let rest = &data[consumed..];
            let window = &rest[..rest.len().min(self.max_line_bytes + 1)];
            match memchr::memchr(b'\n', window) {
                Some(nl) => {
                    out.push(Line {
                        time: None,
                        end: self.start + (consumed + nl + 1) as u64,
                        text: text_of(&rest[..nl]),
                        split: false,
                    });
                    consumed += nl + 1;
                }
                None if rest.len() > self.max_line_bytes => {
                    let cut = utf8_boundary(rest, self.max_line_bytes);
                    out.push(Line {
                        time: None,
                        end: self.start + (consumed + cut) as u64,
                        text: text_of(&rest[..cut]),
                        split: true,
                    });
                    self.split_pieces += 1;
                    consumed += cut;
                }
                None => break,
            }
        }
        self.start += consumed as u64;
        consumed
    }

    /// Flushes a partial last line that waited too long for its newline, marked `split` (its
    /// continuation, if any, comes as the next line).
    pub fn flush_partial(&mut self, out: &mut Vec<Line>) {
        if !self.buf.is_empty() {
            let end = self.position();
            out.push(Line {
                time: None,
                end,
                text: text_of(&self.buf),
                split: true,
            });
            self.start = end;
            self.buf.clear();
        }
    }

    /// Ends the stream: a final line without a newline becomes a line.
    pub fn finish(&mut self, out: &mut Vec<Line>) {
        if !self.buf.is_empty() {
            let end = self.position();
            out.push(Line {
                time: None,
                end,
                text: text_of(&self.buf),
                split: false,
            });
            self.start = end;
            self.buf.clear();
        }
    }
}

/// A line's text: the bytes as they are when they are UTF-8 (the fast path), else with each
/// invalid sequence replaced by U+FFFD.
fn text_of(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// The largest cut at or below `max` that does not split a UTF-8 sequence (when the bytes are
/// valid UTF-8 there; otherwise `max`).
fn utf8_boundary(bytes: &[u8], max: usize) -> usize {
    let mut cut = max;
    while cut > 0 && cut > max.saturating_sub(3) && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    if cut == 0 { max } else { cut }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::Just;

    fn texts(lines: &[Line]) -> Vec<(&str, u64, bool)> {
        lines
            .iter()
            .map(|l| (l.text.as_str(), l.end, l.split))
            .collect()
    }

    #[test]
    fn lines_across_reads_keep_positions() {
        let mut s = LineSplitter::new(100, 1024);
        let mut out = Vec::new();
        s.push(b"one\ntw", &mut out);
        s.push(b"o\r\nthree", &mut out);
        assert_eq!(texts(&out), [("one", 104, false), ("two\r", 109, false)]);
        assert_eq!((s.position(), s.pending_bytes()), (114, 5));
        s.finish(&mut out);
        assert_eq!(texts(&out)[2], ("three", 114, false));
    }

    #[test]
    fn invalid_utf8_is_replaced_and_empty_lines_kept() {
        let mut s = LineSplitter::new(0, 1024);
        let mut out = Vec::new();
        s.push(b"a\xffb\n\nh\xc3\xa9llo \xe2\x9c\x93\n", &mut out);
        assert_eq!(
            texts(&out),
            [
                ("a\u{fffd}b", 4, false),
                ("", 5, false),
                ("héllo ✓", 16, false)
            ]
        );
    }

    #[test]
    fn a_partial_line_flushed_early_is_marked_and_continues() {
        let mut s = LineSplitter::new(0, 1024);
        let mut out = Vec::new();
        s.push(b"done\nhalf", &mut out);
        s.flush_partial(&mut out);
        s.push(b" more\n", &mut out);
        assert_eq!(
            texts(&out),
            [("done", 5, false), ("half", 9, true), (" more", 15, false)]
        );
    }

    #[test]
    fn long_lines_are_split_and_marked() {
        let mut s = LineSplitter::new(0, 4);
        let mut out = Vec::new();
        s.push(b"abcdefghij\nxy\n", &mut out);
        assert_eq!(
            texts(&out),
            [
                ("abcd", 4, true),
                ("efgh", 8, true),
                ("ij", 11, false),
                ("xy", 14, false)
            ]
        );
        assert_eq!(s.split_pieces, 2);
    }

    #[test]
    fn splits_do_not_cut_utf8_sequences() {
        let mut s = LineSplitter::new(0, 4);
        let mut out = Vec::new();
        s.push("abé✓\n".as_bytes(), &mut out);
        let joined: String = out.iter().map(|l| l.text.as_str()).collect();
        assert_eq!(joined, "abé✓");
        assert!(out.iter().all(|l| !l.text.contains('\u{fffd}')));
    }

    proptest::proptest! {
        /// However the bytes are cut into reads, the lines (text, end, split) are the same as
        /// when they come in one read, and they cover every byte up to the last newline.
        #[test]
        fn chunking_does_not_change_the_lines(
            data in proptest::collection::vec(
                proptest::prop_oneof![Just(b'\n'), Just(0xC3u8), Just(0xA9u8), Just(b'a')],
                0..300,
            ),
            cuts in proptest::collection::vec(0usize..300, 0..20),
            max in 1usize..24,
        ) {
            let mut whole = Vec::new();
            LineSplitter::new(7, max).push(&data, &mut whole);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.sort_unstable();
            let mut chunked = Vec::new();
            let mut s = LineSplitter::new(7, max);
            let mut from = 0;
            for cut in cuts.into_iter().chain([data.len()]) {
                s.push(&data[from..cut], &mut chunked);
                from = cut;
            }
            proptest::prop_assert_eq!(texts(&whole), texts(&chunked));
            let last_nl = data.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
            let covered = whole.last().map_or(7, |l| l.end);
            proptest::prop_assert!(covered >= 7 + last_nl as u64);
        }
    }
}
