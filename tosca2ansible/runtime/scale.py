"""What ``indigo scale DEPLOYMENT --node NODE --count N`` does: set the instance count of one Compute
node template and converge the deployment to it with its own deploy.yml (action ``scale`` in the journal).

The count lives where the template put it, so that a later ``indigo deploy --deployment`` keeps it:
- ``count: {get_input: X}``: the deployment's input X becomes N (properties reading X follow, e.g. a
  Slurm front-end's ``wn_num``);
- a literal count (or none): the deployment's copy of the template gets ``count: N`` for that node.
``min_instances`` / ``max_instances`` written in the template bound N.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

from tosca2ansible.errors import UserInputError
from tosca2ansible.runtime.state import DeploymentState


def _scalable_properties(template_doc: Dict[str, Any], node: str) -> Dict[str, Any]:
    node_templates = ((template_doc.get("topology_template") or {}).get("node_templates") or {})
    capabilities = (node_templates.get(node) or {}).get("capabilities") or {}
    return ((capabilities.get("scalable") or {}).get("properties")) or {}


def _input_name(value: Any) -> Optional[str]:
    """X for ``{get_input: X}`` (or ``[X]``), else None."""
    if isinstance(value, dict) and list(value) == ["get_input"]:
        name = value["get_input"]
        if isinstance(name, list) and len(name) == 1:
            name = name[0]
        return name if isinstance(name, str) else None
    return None


def _bound(value: Any, inputs: Dict[str, Any], template_doc: Dict[str, Any]) -> Optional[int]:
    """A min/max written in the template as a number or an input; None when absent or unknown."""
    name = _input_name(value)
    if name is not None:
        declared = ((template_doc.get("topology_template") or {}).get("inputs") or {}).get(name) or {}
        value = inputs.get(name, declared.get("default"))
    try:
        return int(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


def plan_scale(template_text: str, computes, inputs: Dict[str, Any], node: str, count: int,
               deployment: str, filename: str = "template.yaml") -> Tuple[Dict[str, str], Optional[str], Any]:
    """(inputs to set, new template text or None, previous count) to bring ``node`` to ``count``. The
    template is read and written by the compiler's own loader and YAML writer."""
    from tosca2ansible.compiler import yamlload, yamlwrite
    if count < 0:
        raise UserInputError("--count must be 0 or more (got %d)" % count)
    if node not in computes:
        raise UserInputError("deployment %s has no Compute node template %r (its Compute nodes: %s)"
                             % (deployment, node, ", ".join(computes) or "none"))
    doc = yamlload.plain(yamlload.load_yaml_text(template_text, filename)) or {}
    scalable = _scalable_properties(doc, node)
    low = _bound(scalable.get("min_instances"), inputs, doc) if "min_instances" in scalable else None
    high = _bound(scalable.get("max_instances"), inputs, doc) if "max_instances" in scalable else None
    if low is not None and count < low:
        raise UserInputError("node %s: --count %d is below its min_instances %d" % (node, count, low))
    if high is not None and count > high:
        raise UserInputError("node %s: --count %d is above its max_instances %d" % (node, count, high))
    input_name = _input_name(scalable.get("count"))
    if input_name is not None:
        declared = ((doc.get("topology_template") or {}).get("inputs") or {}).get(input_name) or {}
        return {input_name: str(count)}, None, inputs.get(input_name, declared.get("default"))
    previous = scalable.get("count", scalable.get("default_instances", 1))
    node_doc = doc["topology_template"]["node_templates"][node]
    capabilities = node_doc.get("capabilities") or {}
    scalable_cap = capabilities.get("scalable") or {}
    properties = scalable_cap.get("properties") or {}
    properties["count"] = count
    scalable_cap["properties"] = properties
    capabilities["scalable"] = scalable_cap
    node_doc["capabilities"] = capabilities
    return {}, yamlwrite.dump(doc), previous


def _validated_copy(template: Path, text: str, inputs: Dict[str, Any], types_paths) -> Path:
    """The new template text in a file beside the template (its relative imports resolve the same),
    compiled once: a template the change would break is refused before anything is saved."""
    from tosca2ansible.compiler import validate_template
    from tosca2ansible.runtime.deploy import typed_inputs

    fd, name = tempfile.mkstemp(prefix=".scale-", suffix=".yaml", dir=str(template.parent))
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    try:
        validate_template(name, typed_inputs(inputs), list(types_paths), defer_inputs=False)
    except BaseException:
        os.unlink(name)
        raise
    return Path(name)


def scale(deployment: str, node: str, count: int, progress=None) -> Dict[str, Any]:
    """Converge ``deployment`` with ``count`` instances of Compute node template ``node``."""
    from tosca2ansible import brokering
    from tosca2ansible.runtime import deploy

    state = DeploymentState(deployment)
    record = state.read_record()
    template = state.template_file
    if not template.is_file():
        raise UserInputError("deployment %s has no template copy at %s: deploy it again with its TEMPLATE"
                             % (deployment, template))
    inputs = dict(record.get("inputs") or {})
    types_paths = list(record.get("types_paths") or []) + state.source_types_paths()
    _, plan = brokering.analyse(str(template), deploy.typed_inputs(inputs), types_paths)
    old_text = template.read_text()
    new_inputs, new_text, previous = plan_scale(old_text, plan.computes, inputs, node, count, deployment, str(template))
    if new_text is not None:  # validated first, then saved: a usage error leaves the template as it was
        _validated_copy(template, new_text, dict(inputs, **new_inputs), types_paths).replace(template)
    try:
        # no site named: deploy() converges on the site the deployment lives on (or was asked for)
        result = deploy.deploy(None, new_inputs, deployment, None,
                               record.get("catalogue") or deploy.default_catalogue(), progress=progress,
                               action="scale", note="scale %s: %s -> %d" % (node, previous, count))
    except UserInputError:
        template.write_text(old_text)  # refused before any run: the count stays what it was
        raise
    result.update(node=node, count=count, previous_count=previous)
    return result
