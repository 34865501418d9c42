//! Static bearer tokens from `--token-auth-file`.
//!
//! The file is CSV, one user per record: `token,user,uid` and optionally a
//! fourth field of comma-separated groups, quoted when it holds more than
//! one (`token,alice,42,"dev,ops"`). As upstream: a record with fewer than
//! three fields makes the whole file invalid, a record with an empty token
//! is skipped, and of two records with the same token the later wins; both
//! are logged.

use std::collections::HashMap;
use std::path::Path;

use apiserver::server::UserInfo;

/// The tokens of one file, read once at start.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    users: HashMap<String, UserInfo>,
}

/// Why a token file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    #[error("reading token file {path}: {source}")]
    Read {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("token file {path}, line {line}: {message}")]
    Malformed {
        path: String,
        line: usize,
        message: String,
    },
}

impl TokenFile {
    pub fn read(path: &Path) -> Result<TokenFile, TokenFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TokenFileError::Read {
            path: shown.clone(),
            source,
        })?;
        TokenFile::parse(&text).map_err(|error| TokenFileError::Malformed {
            path: shown,
            line: error.line,
            message: error.message,
        })
    }

    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<TokenFile, LineError> {
        let mut users = HashMap::new();
        for Record { line, fields } in csv_records(text)? {
            let [token, name, uid, rest @ ..] = fields.as_slice() else {
                return Err(LineError {
                    line,
                    message: format!(
                        "must have at least 3 columns (token, user name, user uid), found {}",
                        fields.len()
                    ),
                });
            };
            if token.is_empty() {
                tracing::warn!(
                    line,
                    "skipping a record with an empty token in the token file"
                );
                continue;
            }
            let groups = rest
                .first()
                .map(|groups| {
                    groups
                        .split(',')
                        .filter(|g| !g.is_empty())
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default();
            let user = UserInfo {
                name: name.clone(),
                uid: uid.clone(),
                groups,
                ..UserInfo::default()
            };
            if users.insert(token.clone(), user).is_some() {
                tracing::warn!(
                    line,
                    "duplicate token in the token file; the later record wins"
                );
            }
        }
        Ok(TokenFile { users })
    }

    /// The user a token belongs to.
    pub fn user(&self, token: &str) -> Option<&UserInfo> {
        self.users.get(token)
    }
}

/// What is wrong with the file, and where.
#[derive(Debug)]
pub struct LineError {
    pub line: usize,
    pub message: String,
}

/// One CSV record and the line it starts on.
struct Record {
    line: usize,
    fields: Vec<String>,
}

/// Splits CSV text into records, the way
/// Go's `encoding/csv` reads it by default: fields may be quoted, `""` is
/// a quote inside quotes, quoted fields may span lines, blank lines are
/// skipped, and a quote inside an unquoted field is an error.
fn csv_records(text: &str) -> Result<Vec<Record>, LineError> {
    let error = |line: usize, message: &str| LineError {
        line,
        message: message.to_string(),
    };
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start_line = line;
        let mut record = Vec::new();
        let mut field = String::new();
        let mut at_field_start = true;
        loop {
            match chars.next() {
                None => {
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('\n') => {
                    line += 1;
                    record.push(std::mem::take(&mut field));
                    break;
                }
                Some('\r') if chars.peek() == Some(&'\n') => {}
                Some(',') => {
                    record.push(std::mem::take(&mut field));
                    at_field_start = true;
                    continue;
                }
                Some('"') if at_field_start => {
                    line += read_quoted(&mut chars, &mut field).map_err(|m| error(line, m))?;
                    match chars.peek() {
                        None | Some(',') | Some('\n') | Some('\r') => {}
                        Some(_) => return Err(error(line, "extraneous \" in field")),
                    }
                }
                Some('"') => return Err(error(line, "bare \" in non-quoted field")),
                Some(c) => field.push(c),
            }
            at_field_start = false;
        }
        let is_blank = record.len() == 1 && record[0].is_empty();
        if !is_blank {
            records.push(Record {
                line: start_line,
                fields: record,
            });
        }
    }
    Ok(records)
}

/// Reads a quoted field's content after its opening quote, through the
/// closing one; returns how many newlines it held.
fn read_quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    field: &mut String,
) -> Result<usize, &'static str> {
    let mut newlines = 0;
    loop {
        match chars.next() {
            None => return Err("extraneous or missing \" in quoted field"),
            Some('"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            Some('"') => return Ok(newlines),
            Some(c) => {
                if c == '\n' {
                    newlines += 1;
                }
                field.push(c);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_users_with_and_without_groups() {
        let file = TokenFile::parse("abc,alice,1\r\n\ndef,bob,2,\"dev,ops\"\nghi,carol,3,solo\n")
            .expect("parses");
        let alice = file.user("abc").expect("alice");
        assert_eq!((alice.name.as_str(), alice.uid.as_str()), ("alice", "1"));
        assert!(alice.groups.is_empty());
        assert_eq!(file.user("def").expect("bob").groups, ["dev", "ops"]);
        assert_eq!(file.user("ghi").expect("carol").groups, ["solo"]);
        assert!(file.user("nope").is_none());
    }

    #[test]
    fn short_records_fail_the_file_and_name_the_line() {
        let error = TokenFile::parse("abc,alice,1\ndef,bob\n").expect_err("short record");
        assert_eq!(error.line, 2);
    }

    #[test]
    fn empty_tokens_are_skipped_and_later_duplicates_win() {
        let file = TokenFile::parse(",nobody,0\nt,first,1\nt,second,2\n").expect("parses");
        assert_eq!(file.user("t").expect("user").name, "second");
        assert!(file.user("").is_none());
    }

    #[test]
    fn quotes_follow_go_csv() {
        let file = TokenFile::parse("\"a\"\"b\",x,1\n").expect("parses");
        assert!(file.user("a\"b").is_some());
        assert!(TokenFile::parse("a\"b,x,1\n").is_err());
        assert!(TokenFile::parse("\"ab,x,1\n").is_err());
    }
}
