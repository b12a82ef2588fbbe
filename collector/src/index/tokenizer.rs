//! The message tokenizer. Words are runs of letters and digits, lowercased, as in tantivy's
//! default; a word written in camel case is also indexed as its parts, at the same position, so
//! that the words in an error name find it: `ConnectionRefusedError` is found by `refused`,
//! `ECONNREFUSED` by itself, `java.net.ConnectException` by `connect` or `exception`.
//!
//! Queries are tokenized without the parts: `ConnectionRefusedError` searches for that word.
//!
//! Ids are not indexed: a word of ASCII letters and digits, a fifth of them digits or more, at
//! least [`ID_MIN_BYTES`] long (a request id, a hash, a UUID's long part), or a number of at least
//! [`NUMBER_MIN_DIGITS`] digits (a pid, an order number, an amount). Nearly each one is a term
//! of its own, and a term costs the index about 20 bytes: in a mix of the sample formats they
//! were four in five of the terms and a third of the index. A search for one reads the frames
//! whose [frame filter](crate::storage) holds it instead ([`is_id`] decides both sides).

use tantivy::Index;
use tantivy::tokenizer::{
    LowerCaser, RemoveLongFilter, SimpleTokenizer, TextAnalyzer, Token, TokenFilter, TokenStream,
    Tokenizer,
};

/// The name the message field's tokenizer is registered under.
pub const NAME: &str = "logq";
/// Words of this many bytes or more (base64 blobs, hashes) are not indexed (tantivy keeps
/// tokens shorter than the limit).
pub const MAX_WORD_BYTES: usize = 40;

/// Words of ASCII letters and digits this long or longer, a fifth of them digits, are ids.
pub const ID_MIN_BYTES: usize = 8;
/// Numbers of this many digits or more are ids (`500`, `2026` and `8080` are words).
pub const NUMBER_MIN_DIGITS: usize = 5;

/// Whether a word (a token, in any case) is an id: not indexed, found through frame filters.
pub fn is_id(word: &str) -> bool {
    let b = word.as_bytes();
    if b.len() < NUMBER_MIN_DIGITS || b.len() >= MAX_WORD_BYTES {
        return false;
    }
    let mut digits = 0;
    for c in b {
        if c.is_ascii_digit() {
            digits += 1;
        } else if !c.is_ascii_alphabetic() {
            return false;
        }
    }
    // A fifth of digits at least: `f6fadfa7e5c15b62` is an id, `ipv6Addr` and
    // `Base64Encoder` are words.
    digits == b.len() || (b.len() >= ID_MIN_BYTES && digits * 5 >= b.len())
}

/// The ids of a message, lowercased, as the index would have seen them (each occurrence).
pub fn ids(message: &str) -> impl Iterator<Item = String> + '_ {
    message
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| is_id(w))
        .map(str::to_ascii_lowercase)
}

/// The analyzer that indexes messages: words but ids, their camel-case parts, lowercased.
pub fn for_index() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(DropIds)
        .filter(CamelParts)
        .filter(LowerCaser)
        .build()
}

/// The analyzer the record matcher uses: as [`for_index`], ids kept at their positions (a
/// query holding an id is matched on records, never asked of the index).
pub fn for_matching() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(CamelParts)
        .filter(LowerCaser)
        .build()
}

/// The analyzer of query words: whole words, lowercased.
pub fn for_query_words() -> TextAnalyzer {
    TextAnalyzer::builder(SimpleTokenizer::default())
        .filter(RemoveLongFilter::limit(MAX_WORD_BYTES))
        .filter(LowerCaser)
        .build()
}

/// Registers the indexing tokenizer on `index` (every index and split, at create and open).
pub fn register(index: &Index) {
    index.tokenizers().register(NAME, for_index());
}

/// Leaves ids out; the words after them keep their positions.
#[derive(Clone, Debug)]
pub struct DropIds;

impl TokenFilter for DropIds {
    type Tokenizer<T: Tokenizer> = DropIdsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> DropIdsFilter<T> {
        DropIdsFilter(tokenizer)
    }
}

#[derive(Clone, Debug)]
pub struct DropIdsFilter<T>(T);

impl<T: Tokenizer> Tokenizer for DropIdsFilter<T> {
    type TokenStream<'a> = DropIdsStream<T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        DropIdsStream(self.0.token_stream(text))
    }
}

#[derive(Debug)]
pub struct DropIdsStream<T>(T);

impl<T: TokenStream> TokenStream for DropIdsStream<T> {
    fn advance(&mut self) -> bool {
        while self.0.advance() {
            if !is_id(&self.0.token().text) {
                return true;
            }
        }
        false
    }

    fn token(&self) -> &Token {
        self.0.token()
    }

    fn token_mut(&mut self) -> &mut Token {
        self.0.token_mut()
    }
}

/// Adds the camel-case parts of each word after it, at its position (not of ids).
#[derive(Clone, Debug)]
pub struct CamelParts;

impl TokenFilter for CamelParts {
    type Tokenizer<T: Tokenizer> = CamelPartsFilter<T>;

    fn transform<T: Tokenizer>(self, tokenizer: T) -> CamelPartsFilter<T> {
        CamelPartsFilter {
            inner: tokenizer,
            pending: Vec::new(),
        }
    }
}

#[derive(Clone, Debug)]
pub struct CamelPartsFilter<T> {
    inner: T,
    pending: Vec<Token>,
}

impl<T: Tokenizer> Tokenizer for CamelPartsFilter<T> {
    type TokenStream<'a> = CamelPartsStream<'a, T::TokenStream<'a>>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.pending.clear();
        CamelPartsStream {
            tail: self.inner.token_stream(text),
            pending: &mut self.pending,
        }
    }
}

/// Serves each word, then its parts: `pending` is a stack whose top is the token served.
#[derive(Debug)]
pub struct CamelPartsStream<'a, T> {
    tail: T,
    pending: &'a mut Vec<Token>,
}

impl<T: TokenStream> CamelPartsStream<'_, T> {
    fn split(&mut self) {
        let token = self.tail.token();
        if is_id(&token.text) {
            return;
        }
        let cuts = camel_cuts(&token.text);
        if cuts.is_empty() {
            return;
        }
        let text = token.text.as_str();
        let mut ends: Vec<usize> = cuts.clone();
        ends.push(text.len());
        let mut start = 0;
        let mut parts = Vec::with_capacity(ends.len());
        for end in ends {
            parts.push(Token {
                offset_from: token.offset_from + start,
                offset_to: token.offset_from + end,
                text: text[start..end].to_owned(),
                ..*token
            });
            start = end;
        }
        self.pending.extend(parts.into_iter().rev());
        self.pending.push(token.clone());
    }
}

impl<T: TokenStream> TokenStream for CamelPartsStream<'_, T> {
    fn advance(&mut self) -> bool {
        self.pending.pop();
        if !self.pending.is_empty() {
            return true;
        }
        if !self.tail.advance() {
            return false;
        }
        self.split();
        true
    }

    fn token(&self) -> &Token {
        self.pending.last().unwrap_or_else(|| self.tail.token())
    }

    fn token_mut(&mut self) -> &mut Token {
        match self.pending.last_mut() {
            Some(t) => t,
            None => self.tail.token_mut(),
        }
    }
}

/// Byte offsets where a camel-case word's parts start (after the first): before an uppercase
/// letter that follows a lowercase letter or a digit (`connectionRefused`, `ipv6Addr`), and before the last capital of a
/// run followed by a lowercase letter (`HTTPServer`). Empty for words of one part, and for
/// words with other than ASCII letters and digits.
fn camel_cuts(word: &str) -> Vec<usize> {
    let b = word.as_bytes();
    if !b.iter().all(u8::is_ascii_alphanumeric) {
        return Vec::new();
    }
    let mut cuts = Vec::new();
    for i in 1..b.len() {
        let (prev, cur) = (b[i - 1], b[i]);
        let next_lower = b.get(i + 1).is_some_and(u8::is_ascii_lowercase);
        if cur.is_ascii_uppercase()
            && (prev.is_ascii_lowercase()
                || (i > 1 && prev.is_ascii_digit())
                || (prev.is_ascii_uppercase() && next_lower))
        {
            cuts.push(i);
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(text: &str) -> Vec<(String, usize)> {
        let index = Index::create_in_ram(tantivy::schema::Schema::builder().build());
        register(&index);
        let mut analyzer = index.tokenizers().get(NAME).expect("registered");
        let mut stream = analyzer.token_stream(text);
        let mut out = Vec::new();
        while stream.advance() {
            let t = stream.token();
            out.push((t.text.clone(), t.position));
        }
        out
    }

    #[test]
    fn camel_case_words_are_indexed_whole_and_by_their_parts() {
        let t = |s: &str, p: usize| (s.to_owned(), p);
        assert_eq!(
            tokens("ConnectionRefusedError: [Errno 111] Connection refused"),
            vec![
                t("connectionrefusederror", 0),
                t("connection", 0),
                t("refused", 0),
                t("error", 0),
                t("errno", 1),
                t("111", 2),
                t("connection", 3),
                t("refused", 4),
            ]
        );
        assert_eq!(
            tokens("Error: connect ECONNREFUSED 127.0.0.1:9"),
            vec![
                t("error", 0),
                t("connect", 1),
                t("econnrefused", 2),
                t("127", 3),
                t("0", 4),
                t("0", 5),
                t("1", 6),
                t("9", 7),
            ]
        );
        assert_eq!(
            tokens("HTTPServer"),
            vec![t("httpserver", 0), t("http", 0), t("server", 0)]
        );
    }

    #[test]
    fn cuts_fall_on_case_changes_only() {
        assert_eq!(camel_cuts("java"), Vec::<usize>::new());
        assert_eq!(camel_cuts("ECONNREFUSED"), Vec::<usize>::new());
        assert_eq!(camel_cuts("ipv6Addr"), vec![4]);
        assert_eq!(camel_cuts("getX"), vec![3]);
        assert_eq!(camel_cuts("ÉtéBon"), Vec::<usize>::new());
    }
}
