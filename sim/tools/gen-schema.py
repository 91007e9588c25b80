#!/usr/bin/env python3
"""Generates sim/src/api/schema.json: the field names of every served kind, for server-side field validation.

Usage: gen-schema.py KUBERNETES_SWAGGER.json KUBEVIRT_SWAGGER.json > sim/src/api/schema.json

Inputs: the Kubernetes v1.34 swagger (api/openapi-spec/swagger.json) and the KubeVirt v1.5 swagger
(api/openapi-spec/swagger.json). The output maps each definition reachable from a served kind to its fields:
"" scalar, "T" object of definition T, "[]T" list of T, "{}T" map of T, "[]" / "{}" list / map of scalars,
"*" anything (free-form). "roots" maps "group/version/Kind" to its definition.
"""
import json
import sys

SERVED = [
    ("", "v1", "Namespace"), ("", "v1", "Node"), ("", "v1", "Pod"), ("", "v1", "Service"),
    ("", "v1", "PersistentVolumeClaim"), ("", "v1", "Event"), ("", "v1", "ConfigMap"),
    ("storage.k8s.io", "v1", "StorageClass"), ("authorization.k8s.io", "v1", "SelfSubjectAccessReview"),
    ("kubevirt.io", "v1", "VirtualMachine"), ("kubevirt.io", "v1", "VirtualMachineInstance"),
    ("kubevirt.io", "v1", "VirtualMachineInstanceMigration"), ("kubevirt.io", "v1", "KubeVirt"),
    ("migrations.kubevirt.io", "v1alpha1", "MigrationPolicy"),
    ("instancetype.kubevirt.io", "v1beta1", "VirtualMachineClusterInstancetype"),
]


def load(path):
    with open(path) as f:
        return json.load(f)["definitions"]


def main():
    defs = {}
    for path in sys.argv[1:3]:
        defs.update(load(path))
    roots = {}
    for name, d in defs.items():
        for gvk in d.get("x-kubernetes-group-version-kind", []):
            key = (gvk.get("group", ""), gvk["version"], gvk["kind"])
            if key in SERVED and "properties" in d:
                roots["/".join(key)] = name
    # KubeVirt's swagger carries no group-version-kind extensions: find its kinds by definition name.
    for g, v, k in SERVED:
        key = f"{g}/{v}/{k}"
        if key not in roots:
            for cand in (f"{v}.{k}",):
                if cand in defs:
                    roots[key] = cand
    types = {}

    def ref(p):
        return p["$ref"].rsplit("/", 1)[1]

    def expr(p):
        if "$ref" in p:
            visit(ref(p))
            return ref(p)
        t = p.get("type")
        if t == "array":
            inner = expr(p.get("items", {}))
            return "[]" + (inner if inner not in ("", "*") else "")
        if t == "object" or "additionalProperties" in p:
            ap = p.get("additionalProperties")
            if isinstance(ap, dict):
                inner = expr(ap)
                return "{}" + (inner if inner not in ("", "*") else "")
            if "properties" in p:
                return "*"
            return "*"
        if t is None and not p:
            return "*"
        return ""

    def visit(name):
        if name in types:
            return
        d = defs.get(name, {})
        props = d.get("properties")
        if not props:
            types[name] = "*" if d.get("type") in (None, "object") and "format" not in d else ""
            return
        types[name] = {}
        types[name] = {k: expr(v) for k, v in sorted(props.items())}

    for name in roots.values():
        visit(name)
    json.dump({"roots": dict(sorted(roots.items())), "types": dict(sorted(types.items()))}, sys.stdout,
              separators=(",", ":"))
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
