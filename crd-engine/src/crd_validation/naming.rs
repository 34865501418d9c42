//! The naming controller's decision: which of the names a CRD asks for it
//! may serve, given the names other CRDs of its group already serve.
//!
//! Resource names (plural, singular, short names) share one namespace and
//! kinds (kind, listKind) another, because clients resolve `kubectl get x`
//! and decode `kind: X` across all of them. A name the CRD already holds in
//! `status.acceptedNames` stays its own; a new name is granted only when no
//! CRD of the group holds it. Each name is decided alone, so a conflict on
//! one still grants the others.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use super::conditions::{find_condition, Condition, ConditionStatus, ESTABLISHED};

/// Names already served in one group, from the `status.acceptedNames` of
/// its CRDs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimedNames {
    pub plurals: Vec<String>,
    pub singulars: Vec<String>,
    pub short_names: Vec<String>,
    pub kinds: Vec<String>,
    pub list_kinds: Vec<String>,
}

impl ClaimedNames {
    /// The names held by these CRDs (pass the other CRDs of the group).
    pub fn of_crds<'a>(crds: impl IntoIterator<Item = &'a Value>) -> Self {
        let mut claimed = ClaimedNames::default();
        for crd in crds {
            claimed.add(&Names::accepted(crd));
        }
        claimed
    }

    fn add(&mut self, names: &Names) {
        self.plurals.push(names.plural.clone());
        self.singulars.push(names.singular.clone());
        self.short_names.extend(names.short_names.iter().cloned());
        self.kinds.push(names.kind.clone());
        self.list_kinds.push(names.list_kind.clone());
    }

    fn resources(&self) -> BTreeSet<&str> {
        self.plurals
            .iter()
            .chain(&self.singulars)
            .chain(&self.short_names)
            .map(String::as_str)
            .collect()
    }

    fn kind_names(&self) -> BTreeSet<&str> {
        self.kinds
            .iter()
            .chain(&self.list_kinds)
            .map(String::as_str)
            .collect()
    }
}

/// The outcome of one naming pass.
#[derive(Debug, Clone, PartialEq)]
pub struct NamesVerdict {
    /// No requested name conflicts.
    pub accepted: bool,
    /// `NoConflicts`, or the last conflict found: `PluralConflict`,
    /// `SingularConflict`, `ShortNamesConflict`, `KindConflict`,
    /// `ListKindConflict`.
    pub reason: String,
    /// `no conflicts found`, or e.g. `"foos" is already in use`.
    pub message: String,
    /// The `status.acceptedNames` to write: every requested name that is
    /// free or already held, the previously accepted name where not.
    pub accepted_names: Value,
}

impl NamesVerdict {
    /// The NamesAccepted condition to write.
    pub fn condition(&self) -> Condition {
        if self.accepted {
            Condition::names_accepted()
        } else {
            Condition::names_conflict(&self.reason, self.message.clone())
        }
    }

    /// The Established condition the naming controller writes alongside:
    /// the stored one (or NotAccepted), turned to Installing once the names
    /// are accepted and the CRD is not yet established.
    pub fn established_condition(&self, crd: &Value) -> Condition {
        let current = find_condition(crd, ESTABLISHED)
            .map(stored_established)
            .unwrap_or_else(Condition::not_established);
        if current.status != ConditionStatus::True && self.accepted {
            return Condition::installing();
        }
        current
    }
}

/// Upstream's `calculateNamesAndConditions`. The CRD's own accepted names
/// count as claimed too, as upstream lists the whole group, itself included;
/// a name it already holds is never a conflict.
pub fn names_accepted(crd: &Value, others_in_group: &ClaimedNames) -> NamesVerdict {
    let requested = Names::requested(crd);
    let held = Names::accepted(crd);
    let mut claimed = others_in_group.clone();
    claimed.add(&held);
    let resources = claimed.resources();
    let kinds = claimed.kind_names();

    let mut granted = held.clone();
    let mut conflict: Option<(&str, String)> = None;
    match taken(&requested.plural, &held.plural, &resources) {
        Some(message) => conflict = Some(("PluralConflict", message)),
        None => granted.plural = requested.plural.clone(),
    }
    match taken(&requested.singular, &held.singular, &resources) {
        Some(message) => conflict = Some(("SingularConflict", message)),
        None => granted.singular = requested.singular.clone(),
    }
    if requested.short_names != held.short_names {
        let problems: Vec<String> = requested
            .short_names
            .iter()
            .filter(|name| !held.short_names.contains(name))
            .filter_map(|name| taken(name, "", &resources))
            .collect();
        match aggregate(&problems) {
            Some(message) => conflict = Some(("ShortNamesConflict", message)),
            None => granted.short_names = requested.short_names.clone(),
        }
    }
    match taken(&requested.kind, &held.kind, &kinds) {
        Some(message) => conflict = Some(("KindConflict", message)),
        None => granted.kind = requested.kind.clone(),
    }
    match taken(&requested.list_kind, &held.list_kind, &kinds) {
        Some(message) => conflict = Some(("ListKindConflict", message)),
        None => granted.list_kind = requested.list_kind.clone(),
    }
    granted.categories = requested.categories.clone();

    let (accepted, reason, message) = match conflict {
        None => (
            true,
            "NoConflicts".to_string(),
            "no conflicts found".to_string(),
        ),
        Some((reason, message)) => (false, reason.to_string(), message),
    };
    NamesVerdict {
        accepted,
        reason,
        message,
        accepted_names: granted.to_json(),
    }
}

/// Whether `spec.names` differs from `status.acceptedNames`; when it does
/// not, the naming controller has nothing to do.
pub fn has_pending_names(crd: &Value) -> bool {
    Names::requested(crd) != Names::accepted(crd)
}

/// Upstream's `equalToAcceptedOrFresh`.
fn taken(requested: &str, held: &str, claimed: &BTreeSet<&str>) -> Option<String> {
    (requested != held && claimed.contains(requested))
        .then(|| format!("{requested:?} is already in use"))
}

/// Go's error aggregate text: one message alone, several (deduplicated)
/// bracketed and comma-separated.
fn aggregate(messages: &[String]) -> Option<String> {
    let mut unique: Vec<&str> = Vec::new();
    for message in messages {
        if !unique.contains(&message.as_str()) {
            unique.push(message);
        }
    }
    match unique.as_slice() {
        [] => None,
        [one] => Some(one.to_string()),
        many => Some(format!("[{}]", many.join(", "))),
    }
}

fn stored_established(stored: &Value) -> Condition {
    let field = |key: &str| stored.get(key).and_then(Value::as_str).unwrap_or("");
    let status = match field("status") {
        "True" => ConditionStatus::True,
        "False" => ConditionStatus::False,
        _ => ConditionStatus::Unknown,
    };
    Condition {
        type_: ESTABLISHED,
        status,
        reason: field("reason").to_string(),
        message: field("message").to_string(),
    }
}

/// A CRD's names (requested in `spec.names` or granted in
/// `status.acceptedNames`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Names {
    plural: String,
    singular: String,
    short_names: Vec<String>,
    kind: String,
    list_kind: String,
    categories: Vec<String>,
}

impl Names {
    fn requested(crd: &Value) -> Self {
        Self::parse(crd.pointer("/spec/names"))
    }

    fn accepted(crd: &Value) -> Self {
        Self::parse(crd.pointer("/status/acceptedNames"))
    }

    fn parse(names: Option<&Value>) -> Self {
        let names = names.unwrap_or(&Value::Null);
        let text = |key: &str| {
            names
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let strings = |key: &str| {
            names
                .get(key)
                .and_then(Value::as_array)
                .map(|items| {
                    items
                        .iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        Names {
            plural: text("plural"),
            singular: text("singular"),
            short_names: strings("shortNames"),
            kind: text("kind"),
            list_kind: text("listKind"),
            categories: strings("categories"),
        }
    }

    /// As v1 serializes names: plural and kind always, the rest when set.
    fn to_json(&self) -> Value {
        let mut map = Map::new();
        map.insert("plural".into(), json!(self.plural));
        if !self.singular.is_empty() {
            map.insert("singular".into(), json!(self.singular));
        }
        if !self.short_names.is_empty() {
            map.insert("shortNames".into(), json!(self.short_names));
        }
        map.insert("kind".into(), json!(self.kind));
        if !self.list_kind.is_empty() {
            map.insert("listKind".into(), json!(self.list_kind));
        }
        if !self.categories.is_empty() {
            map.insert("categories".into(), json!(self.categories));
        }
        Value::Object(map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(names: Value) -> Value {
        json!({"spec": {"group": "example.com", "names": names}})
    }

    fn foo_names() -> Value {
        json!({"plural": "foos", "singular": "foo", "shortNames": ["fo"], "kind": "Foo",
            "listKind": "FooList", "categories": ["all"]})
    }

    #[test]
    fn free_names_are_all_accepted() {
        let verdict = names_accepted(&crd(foo_names()), &ClaimedNames::default());
        assert!(verdict.accepted);
        assert_eq!(verdict.reason, "NoConflicts");
        assert_eq!(verdict.message, "no conflicts found");
        assert_eq!(verdict.accepted_names, foo_names());
    }

    #[test]
    fn a_taken_plural_is_refused_and_the_rest_granted() {
        let others = ClaimedNames {
            plurals: vec!["foos".into()],
            ..Default::default()
        };
        let verdict = names_accepted(&crd(foo_names()), &others);
        assert!(!verdict.accepted);
        assert_eq!(verdict.reason, "PluralConflict");
        assert_eq!(verdict.message, "\"foos\" is already in use");
        assert_eq!(verdict.accepted_names["plural"], "");
        assert_eq!(verdict.accepted_names["kind"], "Foo");
        assert_eq!(verdict.condition().to_json("t")["status"], "False");
    }

    #[test]
    fn resource_names_share_one_namespace() {
        let others = ClaimedNames {
            short_names: vec!["foo".into()],
            ..Default::default()
        };
        let verdict = names_accepted(&crd(foo_names()), &others);
        assert_eq!(verdict.reason, "SingularConflict");
        assert_eq!(verdict.message, "\"foo\" is already in use");
    }

    #[test]
    fn kinds_share_another() {
        let others = ClaimedNames {
            list_kinds: vec!["Foo".into()],
            ..Default::default()
        };
        let verdict = names_accepted(&crd(foo_names()), &others);
        assert_eq!(verdict.reason, "KindConflict");
    }

    #[test]
    fn the_last_conflict_names_the_condition() {
        let others = ClaimedNames {
            plurals: vec!["foos".into()],
            kinds: vec!["FooList".into()],
            ..Default::default()
        };
        let verdict = names_accepted(&crd(foo_names()), &others);
        assert_eq!(verdict.reason, "ListKindConflict");
        assert_eq!(verdict.message, "\"FooList\" is already in use");
    }

    #[test]
    fn several_short_name_conflicts_are_aggregated() {
        let mut names = foo_names();
        names["shortNames"] = json!(["a", "b"]);
        let others = ClaimedNames {
            short_names: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        let verdict = names_accepted(&crd(names), &others);
        assert_eq!(verdict.reason, "ShortNamesConflict");
        assert_eq!(
            verdict.message,
            "[\"a\" is already in use, \"b\" is already in use]"
        );
    }

    #[test]
    fn names_already_held_stay_held() {
        let mut held = crd(foo_names());
        held["status"] = json!({"acceptedNames": foo_names()});
        let others = ClaimedNames::of_crds([&held]);
        let verdict = names_accepted(&held, &others);
        assert!(verdict.accepted);
        assert!(!has_pending_names(&held));
    }

    #[test]
    fn own_names_block_a_rename_onto_them() {
        let mut crd = crd(foo_names());
        crd["status"] = json!({"acceptedNames": foo_names()});
        crd["spec"]["names"]["singular"] = json!("fo");
        assert!(has_pending_names(&crd));
        let verdict = names_accepted(&crd, &ClaimedNames::default());
        assert_eq!(verdict.reason, "SingularConflict");
        assert_eq!(verdict.accepted_names["singular"], "foo");
    }

    #[test]
    fn established_follows_acceptance() {
        let fresh = crd(foo_names());
        let accepted = names_accepted(&fresh, &ClaimedNames::default());
        assert_eq!(
            accepted.established_condition(&fresh),
            Condition::installing()
        );
        let others = ClaimedNames {
            plurals: vec!["foos".into()],
            ..Default::default()
        };
        let refused = names_accepted(&fresh, &others);
        assert_eq!(
            refused.established_condition(&fresh),
            Condition::not_established()
        );
        let mut live = fresh.clone();
        live["status"] = json!({"conditions": [Condition::established().to_json("t")]});
        assert_eq!(
            refused.established_condition(&live),
            Condition::established()
        );
    }
}
