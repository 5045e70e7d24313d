//! A search text as a web search box reads it (PostgreSQL's `websearch_to_tsquery`
//! rules): words must all appear, `"quoted phrases"` must appear as written, `-word`
//! must not appear, `or` between terms offers alternatives; and the last word, as typed
//! so far, is also matched as a prefix. Parsed once, then written out for each backend's
//! engine, so both read a search the same way.
//!
//! Words are the runs of letters and digits in the text; everything else separates them.
//! Neither engine ever sees the user's syntax: a word reaches PostgreSQL as a bound
//! value of `plainto_tsquery`/`phraseto_tsquery` (or `to_tsquery` with `:*` after
//! letters and digits only), and FTS5 as a double-quoted string of letters and digits.

/// One term: a phrase of one or more words, or the last word as a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Phrase(Vec<String>),
    Prefix(String),
}

/// Terms that must all appear, and terms that must not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Group {
    pub include: Vec<Term>,
    pub exclude: Vec<Term>,
}

/// Alternatives (`or`): an element matches when it matches any group.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub groups: Vec<Group>,
}

/// A token of the text before it becomes a term.
struct Token {
    words: Vec<String>,
    quoted: bool,
    negated: bool,
}

fn words_of(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Splits the text into tokens and `or`s (`None`).
fn tokens(text: &str) -> Vec<Option<Token>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut negated = false;
        if c == '-' {
            chars.next();
            match chars.peek() {
                Some(next) if !next.is_whitespace() => negated = true,
                _ => continue,
            }
        }
        if chars.peek() == Some(&'"') {
            chars.next();
            let phrase: String = chars.by_ref().take_while(|&c| c != '"').collect();
            out.push(Some(Token {
                words: words_of(&phrase),
                quoted: true,
                negated,
            }));
            continue;
        }
        let mut raw = String::new();
        while let Some(&c) = chars.peek() {
            if c.is_whitespace() || c == '"' {
                break;
            }
            raw.push(c);
            chars.next();
        }
        if !negated && raw.eq_ignore_ascii_case("or") {
            out.push(None);
        } else {
            out.push(Some(Token {
                words: words_of(&raw),
                quoted: false,
                negated,
            }));
        }
    }
    out
}

impl SearchQuery {
    pub fn parse(text: &str) -> Self {
        let tokens: Vec<Option<Token>> = tokens(text)
            .into_iter()
            .filter(|t| t.as_ref().is_none_or(|t| !t.words.is_empty()))
            .collect();
        let last_word = tokens.iter().rposition(Option::is_some);
        let mut groups = Vec::new();
        let mut group = Group::default();
        for (i, token) in tokens.into_iter().enumerate() {
            let Some(token) = token else {
                if !group.include.is_empty() || !group.exclude.is_empty() {
                    groups.push(std::mem::take(&mut group));
                }
                continue;
            };
            let term = if Some(i) == last_word && !token.quoted && token.words.len() == 1 {
                Term::Prefix(token.words.into_iter().next().unwrap_or_default())
            } else {
                Term::Phrase(token.words)
            };
            if token.negated {
                group.exclude.push(term);
            } else {
                group.include.push(term);
            }
        }
        groups.push(group);
        // A group of exclusions only would match nearly everything: it matches nothing.
        groups.retain(|g| !g.include.is_empty());
        Self { groups }
    }

    /// Whether the search can match anything at all.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// An FTS5 query expression.
    pub fn to_fts5(&self) -> String {
        let term = |t: &Term| match t {
            Term::Phrase(words) => format!("\"{}\"", words.join(" ")),
            Term::Prefix(word) => format!("\"{word}\"*"),
        };
        self.groups
            .iter()
            .map(|g| {
                let include: Vec<String> = g.include.iter().map(term).collect();
                let mut expression = format!("({})", include.join(" AND "));
                for excluded in &g.exclude {
                    expression = format!("({expression} NOT {})", term(excluded));
                }
                expression
            })
            .collect::<Vec<_>>()
            .join(" OR ")
    }

    /// A PostgreSQL `tsquery` expression in the configuration `config`; `bind` takes each
    /// value and returns its placeholder.
    pub fn to_tsquery(&self, config: &str, bind: &mut dyn FnMut(String) -> String) -> String {
        let mut term = |t: &Term| match t {
            Term::Phrase(words) if words.len() == 1 => {
                format!("plainto_tsquery('{config}', {})", bind(words[0].clone()))
            }
            Term::Phrase(words) => {
                format!("phraseto_tsquery('{config}', {})", bind(words.join(" ")))
            }
            Term::Prefix(word) => format!("to_tsquery('{config}', {})", bind(format!("{word}:*"))),
        };
        self.groups
            .iter()
            .map(|g| {
                let mut parts: Vec<String> = g.include.iter().map(&mut term).collect();
                parts.extend(g.exclude.iter().map(|t| format!("!!({})", term(t))));
                format!("({})", parts.join(" && "))
            })
            .collect::<Vec<_>>()
            .join(" || ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn phrase(words: &[&str]) -> Term {
        Term::Phrase(words.iter().map(|w| (*w).to_owned()).collect())
    }

    #[test]
    fn reads_words_phrases_exclusions_and_alternatives() {
        let q = SearchQuery::parse(r#"red "fire drake" -ice or wyv"#);
        assert_eq!(
            q.groups,
            vec![
                Group {
                    include: vec![phrase(&["red"]), phrase(&["fire", "drake"])],
                    exclude: vec![phrase(&["ice"])],
                },
                Group {
                    include: vec![Term::Prefix("wyv".into())],
                    exclude: vec![],
                },
            ]
        );
        assert_eq!(
            q.to_fts5(),
            r#"(("red" AND "fire drake") NOT "ice") OR ("wyv"*)"#
        );
        let mut n = 0;
        let sql = q.to_tsquery("cfg", &mut |_| {
            n += 1;
            format!("${n}")
        });
        assert_eq!(
            sql,
            "(plainto_tsquery('cfg', $1) && phraseto_tsquery('cfg', $2) && !!(plainto_tsquery('cfg', $3))) \
             || (to_tsquery('cfg', $4))"
        );
    }

    #[test]
    fn user_syntax_never_reaches_an_engine() {
        let q = SearchQuery::parse(r#"a'b" OR "c:* & !d) NEAR(e"#);
        let fts = q.to_fts5();
        assert!(!fts.contains('\'') && !fts.contains(':') && !fts.contains('&'));
        assert!(SearchQuery::parse("-alone").is_empty());
        assert!(SearchQuery::parse("  -- \"\" or ").is_empty());
        assert_eq!(
            SearchQuery::parse("half-elf").groups[0].include,
            vec![phrase(&["half", "elf"])]
        );
    }
}
