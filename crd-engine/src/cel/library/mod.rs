//! The CEL environment rules compile and run in: the cel crate's standard
//! library and its strings and lists extensions, plus the Kubernetes
//! libraries CRD authors use, written here (lists, regex, URLs, quantities,
//! sets, IPs and CIDRs, named formats).
//!
//! What the cel crate provides: `size`, `matches`, `startsWith`, `endsWith`,
//! `contains`, conversions (`int`, `string`, `duration`, `timestamp`, ...),
//! timestamp accessors, the macros (`has`, `all`, `exists`, `exists_one`,
//! `map`, `filter`), optionals, and the strings extension (`lowerAscii`,
//! `upperAscii`, `trim`, `replace`, `split`, `join`, `substring`, `indexOf`,
//! `lastIndexOf`, `charAt`, `format`, `strings.quote`, `reverse`).

mod format;
mod ip;
mod lists;
mod quantity;
mod regex;
mod sets;
mod urls;

use super::checker::Ty;
use cel::{Env, ExecutionError};
use std::sync::{Arc, OnceLock};

pub(crate) use format::FORMAT_TYPE_NAME;
pub(crate) use ip::{CIDR_TYPE_NAME, IP_TYPE_NAME};
pub(crate) use quantity::QUANTITY_TYPE_NAME;
pub(crate) use urls::URL_TYPE_NAME;

/// The one environment every rule shares, built on first use.
pub(crate) fn env() -> &'static Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| Arc::new(build()))
}

fn build() -> Env {
    let mut env = Env::stdlib();
    let registered = env
        .add_extension(cel::extensions::strings)
        .and_then(|()| env.add_extension(cel::extensions::lists))
        .and_then(|()| lists::register(&mut env))
        .and_then(|()| regex::register(&mut env))
        .and_then(|()| urls::register(&mut env))
        .and_then(|()| quantity::register(&mut env))
        .and_then(|()| sets::register(&mut env))
        .and_then(|()| ip::register(&mut env))
        .and_then(|()| format::register(&mut env));
    registered.expect("the library declares each overload once");
    env
}

/// A library function's failure, worded as upstream's.
pub(crate) fn failure(function: &str, message: impl Into<String>) -> ExecutionError {
    ExecutionError::function_error(function, message.into())
}

/// Identifiers that name a type rather than a variable.
pub(crate) fn is_type_name(name: &str) -> bool {
    matches!(
        name,
        "int"
            | "uint"
            | "double"
            | "bool"
            | "string"
            | "bytes"
            | "list"
            | "map"
            | "null_type"
            | "type"
    )
}

/// Identifiers that prefix a function name, as in `strings.quote`.
pub(crate) fn is_namespace(name: &str) -> bool {
    matches!(
        name,
        "strings" | "optional" | "lists" | "sets" | "ip" | "format"
    )
}

/// The result type of a call to `name` with this target and arguments, or
/// `None` if no function of that name exists.
pub(crate) fn result_type<'n>(
    name: &str,
    target: Option<&Ty<'n>>,
    args: &[Ty<'n>],
) -> Option<Ty<'n>> {
    let element = |list: Option<&Ty<'n>>| match list {
        Some(Ty::List(element)) => (**element).clone(),
        _ => Ty::Dyn,
    };
    let string_list = || Ty::List(Box::new(Ty::String));
    let ty = match name {
        "size" | "indexOf" | "lastIndexOf" | "compareTo" | "sign" | "asInteger" | "getFullYear"
        | "getMonth" | "getDayOfYear" | "getDayOfMonth" | "getDate" | "getDayOfWeek"
        | "getHours" | "getMinutes" | "getSeconds" | "getMilliseconds" | "int" | "family"
        | "prefixLength" => Ty::Int,
        "matches"
        | "startsWith"
        | "endsWith"
        | "contains"
        | "isSorted"
        | "isURL"
        | "isQuantity"
        | "isGreaterThan"
        | "isLessThan"
        | "isInteger"
        | "hasValue"
        | "bool"
        | "sets.contains"
        | "sets.equivalent"
        | "sets.intersects"
        | "isIP"
        | "isCIDR"
        | "ip.isCanonical"
        | "containsIP"
        | "containsCIDR"
        | "isUnspecified"
        | "isLoopback"
        | "isLinkLocalMulticast"
        | "isLinkLocalUnicast"
        | "isGlobalUnicast" => Ty::Bool,
        "uint" => Ty::Uint,
        "double" | "asApproximateFloat" => Ty::Double,
        "bytes" => Ty::Bytes,
        "duration" => Ty::Duration,
        "timestamp" => Ty::Timestamp,
        "type" => Ty::Type,
        "dyn" => Ty::Dyn,
        "value" | "orValue" => match target {
            Some(Ty::Optional(inner)) => (**inner).clone(),
            _ => Ty::Dyn,
        },
        "string" | "lowerAscii" | "upperAscii" | "trim" | "replace" | "substring" | "charAt"
        | "format" | "join" | "find" | "getScheme" | "getHost" | "getHostname" | "getPort"
        | "getEscapedPath" | "strings.quote" => Ty::String,
        "reverse" => match target {
            Some(Ty::String) => Ty::String,
            Some(list @ Ty::List(_)) => list.clone(),
            _ => Ty::Dyn,
        },
        "split" | "findAll" => string_list(),
        "slice" | "distinct" | "sort" | "sortBy" => target.cloned().unwrap_or(Ty::Dyn),
        "flatten" => Ty::List(Box::new(Ty::Dyn)),
        "lists.range" => Ty::List(Box::new(Ty::Int)),
        "sum" | "min" | "max" => element(target),
        "quantity" | "add" | "sub" => Ty::Opaque(QUANTITY_TYPE_NAME),
        "url" => Ty::Opaque(URL_TYPE_NAME),
        "ip" => Ty::Opaque(IP_TYPE_NAME),
        "cidr" | "masked" => Ty::Opaque(CIDR_TYPE_NAME),
        "getQuery" => Ty::Map(Box::new(Ty::String), Box::new(string_list())),
        "optional.of" | "optional.ofNonZeroValue" | "optional.none" => {
            Ty::Optional(Box::new(args.first().cloned().unwrap_or(Ty::Dyn)))
        }
        "or" => match target {
            Some(optional @ Ty::Optional(_)) => optional.clone(),
            _ => Ty::Optional(Box::new(Ty::Dyn)),
        },
        "format.named" => Ty::Optional(Box::new(Ty::Opaque(FORMAT_TYPE_NAME))),
        "validate" => Ty::Optional(Box::new(string_list())),
        _ if format::is_constructor(name) => Ty::Opaque(FORMAT_TYPE_NAME),
        _ => return None,
    };
    Some(ty)
}
