"""tosca2ansible: compile INDIGO TOSCA templates into self-contained Ansible projects."""

__version__ = "0.1.0"
