//! The string `format`s upstream validates in custom resources: the
//! kube-openapi `strfmt` registry, restricted to the formats apiextensions
//! keeps (`StripUnsupportedFormatsPostProcessorForVersion` at 1.34); any
//! other format is dropped at compile time and never checked. Each check
//! follows the Go function upstream calls (`net/url.ParseRequestURI`,
//! `net.ParseMAC`, `time.ParseDuration`, `resource.ParseQuantity`, ...).

use std::net::Ipv6Addr;
use std::sync::LazyLock;

use regex::Regex;

use super::node::Types;

/// A string format upstream validates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    BsonObjectId,
    Uri,
    Email,
    Hostname,
    Ipv4,
    Ipv6,
    Cidr,
    Mac,
    Uuid,
    Uuid3,
    Uuid4,
    Uuid5,
    Isbn,
    Isbn10,
    Isbn13,
    CreditCard,
    Ssn,
    HexColor,
    RgbColor,
    Byte,
    Password,
    Date,
    Duration,
    DateTime,
    Quantity,
    ShortName,
    LongName,
}

/// Whether upstream keeps `format` on a node of `types`: string formats
/// from the supported list (compared without dashes, as go-openapi's
/// registry does), `int32`/`int64` on integers, `float`/`double` on numbers.
pub fn supported_format(types: Types, format: &str) -> bool {
    match types {
        Types::Any | Types::IntOrString | Types::One("string") => Format::named(format).is_some(),
        Types::One("integer") => matches!(format, "int32" | "int64"),
        Types::One("number") => matches!(format, "float" | "double"),
        Types::One(_) => false,
    }
}

impl Format {
    /// The format a schema names, after go-openapi's name normalisation.
    pub fn named(name: &str) -> Option<Format> {
        let format = match name.replace('-', "").as_str() {
            "bsonobjectid" => Format::BsonObjectId,
            "uri" => Format::Uri,
            "email" => Format::Email,
            "hostname" => Format::Hostname,
            "ipv4" => Format::Ipv4,
            "ipv6" => Format::Ipv6,
            "cidr" => Format::Cidr,
            "mac" => Format::Mac,
            "uuid" => Format::Uuid,
            "uuid3" => Format::Uuid3,
            "uuid4" => Format::Uuid4,
            "uuid5" => Format::Uuid5,
            "isbn" => Format::Isbn,
            "isbn10" => Format::Isbn10,
            "isbn13" => Format::Isbn13,
            "creditcard" => Format::CreditCard,
            "ssn" => Format::Ssn,
            "hexcolor" => Format::HexColor,
            "rgbcolor" => Format::RgbColor,
            "byte" => Format::Byte,
            "password" => Format::Password,
            "date" => Format::Date,
            "duration" => Format::Duration,
            "datetime" => Format::DateTime,
            "quantity" => Format::Quantity,
            "k8sshortname" => Format::ShortName,
            "k8slongname" => Format::LongName,
            _ => return None,
        };
        Some(format)
    }

    /// Whether `value` is valid in this format.
    pub fn is_valid(self, value: &str) -> bool {
        match self {
            Format::BsonObjectId => {
                value.len() == 24 && value.bytes().all(|b| b.is_ascii_hexdigit())
            }
            Format::Uri => is_request_uri(value),
            Format::Email => is_email(value),
            Format::Hostname => is_hostname(value),
            Format::Ipv4 => parse_ip_sloppy(value) && value.contains('.'),
            Format::Ipv6 => value.parse::<Ipv6Addr>().is_ok(),
            Format::Cidr => is_cidr(value),
            Format::Mac => is_mac(value),
            Format::Uuid => UUID.is_match(value),
            Format::Uuid3 => UUID3.is_match(value),
            Format::Uuid4 => UUID4.is_match(value),
            Format::Uuid5 => UUID5.is_match(value),
            Format::Isbn => is_isbn10(value) || is_isbn13(value),
            Format::Isbn10 => is_isbn10(value),
            Format::Isbn13 => is_isbn13(value),
            Format::CreditCard => is_credit_card(value),
            Format::Ssn => value.len() == 11 && SSN.is_match(value),
            Format::HexColor => HEX_COLOR.is_match(value),
            Format::RgbColor => RGB_COLOR.is_match(value),
            Format::Byte => BASE64.is_match(value),
            Format::Password => true,
            Format::Date => is_date(value),
            Format::Duration => is_duration(value),
            Format::DateTime => is_date_time(value),
            Format::Quantity => is_quantity(value),
            Format::ShortName => value.len() <= 63 && DNS1123_LABEL.is_match(value),
            Format::LongName => value.len() <= 253 && DNS1123_SUBDOMAIN.is_match(value),
        }
    }
}

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("format patterns are fixed and valid")
}

static UUID: LazyLock<Regex> = LazyLock::new(|| {
    regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
static UUID3: LazyLock<Regex> = LazyLock::new(|| {
    regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?3[0-9a-f]{3}-?[0-9a-f]{4}-?[0-9a-f]{12}$")
});
static UUID4: LazyLock<Regex> = LazyLock::new(|| {
    regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?4[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static UUID5: LazyLock<Regex> = LazyLock::new(|| {
    regex("(?i)^[0-9a-f]{8}-?[0-9a-f]{4}-?5[0-9a-f]{3}-?[89ab][0-9a-f]{3}-?[0-9a-f]{12}$")
});
static SSN: LazyLock<Regex> = LazyLock::new(|| regex(r"^[0-9]{3}[- ]?[0-9]{2}[- ]?[0-9]{4}$"));
static HEX_COLOR: LazyLock<Regex> = LazyLock::new(|| regex("^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$"));
static RGB_COLOR: LazyLock<Regex> = LazyLock::new(|| {
    let channel = r"\s*(0|[1-9][0-9]?|1[0-9][0-9]?|2[0-4][0-9]|25[0-5])\s*";
    regex(&format!(r"^rgb\({channel},{channel},{channel}\)$"))
});
static BASE64: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$")
});
static CREDIT_CARD: LazyLock<Regex> = LazyLock::new(|| {
    regex(
        "^(?:4[0-9]{12}(?:[0-9]{3})?|5[1-5][0-9]{14}|6(?:011|5[0-9][0-9])[0-9]{12}|3[47][0-9]{13}|\
         3(?:0[0-5]|[68][0-9])[0-9]{11}|(?:2131|1800|35[0-9]{3})[0-9]{11})$",
    )
});
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    let ch = r"[a-zA-Z0-9\p{S}\p{L}]";
    regex(&format!(
        r"^({ch}((-?{ch}{{0,62}})?)|({ch}(([a-zA-Z0-9\-\p{{S}}\p{{L}}]{{0,61}}{ch})?)(\.)){{1,}}([a-zA-Z\p{{L}}]){{2,63}})$"
    ))
});
static DATE_TIME_TAIL: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$")
});
static DNS1123_LABEL: LazyLock<Regex> = LazyLock::new(|| regex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
static DNS1123_SUBDOMAIN: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));
static SCALA_DURATION: LazyLock<Regex> =
    LazyLock::new(|| regex(r"^\s*(?:[0-9]+\s*[A-Za-zµ]+\s*)+$"));
static SCALA_DURATION_PART: LazyLock<Regex> = LazyLock::new(|| regex(r"([0-9]+)\s*([A-Za-zµ]+)"));

/// `net/url.ParseRequestURI`: an absolute URI with a hierarchical part or
/// an absolute path; no control characters, valid `%` escapes, a sane host.
fn is_request_uri(value: &str) -> bool {
    if value.is_empty() || value.bytes().any(|b| b < 0x20 || b == 0x7f) {
        return false;
    }
    if value == "*" {
        return true;
    }
    let (scheme, rest) = match split_scheme(value) {
        Ok(split) => split,
        Err(()) => return false,
    };
    let hierarchical = rest.split('?').next().unwrap_or_default();
    if !hierarchical.starts_with('/') {
        return false;
    }
    let path = if scheme.is_some() && hierarchical.starts_with("//") {
        let after = &hierarchical[2..];
        let end = after.find('/').unwrap_or(after.len());
        if !is_authority(&after[..end]) {
            return false;
        }
        &after[end..]
    } else {
        hierarchical
    };
    has_valid_escapes(path)
}

/// Go's `getScheme`: letters, then letters, digits, `+-.` up to a `:`.
fn split_scheme(value: &str) -> Result<(Option<&str>, &str), ()> {
    for (i, c) in value.char_indices() {
        match c {
            'a'..='z' | 'A'..='Z' => {}
            '0'..='9' | '+' | '-' | '.' if i > 0 => {}
            ':' if i == 0 => return Err(()),
            ':' => return Ok((Some(&value[..i]), &value[i + 1..])),
            _ => return Ok((None, value)),
        }
    }
    Ok((None, value))
}

fn is_authority(authority: &str) -> bool {
    let (userinfo, host) = match authority.rfind('@') {
        Some(at) => (&authority[..at], &authority[at + 1..]),
        None => ("", authority),
    };
    let userinfo_ok = userinfo
        .chars()
        .all(|c| !c.is_ascii() || c.is_ascii_alphanumeric() || "-._:~!$&'()*+,;=%@".contains(c));
    userinfo_ok && is_host(host) && has_valid_escapes(host)
}

fn is_host(host: &str) -> bool {
    let (name, port) = if let Some(literal) = host.strip_prefix('[') {
        let Some(close) = literal.find(']') else {
            return false;
        };
        let tail = &literal[close + 1..];
        if !tail.is_empty() && !tail.starts_with(':') {
            return false;
        }
        ("", tail.strip_prefix(':'))
    } else {
        match host.rfind(':') {
            Some(colon) => (&host[..colon], Some(&host[colon + 1..])),
            None => (host, None),
        }
    };
    let port_ok = port.is_none_or(|port| port.bytes().all(|b| b.is_ascii_digit()));
    let name_ok = name.chars().all(|c| {
        !c.is_ascii() || c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=%\"<>[]".contains(c)
    });
    port_ok && name_ok
}

fn has_valid_escapes(text: &str) -> bool {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let valid = bytes.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                && bytes.get(i + 2).is_some_and(u8::is_ascii_hexdigit);
            if !valid {
                return false;
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    true
}

/// `net/mail.ParseAddress`, without comments: `local@domain`, optionally
/// inside `<>` after a display name.
fn is_email(value: &str) -> bool {
    let value = value.trim();
    let address = match (value.rfind('<'), value.strip_suffix('>')) {
        (Some(open), Some(inner)) => {
            let display = value[..open].trim();
            let display_ok = display
                .chars()
                .all(|c| is_atext(c) || c == ' ' || c == '.' || c == '"');
            if !display_ok {
                return false;
            }
            &inner[open + 1..]
        }
        _ => value,
    };
    let Some(at) = address.rfind('@') else {
        return false;
    };
    let (local, domain) = (&address[..at], &address[at + 1..]);
    let local_ok = is_dot_atom(local) || is_quoted(local);
    let domain_ok = is_dot_atom(domain)
        || (domain.starts_with('[') && domain.ends_with(']') && domain.len() > 2);
    local_ok && domain_ok
}

fn is_atext(c: char) -> bool {
    !c.is_ascii() || c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

fn is_dot_atom(text: &str) -> bool {
    !text.is_empty()
        && text
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(is_atext))
}

fn is_quoted(text: &str) -> bool {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return false;
    };
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => return false,
            c if c.is_ascii_control() && c != '\t' => return false,
            _ => {}
        }
    }
    !escaped
}

/// kube-openapi's `IsHostname`: its RFC 1034 pattern, at most 255 bytes,
/// labels at most 63 bytes.
fn is_hostname(value: &str) -> bool {
    HOSTNAME.is_match(value)
        && value.len() <= 255
        && value.split('.').all(|label| label.len() <= 63)
}

/// `netutils.ParseIPSloppy`: IPv4 tolerating leading zeros, or IPv6.
fn parse_ip_sloppy(value: &str) -> bool {
    is_ipv4_sloppy(value) || value.parse::<Ipv6Addr>().is_ok()
}

fn is_ipv4_sloppy(value: &str) -> bool {
    let parts: Vec<&str> = value.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|part| {
            !part.is_empty()
                && part.len() <= 3
                && part.bytes().all(|b| b.is_ascii_digit())
                && part.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

fn is_cidr(value: &str) -> bool {
    let Some((address, prefix)) = value.split_once('/') else {
        return false;
    };
    let bits = if is_ipv4_sloppy(address) {
        32
    } else if address.parse::<Ipv6Addr>().is_ok() {
        128
    } else {
        return false;
    };
    !prefix.is_empty()
        && prefix.len() <= 3
        && prefix.bytes().all(|b| b.is_ascii_digit())
        && prefix.parse::<u32>().is_ok_and(|n| n <= bits)
}

/// `net.ParseMAC`: 6, 8 or 20 octets as `xx:xx…`, `xx-xx…` or `xxxx.xxxx…`.
fn is_mac(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() < 14 {
        return false;
    }
    let hex = |range: &[u8]| range.iter().all(u8::is_ascii_hexdigit);
    let sizes = [6, 8, 20];
    if bytes[2] == b':' || bytes[2] == b'-' {
        if !(bytes.len() + 1).is_multiple_of(3) || !sizes.contains(&((bytes.len() + 1) / 3)) {
            return false;
        }
        return bytes
            .chunks(3)
            .all(|chunk| hex(&chunk[..2]) && (chunk.len() == 2 || chunk[2] == bytes[2]));
    }
    if bytes[4] == b'.' {
        if !(bytes.len() + 1).is_multiple_of(5) || !sizes.contains(&(2 * (bytes.len() + 1) / 5)) {
            return false;
        }
        return bytes
            .chunks(5)
            .all(|chunk| hex(&chunk[..4]) && (chunk.len() == 4 || chunk[4] == b'.'));
    }
    false
}

fn isbn_digits(value: &str) -> String {
    value.chars().filter(|c| *c != ' ' && *c != '-').collect()
}

fn is_isbn10(value: &str) -> bool {
    let digits = isbn_digits(value);
    let bytes = digits.as_bytes();
    if bytes.len() != 10 || !bytes[..9].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let last = match bytes[9] {
        b'X' => 10,
        b @ b'0'..=b'9' => u32::from(b - b'0'),
        _ => return false,
    };
    let sum: u32 = bytes[..9]
        .iter()
        .enumerate()
        .map(|(i, b)| (i as u32 + 1) * u32::from(b - b'0'))
        .sum::<u32>()
        + 10 * last;
    sum.is_multiple_of(11)
}

fn is_isbn13(value: &str) -> bool {
    let digits = isbn_digits(value);
    let bytes = digits.as_bytes();
    if bytes.len() != 13 || !bytes.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = bytes[..12]
        .iter()
        .enumerate()
        .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 1 } else { 3 })
        .sum();
    u32::from(bytes[12] - b'0') == (10 - sum % 10) % 10
}

/// govalidator's `IsCreditCard`: the digits (anything else is ignored) match
/// a card number pattern and pass the Luhn check.
fn is_credit_card(value: &str) -> bool {
    let digits: String = value.chars().filter(char::is_ascii_digit).collect();
    if !CREDIT_CARD.is_match(&digits) {
        return false;
    }
    let mut sum = 0;
    for (i, b) in digits.bytes().rev().enumerate() {
        let mut digit = u32::from(b - b'0');
        if i % 2 == 1 {
            digit *= 2;
            if digit > 9 {
                digit -= 9;
            }
        }
        sum += digit;
    }
    sum % 10 == 0
}

/// Go's `time.Parse("2006-01-02", …)`: exact widths and a real calendar day.
fn is_date(value: &str) -> bool {
    let bytes = value.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return false;
    }
    let number = |range: &[u8]| -> Option<u32> {
        range
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| range.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
    };
    let (Some(year), Some(month), Some(day)) = (
        number(&bytes[..4]),
        number(&bytes[5..7]),
        number(&bytes[8..]),
    ) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// kube-openapi's `IsDateTime`: a date, a `t`, then `hh:mm:ss[.frac]` and a
/// zone, compared case-insensitively.
fn is_date_time(value: &str) -> bool {
    if value.len() < 4 {
        return false;
    }
    let lower = value.to_lowercase();
    let mut parts = lower.split('t');
    let (Some(date), Some(time)) = (parts.next(), parts.next()) else {
        return false;
    };
    if !is_date(date) {
        return false;
    }
    let Some(captures) = DATE_TIME_TAIL.captures(time) else {
        return false;
    };
    &captures[1] <= "23" && &captures[2] <= "59" && &captures[3] <= "59"
}

/// kube-openapi's `ParseDuration`: Go's `time.ParseDuration`, or the Scala
/// style `3 days 4 hours`.
fn is_duration(value: &str) -> bool {
    is_go_duration(value) || is_scala_duration(value)
}

fn is_go_duration(value: &str) -> bool {
    apiserver::duration::parse_nanos(value, apiserver::duration::Units::Go).is_ok()
}

fn is_scala_duration(value: &str) -> bool {
    const UNITS: [&[&str]; 8] = [
        &["ns", "nano"],
        &["us", "µs", "micro"],
        &["ms", "milli"],
        &["s", "sec"],
        &["m", "min"],
        &["h", "hr", "hour"],
        &["d", "day"],
        &["w", "wk", "week"],
    ];
    if !SCALA_DURATION.is_match(value) {
        return false;
    }
    SCALA_DURATION_PART.captures_iter(value).any(|part| {
        let unit = part[2].to_lowercase();
        UNITS.iter().any(|variants| {
            variants.iter().enumerate().any(|(i, variant)| {
                (i == variants.len() - 1 && unit.starts_with(variant))
                    || unit.eq_ignore_ascii_case(variant)
            })
        })
    })
}

/// `resource.ParseQuantity`: a signed decimal number and one of the binary
/// (`Ki`…`Ei`), decimal (`n`…`E`) or exponent (`e3`) suffixes.
fn is_quantity(value: &str) -> bool {
    if value.is_empty() {
        return false;
    }
    let unsigned = value.strip_prefix(['+', '-']).unwrap_or(value);
    let integer = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    let mut rest = &unsigned[integer..];
    if let Some(after) = rest.strip_prefix('.') {
        let fraction = after.bytes().take_while(u8::is_ascii_digit).count();
        rest = &after[fraction..];
    }
    match rest {
        "" | "Ki" | "Mi" | "Gi" | "Ti" | "Pi" | "Ei" | "n" | "u" | "m" | "k" | "M" | "G" | "T"
        | "P" | "E" => true,
        exponent => exponent
            .strip_prefix(['e', 'E'])
            .map(|digits| digits.strip_prefix(['+', '-']).unwrap_or(digits))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(format: &str, good: &[&str], bad: &[&str]) {
        let format_kind = Format::named(format).expect("known format");
        for value in good {
            assert!(
                format_kind.is_valid(value),
                "{format}: {value:?} should be valid"
            );
        }
        for value in bad {
            assert!(
                !format_kind.is_valid(value),
                "{format}: {value:?} should be invalid"
            );
        }
    }

    #[test]
    fn formats_upstream_keeps_and_drops() {
        assert!(supported_format(Types::One("string"), "date-time"));
        assert!(supported_format(Types::One("string"), "datetime"));
        assert!(supported_format(Types::Any, "uuid"));
        assert!(!supported_format(Types::One("string"), "int32"));
        assert!(!supported_format(Types::One("string"), "int-or-string"));
        assert!(supported_format(Types::One("integer"), "int32"));
        assert!(!supported_format(Types::One("integer"), "date"));
        assert!(supported_format(Types::One("number"), "double"));
        assert!(!supported_format(Types::One("boolean"), "date"));
    }

    #[test]
    fn network_formats() {
        check(
            "ipv4",
            &["1.2.3.4", "010.0.0.1", "::ffff:1.2.3.4"],
            &["1.2.3", "256.1.1.1", "::1", "a.b.c.d"],
        );
        check(
            "ipv6",
            &["::1", "fe80::1", "::ffff:1.2.3.4"],
            &["1.2.3.4", "fe80::1%eth0", ":::"],
        );
        check(
            "cidr",
            &["10.0.0.0/8", "fd00::/64", "10.0.0.0/32"],
            &["10.0.0.0", "10.0.0.0/33", "x/8"],
        );
        check(
            "mac",
            &[
                "00:1a:2b:3c:4d:5e",
                "00-1A-2B-3C-4D-5E",
                "001a.2b3c.4d5e",
                "00:00:00:00:fe:80:00:00",
            ],
            &["00:1a:2b:3c:4d", "00:1a-2b:3c:4d:5e", "zz:1a:2b:3c:4d:5e"],
        );
        check(
            "hostname",
            &["example.com", "a", "my-host.example.org"],
            &["-bad.com", "a..b", "exa mple.com"],
        );
        check(
            "uri",
            &[
                "http://example.com/a?b=c",
                "https://u:p@host:8080/x",
                "/just/a/path",
                "urn:/x",
            ],
            &[
                "example.com",
                "mailto:a@b.c",
                "",
                "http://exa mple.com/",
                "/bad%zz",
                "://x",
            ],
        );
        check(
            "email",
            &["a@b.com", "Joe <joe@example.com>", "\"x y\"@ex.org"],
            &["plain", "a@", "@b.com"],
        );
    }

    #[test]
    fn identifier_formats() {
        check(
            "uuid",
            &[
                "123e4567-e89b-12d3-a456-426614174000",
                "123E4567E89B12D3A456426614174000",
            ],
            &["123e4567"],
        );
        check(
            "uuid4",
            &["123e4567-e89b-42d3-a456-426614174000"],
            &["123e4567-e89b-12d3-a456-426614174000"],
        );
        check(
            "bsonobjectid",
            &["507f1f77bcf86cd799439011"],
            &["507f1f77bcf86cd79943901z"],
        );
        check("isbn10", &["0321751043", "0-321-75104-3"], &["0321751044"]);
        check("isbn13", &["978-0321751041"], &["978-0321751042"]);
        check("isbn", &["0321751043", "9780321751041"], &["123"]);
        check(
            "creditcard",
            &["4111 1111 1111 1111"],
            &["4111 1111 1111 1112"],
        );
        check(
            "ssn",
            &["123-45-6789", "123 45 6789"],
            &["123456789", "12-345-6789"],
        );
        check("hexcolor", &["#fff", "A0B1C2"], &["#ffff", "ggg"]);
        check(
            "rgbcolor",
            &["rgb(255, 0,10)"],
            &["rgb(256,0,0)", "rgb(1,2)"],
        );
        check("byte", &["aGVsbG8=", "YWJj"], &["aGVsbG8", "not base64!"]);
        check(
            "k8s-short-name",
            &["my-name", "a1"],
            &["My-Name", "-a", &"a".repeat(64)],
        );
        check("k8s-long-name", &["a.b-c.d"], &["a..b", "A.b"]);
    }

    #[test]
    fn time_and_quantity_formats() {
        check(
            "date",
            &["2024-02-29", "2023-12-31"],
            &["2023-02-29", "2023-13-01", "2023-1-01", "20230101"],
        );
        check(
            "date-time",
            &["2024-01-02T15:04:05Z", "2024-01-02t15:04:05.123+01:00"],
            &["2024-01-02", "2024-01-02T25:00:00Z", "2024-01-02T15:04:05"],
        );
        check(
            "duration",
            &[
                "1h30m",
                "-1.5s",
                "0",
                "300ms",
                "5 days",
                "3 hours 2 min",
                "2µs",
            ],
            &["", "1", "1x", "h", "5 parsecs"],
        );
        check(
            "quantity",
            &["1", "1.5Gi", "100m", "1e3", "-2", "0.5", "."],
            &["", "1Gb", "1e", "abc"],
        );
        check("password", &["anything at all"], &[]);
    }
}
