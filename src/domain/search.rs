//! A search query, parsed once at the edge from the syntax people know
//! from web search engines (PostgreSQL's `websearch_to_tsquery`): words
//! that must all match, `"a phrase"`, `-word` to exclude, and `or` between
//! two terms. Words are runs of letters and digits; everything else only
//! separates them (words joined by punctuation, like `e-mail`, are a
//! phrase). The parsed query is rendered for each backend (an FTS5
//! `MATCH` expression, a normalised websearch string) from words alone,
//! so no user text ever reaches either parser's operators; and it marks
//! where a message's text matches, as ranges a client can render safely.

use super::DomainError;

/// Longest query, in characters.
pub const MAX_QUERY_CHARS: usize = 256;

/// What to look for: every term matches (a term is one of its
/// alternatives), and none of the excluded ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// Each term is one or more phrases, any of which may match; a phrase
    /// is one or more words in a row.
    terms: Vec<Vec<Vec<String>>>,
    excluded: Vec<Vec<String>>,
}

/// One piece of the query as written.
#[derive(Debug, PartialEq)]
enum Token {
    Phrase { words: Vec<String>, negated: bool },
    Or,
}

impl SearchQuery {
    /// Parses `raw`; a query with nothing to look for (no word outside an
    /// exclusion) is refused.
    pub fn parse(raw: &str) -> Result<Self, DomainError> {
        if raw.chars().count() > MAX_QUERY_CHARS {
            return Err(DomainError::QueryTooLong);
        }
        let mut query = Self { terms: Vec::new(), excluded: Vec::new() };
        let mut join_next = false;
        for token in tokens(raw) {
            match token {
                Token::Or => join_next = !query.terms.is_empty(),
                Token::Phrase { words, negated: true } => {
                    query.excluded.push(words);
                    join_next = false;
                }
                Token::Phrase { words, negated: false } => {
                    match query.terms.last_mut().filter(|_| join_next) {
                        Some(term) => term.push(words),
                        None => query.terms.push(vec![words]),
                    }
                    join_next = false;
                }
            }
        }
        if query.terms.is_empty() {
            return Err(DomainError::EmptyQuery);
        }
        Ok(query)
    }

    /// The query as an FTS5 `MATCH` expression: every word quoted, so only
    /// the operators written here are operators.
    pub fn fts5(&self) -> String {
        let phrase = |words: &Vec<String>| format!("\"{}\"", words.join(" "));
        let term = |alternatives: &Vec<Vec<String>>| {
            let parts: Vec<String> = alternatives.iter().map(phrase).collect();
            format!("({})", parts.join(" OR "))
        };
        let mut expression = self.terms.iter().map(term).collect::<Vec<_>>().join(" AND ");
        if !self.excluded.is_empty() {
            let excluded: Vec<String> = self.excluded.iter().map(phrase).collect();
            expression = format!("({expression}) NOT ({})", excluded.join(" OR "));
        }
        expression
    }

    /// The query in `websearch_to_tsquery` syntax, rebuilt from its words.
    pub fn websearch(&self) -> String {
        let phrase = |words: &Vec<String>| format!("\"{}\"", words.join(" "));
        let mut parts: Vec<String> = self
            .terms
            .iter()
            .map(|alternatives| alternatives.iter().map(phrase).collect::<Vec<_>>().join(" or "))
            .collect();
        parts.extend(self.excluded.iter().map(|words| format!("-{}", phrase(words))));
        parts.join(" ")
    }

    /// Where `text` holds a word the query looks for: `[start, end)` in
    /// UTF-16 code units (JavaScript string indices), in order.
    pub fn highlights(&self, text: &str) -> Vec<[usize; 2]> {
        let wanted: Vec<&String> = self.terms.iter().flatten().flatten().collect();
        words(text)
            .filter(|(_, word)| wanted.iter().any(|w| **w == fold(word)))
            .map(|(range, _)| range)
            .collect()
    }
}

/// The words of `text` with their `[start, end)` in UTF-16 code units.
fn words(text: &str) -> impl Iterator<Item = ([usize; 2], &str)> {
    let mut at = 0; // UTF-16 units before the current char
    let mut start: Option<(usize, usize)> = None; // (byte, unit)
    let mut found = Vec::new();
    for (byte, c) in text.char_indices() {
        match (is_word_char(c), start) {
            (true, None) => start = Some((byte, at)),
            (false, Some((b, u))) => {
                found.push(([u, at], &text[b..byte]));
                start = None;
            }
            _ => {}
        }
        at += c.len_utf16();
    }
    if let Some((b, u)) = start {
        found.push(([u, at], &text[b..]));
    }
    found.into_iter()
}

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
}

fn fold(word: &str) -> String {
    word.to_lowercase()
}

/// The query's phrases, `-` exclusions and `or`s, in order.
fn tokens(raw: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut rest = raw;
    while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
        rest = &rest[start..];
        let negated = rest.starts_with('-');
        if negated {
            rest = &rest[1..];
        }
        let (piece, after) = if let Some(quoted) = rest.strip_prefix('"') {
            let end = quoted.find('"').unwrap_or(quoted.len());
            (&quoted[..end], quoted.get(end + 1..).unwrap_or(""))
        } else {
            let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
            (&rest[..end], &rest[end..])
        };
        rest = after;
        let words: Vec<String> = words(piece).map(|(_, w)| fold(w)).collect();
        if !negated && words.len() == 1 && words[0] == "or" && !piece.starts_with('"') {
            tokens.push(Token::Or);
        } else if !words.is_empty() {
            tokens.push(Token::Phrase { words, negated });
        }
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &str) -> SearchQuery {
        SearchQuery::parse(raw).expect("a query")
    }

    #[test]
    fn words_must_all_match_and_punctuation_only_separates_them() {
        assert_eq!(parse("Hello, world!").fts5(), r#"("hello") AND ("world")"#);
        assert_eq!(parse("Hello, world!").websearch(), r#""hello" "world""#);
    }

    #[test]
    fn phrases_exclusions_and_or_are_understood() {
        let query = parse(r#""new york" or paris -rain"#);
        assert_eq!(query.fts5(), r#"(("new york" OR "paris")) NOT ("rain")"#);
        assert_eq!(query.websearch(), r#""new york" or "paris" -"rain""#);
    }

    #[test]
    fn fts5_operators_typed_by_a_user_are_only_words() {
        // Words joined by punctuation ("NEAR(b") make a phrase, as in
        // websearch_to_tsquery.
        let query = parse(r#"a* NEAR(b c) "unclosed"#);
        assert_eq!(query.fts5(), r#"("a") AND ("near b") AND ("c") AND ("unclosed")"#);
    }

    #[test]
    fn a_query_with_nothing_to_look_for_is_refused() {
        for raw in ["", "   ", "?!", "-rain", "or", "\"\""] {
            assert_eq!(SearchQuery::parse(raw), Err(DomainError::EmptyQuery), "{raw:?}");
        }
        let long = "a".repeat(MAX_QUERY_CHARS + 1);
        assert_eq!(SearchQuery::parse(&long), Err(DomainError::QueryTooLong));
    }

    #[test]
    fn highlights_are_utf16_ranges_of_whole_words_in_any_case() {
        let query = parse("tada");
        let text = "😀 Tada! tadas TADA";
        assert_eq!(query.highlights(text), [[3, 7], [15, 19]]);
        let units: Vec<u16> = text.encode_utf16().collect();
        assert_eq!(String::from_utf16_lossy(&units[3..7]), "Tada");
    }

    #[test]
    fn excluded_words_are_not_highlighted() {
        assert_eq!(parse("sun -rain").highlights("sun and rain"), [[0, 3]]);
    }
}
