use super::*;

/// A self-signed P-256 certificate, base64 of its PEM as v1 JSON carries it.
const CA_BUNDLE: &str = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJlRENDQVIrZ0F3SUJBZ0lVVnlNdVhmLzQ1K0phU0hvUEZJaVJuK2p1ei9Fd0NnWUlLb1pJemowRUF3SXcKRWpFUU1BNEdBMVVFQXd3SGRHVnpkQzFqWVRBZUZ3MHlOakV4TWpZeE1qQTRNamhhRncwek5qRXhNak14TWpBNApNamhhTUJJeEVEQU9CZ05WQkFNTUIzUmxjM1F0WTJFd1dUQVRCZ2NxaGtqT1BRSUJCZ2dxaGtqT1BRTUJCd05DCkFBVDNFZE5tNGlVYm9DWXd2WktOZTRRc1VZY1NhYzE4RVpwUlpSMWYvYUJBZFVhdS9rWFk1TURTODhqSHA5SEcKRUtFN1RlQWFrWFo4bkxjQ2hMdlVKQ2dBbzFNd1VUQWRCZ05WSFE0RUZnUVViTjE0aGJqR1N3MlRYWXpJS3ZXRQo0UFFYdkpzd0h3WURWUjBqQkJnd0ZvQVViTjE0aGJqR1N3MlRYWXpJS3ZXRTRQUVh2SnN3RHdZRFZSMFRBUUgvCkJBVXdBd0VCL3pBS0JnZ3Foa2pPUFFRREFnTkhBREJFQWlCdkdPSEZnUlVzY3hhUU9DNjZSdUtvb0JnSk4rdkMKVnZzZVBPT1V4aklpd0FJZ1Y4d3REekxuOHFKdmZEaGhmcG1BVXN2RE9WMnBGS0pOTkVsc09kcCtLREk9Ci0tLS0tRU5EIENFUlRJRklDQVRFLS0tLS0K";

fn rules() -> Rules {
    Rules {
        require_schema: true,
        require_recognized_review_version: true,
        allow_invalid_ca_bundle: false,
        oversized_selectable_fields: Default::default(),
    }
}

fn rendered(conversion: Value) -> Vec<String> {
    let crd = json!({"spec": {"conversion": conversion}});
    errors(&crd, &rules())
        .iter()
        .map(ToString::to_string)
        .collect()
}

#[test]
fn none_needs_nothing() {
    assert!(rendered(json!({"strategy": "None"})).is_empty());
}

#[test]
fn strategy_is_required_and_known() {
    assert_eq!(
        rendered(json!({})),
        ["spec.conversion.strategy: Required value"]
    );
    assert_eq!(
        rendered(json!({"strategy": "Magic"})),
        ["spec.conversion.strategy: Unsupported value: \"Magic\": supported values: \"None\", \"Webhook\""]
    );
}

#[test]
fn webhook_needs_client_config_and_review_versions() {
    assert_eq!(
        rendered(json!({"strategy": "Webhook"})),
        [
            "spec.conversion.webhookClientConfig: Required value: required when strategy is set to Webhook",
            "spec.conversion.conversionReviewVersions: Required value",
        ]
    );
}

#[test]
fn webhook_needs_url_xor_service() {
    let both = json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://a.example.com", "service": {"name": "a", "namespace": "b"}}}});
    assert_eq!(
        rendered(both),
        ["spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required"]
    );
    let neither = json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {}}});
    assert_eq!(
        rendered(neither),
        ["spec.conversion.webhookClientConfig: Required value: exactly one of url or service is required"]
    );
}

#[test]
fn review_versions_must_include_one_we_speak() {
    let webhook = json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2", "v2", "V3"],
        "clientConfig": {"url": "https://a.example.com"}}});
    let errors = rendered(webhook);
    assert_eq!(
        errors[0],
        "spec.conversion.conversionReviewVersions[1]: Invalid value: \"v2\": duplicate version"
    );
    assert!(errors[1].starts_with(
        "spec.conversion.conversionReviewVersions[2]: Invalid value: \"V3\": a DNS-1035 label"
    ));
    assert_eq!(
        errors[2],
        "spec.conversion.conversionReviewVersions: Invalid value: []string{\"v2\", \"v2\", \"V3\"}: must include at least one of v1, v1beta1"
    );
}

#[test]
fn none_forbids_webhook_settings() {
    let conversion = json!({"strategy": "None", "webhook": {"conversionReviewVersions": ["v1"],
        "clientConfig": {"url": "https://a.example.com"}}});
    assert_eq!(
        rendered(conversion),
        [
            "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not set to Webhook",
            "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is not set to Webhook",
        ]
    );
}

#[test]
fn webhook_url_rules() {
    let url = |u: &str| {
        rendered(
            json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
            "clientConfig": {"url": u}}}),
        )
    };
    assert!(url("https://convert.example.com/path").is_empty());
    assert_eq!(
        url("http://user@convert.example.com/p?x=1#frag"),
        [
            "spec.conversion.webhookClientConfig.url: Invalid value: \"http\": 'https' is the only allowed URL scheme; desired format: https://host[/path]",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"user\": user information is not permitted in the URL",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"frag\": fragments are not permitted in the URL",
            "spec.conversion.webhookClientConfig.url: Invalid value: \"x=1\": query parameters are not permitted in the URL",
        ]
    );
    assert_eq!(
        url("https:///path"),
        ["spec.conversion.webhookClientConfig.url: Invalid value: \"\": host must be specified; desired format: https://host[/path]"]
    );
    assert_eq!(
        url("://x"),
        ["spec.conversion.webhookClientConfig.url: Required value: url must be a valid URL: parse \"://x\": missing protocol scheme; desired format: https://host[/path]"]
    );
}

#[test]
fn webhook_service_rules() {
    let service = |s: Value| {
        rendered(
            json!({"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
            "clientConfig": {"service": s}}}),
        )
    };
    assert!(service(
        json!({"name": "conv", "namespace": "default", "path": "/convert", "port": 443})
    )
    .is_empty());
    assert_eq!(
        service(json!({"port": 0, "path": "convert//x/"})),
        [
            "spec.conversion.webhookClientConfig.service.name: Required value: service name is required",
            "spec.conversion.webhookClientConfig.service.namespace: Required value: service namespace is required",
            "spec.conversion.webhookClientConfig.service.port: Invalid value: 0: port is not valid: must be between 1 and 65535, inclusive",
            "spec.conversion.webhookClientConfig.service.path: Invalid value: \"convert//x/\": must start with a '/'",
            "spec.conversion.webhookClientConfig.service.path: Invalid value: \"convert//x/\": segment[1] may not be empty",
        ]
    );
    let upper = service(json!({"name": "a", "namespace": "b", "path": "/Convert"}));
    assert!(upper[0].contains("segment[0]: a lowercase RFC 1123 subdomain"));
}

#[test]
fn ca_bundle_must_hold_a_certificate_once_established() {
    let with_bundle = |bundle: &str| {
        json!({"spec": {"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v1"],
            "clientConfig": {"url": "https://a.example.com", "caBundle": bundle}}}}})
    };
    assert!(errors(&with_bundle(CA_BUNDLE), &rules()).is_empty());
    let junk = base64::engine::general_purpose::STANDARD.encode("not a certificate");
    let found = errors(&with_bundle(&junk), &rules());
    assert_eq!(found.len(), 1);
    assert_eq!(
        found[0].field,
        "spec.conversion.webhookClientConfig.caBundle"
    );
    assert_eq!(
        found[0].detail,
        "unable to load root certificates: unable to parse bytes as PEM block"
    );
    let lenient = Rules {
        allow_invalid_ca_bundle: true,
        ..rules()
    };
    assert!(errors(&with_bundle(&junk), &lenient).is_empty());
    assert!(has_invalid_ca_bundle(&with_bundle(&junk)));
    assert!(!has_invalid_ca_bundle(&with_bundle(CA_BUNDLE)));
}

#[test]
fn broken_certificate_is_named() {
    let pem = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    let bundle = base64::engine::general_purpose::STANDARD.encode(pem);
    assert_eq!(
        ca_bundle_problem(&bundle).as_deref(),
        Some("unable to load root certificates: failed to parse certificate: x509: malformed certificate")
    );
}

#[test]
fn webhook_conflicts_with_preserved_unknown_fields() {
    let crd = json!({"spec": {"preserveUnknownFields": true, "conversion": {"strategy": "Webhook",
        "webhook": {"conversionReviewVersions": ["v1"], "clientConfig": {"url": "https://a.example.com"}}}}});
    let found: Vec<String> = errors(&crd, &rules())
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        found,
        ["spec.conversion.strategy: Invalid value: \"Webhook\": must be None if spec.preserveUnknownFields is true"]
    );
}

#[test]
fn old_review_versions_decide_strictness() {
    assert!(has_recognized_review_version_or_none(&json!({})));
    let old = json!({"spec": {"conversion": {"strategy": "Webhook", "webhook": {"conversionReviewVersions": ["v2"]}}}});
    assert!(!has_recognized_review_version_or_none(&old));
}
