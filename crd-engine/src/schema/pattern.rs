//! `pattern` keywords, compiled once with the `regex` crate but with Go's
//! (RE2's) meaning: upstream matches patterns with Go's `regexp`, where the
//! Perl classes `\d`, `\w`, `\s` and the boundary `\b` are ASCII-only, while
//! the `regex` crate makes them Unicode-aware. The two syntaxes are
//! otherwise the same for what CRD authors write, so the translation only
//! narrows those classes.

use regex::Regex;

/// A compiled `pattern`, keeping the text upstream quotes in messages.
#[derive(Debug, Clone)]
pub struct Pattern {
    pub source: String,
    pub regex: Regex,
}

impl Pattern {
    /// Compiles `source`; the error text explains why it is not a valid
    /// regular expression.
    pub fn compile(source: &str) -> Result<Pattern, String> {
        let regex = Regex::new(&go_flavoured(source)).map_err(|error| describe(&error))?;
        Ok(Pattern {
            source: source.to_string(),
            regex,
        })
    }

    pub fn is_match(&self, text: &str) -> bool {
        self.regex.is_match(text)
    }
}

/// Go words its errors `error parsing regexp: <what>: `<where>``; the regex
/// crate's explanation is multi-line, so keep its last line (the reason).
fn describe(error: &regex::Error) -> String {
    let text = error.to_string();
    let reason = text
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .unwrap_or("invalid pattern")
        .trim()
        .trim_start_matches("error: ");
    format!("error parsing regexp: {reason}")
}

/// Rewrites the Perl classes to their ASCII meaning, inside and outside
/// bracket expressions; everything else passes through unchanged.
fn go_flavoured(source: &str) -> String {
    let mut out = String::with_capacity(source.len() + 16);
    let mut chars = source.chars().peekable();
    let mut in_class = false;
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let Some(next) = chars.next() else {
                    out.push('\\');
                    break;
                };
                out.push_str(&escape(next, in_class));
            }
            '[' if !in_class => {
                in_class = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    out.push('^');
                    chars.next();
                }
                if chars.peek() == Some(&']') {
                    out.push_str("\\]");
                    chars.next();
                }
            }
            '[' if in_class && chars.peek() == Some(&':') => {
                out.push('[');
                for inner in chars.by_ref() {
                    out.push(inner);
                    if inner == ']' {
                        break;
                    }
                }
            }
            '[' => out.push_str("\\["),
            ']' if in_class => {
                in_class = false;
                out.push(']');
            }
            other => out.push(other),
        }
    }
    out
}

fn escape(c: char, in_class: bool) -> String {
    let ascii = match (c, in_class) {
        ('d', false) => "[0-9]",
        ('D', false) => "[^0-9]",
        ('w', false) => "[0-9A-Za-z_]",
        ('W', false) => "[^0-9A-Za-z_]",
        ('s', false) => "[\\t\\n\\f\\r ]",
        ('S', false) => "[^\\t\\n\\f\\r ]",
        ('d', true) => "0-9",
        ('w', true) => "0-9A-Za-z_",
        ('s', true) => "\\t\\n\\f\\r ",
        ('D', true) => "[:^digit:]",
        ('W', true) => "[:^word:]",
        ('S', true) => "[:^space:]",
        _ => return format!("\\{c}"),
    };
    ascii.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perl_classes_are_ascii_only_as_in_go() {
        let digits = Pattern::compile(r"^\d+$").expect("valid");
        assert!(digits.is_match("123"));
        assert!(!digits.is_match("١٢٣"));
        let word = Pattern::compile(r"^[\w-]+$").expect("valid");
        assert!(word.is_match("a_b-c"));
        assert!(!word.is_match("é"));
        let not_digit = Pattern::compile(r"^[\Dx]$").expect("valid");
        assert!(not_digit.is_match("a"));
        assert!(!not_digit.is_match("1"));
    }

    #[test]
    fn ordinary_patterns_keep_their_meaning() {
        let pattern = Pattern::compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").expect("valid");
        assert!(pattern.is_match("my-name"));
        assert!(!pattern.is_match("-bad"));
        let unanchored = Pattern::compile("b+").expect("valid");
        assert!(unanchored.is_match("abbbc"));
        let bracket = Pattern::compile(r"^[]a]+$").expect("valid");
        assert!(bracket.is_match("]a"));
        let posix = Pattern::compile(r"^[[:alpha:]]+$").expect("valid");
        assert!(posix.is_match("abc"));
    }

    #[test]
    fn invalid_patterns_explain_themselves() {
        let error = Pattern::compile("[a-z").expect_err("unclosed class");
        assert!(error.starts_with("error parsing regexp: "), "{error}");
    }
}
