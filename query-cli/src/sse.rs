//! A reader of server-sent events (the `text/event-stream` format, as the WHATWG spec parses
//! it): `event:`, `id:` and `data:` fields, comments, events ended by a blank line.

use std::io::{self, BufRead};

/// One event. `kind` is `message` when the event names none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: String,
    /// The id field, when the event carried one.
    pub id: Option<String>,
    /// Data lines joined with `\n`.
    pub data: String,
}

/// Reads events from a stream.
#[derive(Debug)]
pub struct Reader<R> {
    input: R,
    line: String,
}

impl<R: BufRead> Reader<R> {
    pub fn new(input: R) -> Reader<R> {
        Reader {
            input,
            line: String::new(),
        }
    }

    /// The next event with data or an id; `None` at the end of the stream.
    pub fn next(&mut self) -> io::Result<Option<Event>> {
        let (mut kind, mut id, mut data): (Option<String>, Option<String>, Option<String>) =
            (None, None, None);
        loop {
            self.line.clear();
            if self.input.read_line(&mut self.line)? == 0 {
                return Ok(None);
            }
            let line = self.line.trim_end_matches(['\n', '\r']);
            if line.is_empty() {
                if data.is_some() || id.is_some() {
                    return Ok(Some(Event {
                        kind: kind.unwrap_or_else(|| "message".into()),
                        id,
                        data: data.unwrap_or_default(),
                    }));
                }
                kind = None;
                continue;
            }
            if line.starts_with(':') {
                continue;
            }
            let (field, value) = line.split_once(':').unwrap_or((line, ""));
            let value = value.strip_prefix(' ').unwrap_or(value);
            match field {
                "event" => kind = Some(value.to_owned()),
                "id" if !value.contains('\0') => id = Some(value.to_owned()),
                "data" => match &mut data {
                    Some(d) => {
                        d.push('\n');
                        d.push_str(value);
                    }
                    None => data = Some(value.to_owned()),
                },
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn events(text: &str) -> Vec<Event> {
        let mut r = Reader::new(text.as_bytes());
        std::iter::from_fn(|| r.next().expect("read")).collect()
    }

    #[test]
    fn fields_comments_and_multi_line_data() {
        let got = events(
            ": keep-alive\n\nevent: record\nid: 42\ndata: {\"a\":\ndata: 1}\n\nid: 50\nevent: cursor\ndata:\n\ndata:no space\r\n\r\n",
        );
        assert_eq!(
            got,
            [
                Event {
                    kind: "record".into(),
                    id: Some("42".into()),
                    data: "{\"a\":\n1}".into()
                },
                Event {
                    kind: "cursor".into(),
                    id: Some("50".into()),
                    data: String::new()
                },
                Event {
                    kind: "message".into(),
                    id: None,
                    data: "no space".into()
                },
            ]
        );
    }

    #[test]
    fn an_unfinished_event_at_the_end_is_dropped() {
        assert!(events("event: record\ndata: x\n").is_empty());
    }
}
