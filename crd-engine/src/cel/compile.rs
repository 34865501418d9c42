//! Compiling the `x-kubernetes-validations` of a schema: upstream's static
//! checks on each rule's fields, then parsing and checking each rule and
//! messageExpression, with upstream's paths and wording for what fails.

use super::checker::{self, node_type, Declarations, Ty};
use super::library;
use super::schema::{ListType, Node};
use apiserver::validation::{FieldError, FieldErrorKind};
use cel::{ParseErrors, Program};
use serde_json::{json, Value};

/// The reasons a rule may give, sorted as upstream lists them.
const SUPPORTED_REASONS: [&str; 4] = [
    "FieldValueDuplicate",
    "FieldValueForbidden",
    "FieldValueInvalid",
    "FieldValueRequired",
];

/// One compiled rule, ready to evaluate.
#[derive(Debug)]
pub(crate) struct CompiledRule {
    /// The rule as written, trimmed.
    pub source: String,
    pub program: Program,
    /// `message`, trimmed, if set.
    pub message: Option<String>,
    pub message_expression: Option<Program>,
    pub kind: FieldErrorKind,
    /// `fieldPath` normalized to upstream's path form (`a.b[key]`).
    pub field_path: Option<String>,
    pub uses_old_self: bool,
    pub optional_old_self: bool,
}

impl CompiledRule {
    /// What runtime errors name the rule by: its message, else its text.
    pub fn error_name(&self) -> &str {
        self.message.as_deref().unwrap_or(&self.source)
    }
}

/// One `x-kubernetes-validations` entry as written.
struct RuleSpec {
    rule: String,
    message: Option<String>,
    message_expression: Option<String>,
    reason: Option<String>,
    field_path: Option<String>,
    optional_old_self: Option<bool>,
}

impl RuleSpec {
    fn read(entry: &Value) -> RuleSpec {
        let text = |key: &str| entry.get(key).and_then(Value::as_str).map(str::to_string);
        RuleSpec {
            rule: text("rule").unwrap_or_default(),
            message: text("message").filter(|m| !m.is_empty()),
            message_expression: text("messageExpression").filter(|m| !m.is_empty()),
            reason: text("reason"),
            field_path: text("fieldPath").filter(|p| !p.is_empty()),
            optional_old_self: entry.get("optionalOldSelf").and_then(Value::as_bool),
        }
    }
}

/// Walks the schema below `node`, compiling the rules of every node and
/// collecting every error, as upstream reports them all at once.
pub(crate) struct Compiler {
    pub errors: Vec<FieldError>,
}

impl Compiler {
    /// Compiles the rules of `node` (read from `schema`) and of everything
    /// below it. `uncorrelatable` is the path of the nearest enclosing list
    /// whose items have no identity, where `oldSelf` is meaningless.
    /// Returns whether any rule at or below had an error of its fields.
    pub fn attach(
        &mut self,
        node: &mut Node,
        schema: &Value,
        path: &str,
        uncorrelatable: Option<&str>,
    ) -> bool {
        let mut field_errors = false;
        for (name, (_, child)) in node.properties.iter_mut() {
            if let Some(child_schema) =
                schema.pointer(&format!("/properties/{}", pointer_escape(name)))
            {
                let child_path = format!("{path}.properties[{name}]");
                field_errors |= self.attach(child, child_schema, &child_path, uncorrelatable);
            }
        }
        if let (Some(items), Some(items_schema)) = (node.items.as_deref_mut(), schema.get("items"))
        {
            let inner = match (&node.list_type, uncorrelatable) {
                (_, Some(outer)) => Some(outer.to_string()),
                (ListType::Map(_), None) => None,
                (_, None) => Some(path.to_string()),
            };
            field_errors |= self.attach(
                items,
                items_schema,
                &format!("{path}.items"),
                inner.as_deref(),
            );
        }
        if let (Some(values), Some(values_schema)) = (
            node.additional_properties.as_deref_mut(),
            schema.get("additionalProperties"),
        ) {
            let values_path = format!("{path}.additionalProperties");
            field_errors |= self.attach(values, values_schema, &values_path, uncorrelatable);
        }
        let mut groups = vec![(path.to_string(), schema)];
        if let Some(all_of) = schema.get("allOf").and_then(Value::as_array) {
            groups.extend(
                all_of
                    .iter()
                    .enumerate()
                    .map(|(i, s)| (format!("{path}.allOf[{i}]"), s)),
            );
        }
        let mut specs = Vec::new();
        for (group_path, group) in groups {
            let entries = group
                .get("x-kubernetes-validations")
                .and_then(Value::as_array);
            for (i, entry) in entries.into_iter().flatten().enumerate() {
                let rule_path = format!("{group_path}.x-kubernetes-validations[{i}]");
                let spec = RuleSpec::read(entry);
                field_errors |= self.check_fields(&spec, node, &rule_path);
                specs.push((rule_path, spec));
            }
        }
        if field_errors {
            return true;
        }
        for (rule_path, spec) in specs {
            if let Some(rule) = self.compile_rule(&spec, node, &rule_path, uncorrelatable) {
                node.rules.push(rule);
            }
        }
        node.has_rules = !node.rules.is_empty()
            || node.properties.values().any(|(_, child)| child.has_rules)
            || node.items.as_ref().is_some_and(|i| i.has_rules)
            || node
                .additional_properties
                .as_ref()
                .is_some_and(|a| a.has_rules);
        false
    }

    /// Upstream's checks of a rule's fields, before any CEL. Returns whether
    /// one failed.
    fn check_fields(&mut self, spec: &RuleSpec, node: &Node, path: &str) -> bool {
        let before = self.errors.len();
        let rule = spec.rule.trim();
        let message = spec.message.as_deref().map(str::trim);
        let mut error = |kind, field: &str, value: Option<Value>, detail: &str| {
            self.errors.push(FieldError::new(
                kind,
                format!("{path}.{field}"),
                value,
                detail,
            ));
        };
        use FieldErrorKind::{Invalid, Required};
        if rule.is_empty() {
            error(Required, "rule", None, "rule is not specified");
        } else if message == Some("") {
            error(
                Invalid,
                "message",
                Some(json!(spec.message)),
                "message must be non-empty if specified",
            );
        } else if message.is_some_and(has_newlines) {
            error(
                Invalid,
                "message",
                Some(json!(spec.message)),
                "message must not contain line breaks",
            );
        } else if has_newlines(rule) && message.is_none() {
            error(
                Required,
                "message",
                None,
                "message must be specified if rule contains line breaks",
            );
        }
        if spec
            .message_expression
            .as_deref()
            .is_some_and(|m| m.trim().is_empty())
        {
            error(
                Required,
                "messageExpression",
                None,
                "messageExpression must be non-empty if specified",
            );
        }
        if let Some(reason) = &spec.reason {
            if !SUPPORTED_REASONS.contains(&reason.as_str()) {
                self.errors.push(FieldError::not_supported(
                    format!("{path}.reason"),
                    json!(reason),
                    &SUPPORTED_REASONS,
                ));
            }
        }
        if let Some(field_path) = &spec.field_path {
            let mut error = |detail: &str| {
                self.errors.push(FieldError::invalid(
                    format!("{path}.fieldPath"),
                    json!(field_path),
                    detail,
                ));
            };
            if field_path.trim().is_empty() {
                error("fieldPath must be non-empty if specified");
            }
            if has_newlines(field_path) {
                error("fieldPath must not contain line breaks");
            }
            if normalize_field_path(field_path, node).is_err() {
                error("fieldPath must be a valid path");
            }
        }
        self.errors.len() > before
    }

    fn compile_rule(
        &mut self,
        spec: &RuleSpec,
        node: &Node,
        path: &str,
        uncorrelatable: Option<&str>,
    ) -> Option<CompiledRule> {
        let self_type = node_type(node);
        let optional_old_self = spec.optional_old_self == Some(true);
        let old_self_type = if optional_old_self {
            Ty::Optional(Box::new(self_type.clone()))
        } else {
            self_type.clone()
        };
        let declarations = Declarations {
            self_type,
            old_self_type,
        };
        let invalid_rule =
            |detail: String| FieldError::invalid(format!("{path}.rule"), json!(spec.rule), detail);
        let (program, checked) = match compile_expression(&spec.rule, &declarations) {
            Ok(compiled) => compiled,
            Err(detail) => {
                self.errors
                    .push(invalid_rule(format!("compilation failed: {detail}")));
                return None;
            }
        };
        if !matches!(checked.ty, Ty::Bool | Ty::Dyn) {
            self.errors.push(invalid_rule(
                "cel expression must evaluate to a bool".into(),
            ));
            return None;
        }
        let message_expression = match &spec.message_expression {
            Some(source) => {
                Some(self.compile_message_expression(source, &declarations, path, spec)?)
            }
            None => None,
        };
        if checked.uses_old_self {
            if let Some(list_path) = uncorrelatable {
                self.errors.push(FieldError::invalid(
                    format!("{path}.rule"),
                    json!(spec.rule),
                    format!("oldSelf cannot be used on the uncorrelatable portion of the schema within {list_path}"),
                ));
            }
        } else if let Some(optional) = spec.optional_old_self {
            self.errors.push(FieldError::invalid(
                format!("{path}.optionalOldSelf"),
                json!(optional),
                "may not be set if oldSelf is not used in rule",
            ));
        }
        Some(CompiledRule {
            source: spec.rule.trim().to_string(),
            program,
            message: spec.message.as_deref().map(|m| m.trim().to_string()),
            message_expression,
            kind: reason_kind(spec.reason.as_deref()),
            field_path: spec
                .field_path
                .as_deref()
                .and_then(|p| normalize_field_path(p, node).ok()),
            uses_old_self: checked.uses_old_self,
            optional_old_self,
        })
    }

    fn compile_message_expression(
        &mut self,
        source: &str,
        declarations: &Declarations<'_>,
        path: &str,
        spec: &RuleSpec,
    ) -> Option<Program> {
        let mut fail = |detail: String| {
            self.errors.push(FieldError::invalid(
                format!("{path}.messageExpression"),
                json!(spec.rule),
                detail,
            ));
            None
        };
        match compile_expression(source, declarations) {
            Err(detail) => fail(format!("messageExpression compilation failed: {detail}")),
            Ok((_, checked)) if !matches!(checked.ty, Ty::String | Ty::Dyn) => {
                fail("messageExpression must evaluate to a string".into())
            }
            Ok((program, _)) => Some(program),
        }
    }
}

/// Parses and checks one expression; the error is cel-go's issue text.
fn compile_expression<'n>(
    source: &str,
    declarations: &Declarations<'n>,
) -> Result<(Program, checker::Checked<'n>), String> {
    let program = library::env()
        .compile(source)
        .map_err(|errors| parse_issues(source, &errors))?;
    let info = program.source_info();
    let offsets = |id: u64| info.offset_for(id).map_or(0, |(start, _)| start as usize);
    let checked = checker::check(program.expression(), declarations, &offsets)
        .map_err(|e| issue(source, e.offset, &e.message))?;
    Ok((program, checked))
}

fn parse_issues(source: &str, errors: &ParseErrors) -> String {
    let issues: Vec<String> = errors
        .errors
        .iter()
        .map(|e| {
            let line = usize::try_from(e.pos.0).unwrap_or(1).max(1);
            let column = usize::try_from(e.pos.1).unwrap_or(1).max(1) - 1;
            render_issue(source, line, column, &e.msg)
        })
        .collect();
    issues.join("\n")
}

/// An issue at a byte offset, rendered as cel-go does.
fn issue(source: &str, offset: usize, message: &str) -> String {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let column = before
        .rsplit('\n')
        .next()
        .unwrap_or_default()
        .chars()
        .count();
    render_issue(source, line, column, message)
}

/// cel-go's form: `ERROR: <input>:L:C: message`, then the source line and
/// a caret under the column.
fn render_issue(source: &str, line: usize, column: usize, message: &str) -> String {
    let mut text = format!("ERROR: <input>:{line}:{}: {message}", column + 1);
    if let Some(snippet) = source.lines().nth(line - 1) {
        let snippet = snippet.replace('\t', " ");
        text.push_str(&format!("\n | {snippet}\n | {}^", ".".repeat(column)));
    }
    text
}

fn has_newlines(text: &str) -> bool {
    text.contains(['\n', '\r'])
}

fn reason_kind(reason: Option<&str>) -> FieldErrorKind {
    match reason {
        Some("FieldValueForbidden") => FieldErrorKind::Forbidden,
        Some("FieldValueRequired") => FieldErrorKind::Required,
        Some("FieldValueDuplicate") => FieldErrorKind::Duplicate,
        _ => FieldErrorKind::Invalid,
    }
}

fn pointer_escape(name: &str) -> String {
    name.replace('~', "~0").replace('/', "~1")
}

/// Validates a rule's `fieldPath` against the schema as upstream's
/// `ValidFieldPath` does (`.a.b`, `['key']`), returning it in field-path
/// form (`a.b[key]`).
pub(crate) fn normalize_field_path(path: &str, node: &Node) -> Result<String, String> {
    let mut current = node;
    let mut normalized = String::new();
    let mut rest = path;
    while !rest.is_empty() {
        let (name, after) = if let Some(after_dot) = rest.strip_prefix('.') {
            let end = after_dot.find(['.', '[']).unwrap_or(after_dot.len());
            if end == 0 && after_dot.is_empty() {
                return Err("unexpected end of JSON path".into());
            }
            (after_dot[..end].to_string(), &after_dot[end..])
        } else if let Some(after_bracket) = rest.strip_prefix('[') {
            let quoted = after_bracket
                .strip_prefix('\'')
                .ok_or("expected single quoted string")?;
            let close = find_closing_quote(quoted).ok_or("unexpected end of JSON path")?;
            let after = quoted[close + 1..].strip_prefix(']').ok_or("expected ]")?;
            (unescape_single_quoted(&quoted[..close])?, after)
        } else {
            return Err(format!("expected [ or . but got: {rest}"));
        };
        if !current.properties.is_empty() {
            let (_, child) = current
                .properties
                .get(&name)
                .ok_or("does not refer to a valid field")?;
            if !normalized.is_empty() {
                normalized.push('.');
            }
            normalized.push_str(&name);
            current = child;
        } else if let Some(values) = current.additional_properties.as_deref() {
            normalized.push_str(&format!("[{name}]"));
            current = values;
        } else {
            return Err("does not refer to a valid field".into());
        }
        rest = after;
    }
    Ok(normalized)
}

fn find_closing_quote(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| bytes[i] == b'\'' && (i == 0 || bytes[i - 1] != b'\\'))
}

fn unescape_single_quoted(text: &str) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('a') => '\u{7}',
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some('v') => '\u{b}',
            Some('\'') => '\'',
            Some('\\') => '\\',
            other => {
                return Err(format!(
                    "invalid string literal: invalid escape char \\{}",
                    other.unwrap_or(' ')
                ))
            }
        });
    }
    Ok(out)
}
