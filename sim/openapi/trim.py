#!/usr/bin/env python3
"""Trim the upstream Swagger 2.0 specs to the definitions vmmigrate-sim serves.

Run BY HAND, against the upstream files, when they change; never at build or test time:

    python3 sim/openapi/trim.py KUBERNETES_SWAGGER KUBEVIRT_SWAGGER > sim/openapi/definitions.json

KUBERNETES_SWAGGER: Kubernetes v1.34 `api/openapi-spec/swagger.json`;
KUBEVIRT_SWAGGER:   KubeVirt v1.5.2 `api/openapi-spec/swagger.json`.

Output: {"sources": ..., "kinds": {"<apiVersion>/<kind>": "<definition>"}, "definitions": {...}} with every root
below and everything it $refs transitively; `description` fields are dropped (they are most of the size). The
definition names of both specs do not collide (Kubernetes: `io.k8s.*`, KubeVirt: `v1.*`, `v1alpha1.*`,
`v1beta1.*`, and its own copies of Kubernetes types under `k8s.io.*`); the script checks that.
"""
import json
import sys

K8S_ROOTS = [
    "io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.PodList",
    "io.k8s.api.core.v1.Node", "io.k8s.api.core.v1.NodeList",
    "io.k8s.api.core.v1.Namespace", "io.k8s.api.core.v1.NamespaceList",
    "io.k8s.api.core.v1.Service", "io.k8s.api.core.v1.ServiceList",
    "io.k8s.api.core.v1.PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolumeClaimList",
    "io.k8s.api.core.v1.Event", "io.k8s.api.core.v1.EventList",
    "io.k8s.api.core.v1.ConfigMap", "io.k8s.api.core.v1.ConfigMapList",
    "io.k8s.api.storage.v1.StorageClass", "io.k8s.api.storage.v1.StorageClassList",
    "io.k8s.api.authorization.v1.SelfSubjectAccessReview",
    "io.k8s.api.policy.v1.Eviction",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIResourceList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroupList",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIGroup",
    "io.k8s.apimachinery.pkg.apis.meta.v1.APIVersions",
    "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
    "io.k8s.apimachinery.pkg.version.Info",
]

# KubeVirt's spec carries no x-kubernetes-group-version-kind: the kinds are listed here.
KUBEVIRT_ROOTS = {
    "v1.VirtualMachine": "kubevirt.io/v1/VirtualMachine",
    "v1.VirtualMachineList": "kubevirt.io/v1/VirtualMachineList",
    "v1.VirtualMachineInstance": "kubevirt.io/v1/VirtualMachineInstance",
    "v1.VirtualMachineInstanceList": "kubevirt.io/v1/VirtualMachineInstanceList",
    "v1.VirtualMachineInstanceMigration": "kubevirt.io/v1/VirtualMachineInstanceMigration",
    "v1.VirtualMachineInstanceMigrationList": "kubevirt.io/v1/VirtualMachineInstanceMigrationList",
    "v1.KubeVirt": "kubevirt.io/v1/KubeVirt",
    "v1.KubeVirtList": "kubevirt.io/v1/KubeVirtList",
    "v1alpha1.MigrationPolicy": "migrations.kubevirt.io/v1alpha1/MigrationPolicy",
    "v1alpha1.MigrationPolicyList": "migrations.kubevirt.io/v1alpha1/MigrationPolicyList",
    "v1beta1.VirtualMachineClusterInstancetype": "instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetype",
    "v1beta1.VirtualMachineClusterInstancetypeList":
        "instancetype.kubevirt.io/v1beta1/VirtualMachineClusterInstancetypeList",
    "v1.MigrateOptions": None,
}

PREFIX = "#/definitions/"


def strip(node):
    """Drops descriptions, recursively."""
    if isinstance(node, dict):
        return {k: strip(v) for k, v in node.items() if k != "description"}
    if isinstance(node, list):
        return [strip(v) for v in node]
    return node


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX):
                yield v[len(PREFIX):]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def closure(defs, roots):
    seen, todo = set(), list(roots)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        if name not in defs:
            sys.exit(f"missing definition {name}")
        seen.add(name)
        todo.extend(refs(defs[name]))
    return seen


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    k8s = json.load(open(sys.argv[1]))["definitions"]
    kv = json.load(open(sys.argv[2]))["definitions"]
    out, kinds = {}, {}
    for name in sorted(closure(k8s, K8S_ROOTS)):
        out[name] = strip(k8s[name])
    for name in K8S_ROOTS:
        for gvk in k8s[name].get("x-kubernetes-group-version-kind", []):
            if gvk["group"] and gvk["kind"] in ("DeleteOptions", "WatchEvent"):
                continue  # listed once per API group upstream; the core group's entry is enough
            api_version = f"{gvk['group']}/{gvk['version']}" if gvk["group"] else gvk["version"]
            kinds.setdefault(f"{api_version}/{gvk['kind']}", name)
    for name in sorted(closure(kv, KUBEVIRT_ROOTS)):
        if name in out:
            sys.exit(f"definition name collision: {name}")
        out[name] = strip(kv[name])
    for name, kind in KUBEVIRT_ROOTS.items():
        if kind:
            kinds[kind] = name
    json.dump({
        "sources": {
            "kubernetes": "Kubernetes v1.34 api/openapi-spec/swagger.json "
                          "(kubernetes-sigs/reference-docs a85d460efcee2b23a9c2b96a6fba6893c1b748d3)",
            "kubevirt": "KubeVirt v1.5.2 api/openapi-spec/swagger.json (3d9830e44e00e9131340322335ccecaf9c314e9d)",
        },
        "kinds": dict(sorted(kinds.items())),
        "definitions": out,
    }, sys.stdout, indent=1, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
