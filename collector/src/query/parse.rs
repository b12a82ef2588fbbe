//! Query text to [`Expr`]: a lexer that turns the text into operators and resolved terms (words
//! tokenized as the index tokenizes them, field filters, regular expressions), then a recursive
//! descent over `OR` < `AND` (or nothing) < `NOT`/`-`/`+`.
//!
//! Everything is checked here, once: a parsed [`Expr`] always converts to a tantivy query and
//! always matches (see `to_index` and `matcher`), so neither needs to report errors.

use std::fmt;

use logq_schemas::Level;
use regex::{Regex, RegexBuilder};
use tantivy::tokenizer::{SimpleTokenizer, TokenStream, Tokenizer};

use super::QueryError;
use crate::index::MAX_ATTR_VALUE_BYTES;
use crate::index::tokenizer::{self, MAX_WORD_BYTES};

/// Longest query text accepted, in bytes.
pub const MAX_QUERY_BYTES: usize = 64 * 1024;
/// Deepest nesting of parentheses and negations accepted (the parser, the matcher and the
/// tantivy query recurse once per level).
pub const MAX_DEPTH: usize = 64;
/// Largest compiled regular expression (of a `/regex/`, a scanned word or a glob).
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// A parsed query.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Every record.
    All,
    /// Message tokens at consecutive positions (one token: a word). Lowercased, each shorter
    /// than the 40 bytes the index keeps.
    Phrase(Vec<String>),
    /// Message tokens at consecutive positions, the last one a prefix of the token there.
    Prefix(Vec<String>),
    /// Text the index does not keep (with a word of 40 bytes or more): a case-insensitive
    /// substring of the message. Needs a scan.
    Scan(Substring),
    /// A regular expression over the message. Needs a scan.
    Regex(Pattern),
    /// The record's level; `None` for records without one (indexed as `none`).
    Level(Option<Level>),
    /// A keyword field's exact value (case-sensitive).
    Keyword {
        field: Keyword,
        value: String,
    },
    /// A keyword field's value by a glob (`*`, and for app and host `?`).
    KeywordGlob {
        field: Keyword,
        glob: Glob,
    },
    /// An `attrs` term `name=value`, lowercased (see [`crate::index::attr_term`]).
    Attr(String),
    /// A prefix of an `attrs` term: `name=` and the start of the value, lowercased.
    AttrPrefix(String),
    Not(Box<Expr>),
    /// All of them (at least two, none of them `All`).
    And(Vec<Expr>),
    /// Any of them (at least two, none of them `All`).
    Or(Vec<Expr>),
}

/// The exact-value fields other than level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keyword {
    App,
    Host,
    Stream,
}

impl Keyword {
    pub fn name(self) -> &'static str {
        match self {
            Keyword::App => "app",
            Keyword::Host => "host",
            Keyword::Stream => "stream",
        }
    }
}

/// The regular expression (without anchors: tantivy's automata are always anchored) of a
/// glob: `*` any run, `?` any one character when `question`, everything else literal.
pub fn glob_pattern(glob: &str, question: bool) -> String {
    let mut pattern = String::from("(?s:");
    for c in glob.chars() {
        match c {
            '*' => pattern.push_str(".*"),
            '?' if question => pattern.push('.'),
            c => pattern.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    pattern.push(')');
    pattern
}

/// A glob over a whole keyword value, as a regular expression both the `regex` crate and
/// tantivy's term automaton read the same way.
#[derive(Debug, Clone)]
pub struct Glob {
    /// What the query said.
    pub glob: String,
    /// The regular expression, without anchors (tantivy's are always anchored).
    pub pattern: String,
    /// `pattern`, anchored, for matching values directly.
    pub(super) anchored: Regex,
}

impl Glob {
    /// The glob (`?` one character only when `question`); a pattern too complex for the
    /// index's automaton or the regex engine is refused here rather than when searched.
    pub fn new(glob: &str, question: bool) -> Result<Glob, String> {
        let pattern = glob_pattern(glob, question);
        let too_complex =
            |reason: String| format!("the pattern `{glob}` is too complex to search for: {reason}");
        tantivy::query::RegexQuery::from_pattern(&pattern, any_field())
            .map_err(|e| too_complex(e.to_string()))?;
        let anchored = RegexBuilder::new(&format!(r"\A{pattern}\z"))
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| too_complex(regex_reason(&e)))?;
        Ok(Glob {
            glob: glob.to_owned(),
            pattern,
            anchored,
        })
    }

    /// Whether `value` matches the whole glob.
    pub fn matches(&self, value: &str) -> bool {
        self.anchored.is_match(value)
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Glob) -> bool {
        self.pattern == other.pattern
    }
}

/// A `/regex/` of the query.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub regex: Regex,
    pub case_insensitive: bool,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.regex.as_str() == other.regex.as_str()
            && self.case_insensitive == other.case_insensitive
    }
}

/// A case-insensitive substring.
#[derive(Debug, Clone)]
pub struct Substring {
    pub text: String,
    pub(super) regex: Regex,
}

impl PartialEq for Substring {
    fn eq(&self, other: &Substring) -> bool {
        self.text == other.text
    }
}

impl Expr {
    /// Whether the index cannot answer it: it holds a regular expression, a word longer than
    /// the index keeps or an id (a word, or a field's value, the index leaves out), anywhere
    /// (even negated).
    pub fn needs_scan(&self) -> bool {
        match self {
            Expr::Scan(_) | Expr::Regex(_) => true,
            // Ids are not in the index (`tokenizer::is_id`); a prefix's last word is not
            // asked whole.
            Expr::Phrase(words) => words.iter().any(|w| tokenizer::is_id(w)),
            Expr::Prefix(words) => words
                .split_last()
                .is_some_and(|(_, whole)| whole.iter().any(|w| tokenizer::is_id(w))),
            Expr::Attr(term) => crate::index::attr_is_id(term),
            Expr::Not(e) => e.needs_scan(),
            Expr::And(es) | Expr::Or(es) => es.iter().any(Expr::needs_scan),
            Expr::All
            | Expr::Level(_)
            | Expr::Keyword { .. }
            | Expr::KeywordGlob { .. }
            | Expr::AttrPrefix(_) => false,
        }
    }

    fn not(self) -> Expr {
        match self {
            Expr::Not(e) => *e,
            e => Expr::Not(Box::new(e)),
        }
    }

    fn and(items: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::All => {}
                Expr::And(es) => flat.extend(es),
                e => flat.push(e),
            }
        }
        match flat.len() {
            0 => Expr::All,
            1 => flat.pop().unwrap_or(Expr::All),
            _ => Expr::And(flat),
        }
    }

    fn or(items: Vec<Expr>) -> Expr {
        let mut flat = Vec::with_capacity(items.len());
        for e in items {
            match e {
                Expr::All => return Expr::All,
                Expr::Or(es) => flat.extend(es),
                e => flat.push(e),
            }
        }
        match flat.len() {
            0 => Expr::All,
            1 => flat.pop().unwrap_or(Expr::All),
            _ => Expr::Or(flat),
        }
    }
}

/// Parses a query; empty or `*` is [`Expr::All`].
pub fn parse(text: &str) -> Result<Expr, QueryError> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(QueryError {
            message: format!("the query is longer than {MAX_QUERY_BYTES} bytes"),
            at: text
                .char_indices()
                .take_while(|(i, _)| *i < MAX_QUERY_BYTES)
                .count(),
        });
    }
    let tokens = Lexer { text, pos: 0 }.run()?;
    let mut parser = Parser {
        text,
        tokens,
        next: 0,
        depth: 0,
    };
    if parser.tokens.is_empty() {
        return Ok(Expr::All);
    }
    let expr = parser.or()?;
    match parser.peek() {
        None => Ok(expr),
        Some(t) => Err(parser.error(t.at, "unmatched `)`: no `(` opens it".into())),
    }
}

/// The character offset of byte offset `at` of `text`.
fn char_offset(text: &str, at: usize) -> usize {
    text.get(..at).map_or(at, |s| s.chars().count())
}

fn error_at(text: &str, at: usize, message: String) -> QueryError {
    QueryError {
        message,
        at: char_offset(text, at),
    }
}

#[derive(Debug)]
enum Tok {
    Open,
    Close,
    And,
    Or,
    Not,
    /// `-` glued to the term after it.
    Minus,
    /// `+` glued to the term after it.
    Plus,
    Term(Expr),
}

impl Tok {
    fn starts_term(&self) -> bool {
        matches!(
            self,
            Tok::Open | Tok::Not | Tok::Minus | Tok::Plus | Tok::Term(_)
        )
    }

    fn operator(&self) -> &'static str {
        match self {
            Tok::Open => "(",
            Tok::Close => ")",
            Tok::And => "AND",
            Tok::Or => "OR",
            Tok::Not => "NOT",
            Tok::Minus => "-",
            Tok::Plus => "+",
            Tok::Term(_) => "term",
        }
    }
}

#[derive(Debug)]
struct Lexed {
    tok: Tok,
    /// Byte offset in the query text.
    at: usize,
}

struct Lexer<'a> {
    text: &'a str,
    /// Byte offset of the next character.
    pos: usize,
}

/// Ends a bare word (and a field filter's bare value).
fn ends_word(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '"')
}

impl<'a> Lexer<'a> {
    fn run(mut self) -> Result<Vec<Lexed>, QueryError> {
        let mut out = Vec::new();
        while let Some(c) = self.peek_char() {
            let at = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
                continue;
            }
            let tok = match c {
                '(' => {
                    self.pos += 1;
                    Tok::Open
                }
                ')' => {
                    self.pos += 1;
                    Tok::Close
                }
                '"' => {
                    let phrase = self.quoted()?;
                    Tok::Term(self.phrase(&phrase, at)?)
                }
                // A run of signs alone (`---`) is a word, refused as such.
                '-' | '+'
                    if !self.text[at..].split(ends_word).next().is_some_and(|run| {
                        run.len() > 1 && run.chars().all(|c| matches!(c, '-' | '+'))
                    }) =>
                {
                    self.pos += 1;
                    match self.peek_char() {
                        Some(n) if !n.is_whitespace() && n != ')' => {}
                        _ => {
                            return Err(self.error(
                                at,
                                format!(
                                    "`{c}` needs a term right after it, without a space \
                                     (as in `{c}word`)"
                                ),
                            ));
                        }
                    }
                    if c == '-' { Tok::Minus } else { Tok::Plus }
                }
                '/' => match self.regex()? {
                    Some(expr) => Tok::Term(expr),
                    None => self.word()?,
                },
                _ => self.word()?,
            };
            out.push(Lexed { tok, at });
        }
        Ok(out)
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.pos..].chars().next()
    }

    fn error(&self, at: usize, message: String) -> QueryError {
        error_at(self.text, at, message)
    }

    /// Reads a quoted string at `self.pos` (on its opening quote): `\"` is a quote and `\\` a
    /// backslash; any other backslash is itself.
    fn quoted(&mut self) -> Result<String, QueryError> {
        let open = self.pos;
        let mut out = String::new();
        let mut chars = self.text[open + 1..].char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.pos = open + 1 + i + 1;
                    return Ok(out);
                }
                '\\' => match chars.clone().next() {
                    Some((_, e @ ('"' | '\\'))) => {
                        chars.next();
                        out.push(e);
                    }
                    _ => out.push('\\'),
                },
                c => out.push(c),
            }
        }
        Err(self.error(
            open,
            "unclosed quote: a `\"` opens a phrase that no `\"` closes (write `\\\"` for a \
             quote inside one)"
                .into(),
        ))
    }

    /// A `/PATTERN/` or `/PATTERN/i` at `self.pos`, or `None` (and nothing read) when the text
    /// there is not one: no closing `/`, or the closing `/` and flags are followed by something
    /// other than a space, `)` or the end (`/usr/bin/env` is a word).
    fn regex(&mut self) -> Result<Option<Expr>, QueryError> {
        let open = self.pos;
        let rest = &self.text[open + 1..];
        let mut close = None;
        let mut escaped = false;
        for (i, c) in rest.char_indices() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '/' => {
                    close = Some(i);
                    break;
                }
                _ => {}
            }
        }
        let Some(close) = close else {
            return Ok(None);
        };
        let after = &rest[close + 1..];
        let case_insensitive = after.starts_with('i');
        let flags = usize::from(case_insensitive);
        if after[flags..]
            .chars()
            .next()
            .is_some_and(|c| !c.is_whitespace() && c != ')')
        {
            return Ok(None);
        }
        let source = &rest[..close];
        if source.is_empty() {
            return Err(self.error(open, "empty regular expression `//`".into()));
        }
        let regex = RegexBuilder::new(source)
            .case_insensitive(case_insensitive)
            .size_limit(REGEX_SIZE_LIMIT)
            .build()
            .map_err(|e| {
                self.error(
                    open,
                    format!(
                        "invalid regular expression /{source}/: {}",
                        regex_reason(&e)
                    ),
                )
            })?;
        self.pos = open + 1 + close + 1 + flags;
        Ok(Some(Expr::Regex(Pattern {
            regex,
            case_insensitive,
        })))
    }

    /// A bare word at `self.pos`: an operator, a field filter or words of the message.
    fn word(&mut self) -> Result<Tok, QueryError> {
        let at = self.pos;
        let len = self.text[at..]
            .find(ends_word)
            .unwrap_or(self.text.len() - at);
        let word = &self.text[at..at + len];
        self.pos = at + len;
        match word {
            "AND" => return Ok(Tok::And),
            "OR" => return Ok(Tok::Or),
            "NOT" => return Ok(Tok::Not),
            _ => {}
        }
        if let Some((name, value)) = word.split_once(':')
            && is_field_name(name)
            && !value.starts_with("//")
            && !value.starts_with(':')
        {
            let value_at = at + name.len() + 1;
            if !value.is_empty() {
                return Ok(Tok::Term(self.field(name, value, false, value_at)?));
            }
            match self.peek_char() {
                Some('"') => {
                    let value = self.quoted()?;
                    return Ok(Tok::Term(self.field(name, &value, true, value_at)?));
                }
                Some('(') => {
                    return Err(self.error(
                        value_at,
                        format!(
                            "a field filter takes one value: write `({name}:a OR {name}:b)` \
                             rather than `{name}:(a OR b)`"
                        ),
                    ));
                }
                _ => {}
            }
        }
        Ok(Tok::Term(self.bare(word, at)?))
    }

    /// A bare word of the message: words, a prefix (`foo*`) or everything (`*`).
    fn bare(&self, word: &str, at: usize) -> Result<Expr, QueryError> {
        if word == "*" {
            return Ok(Expr::All);
        }
        match word.find('*') {
            None => self.text_of(word, false, at, word),
            Some(star) if star == word.len() - 1 => self.text_of(&word[..star], true, at, word),
            Some(star) => Err(self.error(
                at + star,
                format!(
                    "`*` in `{word}` is not at the end of the word: a `*` only ends a prefix \
                     (`timeout*`); use /regex/ for other patterns"
                ),
            )),
        }
    }

    /// Words of the message as the index tokenizes them: a phrase of the tokens (a prefix when
    /// `prefix`), or a scan for a word the index does not keep. `shown` is the text to name in
    /// an error.
    fn text_of(
        &self,
        text: &str,
        prefix: bool,
        at: usize,
        shown: &str,
    ) -> Result<Expr, QueryError> {
        let mut simple = SimpleTokenizer::default();
        let mut raw = simple.token_stream(text);
        let (mut any, mut too_long) = (false, false);
        while raw.advance() {
            any = true;
            // As the index's `RemoveLongFilter`, which keeps lengths below the limit only.
            too_long |= raw.token().text.len() >= MAX_WORD_BYTES;
        }
        if !any {
            return Err(self.error(
                at,
                format!("`{shown}` has no letters or digits to search for; use /regex/ to find it"),
            ));
        }
        if too_long {
            let regex = RegexBuilder::new(&regex::escape(text))
                .case_insensitive(true)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| {
                    self.error(
                        at,
                        format!("`{shown}` is too long to search for: {}", regex_reason(&e)),
                    )
                })?;
            return Ok(Expr::Scan(Substring {
                text: text.to_owned(),
                regex,
            }));
        }
        let mut analyzer = tokenizer::for_query_words();
        let mut stream = analyzer.token_stream(text);
        let mut tokens = Vec::new();
        while stream.advance() {
            tokens.push(stream.token().text.clone());
        }
        Ok(if prefix {
            Expr::Prefix(tokens)
        } else {
            Expr::Phrase(tokens)
        })
    }

    /// A quoted phrase of the message (opening quote at `at`).
    fn phrase(&self, phrase: &str, at: usize) -> Result<Expr, QueryError> {
        self.text_of(phrase, false, at, &format!("\"{phrase}\""))
    }

    /// A field filter `name:value`; `value_at` is where the value starts in the text.
    fn field(
        &self,
        name: &str,
        value: &str,
        quoted: bool,
        value_at: usize,
    ) -> Result<Expr, QueryError> {
        let lower = name.to_ascii_lowercase();
        let keyword = match lower.as_str() {
            "level" => return self.level(value, value_at),
            "message" if quoted => return self.phrase(value, value_at),
            "message" => return self.bare(value, value_at),
            "app" => Some(Keyword::App),
            "host" => Some(Keyword::Host),
            "stream" => Some(Keyword::Stream),
            _ => None,
        };
        let star = if quoted { None } else { value.find('*') };
        if let Some(field) = keyword {
            // App and host names are globbed; streams (often paths) take a trailing `*` only.
            let globs = field != Keyword::Stream;
            let is_glob = match star {
                _ if quoted => false,
                _ if globs => value.contains(['*', '?']),
                None => false,
                Some(s) if s == value.len() - 1 => true,
                Some(s) => return Err(self.misplaced_star(name, value, value_at + s)),
            };
            return Ok(if is_glob {
                Expr::KeywordGlob {
                    field,
                    glob: self.glob(value, globs, value_at)?,
                }
            } else {
                Expr::Keyword {
                    field,
                    value: value.to_owned(),
                }
            });
        }
        let (value, prefix) = match star {
            None => (value, false),
            Some(s) if s == value.len() - 1 => (&value[..s], true),
            Some(s) => return Err(self.misplaced_star(name, value, value_at + s)),
        };
        if value.len() > MAX_ATTR_VALUE_BYTES {
            return Err(self.error(
                value_at,
                format!(
                    "field values longer than {MAX_ATTR_VALUE_BYTES} bytes are not indexed: \
                     search for the words of `{value}` instead of `{name}:`"
                ),
            ));
        }
        let term = format!("{name}={value}").to_lowercase();
        if !prefix {
            return Ok(Expr::Attr(term));
        }
        // Refused here rather than when the index query is built (a long name makes too many
        // automaton states).
        tantivy::query::RegexQuery::from_pattern(&prefix_pattern(&term), any_field()).map_err(
            |e| {
                self.error(
                    value_at,
                    format!("the prefix `{name}:{value}*` is too long to search for: {e}"),
                )
            },
        )?;
        Ok(Expr::AttrPrefix(term))
    }

    fn misplaced_star(&self, name: &str, value: &str, at: usize) -> QueryError {
        self.error(
            at,
            format!(
                "`*` in `{name}:{value}` is not at the end of the value: a `*` only ends a \
                 prefix (`status:5*`); only app and host take `*` and `?` anywhere"
            ),
        )
    }

    fn level(&self, value: &str, at: usize) -> Result<Expr, QueryError> {
        if value.eq_ignore_ascii_case("none") {
            return Ok(Expr::Level(None));
        }
        match Level::from_alias(value) {
            Some(level) => Ok(Expr::Level(Some(level))),
            None => Err(self.error(
                at,
                format!(
                    "unknown level `{value}`: levels are {} and none (for records without one)",
                    Level::ALL.map(Level::as_str).join(", ")
                ),
            )),
        }
    }

    /// The glob of a keyword value: `*` any text; `?` one character when `question` (else
    /// itself).
    fn glob(&self, glob: &str, question: bool, at: usize) -> Result<Glob, QueryError> {
        Glob::new(glob, question).map_err(|message| self.error(at, message))
    }
}

/// The tantivy regular expression of the terms that start with `start`.
pub(super) fn prefix_pattern(start: &str) -> String {
    format!("(?s:{}.*)", regex::escape(start))
}

/// A field for compiling a tantivy regex query only to see that it compiles.
fn any_field() -> tantivy::schema::Field {
    tantivy::schema::Field::from_field_id(0)
}

/// `[A-Za-z_][A-Za-z0-9_.]*`
fn is_field_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The one-line reason of a regex error (a syntax error's display spans lines, pointing into
/// the pattern).
fn regex_reason(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.trim().strip_prefix("error: "))
        .map_or_else(
            || text.split_whitespace().collect::<Vec<_>>().join(" "),
            str::to_owned,
        )
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<Lexed>,
    next: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Lexed> {
        self.tokens.get(self.next)
    }

    fn error(&self, at: usize, message: String) -> QueryError {
        error_at(self.text, at, message)
    }

    /// Fails unless a term starts at the next token; `after` is the index of the operator just
    /// read, if any.
    fn expect_term(&self, after: Option<usize>) -> Result<(), QueryError> {
        let next = self.peek();
        if next.is_some_and(|t| t.tok.starts_term()) {
            return Ok(());
        }
        Err(match (after.and_then(|i| self.tokens.get(i)), next) {
            (Some(op), _) => self.error(
                op.at,
                format!("`{}` needs a term after it", op.tok.operator()),
            ),
            (
                None,
                Some(
                    t @ Lexed {
                        tok: Tok::And | Tok::Or,
                        ..
                    },
                ),
            ) => self.error(
                t.at,
                format!("`{}` needs a term before it", t.tok.operator()),
            ),
            (None, Some(t)) => self.error(t.at, "unmatched `)`: no `(` opens it".into()),
            (None, None) => self.error(self.text.len(), "a term is missing at the end".into()),
        })
    }

    /// `and (OR and)*`
    fn or(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.and()?];
        while self.peek().is_some_and(|t| matches!(t.tok, Tok::Or)) {
            self.next += 1;
            self.expect_term(Some(self.next - 1))?;
            items.push(self.and()?);
        }
        Ok(Expr::or(items))
    }

    /// `unary ([AND] unary)*`
    fn and(&mut self) -> Result<Expr, QueryError> {
        let mut items = vec![self.unary()?];
        loop {
            match self.peek().map(|t| &t.tok) {
                Some(Tok::And) => {
                    self.next += 1;
                    self.expect_term(Some(self.next - 1))?;
                }
                Some(t) if t.starts_term() => {}
                _ => break,
            }
            items.push(self.unary()?);
        }
        Ok(Expr::and(items))
    }

    /// `(NOT | - | +) unary | ( or ) | term`
    fn unary(&mut self) -> Result<Expr, QueryError> {
        self.expect_term(None)?;
        let index = self.next;
        let at = self.tokens[index].at;
        if self.depth >= MAX_DEPTH && !matches!(self.tokens[index].tok, Tok::Term(_)) {
            return Err(self.error(
                at,
                format!("the query nests parentheses and negations more than {MAX_DEPTH} deep"),
            ));
        }
        self.next += 1;
        self.depth += 1;
        // Each token is read once: take it.
        let expr = match std::mem::replace(&mut self.tokens[index].tok, Tok::Close) {
            tok @ (Tok::Not | Tok::Minus | Tok::Plus) => {
                self.tokens[index].tok = tok;
                self.expect_term(Some(index))?;
                let e = self.unary()?;
                match self.tokens[index].tok {
                    Tok::Plus => e,
                    _ => e.not(),
                }
            }
            Tok::Open => self.group(at)?,
            Tok::Term(e) => e,
            // `expect_term` lets only the start of a term through.
            tok @ (Tok::Close | Tok::And | Tok::Or) => {
                return Err(self.error(at, format!("unexpected `{}`", tok.operator())));
            }
        };
        self.depth -= 1;
        Ok(expr)
    }

    /// The rest of a group whose `(` is at byte `open`.
    fn group(&mut self, open: usize) -> Result<Expr, QueryError> {
        let unclosed = |p: &Self| p.error(open, "unclosed `(`: no `)` closes it".into());
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Close) => return Err(self.error(open, "empty parentheses `()`".into())),
            None => return Err(unclosed(self)),
            _ => {}
        }
        let expr = self.or()?;
        match self.peek().map(|t| &t.tok) {
            Some(Tok::Close) => {
                self.next += 1;
                Ok(expr)
            }
            _ => Err(unclosed(self)),
        }
    }
}

impl fmt::Display for Expr {
    /// The query as the language would write it (for logs and tests).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |f: &mut fmt::Formatter<'_>, es: &[Expr], sep: &str| {
            f.write_str("(")?;
            for (i, e) in es.iter().enumerate() {
                if i > 0 {
                    f.write_str(sep)?;
                }
                write!(f, "{e}")?;
            }
            f.write_str(")")
        };
        match self {
            Expr::All => f.write_str("*"),
            Expr::Phrase(t) if t.len() == 1 => f.write_str(&t[0]),
            Expr::Phrase(t) => write!(f, "\"{}\"", t.join(" ")),
            Expr::Prefix(t) if t.len() == 1 => write!(f, "{}*", t[0]),
            Expr::Prefix(t) => write!(f, "\"{}\"*", t.join(" ")),
            Expr::Scan(s) => write!(f, "{:?}", s.text),
            Expr::Regex(p) => {
                write!(
                    f,
                    "/{}/{}",
                    p.regex.as_str(),
                    if p.case_insensitive { "i" } else { "" }
                )
            }
            Expr::Level(l) => write!(f, "level:{}", l.map_or("none", Level::as_str)),
            Expr::Keyword { field, value } => write!(f, "{}:{value:?}", field.name()),
            Expr::KeywordGlob { field, glob } => write!(f, "{}:{}", field.name(), glob.glob),
            Expr::Attr(t) => write!(f, "attrs:{t:?}"),
            Expr::AttrPrefix(t) => write!(f, "attrs:{t:?}*"),
            Expr::Not(e) => write!(f, "-{e}"),
            Expr::And(es) => list(f, es, " "),
            Expr::Or(es) => list(f, es, " OR "),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Expr {
        parse(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn err(text: &str) -> QueryError {
        match parse(text) {
            Ok(e) => panic!("{text:?} parsed as {e}"),
            Err(e) => e,
        }
    }

    /// Asserts that `text` is refused at character `at` with a message containing `says`.
    fn refused(text: &str, at: usize, says: &str) {
        let e = err(text);
        assert!(e.message.contains(says), "{text:?}: {e}");
        assert_eq!(e.at, at, "{text:?}: {e}");
    }

    fn words(tokens: &[&str]) -> Expr {
        Expr::Phrase(tokens.iter().map(|t| (*t).to_owned()).collect())
    }

    fn w(token: &str) -> Expr {
        words(&[token])
    }

    fn prefix(tokens: &[&str]) -> Expr {
        Expr::Prefix(tokens.iter().map(|t| (*t).to_owned()).collect())
    }

    fn not(e: Expr) -> Expr {
        Expr::Not(Box::new(e))
    }

    fn attr(term: &str) -> Expr {
        Expr::Attr(term.to_owned())
    }

    fn keyword(field: Keyword, value: &str) -> Expr {
        Expr::Keyword {
            field,
            value: value.to_owned(),
        }
    }

    #[test]
    fn words_are_tokenized_as_the_index_does() {
        assert_eq!(p("ECONNREFUSED"), w("econnrefused"));
        assert_eq!(p("ConnectionRefusedError"), w("connectionrefusederror"));
        assert_eq!(p("192.168.0.1"), words(&["192", "168", "0", "1"]));
        assert_eq!(p("req-abc123"), words(&["req", "abc123"]));
        assert_eq!(p("foo_bar"), words(&["foo", "bar"]));
        assert_eq!(p("HÉLLO"), w("héllo"));
        assert_eq!(p("naïve,café"), words(&["naïve", "café"]));
        assert_eq!(p("http://x"), words(&["http", "x"]));
        assert_eq!(p("12:30:45"), words(&["12", "30", "45"]));
        assert_eq!(p("fe80::1"), words(&["fe80", "1"]));
        assert_eq!(p("std::io::Error"), words(&["std", "io", "error"]));
        assert_eq!(p("status:"), w("status"));
        assert_eq!(
            p("and or not"),
            Expr::And(vec![w("and"), w("or"), w("not")])
        );
        assert_eq!(p(""), Expr::All);
        assert_eq!(p("  \t "), Expr::All);
        assert!(!p("192.168.0.1").needs_scan());
    }

    #[test]
    fn words_without_letters_or_digits_are_refused() {
        refused(
            "---",
            0,
            "`---` has no letters or digits to search for; use /regex/",
        );
        refused("a ✓", 2, "`✓` has no letters or digits");
        refused("\"--\"", 0, "`\"--\"` has no letters or digits");
        refused("\"\"", 0, "has no letters or digits");
        refused("a .*", 2, "`.*` has no letters or digits");
        refused("message:--", 8, "has no letters or digits");
    }

    #[test]
    fn words_the_index_does_not_keep_are_scanned() {
        let long = "a".repeat(MAX_WORD_BYTES);
        let e = p(&format!("x-{long}"));
        assert!(
            matches!(&e, Expr::Scan(s) if s.text == format!("x-{long}")),
            "{e}"
        );
        assert!(e.needs_scan());
        // The index's filter keeps words shorter than the limit only.
        assert_eq!(p(&long[1..]), w(&long[1..]));
        assert!(p(&format!("\"b {long}\"")).needs_scan());
        assert!(p(&format!("{long}*")).needs_scan());
        assert!(p(&format!("a -{long}")).needs_scan());
        let Expr::Scan(s) = p(&long.to_uppercase()) else {
            panic!("not a scan")
        };
        assert!(s.regex.is_match(&format!("xx{long}xx")));
    }

    #[test]
    fn phrases_are_quoted() {
        assert_eq!(
            p("\"Connection Refused\""),
            words(&["connection", "refused"])
        );
        assert_eq!(p(r#""say \"hi\" now""#), words(&["say", "hi", "now"]));
        assert_eq!(
            p(r#"a"b c"d"#),
            Expr::And(vec![w("a"), words(&["b", "c"]), w("d")])
        );
        assert_eq!(p("\"a*\""), w("a"));
        refused("\"abc", 0, "unclosed quote");
        refused("a \"b\" \"c", 6, "unclosed quote");
        refused(r#""a\""#, 0, "unclosed quote");
    }

    #[test]
    fn a_star_ends_a_prefix_or_means_everything() {
        assert_eq!(p("timeout*"), prefix(&["timeout"]));
        assert_eq!(p("TimeOut*"), prefix(&["timeout"]));
        assert_eq!(p("192.168.*"), prefix(&["192", "168"]));
        assert_eq!(p("req-a*"), prefix(&["req", "a"]));
        assert_eq!(p("*"), Expr::All);
        assert_eq!(p(" * "), Expr::All);
        assert_eq!(p("a *"), w("a"));
        assert_eq!(p("* a"), w("a"));
        assert_eq!(p("a OR *"), Expr::All);
        assert_eq!(p("-*"), not(Expr::All));
        assert_eq!(p("message:*"), Expr::All);
        refused("*foo", 0, "`*` in `*foo` is not at the end of the word");
        refused("ab fo*o", 5, "use /regex/");
        refused("a**", 1, "not at the end");
        refused("*.*", 0, "not at the end");
    }

    #[test]
    fn operators_bind_not_then_and_then_or() {
        let (a, b, c) = (w("a"), w("b"), w("c"));
        assert_eq!(p("a b"), Expr::And(vec![a.clone(), b.clone()]));
        assert_eq!(p("a AND b"), p("a b"));
        assert_eq!(p("a OR b"), Expr::Or(vec![a.clone(), b.clone()]));
        assert_eq!(
            p("a OR b c"),
            Expr::Or(vec![a.clone(), Expr::And(vec![b.clone(), c.clone()])])
        );
        assert_eq!(
            p("a b OR c"),
            Expr::Or(vec![Expr::And(vec![a.clone(), b.clone()]), c.clone()])
        );
        assert_eq!(
            p("a AND b OR c AND NOT a"),
            Expr::Or(vec![
                Expr::And(vec![a.clone(), b.clone()]),
                Expr::And(vec![c.clone(), not(a.clone())])
            ])
        );
        assert_eq!(p("NOT a b"), Expr::And(vec![not(a.clone()), b.clone()]));
        assert_eq!(p("-a -b"), Expr::And(vec![not(a.clone()), not(b.clone())]));
        assert_eq!(p("-a"), not(a.clone()));
        assert_eq!(p("NOT a"), not(a.clone()));
        assert_eq!(p("NOT NOT a"), a.clone());
        assert_eq!(p("--a"), a.clone());
        assert_eq!(p("+a"), a.clone());
        assert_eq!(p("+a -b"), Expr::And(vec![a.clone(), not(b.clone())]));
        assert_eq!(
            p("(a OR b) -c"),
            Expr::And(vec![Expr::Or(vec![a.clone(), b.clone()]), not(c.clone())])
        );
        assert_eq!(
            p("a -(b OR c)"),
            Expr::And(vec![a.clone(), not(Expr::Or(vec![b.clone(), c.clone()]))])
        );
        assert_eq!(
            p("a (b c) (d)"),
            Expr::And(vec![a.clone(), b.clone(), c.clone(), w("d")])
        );
        assert_eq!(p("((a))"), a.clone());
        assert_eq!(
            p("a OR (b OR c)"),
            Expr::Or(vec![a.clone(), b.clone(), c.clone()])
        );
        assert_eq!(p("a-b"), words(&["a", "b"]));
        assert_eq!(p("a Or b"), Expr::And(vec![a, w("or"), b]));
    }

    #[test]
    fn misplaced_operators_and_parentheses_are_refused_where_they_are() {
        refused("OR a", 0, "`OR` needs a term before it");
        refused("a OR", 2, "`OR` needs a term after it");
        refused("a AND", 2, "`AND` needs a term after it");
        refused("AND a", 0, "`AND` needs a term before it");
        refused("a AND OR b", 2, "`AND` needs a term after it");
        refused("a OR OR b", 2, "`OR` needs a term after it");
        refused("a NOT", 2, "`NOT` needs a term after it");
        refused("NOT", 0, "`NOT` needs a term after it");
        refused("(a OR) b", 3, "`OR` needs a term after it");
        refused("a ()", 2, "empty parentheses");
        refused("(a", 0, "unclosed `(`");
        refused("a (b OR c", 2, "unclosed `(`");
        refused("((a)", 0, "unclosed `(`");
        refused("a)", 1, "unmatched `)`");
        refused(")", 0, "unmatched `)`");
        refused("(a) b)", 5, "unmatched `)`");
        refused("- a", 0, "`-` needs a term right after it");
        refused("a -", 2, "`-` needs a term right after it");
        refused("(a -)", 3, "`-` needs a term right after it");
        refused("+ a", 0, "`+` needs a term right after it");
        refused("NOT )", 0, "`NOT` needs a term after it");
    }

    #[test]
    fn offsets_count_characters_not_bytes() {
        refused("héllo ✓", 6, "`✓` has no letters or digits");
        refused("ünïcödé OR", 8, "`OR` needs a term after it");
        refused("\"é\" (", 4, "unclosed `(`");
    }

    #[test]
    fn nesting_is_bounded() {
        let deep = format!("{}a{}", "(".repeat(MAX_DEPTH), ")".repeat(MAX_DEPTH));
        assert_eq!(p(&deep), w("a"));
        let deeper = format!(
            "{}a{}",
            "(".repeat(MAX_DEPTH + 1),
            ")".repeat(MAX_DEPTH + 1)
        );
        refused(
            &deeper,
            MAX_DEPTH,
            "nests parentheses and negations more than",
        );
        let negations = format!("{}a", "-".repeat(10 * MAX_DEPTH));
        assert!(err(&negations).message.contains("nests"));
        let long = "a ".repeat(MAX_QUERY_BYTES);
        refused(&long, MAX_QUERY_BYTES, "longer than");
    }

    #[test]
    fn levels_take_aliases_and_none() {
        assert_eq!(p("level:error"), Expr::Level(Some(Level::Error)));
        assert_eq!(p("level:ERR"), Expr::Level(Some(Level::Error)));
        assert_eq!(p("Level:warning"), Expr::Level(Some(Level::Warn)));
        assert_eq!(p("level:\"info\""), Expr::Level(Some(Level::Info)));
        assert_eq!(p("level:none"), Expr::Level(None));
        assert_eq!(p("level:NONE"), Expr::Level(None));
        assert_eq!(p("-level:debug"), not(Expr::Level(Some(Level::Debug))));
        refused(
            "a level:loud",
            8,
            "unknown level `loud`: levels are trace, debug, info, warn, error, fatal and none",
        );
        refused("level:err*", 6, "unknown level");
        refused(
            "level:(error OR warn)",
            6,
            "write `(level:a OR level:b)` rather than `level:(a OR b)`",
        );
    }

    #[test]
    fn apps_hosts_and_streams_are_exact_or_globbed() {
        assert_eq!(p("app:web"), keyword(Keyword::App, "web"));
        assert_eq!(p("APP:Web"), keyword(Keyword::App, "Web"));
        assert_eq!(p("host:\"a b*\""), keyword(Keyword::Host, "a b*"));
        assert_eq!(p("stream:stderr"), keyword(Keyword::Stream, "stderr"));
        assert_eq!(p("stream:a?"), keyword(Keyword::Stream, "a?"));
        let glob = |text: &str| match p(text) {
            Expr::KeywordGlob { field, glob } => (field, glob),
            e => panic!("{text:?} is {e}"),
        };
        let (field, g) = glob("app:osm-*");
        assert_eq!((field, g.glob.as_str()), (Keyword::App, "osm-*"));
        assert!(g.anchored.is_match("osm-api") && g.anchored.is_match("osm-"));
        assert!(!g.anchored.is_match("xosm-api") && !g.anchored.is_match("osm"));
        let (field, g) = glob("host:web-?.x");
        assert_eq!(field, Keyword::Host);
        assert!(g.anchored.is_match("web-1.x") && g.anchored.is_match("web-é.x"));
        assert!(!g.anchored.is_match("web-12.x") && !g.anchored.is_match("web-1yx"));
        let (field, g) = glob("stream:/var/log/*");
        assert_eq!(field, Keyword::Stream);
        assert!(g.anchored.is_match("/var/log/a.log") && !g.anchored.is_match("/var/lo"));
        refused(
            "stream:/var/*/x",
            12,
            "`*` in `stream:/var/*/x` is not at the end of the value",
        );
        refused(
            "app:*a??????????????????",
            4,
            "the pattern `*a??????????????????` is too complex",
        );
    }

    #[test]
    fn other_fields_are_lowercased_attribute_terms() {
        assert_eq!(p("status:500"), attr("status=500"));
        assert_eq!(p("Method:GET"), attr("method=get"));
        assert_eq!(p("request_id:\"ABC def\""), attr("request_id=abc def"));
        assert_eq!(p("q:\"a*b\""), attr("q=a*b"));
        assert_eq!(p("user.name:Zoë"), attr("user.name=zoë"));
        assert_eq!(p("_x:1"), attr("_x=1"));
        assert_eq!(p("url:http://x/y"), attr("url=http://x/y"));
        assert_eq!(p("path:/a?b=1"), attr("path=/a?b=1"));
        assert_eq!(p("a:b:c"), attr("a=b:c"));
        assert_eq!(p("offset:-1"), attr("offset=-1"));
        assert_eq!(p("status:5*"), Expr::AttrPrefix("status=5".into()));
        assert_eq!(p("status:*"), Expr::AttrPrefix("status=".into()));
        refused(
            "path:/a*b",
            7,
            "`*` in `path:/a*b` is not at the end of the value",
        );
        let long = "v".repeat(MAX_ATTR_VALUE_BYTES + 1);
        refused(
            &format!("ua:{long}"),
            3,
            "values longer than 64 bytes are not indexed",
        );
        assert_eq!(
            p(&format!("ua:{}", &long[1..])),
            attr(&format!("ua={}", &long[1..]))
        );
        let long_name = "n".repeat(2000);
        refused(&format!("{long_name}:a*"), 2001, "too long to search for");
    }

    #[test]
    fn message_filters_are_words() {
        assert_eq!(p("message:Refused"), w("refused"));
        assert_eq!(p("message:\"a b\""), words(&["a", "b"]));
        assert_eq!(p("message:tim*"), prefix(&["tim"]));
        refused("message:*x", 8, "not at the end of the word");
    }

    #[test]
    fn regular_expressions_are_slash_delimited() {
        let re = |text: &str| match p(text) {
            Expr::Regex(pattern) => pattern,
            e => panic!("{text:?} is {e}"),
        };
        let r = re("/conn.*refused/i");
        assert!(r.case_insensitive && r.regex.is_match("connect ECONNREFUSED"));
        let r = re("/Refused$/");
        assert!(!r.case_insensitive && r.regex.is_match("Refused") && !r.regex.is_match("refused"));
        assert_eq!(re("(/a b/)").regex.as_str(), "a b");
        assert_eq!(re(r"/a\/b/").regex.as_str(), r"a\/b");
        assert!(re(r"/a\/b/").regex.is_match("a/b"));
        assert!(p("/x/").needs_scan());
        assert!(p("a -/x/i").needs_scan());
        assert!(p("a OR (b /x/)").needs_scan());
        assert!(matches!(p("-/x/"), Expr::Not(e) if matches!(*e, Expr::Regex(_))));
        assert_eq!(p("/usr/bin/env"), words(&["usr", "bin", "env"]));
        assert_eq!(p("/foo/g"), words(&["foo", "g"]));
        assert_eq!(p("/foo"), w("foo"));
        assert_eq!(p("a/b/"), words(&["a", "b"]));
        refused(
            "a /(unclosed/",
            2,
            "invalid regular expression /(unclosed/: unclosed group",
        );
        refused("//", 0, "empty regular expression");
        refused("/a{1000}{1000}/", 0, "invalid regular expression");
    }

    #[test]
    fn errors_read_as_one_line() {
        let e = err("/(a/");
        assert_eq!(
            e.to_string(),
            "invalid regular expression /(a/: unclosed group (at character 0 of the query)"
        );
    }

    #[test]
    fn display_writes_the_query_back() {
        let e = p("a OR b -c level:none app:w* status:5* \"x y\" z*");
        assert_eq!(
            e.to_string(),
            "(a OR (b -c level:none app:w* attrs:\"status=5\"* \"x y\" z*))"
        );
    }
}
