"""AWX as code for a compiled project (``awx/``): the job templates (deploy, undeploy, scale) with the
survey, a custom credential type per site kind, the inventory source using the deployment inventory plugin,
and ``awx/configure.yml``, a playbook of ``awx.awx`` tasks creating them all in an AWX (docs/standalone.md).

Everything here is data: the survey keeps the template's text (``!unsafe`` in the playbook), the credential
types' injector templates are AWX's own Jinja (rendered by AWX at launch, never by Ansible: ``!unsafe``), and
the operator's settings (AWX organization, project URL, EE image, credentials) are play variables.
"""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from tosca2ansible.compiler.render import Expr, Unsafe

# (input id, label, secret, environment variable read through the site catalogue's credentials.env).
# The variable names are the ones the catalogue examples use (inventories/sites/clouds.yml).
CREDENTIAL_FIELDS: Dict[str, Tuple[Tuple[str, str, bool, str], ...]] = {
    "openstack": (("username", "User name", False, "OS_USERNAME"),
                  ("password", "Password", True, "OS_PASSWORD"),
                  ("project_name", "Project name", False, "OS_PROJECT_NAME"),
                  ("application_credential_id", "Application credential id", False, "OS_APPLICATION_CREDENTIAL_ID"),
                  ("application_credential_secret", "Application credential secret", True,
                   "OS_APPLICATION_CREDENTIAL_SECRET")),
    "opennebula": (("username", "User name", False, "ONE_USERNAME"),
                   ("password", "Password or login token", True, "ONE_PASSWORD")),
    "aws": (("access_key", "Access key id", False, "AWS_ACCESS_KEY_ID"),
            ("secret_key", "Secret access key", True, "AWS_SECRET_ACCESS_KEY"),
            ("session_token", "Session token", True, "AWS_SESSION_TOKEN")),
}
# the local site has no credential: its nodes are on the machine running the job
REQUIRED = {"openstack": ["username"], "opennebula": ["username", "password"], "aws": ["access_key", "secret_key"]}


def credential_type_name(kind: str) -> str:
    return "INDIGO %s site" % kind


def credential_types() -> List[Dict[str, Any]]:
    """One AWX custom credential type per site kind: inputs + env injectors (AWX renders ``{{ field }}``)."""
    types = []
    for kind, fields in CREDENTIAL_FIELDS.items():
        inputs = {"fields": [dict({"id": f, "label": label, "type": "string"}, **({"secret": True} if secret else {}))
                             for f, label, secret, _ in fields],
                  "required": list(REQUIRED[kind])}
        injectors = {"env": {var: Unsafe("{{ %s }}" % f) for f, _, _, var in fields}}
        types.append({"name": credential_type_name(kind), "kind": "cloud",
                      "description": "Credentials of an INDIGO %s site, injected as the environment variables its "
                                     "site catalogue entry names (credentials.env)" % kind,
                      "inputs": inputs, "injectors": injectors})
    return types


def _scale_survey(survey: Dict[str, Any], count_vars: List[str]) -> Dict[str, Any]:
    """The deploy survey's questions for the inputs that set instance counts (such as wn_num)."""
    spec = [q for q in survey["spec"] if q.get("variable") in count_vars]
    return {"name": "%s scale" % survey["name"], "description": "New instance counts", "spec": spec}


def _unsafe(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _unsafe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unsafe(v) for v in value]
    return Unsafe(value) if isinstance(value, str) else value


def configure_playbook(deployment: str, survey: Dict[str, Any], count_vars: List[str]) -> List[Dict[str, Any]]:
    """awx/configure.yml: run against an AWX with CONTROLLER_HOST and CONTROLLER_OAUTH_TOKEN (or
    CONTROLLER_USERNAME/PASSWORD) in the environment; every object is idempotent (state present)."""
    org = Expr("{{ indigo_awx_organization }}")
    project = Expr("{{ indigo_awx_project }}")
    inventory = "%s inventory" % deployment
    tasks: List[Dict[str, Any]] = []
    for ctype in credential_types():
        tasks.append({"name": "Credential type %s" % ctype["name"], "awx.awx.credential_type": dict(ctype, state="present")})
    tasks += [
        {"name": "Execution environment with the indigo.paas collection",
         "awx.awx.execution_environment": {"name": Expr("{{ indigo_awx_ee_name }}"), "image": Expr("{{ indigo_awx_ee_image }}"),
                                           "organization": org, "pull": "missing", "state": "present"}},
        {"name": "Project holding this compiled deployment",
         "awx.awx.project": {"name": project, "organization": org, "scm_type": "git", "scm_url": Expr("{{ indigo_awx_scm_url }}"),
                             "scm_branch": Expr("{{ indigo_awx_scm_branch }}"), "scm_update_on_launch": True,
                             "default_environment": Expr("{{ indigo_awx_ee_name }}"), "state": "present"}},
        {"name": "Inventory of the deployment",
         "awx.awx.inventory": {"name": inventory, "organization": org, "state": "present"}},
        {"name": "Inventory source: the indigo.paas.deployment inventory plugin",
         "awx.awx.inventory_source": {"name": "%s hosts" % deployment, "inventory": inventory, "organization": org,
                                      "source": "scm", "source_project": project,
                                      "source_path": "inventory/%s.indigo_deployment.yml" % deployment,
                                      "execution_environment": Expr("{{ indigo_awx_ee_name }}"),
                                      "credential": Expr("{{ indigo_awx_site_credential }}"),
                                      "overwrite": True, "update_on_launch": True, "state": "present"}},
    ]
    for action, playbook, spec in (("deploy", "deploy.yml", survey), ("undeploy", "undeploy.yml", None),
                                   ("scale", "scale.yml", _scale_survey(survey, count_vars))):
        template = {"name": "%s %s" % (deployment, action), "organization": org, "job_type": "run",
                    "inventory": inventory, "project": project, "playbook": playbook,
                    "execution_environment": Expr("{{ indigo_awx_ee_name }}"),
                    "credentials": [Expr("{{ indigo_awx_site_credential }}")], "state": "present"}
        if spec is not None and spec["spec"]:
            template.update(survey_enabled=True, survey_spec=_unsafe(spec))
        tasks.append({"name": "Job template %s %s" % (deployment, action), "awx.awx.job_template": template})
    return [{"name": "AWX objects of deployment %s" % deployment, "hosts": "localhost", "gather_facts": False,
             "vars": {"indigo_awx_organization": "Default", "indigo_awx_project": "indigo %s" % deployment,
                      "indigo_awx_scm_url": "", "indigo_awx_scm_branch": "main",
                      "indigo_awx_ee_name": "indigo-paas", "indigo_awx_ee_image": "localhost/indigo-paas-ee:latest",
                      "indigo_awx_site_credential": ""},
             "tasks": tasks}]


def scale_playbook() -> List[Dict[str, Any]]:
    """scale.yml: deploy.yml under the name the journal records (the callback's action is the file name)."""
    return [{"name": "Scale: converge to the new instance counts", "ansible.builtin.import_playbook": "deploy.yml"}]
