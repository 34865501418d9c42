#!/usr/bin/env python3
"""Write the protobuf schema table that apiserver/src/codec/protobuf.rs reads.

Run by hand after bumping the versions pinned in Cargo.toml beside this file,
then commit the output:

    python3 tools/protobuf-schema/generate.py > apiserver/src/codec/protobuf_schema.txt

Three sources, so the table is derived from upstream's schemas rather than
written by us:

* k8s-pb (prost types generated from upstream's generated.proto) gives every
  message, and for each field its tag, wire type, cardinality and message type.
* k8s-openapi (generated from upstream's OpenAPI document) gives the JSON key of
  each field (prost's snake_case loses spellings such as podIP) and whether the
  field is required, which decides if a zero value is written back to JSON.
* The Go type data in a kubectl binary (go_types.py) says which fields are
  pointers, and names the fields and embedded structs k8s-openapi lacks.

Both crates are pinned in Cargo.toml beside this file; cargo fetches them and
`cargo metadata` says where. kubectl is found on PATH, or named by
GO_TYPES_BINARY; a kubectl older than k8s-pb only leaves the newest fields
without Go facts (their names fall back to the doc comment or lowerCamelCase).

Output format, one record per line, fields separated by a single space:

    M <full.proto.MessageName> [slice]
    F <tag> <jsonName> <label> <type> <keepsZero>
    K <apiVersion> <Kind> <full.proto.MessageName>

label is opt, rep or map; jsonName "-" marks an embedded Go struct whose
fields JSON lifts into the parent; type is a scalar name, a message name, or
for maps "<key>,<value>"; keepsZero is 1 when a zero value read from the wire still
belongs in JSON: the field is required (k8s-openapi does not wrap it in
Option, upstream has no omitempty) or upstream's Go type is a pointer; for a
list, 1 means JSON shows it even when empty.
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import go_types

MANIFEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "Cargo.toml")
# k8s-pb 0.9 is generated from Kubernetes 1.34; later k8s-openapi versions fill
# in types that 1.34's OpenAPI document lacks.
OPENAPI_KUBE_VERSIONS = ["v1_34", "v1_35", "v1_36", "v1_37", "v1_33"]

# Top-level directories of k8s-pb and the proto package prefix each stands for.
PACKAGE_ROOTS = {
    "api": "k8s.io.api",
    "apimachinery": "k8s.io.apimachinery",
    "apiextensions_apiserver": "k8s.io.apiextensions-apiserver",
    "kube_aggregator": "k8s.io.kube-aggregator",
    "metrics": "k8s.io.metrics",
}

# meta.v1 types registered in every group version (upstream's
# metav1.AddToGroupVersion) plus the watch and status kinds clients exchange.
META_KINDS = [
    "Status", "DeleteOptions", "WatchEvent", "ListOptions", "GetOptions",
    "CreateOptions", "UpdateOptions", "PatchOptions", "APIGroup", "APIGroupList",
    "APIResourceList", "APIVersions",
]


def crate_dirs():
    """Source directories of the pinned crates, by crate name."""
    metadata = subprocess.run(
        ["cargo", "metadata", "--format-version", "1", "--manifest-path", MANIFEST],
        check=True, capture_output=True, text=True,
    )
    packages = json.loads(metadata.stdout)["packages"]
    return {package["name"]: os.path.dirname(package["manifest_path"]) for package in packages}


def module_of(path, src):
    rel = os.path.relpath(os.path.dirname(path), src)
    return rel.split(os.sep)


def package_of(module):
    rest = module[1:]
    if module[0] == "apiextensions_apiserver" or module[0] == "kube_aggregator":
        rest = [part.replace("_", "-") for part in rest]
    return ".".join([PACKAGE_ROOTS[module[0]]] + rest)


def resolve_type(rust_type, module):
    """Turn a prost type path relative to `module` into a full proto name."""
    path = rust_type.split("::")
    base = list(module)
    while path and path[0] == "super":
        base.pop()
        path.pop(0)
    return package_of(base + path[:-1]) + "." + path[-1]


FIELD_ATTR = re.compile(r'#\[prost\((.*)\)\]')
STRUCT = re.compile(r'^pub struct (\w+) \{')
FIELD = re.compile(r'^\s*pub (?:r#)?(\w+):\s*(.*)$')
INNER = re.compile(r'(?:Option|Vec|Box)<(.*)>')


def strip_type(text):
    """Innermost type path of Option<Box<X>>, Vec<X> or BTreeMap<String, X>."""
    text = text.replace("::core::option::", "").replace("::prost::alloc::boxed::", "")
    text = text.replace("::prost::alloc::vec::", "").replace("::prost::alloc::collections::", "")
    text = text.rstrip(",").strip()
    if text.startswith("BTreeMap<"):
        text = text[len("BTreeMap<"):-1].split(",", 1)[1].strip().rstrip(",")
    while True:
        inner = INNER.fullmatch(text)
        if not inner:
            return text
        # rustfmt leaves a trailing comma in type arguments it wraps.
        text = inner.group(1).strip().rstrip(",").strip()


def scalar_of(attr):
    first = attr.split(",")[0].strip()
    if first.startswith("bytes"):
        return "bytes"
    return first


def parse_pb(src):
    messages = {}
    kinds = []
    slices = set()
    for path in sorted(glob.glob(os.path.join(src, "**", "mod.rs"), recursive=True)):
        module = module_of(path, src)
        if module == ["."] or module[0] not in PACKAGE_ROOTS:
            continue
        package = package_of(module)
        lines = open(path, encoding="utf-8").read().split("\n")
        current = None
        attr = None
        pending = None
        doc = []
        field_doc = ""
        for line in lines:
            if line.startswith("///"):
                doc.append(line)
                continue
            struct = STRUCT.match(line)
            if struct:
                current = package + "." + struct.group(1)
                messages[current] = []
                # Go named slice types (ExtraValue, Verbs) become one-field
                # messages marked this way; their JSON form is the bare list.
                if any("+protobuf.nullable=true" in text for text in doc):
                    slices.add(current)
                continue
            if not line.startswith("#"):
                doc = []
            if line.startswith("}"):
                current = None
                continue
            impl = re.match(r'impl crate::Resource for (\w+) \{', line)
            if impl:
                kinds.append([None, None, package + "." + impl.group(1)])
                continue
            constant = re.match(r'\s*const (API_VERSION|KIND): &\'static str = "([^"]*)";', line)
            if constant and kinds:
                kinds[-1][0 if constant.group(1) == "API_VERSION" else 1] = constant.group(2)
                continue
            if current is None:
                continue
            found = FIELD_ATTR.search(line)
            if found:
                attr = found.group(1)
                first = doc[0][3:].split() if doc else []
                field_doc = first[0] if first else ""
                continue
            if pending is not None:
                pending[1] += line.strip()
            else:
                field = FIELD.match(line)
                if not field or attr is None:
                    continue
                pending = [field.group(1), field.group(2)]
            # A long type wraps over lines; it ends where its brackets close.
            if not pending[1].endswith(",") or pending[1].count("<") != pending[1].count(">"):
                continue
            name, rust_type = pending
            pending = None
            record = field_record(attr, name, rust_type, module)
            record["doc"] = field_doc
            messages[current].append(record)
            attr = None
    return messages, kinds, slices


def field_record(attr, name, rust_type, module):
    tag = int(re.search(r'tag = "(\d+)"', attr).group(1))
    if attr.startswith("btree_map"):
        key, value = re.match(r'btree_map = "(\w+), (\w+)"', attr).groups()
        if value == "message":
            value = resolve_type(strip_type(rust_type), module)
        return {"tag": tag, "name": name, "label": "map", "type": f"{key},{value}"}
    scalar = scalar_of(attr)
    label = "rep" if "repeated" in attr else "opt"
    kind = resolve_type(strip_type(rust_type), module) if scalar == "message" else scalar
    return {"tag": tag, "name": name, "label": label, "type": kind}


def parse_openapi(src):
    """Map a proto full name to {rust field name: (json name, required)}."""
    definitions = {}
    for version in OPENAPI_KUBE_VERSIONS:
        for path in glob.glob(os.path.join(src, version, "**", "*.rs"), recursive=True):
            text = open(path, encoding="utf-8").read()
            header = re.search(r'// Generated from definition io\.(k8s\.[\w.-]+)', text)
            if not header:
                continue
            # prost renames messages to UpperCamelCase (HostIP becomes HostIp),
            # so definitions are matched without regard to case.
            proto_name = ("k8s.io." + header.group(1)[len("k8s."):]).lower()
            if proto_name in definitions:
                continue
            struct = re.search(r'pub struct \w+ \{(.*?)\n\}', text, re.S)
            if not struct:
                continue
            required = {}
            for field in re.finditer(r'^    pub (\w+): (.*),$', struct.group(1), re.M):
                required[normal(field.group(1))] = not field.group(2).startswith("Option<")
            names = {}
            for key in re.finditer(r'"([^"]+)" => Field::Key_(\w+),', text):
                rust = normal(key.group(2))
                names[rust] = (key.group(1), required.get(rust, False))
                # k8s-openapi renames keys that are not identifiers ("$ref"
                # becomes ref_path); prost keeps the proto name (ref).
                names.setdefault(normal(re.sub(r"[^\w]", "", key.group(1))), names[rust])
            definitions[proto_name] = names
    return definitions


def normal(name):
    """prost and k8s-openapi split acronyms differently (non_resource_ur_ls and
    non_resource_urls); both agree once underscores and case are dropped."""
    return name.replace("_", "").lower()


def json_name(field):
    """JSON key for a field no OpenAPI definition covers: the Go doc comment
    opens with the key itself (\"podIP is ...\"), else lowerCamelCase."""
    word = field["doc"].strip(".,:")
    if word and normal(word) == normal(field["name"]):
        return word
    return camel(field["name"])


def find_inline(messages, definitions):
    """Go embeds some structs (Volume embeds VolumeSource): the proto has a
    field for the embedded struct, while JSON lifts its fields into the parent.
    Such a field is missing from the parent's OpenAPI definition, and all of
    the embedded message's fields are present there instead."""
    inline = set()
    for message, fields in messages.items():
        known = definitions.get(message.lower())
        if not known:
            continue
        for field in fields:
            inner = messages.get(field["type"])
            if normal(field["name"]) in known or field["label"] != "opt" or not inner:
                continue
            if all(normal(sub["name"]) in known for sub in inner):
                inline.add((message, field["name"]))
                definitions.setdefault(field["type"].lower(), known)
    return inline


def camel(name):
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# Groups k8s-pb has no Resource impl in, so no apiVersion to learn from:
# metadata-only lists (client-go's metadata informers ask for them) and
# aggregated discovery.
EXTRA_VERSIONS = {
    "k8s.io.apimachinery.pkg.apis.meta.v1": "meta.k8s.io/v1",
    "k8s.io.apimachinery.pkg.apis.meta.v1beta1": "meta.k8s.io/v1beta1",
    "k8s.io.api.apidiscovery.v2": "apidiscovery.k8s.io/v2",
    "k8s.io.api.apidiscovery.v2beta1": "apidiscovery.k8s.io/v2beta1",
}
OBJECT_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
LIST_META = "k8s.io.apimachinery.pkg.apis.meta.v1.ListMeta"


def kind_lines(messages, kinds):
    """Every message with object or list metadata in a package that serves
    resources is a kind (this includes TokenRequest, Eviction and Scale, which
    k8s-pb has no Resource impl for). k8s-pb's Resource impls give each
    package its apiVersion, and the Go spelling of kinds prost renamed."""
    versions = dict(EXTRA_VERSIONS)
    spelled = {}
    for version, kind, message in kinds:
        package, name = message.rsplit(".", 1)
        versions[package] = version
        spelled[message] = kind
        spelled[message + "List"] = kind + "List"
    lines = []
    for message in sorted(messages):
        package, name = message.rsplit(".", 1)
        if package not in versions:
            continue
        if any(field["name"] == "metadata" and field["type"] in (OBJECT_META, LIST_META)
               for field in messages[message]):
            lines.append(f"K {versions[package]} {spelled.get(message, name)} {message}")
    return lines


SCALARS = {"string", "bytes", "bool", "int32", "int64", "double"}


def go_facts(messages, names, binary):
    """Facts about upstream's Go structs, read from `binary` and matched to
    messages by field tags and proto field names (which prost snake_cases):
    the JSON key of each field, and which scalar fields are pointers.
    Fields newer than the binary get neither."""
    structs = go_types.struct_fields(binary)
    go_names = {}
    pointers = set()
    matched = 0
    for message, fields in messages.items():
        signature = {(field["tag"], normal(field["name"])) for field in fields}
        found = False
        for go_fields in structs:
            go_signature = {(tag, normal(proto)) for tag, _, proto, _ in go_fields}
            # A binary older than k8s-pb lacks the newest fields; more than
            # half must agree so small structs do not match by chance.
            if not go_signature <= signature or 2 * len(go_signature) <= len(signature):
                continue
            found = True
            for tag, json_name, _, is_pointer in go_fields:
                # json:"-" keeps a field out of JSON (RawExtension.Raw, whose
                # message has a JSON form of its own); that is not a name.
                if json_name != "-":
                    go_names[(message, tag)] = json_name or "-"
                if is_pointer:
                    pointers.add((message, tag))
        matched += found
    print(f"Go types from {binary}: {matched} of {len(messages)} messages matched", file=sys.stderr)
    scalar_pointers = {
        (message, field["tag"])
        for message, fields in messages.items()
        for field in fields
        if (message, field["tag"]) in pointers and field["label"] == "opt" and field["type"] in SCALARS
    }
    return go_names, scalar_pointers


def main():
    dirs = crate_dirs()
    pb_src = os.path.join(dirs["k8s-pb"], "src")
    messages, kinds, slices = parse_pb(pb_src)
    definitions = parse_openapi(os.path.join(dirs["k8s-openapi"], "src"))
    inline = find_inline(messages, definitions)
    guessed_keys = set()
    names = {}
    requireds = {}
    for message in sorted(messages):
        known = definitions.get(message.lower(), {})
        for field in messages[message]:
            if (message, field["name"]) in inline:
                name, required = "-", False
            elif normal(field["name"]) in known:
                name, required = known[normal(field["name"])]
            else:
                guessed_keys.add(f"{message}.{field['tag']}")
                # k8s-openapi has one generic List type, not one per kind; a
                # list's items have no omitempty upstream.
                is_items = message.endswith("List") and field["name"] == "items"
                name, required = json_name(field), is_items
            names[(message, field["tag"])] = name
            requireds[(message, field["tag"])] = required
    binary = os.environ.get("GO_TYPES_BINARY") or shutil.which("kubectl")
    if not binary:
        sys.exit("need a Go binary with upstream's API types: install kubectl or set GO_TYPES_BINARY")
    go_names, pointers = go_facts(messages, names, os.path.realpath(binary))
    for key, go_name in go_names.items():
        if key not in names:
            continue
        if f"{key[0]}.{key[1]}" in guessed_keys:
            names[key] = go_name
            guessed_keys.discard(f"{key[0]}.{key[1]}")
        elif names[key] != go_name:
            print(f"k8s-openapi and Go disagree on {key}: {names[key]} vs {go_name}", file=sys.stderr)
    out = []
    for message in sorted(messages):
        out.append(f"M {message} slice" if message in slices else f"M {message}")
        for field in messages[message]:
            key = (message, field["tag"])
            keeps_zero = requireds[key] or key in pointers
            out.append(f"F {field['tag']} {names[key]} {field['label']} {field['type']} {int(keeps_zero)}")
    out.extend(kind_lines(messages, kinds))
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1."
    for kind in META_KINDS:
        out.append(f"K * {kind} {meta}{kind}")
    sys.stdout.write("\n".join(out) + "\n")
    # Mostly old beta versions, option kinds and List types, which k8s-openapi
    # does not define; set VERBOSE=1 to list them.
    print(f"{len(guessed_keys)} fields named from doc comments or lowerCamelCase", file=sys.stderr)
    if os.environ.get("VERBOSE"):
        print("\n".join(sorted(guessed_keys)), file=sys.stderr)


if __name__ == "__main__":
    main()
