//! Kubernetes' format library (upstream's `library/format.go`, 1.34):
//! `format.<name>()` for each named string format, `format.named(name)`,
//! an optional of the format of that name, and `<format>.validate(text)`,
//! which is `optional.none()` when `text` is valid and otherwise the list of
//! what is wrong with it, in apimachinery's words. A rule reads
//! `!format.dns1123Label().validate(self).hasValue()`.

use super::urls::Url;
use apiserver::validation::{dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors};
use cel::common::functions::Function;
use cel::common::types::{CelList, CelOptional, CelString, Type};
use cel::common::value::{CowVal, StaticVal, Val};
use cel::{DeclarationError, Env, ExecutionError};
use regex::Regex;
use std::any::Any;
use std::borrow::Cow;
use std::sync::LazyLock;

pub(crate) const FORMAT_TYPE_NAME: &str = "kubernetes.NamedFormat";
static FORMAT_TYPE: Type = Type::new_unspecified_type(FORMAT_TYPE_NAME);

pub(super) fn register(env: &mut Env) -> Result<(), DeclarationError> {
    env.add_type(FORMAT_TYPE.to_owned())?;
    for (format, constructor) in NamedFormat::ALL.into_iter().zip(CONSTRUCTORS) {
        let name = format!("format.{}", format.name());
        env.add_overload(&name, &name, Vec::new(), constructor)?;
    }
    cel::add_overload!(env, fn named: (CelString) -> CelOptional,
        name = "format.named", id = "format-named")?;
    cel::add_member_overload!(env, fn validate: (NamedFormat, CelString) -> Result<CelOptional>,
        id = "format-validate")?;
    Ok(())
}

/// Whether `name` is one of the `format.<name>()` constructors.
pub(crate) fn is_constructor(name: &str) -> bool {
    name.strip_prefix("format.")
        .is_some_and(|name| NamedFormat::named(name).is_some())
}

/// A string format a rule can validate against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NamedFormat {
    Dns1123Label,
    Dns1123Subdomain,
    Dns1035Label,
    QualifiedName,
    Dns1123LabelPrefix,
    Dns1123SubdomainPrefix,
    Dns1035LabelPrefix,
    LabelValue,
    Uri,
    Uuid,
    Byte,
    Date,
    Datetime,
}

/// One zero-argument overload per format, in [`NamedFormat::ALL`]'s order:
/// the cel crate's overloads are plain function pointers, so each constant
/// needs a function of its own.
const CONSTRUCTORS: [Function; 13] = [
    constant::<0>,
    constant::<1>,
    constant::<2>,
    constant::<3>,
    constant::<4>,
    constant::<5>,
    constant::<6>,
    constant::<7>,
    constant::<8>,
    constant::<9>,
    constant::<10>,
    constant::<11>,
    constant::<12>,
];

fn constant<'b, 'v, const INDEX: usize>(
    _: Vec<CowVal<'b, 'v>>,
) -> Result<CowVal<'b, 'v>, ExecutionError> {
    Ok(CowVal::owned(NamedFormat::ALL[INDEX]))
}

impl NamedFormat {
    const ALL: [NamedFormat; 13] = [
        NamedFormat::Dns1123Label,
        NamedFormat::Dns1123Subdomain,
        NamedFormat::Dns1035Label,
        NamedFormat::QualifiedName,
        NamedFormat::Dns1123LabelPrefix,
        NamedFormat::Dns1123SubdomainPrefix,
        NamedFormat::Dns1035LabelPrefix,
        NamedFormat::LabelValue,
        NamedFormat::Uri,
        NamedFormat::Uuid,
        NamedFormat::Byte,
        NamedFormat::Date,
        NamedFormat::Datetime,
    ];

    /// The name `format.named` takes and `format.<name>()` spells.
    fn name(self) -> &'static str {
        match self {
            NamedFormat::Dns1123Label => "dns1123Label",
            NamedFormat::Dns1123Subdomain => "dns1123Subdomain",
            NamedFormat::Dns1035Label => "dns1035Label",
            NamedFormat::QualifiedName => "qualifiedName",
            NamedFormat::Dns1123LabelPrefix => "dns1123LabelPrefix",
            NamedFormat::Dns1123SubdomainPrefix => "dns1123SubdomainPrefix",
            NamedFormat::Dns1035LabelPrefix => "dns1035LabelPrefix",
            NamedFormat::LabelValue => "labelValue",
            NamedFormat::Uri => "uri",
            NamedFormat::Uuid => "uuid",
            NamedFormat::Byte => "byte",
            NamedFormat::Date => "date",
            NamedFormat::Datetime => "datetime",
        }
    }

    fn named(name: &str) -> Option<NamedFormat> {
        NamedFormat::ALL.into_iter().find(|f| f.name() == name)
    }

    /// What is wrong with `text`, nothing when it is valid. The prefix
    /// formats fail as upstream does on a lone `-`, where Go panics.
    fn problems(self, text: &str) -> Result<Vec<String>, ExecutionError> {
        let problems = match self {
            NamedFormat::Dns1123Label => dns1123_label(text),
            NamedFormat::Dns1123Subdomain => dns1123_subdomain_errors(text),
            NamedFormat::Dns1035Label => dns1035_label_errors(text),
            NamedFormat::QualifiedName => qualified_name(text),
            NamedFormat::Dns1123LabelPrefix => dns1123_label(&mask_trailing_dash(text)?),
            NamedFormat::Dns1123SubdomainPrefix => {
                dns1123_subdomain_errors(&mask_trailing_dash(text)?)
            }
            NamedFormat::Dns1035LabelPrefix => dns1035_label_errors(&mask_trailing_dash(text)?),
            NamedFormat::LabelValue => label_value(text),
            NamedFormat::Uri => Url::parse(text).err().into_iter().collect(),
            NamedFormat::Uuid => unless(UUID.is_match(text), "does not match the UUID format"),
            NamedFormat::Byte => unless(BASE64.is_match(text), "invalid base64"),
            NamedFormat::Date => unless(is_date(text), "invalid date"),
            NamedFormat::Datetime => unless(is_date_time(text), "invalid datetime"),
        };
        Ok(problems)
    }
}

impl Val for NamedFormat {
    fn get_type(&self) -> &Type {
        &FORMAT_TYPE
    }

    fn cel_type() -> &'static Type {
        &FORMAT_TYPE
    }

    fn equals(&self, other: &dyn Val) -> bool {
        other.downcast_ref::<NamedFormat>() == Some(self)
    }

    fn clone_as_boxed<'v>(&self) -> Box<dyn Val + 'v> {
        Box::new(*self)
    }

    fn as_any(&self) -> Option<&dyn Any> {
        Some(self)
    }
}

impl StaticVal for NamedFormat {}

fn named(name: &CelString<'_>) -> CelOptional<'static> {
    match NamedFormat::named(name.inner()) {
        Some(format) => CelOptional::of(Box::new(format)),
        None => CelOptional::none(),
    }
}

fn validate(
    format: &NamedFormat,
    text: &CelString<'_>,
) -> Result<CelOptional<'static>, ExecutionError> {
    let problems = format.problems(text.inner())?;
    if problems.is_empty() {
        return Ok(CelOptional::none());
    }
    let list: Vec<Box<dyn Val>> = problems
        .into_iter()
        .map(|p| Box::new(CelString::from(p)) as Box<dyn Val>)
        .collect();
    Ok(CelOptional::of(Box::new(CelList::from(list))))
}

fn unless(is_valid: bool, problem: &str) -> Vec<String> {
    if is_valid {
        Vec::new()
    } else {
        vec![problem.to_string()]
    }
}

/// Upstream's `maskTrailingDash`, for names a suffix will be appended to:
/// a trailing `-` and the byte before it become `a`. Go slices bytes, so a
/// multi-byte character before the dash leaves its leading bytes behind;
/// each stays as a `?`, which no name format accepts either.
fn mask_trailing_dash(name: &str) -> Result<Cow<'_, str>, ExecutionError> {
    let Some(stem) = name.strip_suffix('-') else {
        return Ok(Cow::Borrowed(name));
    };
    let Some(last) = stem.chars().next_back() else {
        // Go's `name[:len(name)-2]` panics here, and cel-go turns the panic
        // into an evaluation error.
        return Err(super::failure(
            "validate",
            "internal error: runtime error: slice bounds out of range [:-1]",
        ));
    };
    let kept = &stem[..stem.len() - last.len_utf8()];
    let leftover = "?".repeat(last.len_utf8() - 1);
    Ok(Cow::Owned(format!("{kept}{leftover}a")))
}

/// `IsDNS1123Label`, whose one difference from the apiserver's check is
/// the message for a valid subdomain: it names the dots.
fn dns1123_label(text: &str) -> Vec<String> {
    let mut problems = dns1123_label_errors(text);
    if text.contains('.') && DNS1123_SUBDOMAIN.is_match(text) {
        if let Some(pattern_problem) = problems.last_mut() {
            *pattern_problem = "must not contain dots".to_string();
        }
    }
    problems
}

/// The name part of a qualified name or label key, and a label value when
/// it is not empty.
const NAME_PATTERN: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const NAME_CHARACTERS: &str = "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const NAME_MAX: usize = 63;

/// `IsQualifiedName`: a name part with an optional subdomain prefix and `/`.
fn qualified_name(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let parts: Vec<&str> = text.split('/').collect();
    let name = match parts[..] {
        [name] => name,
        [prefix, name] => {
            if prefix.is_empty() {
                problems.push("prefix part must be non-empty".to_string());
            } else {
                problems.extend(
                    dns1123_subdomain_errors(prefix)
                        .into_iter()
                        .map(|p| format!("prefix part {p}")),
                );
            }
            name
        }
        _ => {
            let rule = name_rule();
            return vec![format!("a qualified name {rule} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')")];
        }
    };
    if name.is_empty() {
        problems.push("name part must be non-empty".to_string());
    } else if name.len() > NAME_MAX {
        problems.push(format!(
            "name part must be no more than {NAME_MAX} characters"
        ));
    }
    if !QUALIFIED_NAME.is_match(name) {
        let rule = name_rule();
        problems.push(format!("name part {rule}"));
    }
    problems
}

fn name_rule() -> String {
    regex_error(
        &format!("must {NAME_CHARACTERS}"),
        NAME_PATTERN,
        &["MyName", "my.name", "123-abc"],
    )
}

/// `IsValidLabelValue`: empty, or a name part.
fn label_value(text: &str) -> Vec<String> {
    let mut problems = Vec::new();
    if text.len() > NAME_MAX {
        problems.push(format!("must be no more than {NAME_MAX} characters"));
    }
    if !(text.is_empty() || QUALIFIED_NAME.is_match(text)) {
        problems.push(regex_error(
            &format!("a valid label must be an empty string or {NAME_CHARACTERS}"),
            &format!("({NAME_PATTERN})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    problems
}

/// Upstream's `RegexError`: the rule, then examples and the pattern, in
/// its exact punctuation (`(e.g. 'a',  or 'b', regex used …)`).
fn regex_error(rule: &str, pattern: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{rule} (regex used for validation is '{pattern}')");
    }
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}', ")).collect();
    format!(
        "{rule} (e.g. {}regex used for validation is '{pattern}')",
        examples.join(" or ")
    )
}

/// strfmt's `IsDate`: Go's `time.Parse("2006-01-02", …)`, exactly four,
/// two and two digits naming a real day.
fn is_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    let number = |range: std::ops::Range<usize>| text[range].parse::<u32>().unwrap_or_default();
    shaped
        && i32::try_from(number(0..4)).is_ok_and(|year| {
            chrono::NaiveDate::from_ymd_opt(year, number(5..7), number(8..10)).is_some()
        })
}

/// strfmt's `IsDateTime`: a date, `t` (any case), then a time of day with
/// optional fraction and a `z` or `±hh:mm` offset. Go's pattern has an
/// unescaped `.` before the fraction, kept here.
fn is_date_time(text: &str) -> bool {
    if text.len() < 4 {
        return false;
    }
    let lower = text.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    TIME_OF_DAY
        .captures(time)
        .is_some_and(|c| &c[1] <= "23" && &c[2] <= "59" && &c[3] <= "59")
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("the format patterns are fixed and valid")
}

static DNS1123_SUBDOMAIN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));
static QUALIFIED_NAME: LazyLock<Regex> = LazyLock::new(|| regex(&format!("^{NAME_PATTERN}$")));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
/// govalidator's `Base64`, which wants at least one group: `""` fails.
static BASE64: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
});
static TIME_OF_DAY: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
});

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(format: NamedFormat, text: &str) -> Vec<String> {
        format.problems(text).expect("no panic case")
    }

    #[test]
    fn labels_name_the_dots_of_a_subdomain() {
        assert!(problems(NamedFormat::Dns1123Label, "my-name").is_empty());
        assert_eq!(
            problems(NamedFormat::Dns1123Label, "a.b"),
            ["must not contain dots"]
        );
        assert_eq!(
            problems(NamedFormat::Dns1123Label, "Bad"),
            ["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"]
        );
        assert_eq!(
            problems(NamedFormat::Dns1123Label, &"a".repeat(64)),
            ["must be no more than 63 characters"]
        );
    }

    #[test]
    fn prefixes_accept_a_trailing_dash_as_upstream_masks_it() {
        assert!(problems(NamedFormat::Dns1123LabelPrefix, "my-prefix-").is_empty());
        assert!(problems(NamedFormat::Dns1035LabelPrefix, "a-").is_empty());
        assert!(problems(NamedFormat::Dns1123SubdomainPrefix, "x.y-").is_empty());
        // Upstream drops the byte before the dash too, so it goes unchecked.
        assert!(problems(NamedFormat::Dns1123LabelPrefix, "ab_-").is_empty());
        assert!(!problems(NamedFormat::Dns1123LabelPrefix, "aé-").is_empty());
        assert!(!problems(NamedFormat::Dns1123Label, "my-prefix-").is_empty());
        assert!(NamedFormat::Dns1123LabelPrefix.problems("-").is_err());
    }

    #[test]
    fn qualified_names_check_prefix_and_name_parts() {
        assert!(problems(NamedFormat::QualifiedName, "example.com/MyName").is_empty());
        assert!(problems(NamedFormat::QualifiedName, "my.name").is_empty());
        assert_eq!(
            problems(NamedFormat::QualifiedName, "/x"),
            ["prefix part must be non-empty"]
        );
        assert_eq!(
            problems(NamedFormat::QualifiedName, "a/"),
            [
                "name part must be non-empty",
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
            ]
        );
        assert_eq!(
            problems(NamedFormat::QualifiedName, "a/b/c"),
            ["a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"]
        );
        assert!(problems(NamedFormat::QualifiedName, "Bad_/x")[0]
            .starts_with("prefix part a lowercase RFC 1123 subdomain"));
    }

    #[test]
    fn label_values_may_be_empty() {
        assert!(problems(NamedFormat::LabelValue, "").is_empty());
        assert!(problems(NamedFormat::LabelValue, "my_value").is_empty());
        assert_eq!(
            problems(NamedFormat::LabelValue, "-x"),
            ["a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"]
        );
    }

    #[test]
    fn openapi_formats_follow_strfmt() {
        assert!(problems(NamedFormat::Uri, "http://example.com").is_empty());
        assert_eq!(
            problems(NamedFormat::Uri, "relative"),
            ["parse \"relative\": invalid URI for request"]
        );
        assert!(problems(NamedFormat::Uuid, "123e4567-e89b-12d3-a456-426614174000").is_empty());
        assert!(problems(NamedFormat::Uuid, "123E4567E89B12D3A456426614174000").is_empty());
        assert_eq!(
            problems(NamedFormat::Uuid, "123"),
            ["does not match the UUID format"]
        );
        assert!(problems(NamedFormat::Byte, "aGVsbG8=").is_empty());
        assert_eq!(problems(NamedFormat::Byte, ""), ["invalid base64"]);
        assert!(problems(NamedFormat::Date, "2024-02-29").is_empty());
        assert_eq!(problems(NamedFormat::Date, "2023-02-29"), ["invalid date"]);
        assert_eq!(problems(NamedFormat::Date, "2023-2-01"), ["invalid date"]);
        assert!(problems(NamedFormat::Datetime, "2021-01-01T00:00:00Z").is_empty());
        assert!(problems(NamedFormat::Datetime, "2021-01-01t23:59:59.5+02:00").is_empty());
        assert_eq!(
            problems(NamedFormat::Datetime, "2021-01-01T24:00:00Z"),
            ["invalid datetime"]
        );
        assert_eq!(
            problems(NamedFormat::Datetime, "2021-01-01"),
            ["invalid datetime"]
        );
    }

    #[test]
    fn every_format_is_named_and_constructed_in_order() {
        for (index, format) in NamedFormat::ALL.into_iter().enumerate() {
            assert_eq!(NamedFormat::named(format.name()), Some(format));
            let built = CONSTRUCTORS[index](Vec::new()).expect("constructors do not fail");
            assert_eq!(built.as_ref().downcast_ref::<NamedFormat>(), Some(&format));
        }
        assert!(is_constructor("format.dns1123Label"));
        assert!(!is_constructor("format.named"));
    }
}
