//! The small JSONPath language CRDs use to point into their objects:
//! `additionalPrinterColumns[].jsonPath`, `selectableFields[].jsonPath` and
//! the scale subresource's paths. Upstream evaluates these with kubectl's
//! JSONPath; the forms CRD authors write are field steps (`.spec.replicas`,
//! `.metadata.labels['app.kubernetes.io/name']`), indexes (`[0]`, `[-1]`),
//! wildcards (`[*]`) and equality filters
//! (`.status.conditions[?(@.type=="Ready")].status`), which is what this
//! module parses, once per CRD.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    Index(i64),
    All,
    /// `[?(@.a.b == "x")]`: the items whose value at the path equals.
    Filter(Vec<String>, Value),
}

/// A parsed path.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    steps: Vec<Step>,
}

impl JsonPath {
    /// Parses `.a.b[0]`, also wrapped in `{...}` as kubectl templates are.
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let text = text.trim();
        let text = text
            .strip_prefix('{')
            .and_then(|t| t.strip_suffix('}'))
            .unwrap_or(text);
        let chars: Vec<char> = text.chars().collect();
        let mut steps = Vec::new();
        let mut i = 0;
        if chars.first() == Some(&'$') {
            i = 1;
        }
        while i < chars.len() {
            match chars[i] {
                '.' => {
                    i += 1;
                    let start = i;
                    while i < chars.len() && chars[i] != '.' && chars[i] != '[' {
                        i += 1;
                    }
                    let name: String = chars[start..i].iter().collect();
                    if name.is_empty() {
                        if i == chars.len() && steps.is_empty() {
                            break; // "." alone: the whole object
                        }
                        return Err(format!("empty field name in {text:?}"));
                    }
                    if name == "*" {
                        steps.push(Step::All);
                    } else {
                        steps.push(Step::Field(name));
                    }
                }
                '[' => {
                    let close = find_close(&chars, i)
                        .ok_or_else(|| format!("unterminated [ in {text:?}"))?;
                    let inner: String = chars[i + 1..close].iter().collect();
                    steps.push(bracket(inner.trim())?);
                    i = close + 1;
                }
                other => return Err(format!("unexpected {other:?} in {text:?}")),
            }
        }
        Ok(JsonPath { steps })
    }

    /// Every value the path reaches, in document order.
    pub fn find<'a>(&self, root: &'a Value) -> Vec<&'a Value> {
        let mut current = vec![root];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in current {
                match step {
                    Step::Field(name) => {
                        if let Some(v) = value.get(name) {
                            next.push(v);
                        }
                    }
                    Step::Index(n) => {
                        if let Value::Array(items) = value {
                            let len = items.len() as i64;
                            let at = if *n < 0 { len + n } else { *n };
                            if (0..len).contains(&at) {
                                next.push(&items[at as usize]);
                            }
                        }
                    }
                    Step::All => match value {
                        Value::Array(items) => next.extend(items.iter()),
                        Value::Object(map) => next.extend(map.values()),
                        _ => {}
                    },
                    Step::Filter(path, wanted) => {
                        if let Value::Array(items) = value {
                            next.extend(items.iter().filter(|item| {
                                path.iter()
                                    .try_fold(*item, |v, field| v.get(field))
                                    .is_some_and(|v| v == wanted)
                            }));
                        }
                    }
                }
            }
            current = next;
        }
        current
    }

    /// The first value the path reaches.
    pub fn first<'a>(&self, root: &'a Value) -> Option<&'a Value> {
        self.find(root).into_iter().next()
    }

    /// The path as a JSON pointer, when it is plain field steps (the scale
    /// subresource's paths always are).
    pub fn to_pointer(&self) -> Option<String> {
        let mut pointer = String::new();
        for step in &self.steps {
            let Step::Field(name) = step else {
                return None;
            };
            pointer.push('/');
            pointer.push_str(&name.replace('~', "~0").replace('/', "~1"));
        }
        Some(pointer)
    }
}

/// How kubectl's JSONPath prints a value: strings bare, everything else as
/// JSON.
pub fn print(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn find_close(chars: &[char], open: usize) -> Option<usize> {
    let mut quote: Option<char> = None;
    let mut depth = 0;
    for (i, &c) in chars.iter().enumerate().skip(open) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '[' | '(') => depth += 1,
            (None, ')') => depth -= 1,
            (None, ']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

fn bracket(inner: &str) -> Result<Step, String> {
    if inner == "*" {
        return Ok(Step::All);
    }
    if let Some(quoted) = unquote(inner) {
        return Ok(Step::Field(quoted));
    }
    if let Ok(n) = inner.parse::<i64>() {
        return Ok(Step::Index(n));
    }
    if let Some(filter) = inner
        .strip_prefix("?(")
        .and_then(|rest| rest.strip_suffix(')'))
    {
        let (left, right) = filter
            .split_once("==")
            .ok_or_else(|| format!("unsupported filter {inner:?}: only == is supported"))?;
        let path = left
            .trim()
            .strip_prefix("@.")
            .ok_or_else(|| format!("unsupported filter {inner:?}"))?;
        let right = right.trim();
        let wanted = match unquote(right) {
            Some(s) => Value::String(s),
            None => serde_json::from_str(right)
                .map_err(|_| format!("unsupported filter value {right:?}"))?,
        };
        return Ok(Step::Filter(
            path.split('.').map(str::to_string).collect(),
            wanted,
        ));
    }
    Err(format!("unsupported [{inner}]"))
}

fn unquote(text: &str) -> Option<String> {
    let quote = text.chars().next()?;
    if (quote == '\'' || quote == '"') && text.len() >= 2 && text.ends_with(quote) {
        Some(text[1..text.len() - 1].to_string())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(path: &str, object: &Value) -> Vec<Value> {
        JsonPath::parse(path)
            .unwrap()
            .find(object)
            .into_iter()
            .cloned()
            .collect()
    }

    #[test]
    fn fields_indexes_wildcards_and_filters() {
        let object = json!({
            "spec": {"replicas": 3, "ports": [{"port": 80}, {"port": 443}]},
            "metadata": {"labels": {"app.kubernetes.io/name": "web"}},
            "status": {"conditions": [
                {"type": "Ready", "status": "True"},
                {"type": "Synced", "status": "False"}
            ]}
        });
        assert_eq!(values(".spec.replicas", &object), [json!(3)]);
        assert_eq!(values("{.spec.replicas}", &object), [json!(3)]);
        assert_eq!(values(".spec.ports[1].port", &object), [json!(443)]);
        assert_eq!(values(".spec.ports[-1].port", &object), [json!(443)]);
        assert_eq!(
            values(".spec.ports[*].port", &object),
            [json!(80), json!(443)]
        );
        assert_eq!(
            values(".metadata.labels['app.kubernetes.io/name']", &object),
            [json!("web")]
        );
        assert_eq!(
            values(".status.conditions[?(@.type==\"Ready\")].status", &object),
            [json!("True")]
        );
        assert!(values(".spec.missing", &object).is_empty());
    }

    #[test]
    fn pointers_of_plain_paths() {
        assert_eq!(
            JsonPath::parse(".spec.replicas").unwrap().to_pointer(),
            Some("/spec/replicas".into())
        );
        assert_eq!(JsonPath::parse(".a[0]").unwrap().to_pointer(), None);
    }

    #[test]
    fn bad_paths_are_errors() {
        assert!(JsonPath::parse(".spec[").is_err());
        assert!(JsonPath::parse("spec").is_err());
        assert!(JsonPath::parse(".a[?(@.x>1)]").is_err());
    }
}
