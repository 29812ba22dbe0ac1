#!/usr/bin/python
# Test-only module: returns the given mapping as facts, so rendered configs do not depend on the test machine.
DOCUMENTATION = r"""
module: fake_facts
short_description: Set host facts from a mapping (tests only)
options:
  facts: {type: dict, required: true, description: Facts to set.}
"""
EXAMPLES = r"""
- fake_facts:
    facts: {processor_vcpus: 2}
"""
RETURN = r"""
ansible_facts: {type: dict, returned: always, description: The given facts.}
"""
from ansible.module_utils.basic import AnsibleModule


def main():
    module = AnsibleModule(argument_spec={"facts": {"type": "dict", "required": True}}, supports_check_mode=True)
    module.exit_json(changed=False, ansible_facts=module.params["facts"])


if __name__ == "__main__":
    main()
