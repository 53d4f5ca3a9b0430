"""Validates Argo Workflows YAML (Workflow, CronWorkflow, WorkflowTemplate) against Argo's API
models as `hera` generates them from Argo's published OpenAPI schema, strictly: every key of
the document must be a field of its model (hera's models ignore unknown keys, so a key the
validated model does not give back is reported), and the references Argo resolves at
submission must hold: the entrypoint and every step's template exist, every
`{{workflow.parameters.NAME}}` is declared, every volume mount names a volume. Other kinds
(a ConfigMap) are printed for the Kubernetes validator. Exit 0: valid; 1: not.

Usage: python argo_validate.py FILE  (prints OTHER <index> for the documents it leaves)
"""

import re
import sys

import yaml
from hera.workflows.models import CronWorkflow, Workflow, WorkflowTemplate

MODELS = {"Workflow": Workflow, "CronWorkflow": CronWorkflow, "WorkflowTemplate": WorkflowTemplate}


def unknown(given, known, path):
    """Keys of `given` that the validated model's dump `known` lacks, as paths."""
    out = []
    if isinstance(given, dict):
        if not isinstance(known, dict):
            return [path or "/"]
        for k, v in given.items():
            if k not in known:
                out.append(f"{path}/{k}")
            else:
                out.extend(unknown(v, known[k], f"{path}/{k}"))
    elif isinstance(given, list) and isinstance(known, list):
        for i, (g, k) in enumerate(zip(given, known)):
            out.extend(unknown(g, k, f"{path}/{i}"))
    return out


def references(spec, where):
    """What Argo resolves when the workflow is submitted."""
    errors = []
    templates = {t.get("name") for t in spec.get("templates", [])}
    if spec.get("entrypoint") not in templates:
        errors.append(f"{where}: entrypoint `{spec.get('entrypoint')}` is no template")
    params = {p.get("name") for p in spec.get("arguments", {}).get("parameters", [])}
    volumes = {v.get("name") for v in spec.get("volumes", [])}
    for t in spec.get("templates", []):
        for group in t.get("steps", []) or []:
            for s in group:
                if s.get("template") not in templates:
                    errors.append(f"{where}: step `{s.get('name')}` names no template `{s.get('template')}`")
        c = t.get("container") or {}
        for m in c.get("volumeMounts", []) or []:
            if m.get("name") not in volumes:
                errors.append(f"{where}: template `{t.get('name')}` mounts unknown volume `{m.get('name')}`")
        text = yaml.safe_dump(t)
        for name in re.findall(r"\{\{workflow\.parameters\.([^}]+)\}\}", text):
            if name not in params:
                errors.append(f"{where}: template `{t.get('name')}` reads undeclared parameter `{name}`")
    return errors


def main(path):
    errors = []
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    for i, doc in enumerate(docs):
        kind = doc.get("kind")
        model = MODELS.get(kind)
        where = f"document {i + 1} ({kind})"
        if model is None:
            print(f"OTHER {i}")
            continue
        if doc.get("apiVersion") != "argoproj.io/v1alpha1":
            errors.append(f"{where}: apiVersion `{doc.get('apiVersion')}` is not argoproj.io/v1alpha1")
        try:
            known = model.model_validate(doc).model_dump(mode="json", by_alias=True, exclude_unset=True)
        except Exception as e:  # pydantic's ValidationError lists every problem
            errors.append(f"{where}: {e}")
            continue
        errors.extend(f"{where}: unknown field {p}" for p in unknown(doc, known, ""))
        spec = doc.get("spec", {})
        errors.extend(references(spec.get("workflowSpec", spec), where))
    for e in errors:
        print(e, file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
