"""What deploy/check asks of the Kubernetes manifests beyond their schemas.

  check_manifests.py policy FILE...    every pod as locked down as the README says, shard counts
                                       consistent, no secret in plain sight; exit 1 on a breach
  check_manifests.py resources DIR...  the complete resource files a kustomization lists (not
                                       its patches), for validating file by file without kustomize
"""

import sys
from pathlib import Path

import yaml

POD_OWNERS = {"Deployment", "Job", "CronJob"}
# Secrets travel by reference (secretKeyRef, a mounted Secret), never as a literal value.
SECRET_VARS = {"TWILIO_AUTH_TOKEN", "DATABASE_URL", "AWS_SECRET_ACCESS_KEY"}


def pod_spec(doc):
    spec = doc.get("spec", {})
    if doc["kind"] == "CronJob":
        spec = spec.get("jobTemplate", {}).get("spec", {})
    return spec.get("template", {}).get("spec", {})


def job_spec(doc):
    if doc["kind"] == "CronJob":
        return doc["spec"].get("jobTemplate", {}).get("spec", {})
    return doc["spec"] if doc["kind"] == "Job" else None


def check_pod(name, pod):
    errors = []
    if pod.get("automountServiceAccountToken") is not False:
        errors.append("automountServiceAccountToken must be false")
    psc = pod.get("securityContext", {})
    if psc.get("runAsNonRoot") is not True:
        errors.append("securityContext.runAsNonRoot must be true")
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
        errors.append("securityContext.seccompProfile.type must be RuntimeDefault")
    mounts_tmp = False
    for c in pod.get("containers", []) + pod.get("initContainers", []):
        where = f"container {c.get('name')}"
        sc = c.get("securityContext", {})
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"{where}: allowPrivilegeEscalation must be false")
        if sc.get("readOnlyRootFilesystem") is not True:
            errors.append(f"{where}: readOnlyRootFilesystem must be true")
        if sc.get("privileged"):
            errors.append(f"{where}: must not be privileged")
        if "ALL" not in sc.get("capabilities", {}).get("drop", []):
            errors.append(f"{where}: capabilities must drop ALL")
        if sc.get("capabilities", {}).get("add"):
            errors.append(f"{where}: must add no capabilities")
        res = c.get("resources", {})
        if not res.get("requests") or "memory" not in res.get("limits", {}):
            errors.append(f"{where}: needs resource requests and a memory limit")
        for env in c.get("env", []):
            if env.get("name") in SECRET_VARS and "value" in env:
                errors.append(f"{where}: {env['name']} must come from a Secret, not a value")
        mounts_tmp |= any(m.get("mountPath") == "/tmp" for m in c.get("volumeMounts", []))
    if not mounts_tmp:
        errors.append("/tmp must be a volume (the root file system is read-only)")
    return [f"{name}: {e}" for e in errors]


def shard_env(pod):
    """The TWILIO_EXPORT_SHARDS values of the pod's containers."""
    return [
        env.get("value")
        for c in pod.get("containers", [])
        for env in c.get("env", [])
        if env.get("name") == "TWILIO_EXPORT_SHARDS"
    ]


def check_shards(name, doc):
    job = job_spec(doc)
    if not job or job.get("completionMode") != "Indexed":
        return []
    completions, parallelism = job.get("completions"), job.get("parallelism")
    shards = shard_env(pod_spec(doc))
    if not shards or any(s != str(completions) for s in shards) or parallelism != completions:
        return [
            f"{name}: an Indexed Job needs parallelism = completions = TWILIO_EXPORT_SHARDS "
            f"(found {parallelism}, {completions}, {shards or 'unset'})"
        ]
    return []


def check_doc(doc):
    kind = doc.get("kind")
    name = f"{kind}/{doc.get('metadata', {}).get('name') or doc.get('metadata', {}).get('generateName')}"
    errors = []
    if kind in POD_OWNERS:
        errors += check_pod(name, pod_spec(doc))
        errors += check_shards(name, doc)
        if kind == "Deployment":
            for c in pod_spec(doc).get("containers", []):
                for probe in ("livenessProbe", "readinessProbe"):
                    if c.get(probe, {}).get("httpGet", {}).get("path") != "/healthz":
                        errors.append(f"{name}: container {c.get('name')} needs a {probe} on /healthz")
    if kind == "ConfigMap":
        leaked = SECRET_VARS & set(doc.get("data", {}))
        if leaked:
            errors.append(f"{name}: {', '.join(sorted(leaked))} belong in a Secret")
    return errors


def policy(files):
    errors, seen = [], 0
    for f in files:
        for doc in yaml.safe_load_all(Path(f).read_text()):
            if doc:
                seen += 1
                errors += [f"{f}: {e}" for e in check_doc(doc)]
    for e in errors:
        print(f"error: {e}", file=sys.stderr)
    if seen == 0:
        print("error: no manifests to check", file=sys.stderr)
        return 1
    return 1 if errors else 0


def resources(dirs):
    for d in map(Path, dirs):
        k = yaml.safe_load((d / "kustomization.yaml").read_text())
        for r in k.get("resources", []):
            if (d / r).is_file():
                print(d / r)
    return 0


def main(argv):
    if len(argv) < 3 or argv[1] not in ("policy", "resources"):
        print(__doc__, file=sys.stderr)
        return 2
    return policy(argv[2:]) if argv[1] == "policy" else resources(argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv))
