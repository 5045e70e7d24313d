//! Parse, don't validate: each type here can only hold a value the contract allows, so
//! use cases never re-check their inputs.
use serde_json::Value;

use crate::error::{Error, FieldError};

/// A trimmed, lower-cased email address with one `@` and something on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let email = raw.trim().to_lowercase();
        let valid = email.len() <= 320
            && !email.chars().any(char::is_whitespace)
            && matches!(email.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@')
                    && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.'));
        if valid {
            Ok(Self(email))
        } else {
            Err(FieldError::new("email", "must be a valid email address"))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

pub const PASSWORD_MIN_CHARS: usize = 12;
pub const PASSWORD_MAX_CHARS: usize = 256;

/// A password of 12 to 256 characters that is not among the most guessable ones. Never
/// trimmed, truncated or case-folded.
pub struct Password(String);

/// What zxcvbn should treat as easy to guess for this account: the email's local part and
/// the display name. "ada.lovelace1815" is no strong password for ada.lovelace@….
pub fn password_user_inputs<'a>(email: &'a str, display_name: Option<&'a str>) -> Vec<&'a str> {
    let local = email.split_once('@').map_or(email, |(local, _)| local);
    let mut inputs = vec![local];
    // Separators split a name into the words someone would try: "Ada Lovelace" also
    // gives "Ada" and "Lovelace"; zxcvbn matches each input as a whole word.
    let words = |text: &'a str| {
        text.split(|c: char| !c.is_alphanumeric())
            .filter(|w| w.chars().count() >= 3)
    };
    inputs.extend(words(local));
    if let Some(name) = display_name {
        inputs.push(name);
        inputs.extend(words(name));
    }
    inputs
}

impl Password {
    /// `user_inputs`: words of the account that make a password easy to guess (see
    /// [`password_user_inputs`]).
    pub fn parse(field: &str, raw: String, user_inputs: &[&str]) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if chars < PASSWORD_MIN_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at least {PASSWORD_MIN_CHARS} characters"),
            ));
        }
        if chars > PASSWORD_MAX_CHARS {
            return Err(FieldError::new(
                field,
                format!("must be at most {PASSWORD_MAX_CHARS} characters"),
            ));
        }
        // zxcvbn's dictionaries include the most common leaked passwords; a score below
        // 2 means "guessable within about a million tries".
        let entropy = zxcvbn::zxcvbn(&raw, user_inputs);
        if (entropy.score() as u8) < 2 {
            let why = entropy
                .feedback()
                .and_then(|f| f.warning())
                .map(|w| format!(": {w}"))
                .unwrap_or_default();
            return Err(FieldError::new(
                field,
                format!("is too common or too easy to guess{why}"),
            ));
        }
        Ok(Self(raw))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A name (of a world, an element, a user's display name): 1 to 200 characters, not
/// only white space.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name(String);

pub const NAME_MAX_CHARS: usize = 200;

impl Name {
    pub fn parse(field: &str, raw: String) -> Result<Self, FieldError> {
        let chars = raw.chars().count();
        if raw.trim().is_empty() {
            Err(FieldError::new(field, "must not be empty"))
        } else if chars > NAME_MAX_CHARS {
            Err(FieldError::new(
                field,
                format!("must be at most {NAME_MAX_CHARS} characters"),
            ))
        } else {
            Ok(Self(raw))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A free text (descriptions, summaries) of at most 10,000 characters.
pub fn parse_text(field: &str, raw: String) -> Result<String, FieldError> {
    const TEXT_MAX_CHARS: usize = 10_000;
    if raw.chars().count() > TEXT_MAX_CHARS {
        Err(FieldError::new(
            field,
            format!("must be at most {TEXT_MAX_CHARS} characters"),
        ))
    } else {
        Ok(raw)
    }
}

/// An element or relation kind: `^[a-z][a-z0-9_]{0,63}$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind(String);

impl Kind {
    pub fn parse(field: &str, raw: String) -> Result<Self, FieldError> {
        let mut chars = raw.chars();
        let valid = raw.len() <= 64
            && chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if valid {
            Ok(Self(raw))
        } else {
            Err(FieldError::new(
                field,
                "must match ^[a-z][a-z0-9_]{0,63}$ (a lower-case letter, then up to 63 lower-case letters, digits or underscores)",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

pub const MAX_TAGS: usize = 64;
pub const TAG_MAX_CHARS: usize = 64;

/// Up to 64 distinct tags of 1 to 64 characters each, kept in the order given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse(field: &str, raw: Vec<String>) -> Result<Self, FieldError> {
        if raw.len() > MAX_TAGS {
            return Err(FieldError::new(
                field,
                format!("at most {MAX_TAGS} tags are allowed"),
            ));
        }
        let mut tags: Vec<String> = Vec::with_capacity(raw.len());
        for tag in raw {
            let chars = tag.chars().count();
            if chars == 0 || chars > TAG_MAX_CHARS {
                return Err(FieldError::new(
                    field,
                    format!("each tag must be 1 to {TAG_MAX_CHARS} characters"),
                ));
            }
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Self(tags))
    }

    pub fn into_json(self) -> Value {
        Value::from(self.0)
    }

    pub fn into_vec(self) -> Vec<String> {
        self.0
    }
}

/// A JSON object field (`preferences`, `settings`, `attributes`).
pub fn parse_object(field: &str, value: Value) -> Result<Value, FieldError> {
    if value.is_object() {
        Ok(value)
    } else {
        Err(FieldError::new(field, "must be a JSON object"))
    }
}

/// A JSON object stored as it is given (a create's `attributes`, `settings`): an object
/// within [`MAX_DOCUMENT_BYTES`](crate::json_limits::MAX_DOCUMENT_BYTES).
pub fn parse_document(field: &str, value: Value) -> Result<Value, FieldError> {
    let value = parse_object(field, value)?;
    crate::json_limits::check_document_size(field, &value)?;
    Ok(value)
}

/// Who may see a world.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    Private,
    Public,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Private => "private",
            Visibility::Public => "public",
        }
    }

    /// Reads the stored column; anything unexpected is treated as the safer `private`.
    pub fn from_db(raw: &str) -> Self {
        if raw == "public" {
            Visibility::Public
        } else {
            Visibility::Private
        }
    }
}

/// Collects field errors from several parses so a client learns about all of them at once.
#[derive(Default)]
pub struct Checks(Vec<FieldError>);

impl Checks {
    pub fn check<T>(&mut self, parsed: Result<T, FieldError>) -> Option<T> {
        match parsed {
            Ok(value) => Some(value),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// An optional field: absent is valid (`Some(None)`), a given value must parse.
    pub fn optional<T, U>(
        &mut self,
        value: Option<T>,
        parse: impl FnOnce(T) -> Result<U, FieldError>,
    ) -> Option<Option<U>> {
        match value {
            Some(value) => self.check(parse(value)).map(Some),
            None => Some(None),
        }
    }

    /// Adds errors a parse reported several at a time.
    pub fn extend(&mut self, errors: Vec<FieldError>) {
        self.0.extend(errors);
    }

    /// Fails with every collected error, or succeeds when there were none.
    pub fn finish(self) -> Result<(), Error> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Validation(self.0))
        }
    }
}

/// A number in a query string that, when the parameter is given, must be there: `?limit=`
/// is 400 like any other value that is not a number (the form decoder would take an empty
/// value for none). Use as `#[serde(default, deserialize_with = "query_number")]`.
pub fn query_number<'de, D, T>(d: D) -> std::result::Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr,
{
    let raw = <String as serde::Deserialize>::deserialize(d)?;
    raw.parse()
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("`{raw}` is not a number")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_is_trimmed_and_lowercased() {
        assert_eq!(
            Email::parse("  Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        assert!(Email::parse("no-at-sign").is_err());
        assert!(Email::parse("a@b").is_err());
        assert!(Email::parse("a b@c.d").is_err());
    }

    #[test]
    fn kind_pattern() {
        assert!(Kind::parse("kind", "character".into()).is_ok());
        assert!(Kind::parse("kind", "npc_2".into()).is_ok());
        assert!(Kind::parse("kind", "2npc".into()).is_err());
        assert!(Kind::parse("kind", "Npc".into()).is_err());
        assert!(Kind::parse("kind", "a".repeat(65)).is_err());
        assert!(Kind::parse("kind", "a".repeat(64)).is_ok());
    }

    #[test]
    fn password_lengths_and_commonness() {
        let parse = |raw: &str| Password::parse("password", raw.into(), &[]);
        assert!(parse(&"Xq7!vL2#pR9z".chars().take(11).collect::<String>()).is_err());
        assert!(parse("tangerine-orbit-42").is_ok());
        assert!(parse("passwordpassword").is_err());
        assert!(parse("qwertyuiopasdfgh").is_err());
    }

    #[test]
    fn the_accounts_own_words_are_easy_to_guess() {
        let password = "zanzibarquixote";
        assert!(Password::parse("password", password.into(), &[]).is_ok());
        let from_email = password_user_inputs("zanzibarquixote@example.com", None);
        assert!(Password::parse("password", password.into(), &from_email).is_err());
        let password = "fennimoremarmaduke";
        assert!(Password::parse("password", password.into(), &[]).is_ok());
        let from_name = password_user_inputs("ada@example.com", Some("Marmaduke Fennimore"));
        assert!(Password::parse("password", password.into(), &from_name).is_err());
    }

    #[test]
    fn tags_limits() {
        assert!(Tags::parse("tags", vec!["a".into(); 2]).is_ok());
        assert!(Tags::parse("tags", vec![String::new()]).is_err());
        assert!(Tags::parse("tags", (0..65).map(|i| i.to_string()).collect()).is_err());
    }
}
