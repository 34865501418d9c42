//! `spec.conversion`: `None`, or a `Webhook` the server calls to convert
//! between versions.
//!
//! Paths use upstream's internal names: v1's `conversion.webhook.clientConfig`
//! and `conversion.webhook.conversionReviewVersions` are reported as
//! `spec.conversion.webhookClientConfig` and
//! `spec.conversion.conversionReviewVersions`.

use apiserver::validation::{dns1035_label_errors, dns1123_subdomain_errors, FieldError};
use base64::Engine;
use serde_json::{json, Value};

use super::go_url;
use super::{list, present, preserves_unknown_fields, text, Rules};

/// The ConversionReview versions this server (and the release before it)
/// can send; a webhook must accept one of them.
const REVIEW_VERSIONS: &[&str] = &["v1", "v1beta1"];
const URL_FORM: &str = "; desired format: https://host[/path]";
/// Defaulting sets this when a service reference has no port.
const DEFAULT_SERVICE_PORT: i64 = 443;

pub(super) fn errors(crd: &Value, rules: &Rules) -> Vec<FieldError> {
    let Some(conversion) = crd.pointer("/spec/conversion").filter(|c| !c.is_null()) else {
        return Vec::new();
    };
    let strategy = text(conversion, "strategy");
    let mut errors = Vec::new();
    if strategy != "None" && preserves_unknown_fields(crd) {
        errors.push(FieldError::invalid(
            "spec.conversion.strategy",
            json!(strategy),
            "must be None if spec.preserveUnknownFields is true",
        ));
    }
    match strategy {
        "" => errors.push(FieldError::required("spec.conversion.strategy", "")),
        "None" | "Webhook" => {}
        other => errors.push(FieldError::not_supported(
            "spec.conversion.strategy",
            json!(other),
            &["None", "Webhook"],
        )),
    }
    let webhook = present(conversion, "webhook");
    let client_config = webhook.and_then(|w| present(w, "clientConfig"));
    let review_versions = webhook.map_or(&[][..], |w| list(w, "conversionReviewVersions"));
    if strategy == "Webhook" {
        match client_config {
            None => errors.push(FieldError::required(
                "spec.conversion.webhookClientConfig",
                "required when strategy is set to Webhook",
            )),
            Some(config) => errors.extend(client_config_errors(config, rules)),
        }
        errors.extend(review_versions_errors(
            review_versions,
            rules.require_recognized_review_version,
        ));
        return errors;
    }
    let not_webhook = "should not be set when strategy is not set to Webhook";
    if client_config.is_some() {
        errors.push(FieldError::forbidden(
            "spec.conversion.webhookClientConfig",
            not_webhook,
        ));
    }
    if !review_versions.is_empty() {
        errors.push(FieldError::forbidden(
            "spec.conversion.conversionReviewVersions",
            not_webhook,
        ));
    }
    errors
}

/// Whether the stored CRD's webhook names a ConversionReview version we
/// speak (or names none); if not, an update need not fix that.
pub(super) fn has_recognized_review_version_or_none(old: &Value) -> bool {
    let Some(conversion) = old.pointer("/spec/conversion").filter(|c| !c.is_null()) else {
        return true;
    };
    let versions =
        present(conversion, "webhook").map_or(&[][..], |w| list(w, "conversionReviewVersions"));
    versions.is_empty()
        || versions
            .iter()
            .any(|v| REVIEW_VERSIONS.contains(&v.as_str().unwrap_or("")))
}

/// Whether the stored CRD already carries a caBundle that does not parse; an
/// update may then keep one.
pub(super) fn has_invalid_ca_bundle(old: &Value) -> bool {
    let bundle = old
        .pointer("/spec/conversion/webhook/clientConfig/caBundle")
        .and_then(Value::as_str)
        .unwrap_or("");
    !bundle.is_empty() && ca_bundle_problem(bundle).is_some()
}

fn client_config_errors(config: &Value, rules: &Rules) -> Vec<FieldError> {
    let path = "spec.conversion.webhookClientConfig";
    let url = present(config, "url");
    let service = present(config, "service");
    let mut errors = match (url, service) {
        (Some(url), None) => url_errors(url.as_str().unwrap_or(""), &format!("{path}.url")),
        (None, Some(service)) => service_errors(service, &format!("{path}.service")),
        _ => vec![FieldError::required(
            path,
            "exactly one of url or service is required",
        )],
    };
    let bundle = text(config, "caBundle");
    if !bundle.is_empty() && !rules.allow_invalid_ca_bundle {
        if let Some(problem) = ca_bundle_problem(bundle) {
            errors.push(FieldError::invalid(
                format!("{path}.caBundle"),
                json!(bundle),
                problem,
            ));
        }
    }
    errors
}

/// Upstream's `ValidateWebhookURL` with https required.
fn url_errors(url: &str, field: &str) -> Vec<FieldError> {
    let parsed = match go_url::parse(url) {
        Ok(parsed) => parsed,
        Err(problem) => {
            return vec![FieldError::required(
                field,
                format!("url must be a valid URL: {problem}{URL_FORM}"),
            )]
        }
    };
    let mut errors = Vec::new();
    if parsed.scheme != "https" {
        errors.push(FieldError::invalid(
            field,
            json!(parsed.scheme),
            format!("'https' is the only allowed URL scheme{URL_FORM}"),
        ));
    }
    if parsed.host.is_empty() {
        errors.push(FieldError::invalid(
            field,
            json!(parsed.host),
            format!("host must be specified{URL_FORM}"),
        ));
    }
    if let Some(user) = parsed.user {
        errors.push(FieldError::invalid(
            field,
            json!(user),
            "user information is not permitted in the URL",
        ));
    }
    if !parsed.fragment.is_empty() {
        errors.push(FieldError::invalid(
            field,
            json!(parsed.fragment),
            "fragments are not permitted in the URL",
        ));
    }
    if !parsed.raw_query.is_empty() {
        errors.push(FieldError::invalid(
            field,
            json!(parsed.raw_query),
            "query parameters are not permitted in the URL",
        ));
    }
    errors
}

/// Upstream's `ValidateWebhookService`.
fn service_errors(service: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if text(service, "name").is_empty() {
        errors.push(FieldError::required(
            format!("{path}.name"),
            "service name is required",
        ));
    }
    if text(service, "namespace").is_empty() {
        errors.push(FieldError::required(
            format!("{path}.namespace"),
            "service namespace is required",
        ));
    }
    let port = service
        .get("port")
        .and_then(Value::as_i64)
        .unwrap_or(DEFAULT_SERVICE_PORT);
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(
            format!("{path}.port"),
            json!(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    if let Some(url_path) = present(service, "path").and_then(Value::as_str) {
        errors.extend(service_path_errors(url_path, &format!("{path}.path")));
    }
    errors
}

/// A service path is `/` and DNS-subdomain segments.
fn service_path_errors(url_path: &str, field: &str) -> Vec<FieldError> {
    if url_path.is_empty() || url_path == "/" {
        return Vec::new();
    }
    let invalid = |detail: String| FieldError::invalid(field, json!(url_path), detail);
    if url_path == "//" {
        return vec![invalid("segment[0] may not be empty".into())];
    }
    let mut errors = Vec::new();
    if !url_path.starts_with('/') {
        errors.push(invalid("must start with a '/'".into()));
    }
    let inner = url_path.get(1..).unwrap_or("");
    let inner = inner.strip_suffix('/').unwrap_or(inner);
    for (index, segment) in inner.split('/').enumerate() {
        if segment.is_empty() {
            errors.push(invalid(format!("segment[{index}] may not be empty")));
            continue;
        }
        for problem in dns1123_subdomain_errors(segment) {
            errors.push(invalid(format!("segment[{index}]: {problem}")));
        }
    }
    errors
}

fn review_versions_errors(versions: &[Value], require_recognized: bool) -> Vec<FieldError> {
    let path = "spec.conversion.conversionReviewVersions";
    if versions.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errors = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut recognized = false;
    for (index, version) in versions.iter().enumerate() {
        let name = version.as_str().unwrap_or("");
        let field = format!("{path}[{index}]");
        if !seen.insert(name) {
            errors.push(FieldError::invalid(field, json!(name), "duplicate version"));
            continue;
        }
        for problem in dns1035_label_errors(name) {
            errors.push(FieldError::invalid(field.clone(), json!(name), problem));
        }
        recognized |= REVIEW_VERSIONS.contains(&name);
    }
    if require_recognized && !recognized {
        errors.push(FieldError::invalid(
            path,
            json!(versions),
            format!(
                "must include at least one of {}",
                REVIEW_VERSIONS.join(", ")
            ),
        ));
    }
    errors
}

/// Why a caBundle (base64 of PEM, as in v1 JSON) would not load as a root
/// pool, in client-go's words; `None` when it holds a usable certificate.
fn ca_bundle_problem(bundle: &str) -> Option<String> {
    let pem = base64::engine::general_purpose::STANDARD
        .decode(bundle)
        .unwrap_or_default();
    let blocks = pem_blocks(&String::from_utf8_lossy(&pem));
    let certificates: Vec<&PemBlock> = blocks
        .iter()
        .filter(|b| b.label == "CERTIFICATE" && !b.has_headers)
        .collect();
    if certificates
        .iter()
        .any(|b| x509_parser::parse_x509_certificate(&b.der).is_ok())
    {
        return None;
    }
    let reason = if blocks.is_empty() {
        "unable to parse bytes as PEM block".to_string()
    } else if !certificates.is_empty() {
        "failed to parse certificate: x509: malformed certificate".to_string()
    } else {
        "no valid certificate authority data seen".to_string()
    };
    Some(format!("unable to load root certificates: {reason}"))
}

struct PemBlock {
    label: String,
    has_headers: bool,
    der: Vec<u8>,
}

/// The well-formed PEM blocks in `text`, as Go's `pem.Decode` finds them:
/// a malformed block is skipped and the search goes on after it.
fn pem_blocks(text: &str) -> Vec<PemBlock> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        rest = &rest[start + "-----BEGIN ".len()..];
        let Some((label, after_label)) = rest.split_once("-----") else {
            break;
        };
        let end_marker = format!("-----END {label}-----");
        let Some(end) = after_label.find(&end_marker) else {
            continue;
        };
        let body = &after_label[..end];
        rest = &after_label[end + end_marker.len()..];
        let has_headers = body.lines().any(|line| line.contains(':'));
        let encoded: String = body
            .lines()
            .filter(|line| !line.contains(':'))
            .flat_map(str::chars)
            .filter(|c| !c.is_whitespace())
            .collect();
        if let Ok(der) = base64::engine::general_purpose::STANDARD.decode(encoded) {
            blocks.push(PemBlock {
                label: label.to_string(),
                has_headers,
                der,
            });
        }
    }
    blocks
}

#[cfg(test)]
mod tests;
