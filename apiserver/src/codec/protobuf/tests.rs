//! Round trips of real objects (JSON -> protobuf -> JSON), and decoding of
//! the exact bodies kubectl 1.32 sends, captured from a loopback stub.

use serde_json::{json, Value};

use super::convert::Decoder;
use super::schema::SCHEMA;
use super::*;

fn assert_round_trip(object: Value) {
    let bytes =
        encode(&object).unwrap_or_else(|error| panic!("encode {}: {error}", object["kind"]));
    assert!(bytes.starts_with(b"k8s\0"));
    let back = decode(&bytes).unwrap_or_else(|error| panic!("decode {}: {error}", object["kind"]));
    assert_eq!(back, object);
}

fn object_meta() -> Value {
    json!({
        "name": "demo",
        "namespace": "default",
        "uid": "0b0d3c44-1f2a-4b7e-9c55-7f0e4c1d2a3b",
        "resourceVersion": "42",
        "generation": 3,
        "creationTimestamp": "2024-05-01T10:20:30Z",
        "labels": {"app": "demo", "tier": "web"},
        "annotations": {"note": "hello"},
        "ownerReferences": [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "demo-abc",
            "uid": "11111111-2222-3333-4444-555555555555", "controller": true, "blockOwnerDeletion": true
        }],
        "finalizers": ["example.com/cleanup"],
        "managedFields": [{
            "manager": "kubectl-create", "operation": "Update", "apiVersion": "v1",
            "time": "2024-05-01T10:20:30Z", "fieldsType": "FieldsV1",
            "fieldsV1": {"f:metadata": {"f:labels": {".": {}, "f:app": {}}}}
        }]
    })
}

fn pod_spec() -> Value {
    json!({
        "containers": [{
            "name": "web",
            "image": "nginx:1.27",
            "command": ["nginx"],
            "args": ["-g", "daemon off;"],
            "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
            "env": [
                {"name": "MODE", "value": "prod"},
                {"name": "POD_IP", "valueFrom": {"fieldRef": {"apiVersion": "v1", "fieldPath": "status.podIP"}}},
                {"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": true}}}
            ],
            "resources": {"limits": {"cpu": "500m", "memory": "128Mi"}, "requests": {"cpu": "250m"}},
            "volumeMounts": [{"name": "data", "mountPath": "/data", "readOnly": true}],
            "livenessProbe": {
                "httpGet": {"path": "/healthz", "port": 8080, "scheme": "HTTP"},
                "initialDelaySeconds": 5, "periodSeconds": 10, "timeoutSeconds": 1,
                "successThreshold": 1, "failureThreshold": 3
            },
            "readinessProbe": {"tcpSocket": {"port": "http"}, "periodSeconds": 5},
            "securityContext": {"runAsUser": 1000, "allowPrivilegeEscalation": true},
            "terminationMessagePath": "/dev/termination-log",
            "terminationMessagePolicy": "File",
            "imagePullPolicy": "IfNotPresent"
        }],
        "volumes": [
            {"name": "data", "emptyDir": {"sizeLimit": "1Gi"}},
            {"name": "config", "configMap": {"name": "demo", "defaultMode": 420, "items": [{"key": "a", "path": "a.txt"}]}}
        ],
        "restartPolicy": "Always",
        "terminationGracePeriodSeconds": 30,
        "dnsPolicy": "ClusterFirst",
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "default",
        "schedulerName": "default-scheduler",
        "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}],
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
        ]}}},
        "securityContext": {"fsGroup": 2000}
    })
}

#[test]
fn namespace_and_list_round_trip() {
    let namespace = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "team-a", "labels": {"kubernetes.io/metadata.name": "team-a"}, "creationTimestamp": "2024-05-01T10:20:30Z"},
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"}
    });
    assert_round_trip(namespace.clone());
    let mut item = namespace;
    item.as_object_mut().map(|object| {
        object.remove("apiVersion");
        object.remove("kind")
    });
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "NamespaceList",
        "metadata": {"resourceVersion": "99", "continue": "token", "remainingItemCount": 4},
        "items": [item]
    }));
}

#[test]
fn configmap_and_secret_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "ConfigMap", "metadata": object_meta(),
        "data": {"a": "b", "config.yaml": "x: 1\n"},
        "binaryData": {"blob": "AAEC/w=="},
        "immutable": true
    }));
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Secret", "metadata": object_meta(),
        "type": "Opaque",
        "data": {"password": "c2VjcmV0", "empty": ""}
    }));
    assert_round_trip(
        json!({"apiVersion": "v1", "kind": "ConfigMapList", "metadata": {"resourceVersion": "7"}, "items": [
            {"metadata": {"name": "one"}, "data": {"k": "v"}}
        ]}),
    );
    assert_round_trip(
        json!({"apiVersion": "v1", "kind": "SecretList", "metadata": {}, "items": [
            {"metadata": {"name": "one"}, "type": "kubernetes.io/service-account-token", "data": {"token": "dG9r"}}
        ]}),
    );
}

#[test]
fn service_account_service_and_endpoints_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "ServiceAccount", "metadata": object_meta(),
        "secrets": [{"name": "demo-token"}], "imagePullSecrets": [{"name": "registry"}],
        "automountServiceAccountToken": true
    }));
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Service", "metadata": object_meta(),
        "spec": {
            "type": "ClusterIP", "clusterIP": "10.96.0.10", "clusterIPs": ["10.96.0.10"],
            "ports": [
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": "https", "appProtocol": "https"}
            ],
            "selector": {"app": "demo"}, "sessionAffinity": "None",
            "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "internalTrafficPolicy": "Cluster"
        },
        "status": {"loadBalancer": {}}
    }));
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": object_meta(),
        "subsets": [{
            "addresses": [{"ip": "10.0.0.5", "nodeName": "node-1", "targetRef": {"kind": "Pod", "namespace": "default", "name": "demo-0", "uid": "u"}}],
            "notReadyAddresses": [{"ip": "10.0.0.6"}],
            "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
        }]
    }));
    assert_round_trip(
        json!({"apiVersion": "v1", "kind": "ServiceList", "metadata": {}, "items": []}),
    );
}

#[test]
fn pod_round_trips_with_inlined_volume_sources_and_probe_handlers() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": object_meta(), "spec": pod_spec(),
        "status": {
            "phase": "Running", "podIP": "10.0.0.5", "podIPs": [{"ip": "10.0.0.5"}], "hostIP": "192.168.1.2",
            "startTime": "2024-05-01T10:20:31Z", "qosClass": "Burstable",
            "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-05-01T10:20:40Z"}],
            "containerStatuses": [{
                "name": "web", "ready": true, "restartCount": 0, "image": "nginx:1.27", "imageID": "sha256:abc",
                "containerID": "containerd://123", "started": true,
                "state": {"running": {"startedAt": "2024-05-01T10:20:35Z"}},
                "lastState": {}
            }]
        }
    }));
}

#[test]
fn core_event_round_trips_with_micro_time() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Event", "metadata": object_meta(),
        "involvedObject": {"kind": "Pod", "namespace": "default", "name": "demo-0", "uid": "u", "apiVersion": "v1", "resourceVersion": "5", "fieldPath": "spec.containers{web}"},
        "reason": "Pulled", "message": "Successfully pulled image", "source": {"component": "kubelet", "host": "node-1"},
        "firstTimestamp": "2024-05-01T10:20:31Z", "lastTimestamp": "2024-05-01T10:20:32Z", "count": 2, "type": "Normal",
        "eventTime": "2024-05-01T10:20:31.123456Z", "reportingComponent": "kubelet", "reportingInstance": "node-1"
    }));
    assert_round_trip(
        json!({"apiVersion": "v1", "kind": "EventList", "metadata": {"resourceVersion": "3"}, "items": [
            {"metadata": {"name": "e"}, "involvedObject": {"kind": "Pod", "name": "p"}, "reason": "Created", "eventTime": null}
        ]}),
    );
}

#[test]
fn deployment_round_trips() {
    assert_round_trip(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": object_meta(),
        "spec": {
            "replicas": 3, "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "selector": {"matchLabels": {"app": "demo"}, "matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["db"]}]},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "demo"}, "creationTimestamp": null}, "spec": pod_spec()}
        },
        "status": {
            "observedGeneration": 3, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
            "conditions": [{"type": "Available", "status": "True", "lastUpdateTime": "2024-05-01T10:21:00Z",
                "lastTransitionTime": "2024-05-01T10:21:00Z", "reason": "MinimumReplicasAvailable", "message": "ok"}]
        }
    }));
}

#[test]
fn events_lease_and_endpoint_slice_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": object_meta(),
        "eventTime": "2024-05-01T10:20:31.000001Z", "reportingController": "example.com/ctrl", "reportingInstance": "ctrl-0",
        "action": "Reconcile", "reason": "Synced", "regarding": {"kind": "Pod", "name": "demo-0", "namespace": "default"},
        "note": "all good", "type": "Normal",
        "series": {"count": 4, "lastObservedTime": "2024-05-01T10:25:00.500000Z"}
    }));
    assert_round_trip(json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "metadata": object_meta(),
        "spec": {"holderIdentity": "ctrl-0", "leaseDurationSeconds": 15, "acquireTime": "2024-05-01T10:20:31.000000Z",
            "renewTime": "2024-05-01T10:20:46.250000Z", "leaseTransitions": 2}
    }));
    assert_round_trip(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": object_meta(),
        "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
            "nodeName": "node-1", "zone": "a", "targetRef": {"kind": "Pod", "name": "demo-0"}}],
        "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
    }));
}

#[test]
fn authentication_and_authorization_reviews_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview", "metadata": {"creationTimestamp": null},
        "status": {"userInfo": {"username": "alice", "uid": "1", "groups": ["system:authenticated", "dev"],
            "extra": {"scopes": ["read", "write"]}}}
    }));
    assert_round_trip(json!({
        "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": "default", "namespace": "default"},
        "spec": {"audiences": ["https://kubernetes.default.svc"], "expirationSeconds": 3600,
            "boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "demo-0", "uid": "u"}},
        "status": {"token": "eyJhbGciOi", "expirationTimestamp": "2024-05-01T11:20:30Z"}
    }));
    assert_round_trip(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview", "metadata": {},
        "spec": {"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods", "subresource": "log"}},
        "status": {"allowed": true, "reason": "RBAC: allowed"}
    }));
    assert_round_trip(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {},
        "spec": {"user": "bob", "groups": ["dev"], "uid": "2", "extra": {"team": ["a"]},
            "nonResourceAttributes": {"path": "/healthz", "verb": "get"}},
        "status": {"allowed": false, "denied": true, "evaluationError": "none"}
    }));
    assert_round_trip(json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "metadata": {},
        "spec": {"namespace": "default"},
        "status": {"resourceRules": [{"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods"]}],
            "nonResourceRules": [{"verbs": ["get"], "nonResourceURLs": ["/api", "/version"]}], "incomplete": false}
    }));
}

#[test]
fn meta_kinds_round_trip_under_any_version() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
        "message": "pods \"x\" not found", "reason": "NotFound", "code": 404,
        "details": {"name": "x", "kind": "pods", "causes": [{"reason": "FieldValueInvalid", "message": "bad", "field": "spec"}]}
    }));
    assert_round_trip(json!({
        "apiVersion": "apps/v1", "kind": "DeleteOptions", "gracePeriodSeconds": 30,
        "preconditions": {"uid": "u", "resourceVersion": "5"}, "propagationPolicy": "Foreground", "dryRun": ["All"]
    }));
}

#[test]
fn metadata_only_lists_and_aggregated_discovery_round_trip() {
    assert_round_trip(json!({
        "apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {"resourceVersion": "5"},
        "items": [{"metadata": {"name": "a", "namespace": "default", "uid": "u", "resourceVersion": "4"}}]
    }));
    assert_round_trip(json!({
        "apiVersion": "apidiscovery.k8s.io/v2", "kind": "APIGroupDiscoveryList", "metadata": {},
        "items": [{"metadata": {"name": "apps", "creationTimestamp": null}, "versions": [{
            "version": "v1", "freshness": "Current",
            "resources": [{"resource": "deployments", "responseKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "scope": "Namespaced", "singularResource": "deployment", "verbs": ["get", "list", "watch"],
                "shortNames": ["deploy"], "categories": ["all"],
                "subresources": [{"subresource": "scale", "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"}, "verbs": ["get", "patch", "update"]}]}]
        }]}]
    }));
}

#[test]
fn quantity_int_or_string_duration_and_raw_extension_keep_their_json_forms() {
    assert_round_trip(json!({
        "apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"},
        "spec": {"hard": {"cpu": "10", "memory": "1Gi", "pods": "100"}},
        "status": {"hard": {"cpu": "10"}, "used": {"cpu": "1500m"}}
    }));
    assert_round_trip(json!({
        "apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": "pdb"},
        "spec": {"minAvailable": "50%", "selector": {"matchLabels": {"app": "demo"}}},
        "status": {"currentHealthy": 2, "desiredHealthy": 1, "disruptionsAllowed": 1, "expectedPods": 2}
    }));
    assert_round_trip(json!({
        "apiVersion": "apps/v1", "kind": "ControllerRevision", "metadata": {"name": "rev"},
        "data": {"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}}, "revision": 2
    }));
}

#[test]
fn custom_resource_definition_round_trips_with_schema_unions() {
    assert_round_trip(json!({
        "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com", "scope": "Namespaced",
            "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList", "shortNames": ["wg"]},
            "versions": [{
                "name": "v1", "served": true, "storage": true,
                "schema": {"openAPIV3Schema": {
                    "type": "object", "$ref": "#/definitions/x",
                    "properties": {
                        "spec": {"type": "object", "required": ["size"], "properties": {
                            "size": {"type": "integer", "maximum": 10.5, "default": 3},
                            "tags": {"type": "array", "items": {"type": "string", "enum": ["a", "b"]}},
                            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                            "free": {"type": "object", "additionalProperties": true, "x-kubernetes-preserve-unknown-fields": true}
                        }},
                        "status": {"type": "object", "x-kubernetes-validations": [{"rule": "self.size >= 0", "message": "no"}]}
                    },
                    "dependencies": {"a": ["b"], "c": {"required": ["d"]}}
                }},
                "subresources": {"status": {}},
                "additionalPrinterColumns": [{"name": "Size", "type": "integer", "jsonPath": ".spec.size"}]
            }]
        }
    }));
}

/// Upstream's pointer fields keep an explicit zero: `replicas: 0` must not
/// become "unset" (defaulted to 1), nor `gracePeriodSeconds: 0` (delete now).
#[test]
fn pointer_fields_set_to_zero_keep_their_zero() {
    assert_round_trip(json!({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
        "spec": {"replicas": 0, "revisionHistoryLimit": 0, "selector": {}, "template": {"metadata": {"creationTimestamp": null},
            "spec": {"containers": [{"name": "c", "securityContext": {"runAsUser": 0, "privileged": false}}],
                "automountServiceAccountToken": false, "terminationGracePeriodSeconds": 0}}},
        "status": {}
    }));
    assert_round_trip(
        json!({"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0, "orphanDependents": false}),
    );
    assert_round_trip(json!({
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "e"}, "addressType": "IPv4",
        "endpoints": [{"addresses": ["10.0.0.5"], "conditions": {"ready": true, "serving": true, "terminating": false}}]
    }));
}

#[test]
fn unset_and_zero_fields_stay_out_of_json_unless_required() {
    let bytes = encode(&json!({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": ""},
        "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}]}], "hostNetwork": false}
    }))
    .expect("encodes");
    let decoded = decode(&bytes).expect("decodes");
    assert_eq!(
        decoded,
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
            "spec": {"containers": [{"name": "c", "ports": [{"containerPort": 0}]}]}})
    );
}

#[test]
fn watch_event_is_a_length_prefixed_frame_holding_an_enveloped_object() {
    let object = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "9"}, "data": {"a": "b"}});
    let frame = encode_watch_event("ADDED", &object).expect("encodes");
    let (length, event) = frame.split_at(4);
    assert_eq!(
        u32::from_be_bytes([length[0], length[1], length[2], length[3]]) as usize,
        event.len()
    );
    let watch_event = SCHEMA
        .by_name("k8s.io.apimachinery.pkg.apis.meta.v1.WatchEvent")
        .expect("in schema");
    let decoded = Decoder { schema: &SCHEMA }
        .message(watch_event, event, 0)
        .expect("decodes");
    assert_eq!(decoded, json!({"type": "ADDED", "object": object}));
}

#[test]
fn bad_input_gives_errors_not_panics() {
    assert!(matches!(decode(b"{}"), Err(ProtobufError::MissingPrefix)));
    assert!(decode(b"k8s\0\x0a\xff").is_err());
    let mut unknown = b"k8s\0".to_vec();
    wire::put_bytes(&mut unknown, 1, b"\x0a\x02v9\x12\x03Foo");
    assert!(matches!(
        decode(&unknown),
        Err(ProtobufError::UnknownKind { .. })
    ));
    assert!(matches!(
        encode(&json!({"kind": "Pod"})),
        Err(ProtobufError::MissingTypeMeta)
    ));
    assert!(matches!(
        encode(&json!({"apiVersion": "v1", "kind": "Pod", "spec": {"containers": "nope"}})),
        Err(ProtobufError::Field { .. })
    ));
    let fixture = include_bytes!("fixtures/create-deployment.pb");
    for cut in 0..fixture.len() {
        let _ = decode(&fixture[..cut]);
    }
    for at in 4..fixture.len() {
        for byte in [0x00, 0x01, 0x08, 0x0a, 0x7f, 0x80, 0xff] {
            let mut mutated = fixture.to_vec();
            mutated[at] = byte;
            let _ = decode(&mutated);
        }
    }
    // Nesting a message in itself without end must stop, not overflow the stack.
    let mut nested = Vec::new();
    for _ in 0..200 {
        let mut outer = Vec::new();
        wire::put_bytes(&mut outer, 1, &nested);
        nested = outer;
    }
    let mut deep = b"k8s\0".to_vec();
    wire::put_bytes(&mut deep, 1, b"\x0a\x02v1\x12\x0aPodList");
    wire::put_bytes(&mut deep, 2, &nested);
    assert!(decode(&deep).is_err());
    // Envelopes nested in RawExtensions count towards the same limit.
    let mut envelope = encode(&json!({"apiVersion": "v1", "kind": "Status"})).expect("encodes");
    for _ in 0..100 {
        let mut raw_extension = Vec::new();
        wire::put_bytes(&mut raw_extension, 1, &envelope);
        let mut event = Vec::new();
        wire::put_bytes(&mut event, 2, &raw_extension);
        envelope = b"k8s\0".to_vec();
        wire::put_bytes(&mut envelope, 1, b"\x0a\x02v1\x12\x0aWatchEvent");
        wire::put_bytes(&mut envelope, 2, &event);
    }
    assert!(matches!(decode(&envelope), Err(ProtobufError::TooDeep(_))));
}

#[test]
fn supports_knows_built_in_kinds_only() {
    assert!(supports("v1", "Namespace"));
    assert!(supports("authorization.k8s.io/v1", "SubjectAccessReview"));
    assert!(supports("v1", "WatchEvent"));
    assert!(!supports("example.com/v1", "Widget"));
}

/// kubectl's protobuf body must decode to exactly the JSON that kubectl's
/// own `--dry-run=client -o json` prints for the same command.
fn assert_decodes_like_kubectl_json(body: &[u8], kubectl_json: &str) {
    let expected: Value = serde_json::from_str(kubectl_json).expect("fixture is JSON");
    assert_eq!(decode(body).expect("decodes"), expected);
}

#[test]
fn decodes_kubectl_create_namespace() {
    assert_decodes_like_kubectl_json(
        include_bytes!("fixtures/create-namespace.pb"),
        include_str!("fixtures/create-namespace.json"),
    );
}

#[test]
fn decodes_kubectl_create_configmap() {
    assert_decodes_like_kubectl_json(
        include_bytes!("fixtures/create-configmap.pb"),
        include_str!("fixtures/create-configmap.json"),
    );
}

#[test]
fn decodes_kubectl_create_secret() {
    assert_decodes_like_kubectl_json(
        include_bytes!("fixtures/create-secret.pb"),
        include_str!("fixtures/create-secret.json"),
    );
}

#[test]
fn decodes_kubectl_create_deployment() {
    assert_decodes_like_kubectl_json(
        include_bytes!("fixtures/create-deployment.pb"),
        include_str!("fixtures/create-deployment.json"),
    );
}

#[test]
fn decodes_kubectl_create_service() {
    assert_decodes_like_kubectl_json(
        include_bytes!("fixtures/create-service.pb"),
        include_str!("fixtures/create-service.json"),
    );
}

#[test]
fn decodes_kubectl_auth_whoami() {
    let object = decode(include_bytes!("fixtures/auth-whoami.pb")).expect("decodes");
    assert_eq!(
        object,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview",
            "metadata": {"creationTimestamp": null}, "status": {"userInfo": {}}})
    );
}

#[test]
fn decodes_kubectl_create_token_and_auth_can_i() {
    let token = decode(include_bytes!("fixtures/create-token.pb")).expect("decodes");
    assert_eq!(
        token,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "metadata": {"creationTimestamp": null}, "spec": {"audiences": []},
            "status": {"token": "", "expirationTimestamp": null}})
    );
    let review = decode(include_bytes!("fixtures/auth-can-i.pb")).expect("decodes");
    assert_eq!(
        review["spec"],
        json!({"resourceAttributes": {"namespace": "default", "verb": "get", "resource": "pods"}})
    );
}

#[test]
fn kubectl_bodies_survive_a_round_trip() {
    for body in [
        &include_bytes!("fixtures/create-namespace.pb")[..],
        include_bytes!("fixtures/create-configmap.pb"),
        include_bytes!("fixtures/create-secret.pb"),
        include_bytes!("fixtures/create-deployment.pb"),
        include_bytes!("fixtures/create-service.pb"),
        include_bytes!("fixtures/auth-whoami.pb"),
        include_bytes!("fixtures/create-token.pb"),
        include_bytes!("fixtures/auth-can-i.pb"),
    ] {
        let object = decode(body).expect("decodes");
        assert_round_trip(object);
    }
}
