"""Errors of the local site. The provider maps them to the classified provider errors and the CLI to
exit codes; they never carry secrets."""


class LocalSiteError(Exception):
    """Something failed while preparing or running local nodes (fatal unless a subclass says)."""


class HostNotReady(LocalSiteError):
    """This machine cannot run local nodes: not root, or a needed tool is missing."""


class CapacityError(LocalSiteError):
    """The requested nodes do not fit this machine's CPUs/RAM or the site's address range."""


class NodeTimeout(LocalSiteError):
    """A node did not become reachable over SSH in time (worth retrying)."""
